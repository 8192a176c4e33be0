#pragma once
/// @file connection.hpp
/// A USBTMC session over any Transport: messages out (split over transfers), messages in
/// (reassembled until EOM), queries, and the abort/clear sequences that recover from a timeout or
/// a malformed reply (USBTMC §4.2.1.2–4.2.1.7). All the logic lives here, so the fake instrument
/// exercises it; the libusb transport only moves bytes.

#include "dira/drivers/usbtmc/protocol.hpp"
#include "dira/drivers/usbtmc/transport.hpp"

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace dira::drivers::usbtmc {

struct ConnectionOptions {
  std::chrono::milliseconds timeout{2000};  ///< per USB transfer
  std::size_t max_out_payload = 4096;       ///< message bytes per DEV_DEP_MSG_OUT transfer
  std::uint32_t max_in_payload = 4096;      ///< TransferSize asked for in each REQUEST_DEV_DEP_MSG_IN
  std::size_t max_message = 64u << 20;      ///< longest response accepted (a device that never sends EOM)
  /// TermChar for REQUEST_DEV_DEP_MSG_IN; used only if GET_CAPABILITIES says the device supports it.
  std::optional<std::uint8_t> term_char;
  bool query_capabilities = true;  ///< send GET_CAPABILITIES when connecting
  int max_status_polls = 100;      ///< CHECK_*_STATUS attempts while the device says PENDING
  std::chrono::milliseconds poll_interval{5};
};

class Connection {
 public:
  /// Takes the transport; sends GET_CAPABILITIES if options.query_capabilities.
  explicit Connection(std::unique_ptr<Transport> transport, ConnectionOptions options = {});

  /// Sends one message (EOM on its last transfer). On a timeout, aborts the Bulk-OUT transfer
  /// (INITIATE_ABORT_BULK_OUT, CHECK_ABORT_BULK_OUT_STATUS, CLEAR_FEATURE) and rethrows.
  void write(std::string_view message);
  /// Reads one message: REQUEST_DEV_DEP_MSG_IN, DEV_DEP_MSG_IN, repeated until EOM. On a timeout
  /// or a malformed reply, aborts the Bulk-IN transfer (INITIATE_ABORT_BULK_IN, reading until a
  /// short packet, CHECK_ABORT_BULK_IN_STATUS) and rethrows, so the next query starts clean.
  std::string read();
  /// write() then read().
  std::string query(std::string_view message);
  /// USB488 TRIGGER message (USB488 §3.2.1.1); throws hal::HardwareFault if the device does not accept it.
  void trigger();
  /// USB488 READ_STATUS_BYTE (IEEE 488.2 status byte); via Interrupt-IN when the device has one.
  std::uint8_t read_status_byte();

  /// The recovery sequences, public for callers that want them explicitly.
  void abort_bulk_out();
  void abort_bulk_in();
  /// INITIATE_CLEAR / CHECK_CLEAR_STATUS / CLEAR_FEATURE(Bulk-OUT): discards everything in flight.
  void clear();

  /// GET_CAPABILITIES (sent again).
  Capabilities query_capabilities();
  /// What GET_CAPABILITIES reported at connect time (all false if not asked).
  const Capabilities& capabilities() const { return caps_; }
  const InterfaceInfo& info() const { return transport_->info(); }
  ConnectionOptions& options() { return options_; }
  Transport& transport() { return *transport_; }

 private:
  std::vector<std::uint8_t> control(const ControlSetup& s, std::size_t min_reply);
  std::size_t in_read_length() const;
  void drain_bulk_in();
  void read_transfer(std::string& out, bool& eom);
  void recover_in(const std::string& why);

  std::unique_ptr<Transport> transport_;
  ConnectionOptions options_;
  Capabilities caps_;
  TagCounter tags_;
  StatusTagCounter status_tags_;
  std::uint8_t last_out_tag_ = 0;  ///< bTag of the last DEV_DEP_MSG_OUT transfer
  std::uint8_t last_in_tag_ = 0;   ///< bTag of the last REQUEST_DEV_DEP_MSG_IN
};

}  // namespace dira::drivers::usbtmc
