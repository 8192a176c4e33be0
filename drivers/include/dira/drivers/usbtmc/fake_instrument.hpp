#pragma once
/// @file fake_instrument.hpp
/// An in-process USBTMC instrument: the device side of the protocol behind the Transport
/// interface, with a small SCPI model. It checks every header the host sends (violations()),
/// logs every transfer and control request, and can be told to misbehave (split responses, short
/// packets, no EOM, a wrong bTag, silence, a stuck Bulk-OUT) so tests reach the error paths.
/// Not hardware: the `usbtmc-awg` driver offers it as `resource: fake` for demos without a device.

#include "dira/drivers/usbtmc/transport.hpp"

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace dira::drivers::usbtmc {

/// Misbehaviour to inject. Counters are consumed as they fire.
struct FakeFaults {
  std::size_t max_transfer_payload = 0;  ///< >0: answer in DEV_DEP_MSG_IN transfers of at most this many bytes
  std::size_t packet_size = 0;  ///< >0: deliver each transfer over Bulk-IN reads of this many bytes (short packets)
  bool drop_eom = false;        ///< never set EOM (the host then waits for more and times out)
  int wrong_tag = 0;            ///< the next N transfers carry bTag+1
  int silent = 0;               ///< the next N queries get no answer (the host times out)
  int out_timeouts = 0;         ///< the next N Bulk-OUT transfers time out
};

struct FakeConfig {
  std::uint16_t vendor_id = 0x1209;  ///< pid.codes test VID
  std::uint16_t product_id = 0x0001;
  std::string serial = "FAKE0001";
  std::string idn = "DIRA,FAKE-USBTMC,FAKE0001,1.0";
  bool usb488 = true;
  bool term_char = true;      ///< advertised in GET_CAPABILITIES
  bool trigger = true;        ///< USB488 TRIGGER accepted
  bool interrupt_in = false;  ///< status byte over Interrupt-IN instead of the control reply
  std::uint16_t max_packet_size = 512;
};

class FakeInstrument : public Transport {
 public:
  explicit FakeInstrument(FakeConfig config = {});

  // Transport
  const InterfaceInfo& info() const override { return info_; }
  void bulk_out(std::span<const std::uint8_t> data, std::chrono::milliseconds timeout) override;
  std::vector<std::uint8_t> bulk_in(std::size_t max_length, std::chrono::milliseconds timeout) override;
  std::vector<std::uint8_t> control_in(const ControlSetup& setup, std::chrono::milliseconds timeout) override;
  void clear_halt(std::uint8_t endpoint) override;
  std::vector<std::uint8_t> interrupt_in(std::size_t max_length, std::chrono::milliseconds timeout) override;

  // The instrument model. A complete message (EOM) is trimmed of trailing "\r\n" and answered:
  // a reply set with reply() first; then *IDN?, *OPC? ("1"), SYST:ERR?/SYSTEM:ERROR? (error queue,
  // '+0,"No error"' when empty), *RST and *CLS (clear the error queue); any other query (ending
  // in '?' before its first space) is echoed back. Commands are only logged, unless they match
  // fail_on() (checked after *RST/*CLS have cleared the queue).
  /// Always answer `query` (exact text) with `answer`.
  void reply(const std::string& query, const std::string& answer);
  /// A command starting with `prefix` puts "code,\"message\"" in the error queue.
  void fail_on(const std::string& prefix, int code, const std::string& message);
  void push_error(int code, const std::string& message);

  FakeFaults& faults() { return faults_; }
  /// Complete messages received, in order (terminators kept).
  const std::vector<std::string>& messages() const { return messages_; }
  /// Every Bulk-OUT transfer as sent (header and alignment included).
  const std::vector<std::vector<std::uint8_t>>& bulk_out_log() const { return out_log_; }
  /// Every Bulk-IN read as delivered.
  const std::vector<std::vector<std::uint8_t>>& bulk_in_log() const { return in_log_; }
  const std::vector<ControlSetup>& control_log() const { return control_log_; }
  const std::vector<std::uint8_t>& cleared_halts() const { return cleared_halts_; }
  /// Everything the host did that USBTMC forbids (tests expect this to stay empty).
  const std::vector<std::string>& violations() const { return violations_; }
  int triggers() const { return triggers_; }
  /// Bytes of responses not yet delivered.
  std::size_t pending_output() const;

 private:
  struct PendingRequest {
    std::uint8_t tag = 0;
    std::uint32_t max_size = 0;
    std::optional<std::uint8_t> term_char;
  };
  void violation(std::string what);
  void dispatch(const std::string& message);
  std::optional<std::string> answer(const std::string& text);
  std::uint8_t status_byte() const;
  void pack_transfer();

  FakeConfig config_;
  InterfaceInfo info_;
  FakeFaults faults_;
  std::map<std::string, std::string> replies_;
  std::vector<std::pair<std::string, std::string>> fail_rules_;
  std::deque<std::string> errors_;

  std::string incoming_;  ///< message being received (no EOM yet)
  std::uint8_t last_out_tag_ = 0;
  bool out_in_progress_ = false;
  std::uint32_t out_bytes_ = 0;      ///< NBYTES_RXD of the current message
  std::deque<std::string> outputs_;  ///< queued response messages
  std::size_t front_sent_ = 0;       ///< bytes of outputs_.front() already packed into transfers
  std::optional<PendingRequest> request_;
  std::uint8_t last_request_tag_ = 0;
  std::deque<std::vector<std::uint8_t>> pieces_;  ///< the transfer being delivered, one entry per Bulk-IN read
  std::uint32_t in_bytes_ = 0;                    ///< NBYTES_TXD of the current transfer
  std::deque<std::vector<std::uint8_t>> interrupts_;
  bool out_halted_ = false;
  int triggers_ = 0;

  std::vector<std::string> messages_;
  std::vector<std::vector<std::uint8_t>> out_log_;
  std::vector<std::vector<std::uint8_t>> in_log_;
  std::vector<ControlSetup> control_log_;
  std::vector<std::uint8_t> cleared_halts_;
  std::vector<std::string> violations_;
};

}  // namespace dira::drivers::usbtmc
