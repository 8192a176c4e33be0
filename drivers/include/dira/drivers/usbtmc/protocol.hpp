#pragma once
/// @file protocol.hpp
/// USBTMC wire format (USB Test and Measurement Class, USB-IF spec rev 1.0, 2003-04-14, and its
/// USB488 subclass rev 1.0): Bulk-OUT/Bulk-IN headers, bTag, class control requests and their
/// replies. Pure: no I/O, so every byte is testable without hardware (libsigrok's "protocol" half).
/// Section and table numbers below refer to those two specifications; docs/usbtmc.md has the map.

#include "dira/hal/device.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace dira::drivers::usbtmc {

/// The device sent something the spec does not allow (bad MsgID, bTag, size). A hardware fault.
class ProtocolError : public hal::HardwareFault {
 public:
  using hal::HardwareFault::HardwareFault;
};

/// Interface class/subclass that identify a USBTMC interface (USBTMC Table 43); bInterfaceProtocol 1 = USB488 (Table
/// 44).
inline constexpr std::uint8_t kInterfaceClass = 0xFE;
inline constexpr std::uint8_t kInterfaceSubclass = 0x03;
inline constexpr std::uint8_t kProtocolUsb488 = 0x01;

/// Every Bulk-OUT and Bulk-IN transfer starts with this many header bytes (USBTMC Tables 1, 8).
inline constexpr std::size_t kHeaderSize = 12;

/// MsgID values (USBTMC Table 2; USB488 §3.2.1.1 for TRIGGER).
enum class MsgId : std::uint8_t {
  dev_dep_msg_out = 1,
  request_dev_dep_msg_in = 2,  ///< also DEV_DEP_MSG_IN on the Bulk-IN endpoint
  vendor_specific_out = 126,
  request_vendor_specific_in = 127,
  trigger = 128,  ///< USB488 §3.2.1.1
};

/// bmTransferAttributes bits (USBTMC Tables 3, 4, 9).
inline constexpr std::uint8_t kAttrEom = 0x01;              ///< D0 of DEV_DEP_MSG_OUT / DEV_DEP_MSG_IN
inline constexpr std::uint8_t kAttrTermCharEnabled = 0x02;  ///< D1 of REQUEST_DEV_DEP_MSG_IN
inline constexpr std::uint8_t kAttrTermChar = 0x02;         ///< D1 of DEV_DEP_MSG_IN: last byte is TermChar

/// Class request codes, bRequest (USBTMC §4.2.1 Table 15; USB488 §4.3).
enum class Request : std::uint8_t {
  initiate_abort_bulk_out = 1,
  check_abort_bulk_out_status = 2,
  initiate_abort_bulk_in = 3,
  check_abort_bulk_in_status = 4,
  initiate_clear = 5,
  check_clear_status = 6,
  get_capabilities = 7,
  indicator_pulse = 64,
  read_status_byte = 128,  ///< USB488 §4.3.1
  ren_control = 160,
  go_to_local = 161,
  local_lockout = 162,
};
const char* to_string(Request r);

/// USBTMC_status values in control replies (USBTMC Table 16; USB488 adds STATUS_INTERRUPT_IN_BUSY 0x20).
enum class Status : std::uint8_t {
  success = 0x01,
  pending = 0x02,
  interrupt_in_busy = 0x20,
  failed = 0x80,
  transfer_not_in_progress = 0x81,
  split_not_in_progress = 0x82,
  split_in_progress = 0x83,
};
/// "STATUS_SUCCESS", …, or "status 0x??" for a value the spec does not define.
std::string to_string(Status s);

/// bTag generator: 1, 2, …, 255, 1, … — never 0, and different from the previous one (USBTMC Table 1).
class TagCounter {
 public:
  std::uint8_t next();
  /// The tag handed out last (0 before the first call).
  std::uint8_t last() const { return last_; }

 private:
  std::uint8_t last_ = 0;
};

/// One DEV_DEP_MSG_OUT transfer: header (USBTMC Table 3), payload, 0–3 zero alignment bytes so the
/// total is a multiple of 4 (USBTMC §3.2.1.1). TransferSize must be > 0, so `payload` must not be empty.
std::vector<std::uint8_t> dev_dep_msg_out(std::uint8_t tag, std::span<const std::uint8_t> payload, bool eom);

/// REQUEST_DEV_DEP_MSG_IN (USBTMC Table 4): the device may answer with at most `max_size` bytes and,
/// with `term_char`, end the transfer early after that byte (only if GET_CAPABILITIES allows it).
std::vector<std::uint8_t> request_dev_dep_msg_in(std::uint8_t tag, std::uint32_t max_size,
                                                 std::optional<std::uint8_t> term_char = std::nullopt);

/// USB488 TRIGGER (USB488 §3.2.1.1): header only, bytes 4–11 reserved.
std::vector<std::uint8_t> trigger_message(std::uint8_t tag);

/// A message split into DEV_DEP_MSG_OUT transfers of at most `max_payload` bytes each, one new bTag
/// per transfer, EOM on the last one only (USBTMC §3.2.1.1: a message may span several transfers).
std::vector<std::vector<std::uint8_t>> split_message(TagCounter& tags, std::span<const std::uint8_t> message,
                                                     std::size_t max_payload);

/// Decoded common header of a Bulk-OUT or Bulk-IN transfer (USBTMC Tables 1, 3, 4, 8, 9).
struct Header {
  std::uint8_t msg_id = 0;
  std::uint8_t tag = 0;
  std::uint32_t transfer_size = 0;
  std::uint8_t attributes = 0;  ///< bmTransferAttributes (byte 8)
  std::uint8_t term_char = 0;   ///< byte 9 (REQUEST_DEV_DEP_MSG_IN only)
  bool eom() const { return (attributes & kAttrEom) != 0; }
};

/// Parses the 12 header bytes; throws ProtocolError if fewer than 12 bytes or bTagInverse ≠ ~bTag.
Header parse_header(std::span<const std::uint8_t> bytes);

/// Checks a Bulk-IN header against the request it answers (USBTMC §3.3.1.1): MsgID must be
/// DEV_DEP_MSG_IN, bTag must equal the request's bTag, TransferSize must not exceed what was asked.
/// Throws ProtocolError naming the field.
Header check_bulk_in_header(std::span<const std::uint8_t> bytes, std::uint8_t expected_tag, std::uint32_t max_size);

/// Total length of a transfer carrying `payload` bytes: header + payload + alignment to 4.
std::size_t padded_transfer_length(std::size_t payload);

/// Assembles one DEV_DEP_MSG_IN transfer from the Bulk-IN reads it arrived in. A device may end a
/// read with a short packet before the transfer is complete (or put the header alone in the first
/// packet); the host keeps reading until TransferSize bytes are in (USBTMC §3.3.1.1).
class InTransfer {
 public:
  InTransfer(std::uint8_t expected_tag, std::uint32_t max_size) : tag_(expected_tag), max_(max_size) {}
  /// Adds the bytes of one Bulk-IN read. Throws ProtocolError on a bad header.
  void feed(std::span<const std::uint8_t> bytes);
  /// True once the header and all TransferSize payload bytes have arrived.
  bool complete() const;
  /// Valid once at least 12 bytes arrived.
  const Header& header() const { return header_; }
  bool has_header() const { return have_header_; }
  /// The payload (TransferSize bytes; alignment bytes dropped). Valid once complete().
  std::span<const std::uint8_t> payload() const;

 private:
  std::uint8_t tag_;
  std::uint32_t max_;
  std::vector<std::uint8_t> raw_;
  Header header_;
  bool have_header_ = false;
};

/// A class control request: the 8-byte SETUP packet minus wLength's data buffer.
struct ControlSetup {
  std::uint8_t request_type = 0;  ///< bmRequestType
  std::uint8_t request = 0;       ///< bRequest
  std::uint16_t value = 0;        ///< wValue
  std::uint16_t index = 0;        ///< wIndex
  std::uint16_t length = 0;       ///< wLength (reply bytes expected)
  bool operator==(const ControlSetup&) const = default;
};
/// bmRequestType: device-to-host, class, recipient endpoint (0xA2) or interface (0xA1) (USBTMC §4.2.1).
inline constexpr std::uint8_t kRequestTypeEndpoint = 0xA2;
inline constexpr std::uint8_t kRequestTypeInterface = 0xA1;

/// USBTMC §4.2.1.2: abort the Bulk-OUT transfer with `tag` on endpoint `bulk_out_ep`; reply 2 bytes.
ControlSetup initiate_abort_bulk_out(std::uint8_t tag, std::uint8_t bulk_out_ep);
/// USBTMC §4.2.1.3: reply 8 bytes.
ControlSetup check_abort_bulk_out_status(std::uint8_t bulk_out_ep);
/// USBTMC §4.2.1.4: abort the Bulk-IN transfer answering `tag`; reply 2 bytes.
ControlSetup initiate_abort_bulk_in(std::uint8_t tag, std::uint8_t bulk_in_ep);
/// USBTMC §4.2.1.5: reply 8 bytes.
ControlSetup check_abort_bulk_in_status(std::uint8_t bulk_in_ep);
/// USBTMC §4.2.1.6: reply 1 byte.
ControlSetup initiate_clear(std::uint8_t interface_number);
/// USBTMC §4.2.1.7: reply 2 bytes.
ControlSetup check_clear_status(std::uint8_t interface_number);
/// USBTMC §4.2.1.8: reply 0x18 bytes.
ControlSetup get_capabilities(std::uint8_t interface_number);
/// USBTMC §4.2.1.9: reply 1 byte.
ControlSetup indicator_pulse(std::uint8_t interface_number);
/// USB488 §4.3.1: `tag` must be 2..127; reply 3 bytes.
ControlSetup read_status_byte(std::uint8_t tag, std::uint8_t interface_number);

/// bTag generator for READ_STATUS_BYTE: 2..127 cycling (USB488 §4.3.1.1).
class StatusTagCounter {
 public:
  std::uint8_t next();

 private:
  std::uint8_t last_ = 1;
};

/// Reply to INITIATE_ABORT_BULK_OUT/IN (USBTMC §4.2.1.2, §4.2.1.4): status, bTag.
struct InitiateAbortReply {
  Status status = Status::failed;
  std::uint8_t tag = 0;
};
InitiateAbortReply parse_initiate_abort(std::span<const std::uint8_t> bytes);

/// Reply to CHECK_ABORT_BULK_OUT_STATUS (USBTMC §4.2.1.3): status, 3 reserved, NBYTES_RXD.
struct CheckAbortOutReply {
  Status status = Status::failed;
  std::uint32_t bytes_received = 0;  ///< NBYTES_RXD
};
CheckAbortOutReply parse_check_abort_out(std::span<const std::uint8_t> bytes);

/// Reply to CHECK_ABORT_BULK_IN_STATUS (USBTMC §4.2.1.5): status, bmAbortBulkIn, 2 reserved, NBYTES_TXD.
struct CheckAbortInReply {
  Status status = Status::failed;
  bool fifo_has_data = false;    ///< bmAbortBulkIn D0: host must read the Bulk-IN endpoint before asking again
  std::uint32_t bytes_sent = 0;  ///< NBYTES_TXD
};
CheckAbortInReply parse_check_abort_in(std::span<const std::uint8_t> bytes);

/// Reply to CHECK_CLEAR_STATUS (USBTMC §4.2.1.7): status, bmClear.
struct CheckClearReply {
  Status status = Status::failed;
  bool fifo_has_data = false;  ///< bmClear D0
};
CheckClearReply parse_check_clear(std::span<const std::uint8_t> bytes);

/// Reply to READ_STATUS_BYTE (USB488 §4.3.1): status, bTag, status byte; `status_byte` is 0 when the device has an
/// Interrupt-IN endpoint (the byte then arrives there, USB488 §4.3.1.2).
struct ReadStatusByteReply {
  Status status = Status::failed;
  std::uint8_t tag = 0;
  std::uint8_t status_byte = 0;
};
ReadStatusByteReply parse_read_status_byte(std::span<const std::uint8_t> bytes);

/// GET_CAPABILITIES reply decoded (USBTMC §4.2.1.8 Table 37; USB488 §4.2.2 Table 8 for bytes 12–15).
struct Capabilities {
  Status status = Status::failed;
  std::uint16_t bcd_usbtmc = 0;
  bool indicator_pulse = false;  ///< interface D2
  bool talk_only = false;        ///< interface D1
  bool listen_only = false;      ///< interface D0
  bool term_char = false;        ///< device D0: supports TermChar in REQUEST_DEV_DEP_MSG_IN
  std::uint16_t bcd_usb488 = 0;  ///< 0 for a plain USBTMC interface
  bool usb488_2 = false;         ///< USB488 interface D2: IEEE 488.2 interface
  bool ren_control = false;      ///< USB488 interface D1: REN_CONTROL, GO_TO_LOCAL, LOCAL_LOCKOUT
  bool trigger = false;          ///< USB488 interface D0: accepts TRIGGER
  bool scpi = false;             ///< USB488 device D3
  bool sr1 = false;              ///< USB488 device D2: service request capable
  bool rl1 = false;              ///< USB488 device D1: remote/local capable
  bool dt1 = false;              ///< USB488 device D0: device trigger capable
};
/// Throws ProtocolError if shorter than 0x18 bytes.
Capabilities parse_capabilities(std::span<const std::uint8_t> bytes);

/// Human-readable summary, e.g. "USBTMC 1.00 (TermChar), USB488 1.00 (488.2, REN, TRIGGER; SCPI, SR1, RL1, DT1)".
std::string to_string(const Capabilities& c);

/// Little-endian helpers used by the wire format.
void put_le32(std::uint8_t* at, std::uint32_t v);
std::uint32_t get_le32(const std::uint8_t* at);

}  // namespace dira::drivers::usbtmc
