// USBTMC wire format (USBTMC rev 1.0, USB488 rev 1.0). Pure: bytes in, bytes out.
#include "dira/drivers/usbtmc/protocol.hpp"

#include <algorithm>
#include <cstdio>
#include <stdexcept>

namespace dira::drivers::usbtmc {

namespace {
std::string hex2(unsigned v) {
  char b[8];
  std::snprintf(b, sizeof b, "0x%02x", v & 0xFFu);
  return b;
}
std::uint8_t inv(std::uint8_t tag) {
  return static_cast<std::uint8_t>(~tag);
}

std::vector<std::uint8_t> header(MsgId id, std::uint8_t tag) {
  // USBTMC Table 1: MsgID, bTag, bTagInverse, reserved; bytes 4–11 are message specific.
  if (tag == 0) throw std::invalid_argument("USBTMC bTag must be 1..255 (USBTMC Table 1)");
  std::vector<std::uint8_t> h(kHeaderSize, 0);
  h[0] = static_cast<std::uint8_t>(id);
  h[1] = tag;
  h[2] = inv(tag);
  return h;
}

void need(std::span<const std::uint8_t> b, std::size_t n, const char* what) {
  if (b.size() < n)
    throw ProtocolError(std::string("USBTMC ") + what + " reply has " + std::to_string(b.size()) + " bytes, expected " +
                        std::to_string(n));
}
}  // namespace

void put_le32(std::uint8_t* at, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) at[i] = static_cast<std::uint8_t>(v >> (8 * i));
}
std::uint32_t get_le32(const std::uint8_t* at) {
  std::uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | at[i];
  return v;
}

const char* to_string(Request r) {
  switch (r) {
    case Request::initiate_abort_bulk_out:
      return "INITIATE_ABORT_BULK_OUT";
    case Request::check_abort_bulk_out_status:
      return "CHECK_ABORT_BULK_OUT_STATUS";
    case Request::initiate_abort_bulk_in:
      return "INITIATE_ABORT_BULK_IN";
    case Request::check_abort_bulk_in_status:
      return "CHECK_ABORT_BULK_IN_STATUS";
    case Request::initiate_clear:
      return "INITIATE_CLEAR";
    case Request::check_clear_status:
      return "CHECK_CLEAR_STATUS";
    case Request::get_capabilities:
      return "GET_CAPABILITIES";
    case Request::indicator_pulse:
      return "INDICATOR_PULSE";
    case Request::read_status_byte:
      return "READ_STATUS_BYTE";
    case Request::ren_control:
      return "REN_CONTROL";
    case Request::go_to_local:
      return "GO_TO_LOCAL";
    case Request::local_lockout:
      return "LOCAL_LOCKOUT";
  }
  return "?";
}

std::string to_string(Status s) {
  switch (s) {
    case Status::success:
      return "STATUS_SUCCESS";
    case Status::pending:
      return "STATUS_PENDING";
    case Status::interrupt_in_busy:
      return "STATUS_INTERRUPT_IN_BUSY";
    case Status::failed:
      return "STATUS_FAILED";
    case Status::transfer_not_in_progress:
      return "STATUS_TRANSFER_NOT_IN_PROGRESS";
    case Status::split_not_in_progress:
      return "STATUS_SPLIT_NOT_IN_PROGRESS";
    case Status::split_in_progress:
      return "STATUS_SPLIT_IN_PROGRESS";
  }
  return "status " + hex2(static_cast<unsigned>(s));
}

std::uint8_t TagCounter::next() {
  // USBTMC Table 1: 1 ≤ bTag ≤ 255, different from the previous one; incrementing is recommended.
  last_ = static_cast<std::uint8_t>(last_ == 255 ? 1 : last_ + 1);
  return last_;
}

std::uint8_t StatusTagCounter::next() {
  // USB488 §4.3.1.1: the READ_STATUS_BYTE bTag is 2..127 (1 is reserved for SRQ notifications).
  last_ = static_cast<std::uint8_t>(last_ >= 127 ? 2 : last_ + 1);
  return last_;
}

std::size_t padded_transfer_length(std::size_t payload) {
  return kHeaderSize + (payload + 3) / 4 * 4;
}

std::vector<std::uint8_t> dev_dep_msg_out(std::uint8_t tag, std::span<const std::uint8_t> payload, bool eom) {
  // USBTMC Table 3: TransferSize > 0 (LSB first), bmTransferAttributes D0 = EOM, 3 reserved bytes.
  if (payload.empty()) throw std::invalid_argument("DEV_DEP_MSG_OUT needs TransferSize > 0 (USBTMC Table 3)");
  if (payload.size() > 0xFFFFFFFFu) throw std::invalid_argument("DEV_DEP_MSG_OUT payload exceeds 32-bit TransferSize");
  auto t = header(MsgId::dev_dep_msg_out, tag);
  put_le32(&t[4], static_cast<std::uint32_t>(payload.size()));
  t[8] = eom ? kAttrEom : 0;
  t.insert(t.end(), payload.begin(), payload.end());
  t.resize(padded_transfer_length(payload.size()), 0);  // §3.2.1.1: alignment bytes to a multiple of 4
  return t;
}

std::vector<std::uint8_t> request_dev_dep_msg_in(std::uint8_t tag, std::uint32_t max_size,
                                                 std::optional<std::uint8_t> term_char) {
  // USBTMC Table 4: TransferSize = most bytes the device may send; D1 TermCharEnabled, byte 9 TermChar.
  if (max_size == 0) throw std::invalid_argument("REQUEST_DEV_DEP_MSG_IN needs TransferSize > 0");
  auto t = header(MsgId::request_dev_dep_msg_in, tag);
  put_le32(&t[4], max_size);
  if (term_char) {
    t[8] = kAttrTermCharEnabled;
    t[9] = *term_char;
  }
  return t;
}

std::vector<std::uint8_t> trigger_message(std::uint8_t tag) {
  return header(MsgId::trigger, tag);
}

std::vector<std::vector<std::uint8_t>> split_message(TagCounter& tags, std::span<const std::uint8_t> message,
                                                     std::size_t max_payload) {
  if (max_payload == 0) throw std::invalid_argument("split_message: max_payload must be > 0");
  if (message.empty()) throw std::invalid_argument("USBTMC cannot send an empty message (TransferSize > 0)");
  std::vector<std::vector<std::uint8_t>> out;
  for (std::size_t at = 0; at < message.size(); at += max_payload) {
    const std::size_t n = std::min(max_payload, message.size() - at);
    out.push_back(dev_dep_msg_out(tags.next(), message.subspan(at, n), at + n == message.size()));
  }
  return out;
}

Header parse_header(std::span<const std::uint8_t> b) {
  if (b.size() < kHeaderSize)
    throw ProtocolError("USBTMC transfer of " + std::to_string(b.size()) + " bytes is shorter than the 12-byte header");
  Header h;
  h.msg_id = b[0];
  h.tag = b[1];
  if (b[2] != inv(b[1]))
    throw ProtocolError("USBTMC header: bTagInverse " + hex2(b[2]) + " is not the complement of bTag " + hex2(b[1]));
  h.transfer_size = get_le32(&b[4]);
  h.attributes = b[8];
  h.term_char = b[9];
  return h;
}

Header check_bulk_in_header(std::span<const std::uint8_t> bytes, std::uint8_t expected_tag, std::uint32_t max_size) {
  const Header h = parse_header(bytes);
  if (h.msg_id != static_cast<std::uint8_t>(MsgId::request_dev_dep_msg_in))
    throw ProtocolError("USBTMC Bulk-IN: MsgID " + std::to_string(h.msg_id) + ", expected DEV_DEP_MSG_IN (2)");
  if (h.tag != expected_tag)
    throw ProtocolError("USBTMC Bulk-IN: bTag " + std::to_string(h.tag) + " does not match the request's bTag " +
                        std::to_string(expected_tag));
  if (h.transfer_size > max_size)
    throw ProtocolError("USBTMC Bulk-IN: TransferSize " + std::to_string(h.transfer_size) + " exceeds the " +
                        std::to_string(max_size) + " bytes requested");
  return h;
}

void InTransfer::feed(std::span<const std::uint8_t> bytes) {
  raw_.insert(raw_.end(), bytes.begin(), bytes.end());
  if (!have_header_ && raw_.size() >= kHeaderSize) {
    header_ = check_bulk_in_header(raw_, tag_, max_);
    have_header_ = true;
  }
}

bool InTransfer::complete() const {
  return have_header_ && raw_.size() >= kHeaderSize + header_.transfer_size;
}

std::span<const std::uint8_t> InTransfer::payload() const {
  if (!complete()) return {};
  return std::span<const std::uint8_t>(raw_).subspan(kHeaderSize, header_.transfer_size);
}

namespace {
ControlSetup setup(std::uint8_t type, Request r, std::uint16_t value, std::uint16_t index, std::uint16_t length) {
  return ControlSetup{type, static_cast<std::uint8_t>(r), value, index, length};
}
}  // namespace

ControlSetup initiate_abort_bulk_out(std::uint8_t tag, std::uint8_t ep) {
  return setup(kRequestTypeEndpoint, Request::initiate_abort_bulk_out, tag, ep, 2);
}
ControlSetup check_abort_bulk_out_status(std::uint8_t ep) {
  return setup(kRequestTypeEndpoint, Request::check_abort_bulk_out_status, 0, ep, 8);
}
ControlSetup initiate_abort_bulk_in(std::uint8_t tag, std::uint8_t ep) {
  return setup(kRequestTypeEndpoint, Request::initiate_abort_bulk_in, tag, ep, 2);
}
ControlSetup check_abort_bulk_in_status(std::uint8_t ep) {
  return setup(kRequestTypeEndpoint, Request::check_abort_bulk_in_status, 0, ep, 8);
}
ControlSetup initiate_clear(std::uint8_t itf) {
  return setup(kRequestTypeInterface, Request::initiate_clear, 0, itf, 1);
}
ControlSetup check_clear_status(std::uint8_t itf) {
  return setup(kRequestTypeInterface, Request::check_clear_status, 0, itf, 2);
}
ControlSetup get_capabilities(std::uint8_t itf) {
  return setup(kRequestTypeInterface, Request::get_capabilities, 0, itf, 0x18);
}
ControlSetup indicator_pulse(std::uint8_t itf) {
  return setup(kRequestTypeInterface, Request::indicator_pulse, 0, itf, 1);
}
ControlSetup read_status_byte(std::uint8_t tag, std::uint8_t itf) {
  if (tag < 2 || tag > 127) throw std::invalid_argument("READ_STATUS_BYTE bTag must be 2..127 (USB488 §4.3.1)");
  return setup(kRequestTypeInterface, Request::read_status_byte, tag, itf, 3);
}

InitiateAbortReply parse_initiate_abort(std::span<const std::uint8_t> b) {
  need(b, 2, "INITIATE_ABORT");
  return {static_cast<Status>(b[0]), b[1]};
}
CheckAbortOutReply parse_check_abort_out(std::span<const std::uint8_t> b) {
  need(b, 8, "CHECK_ABORT_BULK_OUT_STATUS");
  return {static_cast<Status>(b[0]), get_le32(&b[4])};
}
CheckAbortInReply parse_check_abort_in(std::span<const std::uint8_t> b) {
  need(b, 8, "CHECK_ABORT_BULK_IN_STATUS");
  return {static_cast<Status>(b[0]), (b[1] & 0x01) != 0, get_le32(&b[4])};
}
CheckClearReply parse_check_clear(std::span<const std::uint8_t> b) {
  need(b, 2, "CHECK_CLEAR_STATUS");
  return {static_cast<Status>(b[0]), (b[1] & 0x01) != 0};
}
ReadStatusByteReply parse_read_status_byte(std::span<const std::uint8_t> b) {
  need(b, 3, "READ_STATUS_BYTE");
  return {static_cast<Status>(b[0]), b[1], b[2]};
}

Capabilities parse_capabilities(std::span<const std::uint8_t> b) {
  need(b, 0x18, "GET_CAPABILITIES");
  Capabilities c;
  c.status = static_cast<Status>(b[0]);
  c.bcd_usbtmc = static_cast<std::uint16_t>(b[2] | (b[3] << 8));
  c.indicator_pulse = (b[4] & 0x04) != 0;
  c.talk_only = (b[4] & 0x02) != 0;
  c.listen_only = (b[4] & 0x01) != 0;
  c.term_char = (b[5] & 0x01) != 0;
  c.bcd_usb488 = static_cast<std::uint16_t>(b[12] | (b[13] << 8));
  c.usb488_2 = (b[14] & 0x04) != 0;
  c.ren_control = (b[14] & 0x02) != 0;
  c.trigger = (b[14] & 0x01) != 0;
  c.scpi = (b[15] & 0x08) != 0;
  c.sr1 = (b[15] & 0x04) != 0;
  c.rl1 = (b[15] & 0x02) != 0;
  c.dt1 = (b[15] & 0x01) != 0;
  return c;
}

std::string to_string(const Capabilities& c) {
  auto bcd = [](std::uint16_t v) {
    char b[16];
    std::snprintf(b, sizeof b, "%x.%02x", static_cast<unsigned>(v >> 8), static_cast<unsigned>(v & 0xFF));
    return std::string(b);
  };
  auto list = [](std::initializer_list<std::pair<bool, const char*>> flags) {
    std::string s;
    for (const auto& [on, name] : flags)
      if (on) s += (s.empty() ? "" : ", ") + std::string(name);
    return s;
  };
  std::string s = "USBTMC " + bcd(c.bcd_usbtmc);
  const auto base = list({{c.indicator_pulse, "indicator pulse"},
                          {c.talk_only, "talk-only"},
                          {c.listen_only, "listen-only"},
                          {c.term_char, "TermChar"}});
  if (!base.empty()) s += " (" + base + ")";
  if (c.bcd_usb488) {
    s += ", USB488 " + bcd(c.bcd_usb488);
    const auto itf = list({{c.usb488_2, "488.2"}, {c.ren_control, "REN"}, {c.trigger, "TRIGGER"}});
    const auto dev = list({{c.scpi, "SCPI"}, {c.sr1, "SR1"}, {c.rl1, "RL1"}, {c.dt1, "DT1"}});
    if (!itf.empty() || !dev.empty()) s += " (" + itf + (itf.empty() || dev.empty() ? "" : "; ") + dev + ")";
  }
  return s;
}

}  // namespace dira::drivers::usbtmc
