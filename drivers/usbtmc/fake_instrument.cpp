// The device side of USBTMC, in process, with a small SCPI model and fault injection.
#include "dira/drivers/usbtmc/fake_instrument.hpp"

#include <algorithm>
#include <cctype>
#include <stdexcept>

namespace dira::drivers::usbtmc {

namespace {
std::string upper(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}
std::string trim_end(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}
}  // namespace

FakeInstrument::FakeInstrument(FakeConfig config) : config_(std::move(config)) {
  info_.interface_number = 0;
  info_.bulk_out_endpoint = 0x01;
  info_.bulk_in_endpoint = 0x82;
  if (config_.interrupt_in) info_.interrupt_in_endpoint = 0x83;
  info_.max_packet_size = config_.max_packet_size;
  info_.usb488 = config_.usb488;
  UsbDeviceInfo d;
  d.vendor_id = config_.vendor_id;
  d.product_id = config_.product_id;
  d.manufacturer = "dira";
  d.product = "fake USBTMC instrument (in-process, no hardware)";
  d.serial = config_.serial;
  d.usbtmc = true;
  d.usb488 = config_.usb488;
  info_.description = d.str();
}

void FakeInstrument::violation(std::string what) {
  violations_.push_back(std::move(what));
}

void FakeInstrument::reply(const std::string& query, const std::string& answer) {
  replies_[query] = answer;
}

void FakeInstrument::fail_on(const std::string& prefix, int code, const std::string& message) {
  fail_rules_.emplace_back(prefix, std::to_string(code) + ",\"" + message + "\"");
}

void FakeInstrument::push_error(int code, const std::string& message) {
  errors_.push_back(std::to_string(code) + ",\"" + message + "\"");
}

std::optional<std::string> FakeInstrument::answer(const std::string& text) {
  const auto u = upper(text);
  if (u == "*RST" || u == "*CLS") errors_.clear();
  for (const auto& [prefix, error] : fail_rules_)
    if (text.rfind(prefix, 0) == 0) errors_.push_back(error);
  if (const auto it = replies_.find(text); it != replies_.end()) return it->second;
  if (u == "*IDN?") return config_.idn;
  if (u == "*OPC?") return "1";
  if (u == "SYST:ERR?" || u == "SYSTEM:ERROR?" || u == "SYST:ERR:NEXT?" || u == "SYSTEM:ERROR:NEXT?") {
    if (errors_.empty()) return "+0,\"No error\"";
    auto e = errors_.front();
    errors_.pop_front();
    return e;
  }
  // A query is a message whose header (up to the first space) ends in '?'.
  const auto head = u.substr(0, u.find(' '));
  if (!head.empty() && head.back() == '?') return text;
  return std::nullopt;
}

void FakeInstrument::dispatch(const std::string& message) {
  messages_.push_back(message);
  auto a = answer(trim_end(message));
  if (!a) return;
  if (faults_.silent > 0) {
    --faults_.silent;  // the instrument hangs on this query: nothing to send
    return;
  }
  outputs_.push_back(*a + "\n");
}

void FakeInstrument::bulk_out(std::span<const std::uint8_t> data, std::chrono::milliseconds /*timeout*/) {
  out_log_.emplace_back(data.begin(), data.end());
  if (out_halted_) {
    violation("Bulk-OUT transfer while the endpoint is halted (CLEAR_FEATURE(ENDPOINT_HALT) missing)");
    throw hal::HardwareFault("fake USBTMC: Bulk-OUT endpoint halted (LIBUSB_ERROR_PIPE)");
  }
  if (data.size() >= 2) {
    if (data[1] == 0) violation("bTag 0 (USBTMC Table 1: 1..255)");
    if (data[1] == last_out_tag_) violation("bTag " + std::to_string(data[1]) + " repeats the previous one");
  }
  if (faults_.out_timeouts > 0) {
    --faults_.out_timeouts;
    if (data.size() >= 2) last_out_tag_ = data[1];
    out_in_progress_ = true;
    throw TimeoutError("fake USBTMC: Bulk-OUT timed out (device NAKs)");
  }
  if (data.size() % 4 != 0)
    violation("Bulk-OUT transfer of " + std::to_string(data.size()) + " bytes, not a multiple of 4");
  Header h;
  try {
    h = parse_header(data);
  } catch (const ProtocolError& e) {
    violation(e.what());
    return;
  }
  last_out_tag_ = h.tag;
  if (data[3] != 0) violation("reserved header byte 3 is not 0");
  switch (h.msg_id) {
    case static_cast<std::uint8_t>(MsgId::dev_dep_msg_out): {
      if (h.transfer_size == 0) violation("DEV_DEP_MSG_OUT with TransferSize 0");
      if (data.size() != padded_transfer_length(h.transfer_size))
        violation("DEV_DEP_MSG_OUT of TransferSize " + std::to_string(h.transfer_size) + " sent as " +
                  std::to_string(data.size()) + " bytes (expected " +
                  std::to_string(padded_transfer_length(h.transfer_size)) + ")");
      if (h.attributes & ~kAttrEom) violation("reserved bmTransferAttributes bits set");
      if (data[9] || data[10] || data[11]) violation("reserved DEV_DEP_MSG_OUT bytes 9-11 are not 0");
      const std::size_t n = std::min<std::size_t>(h.transfer_size, data.size() - kHeaderSize);
      incoming_.append(reinterpret_cast<const char*>(data.data()) + kHeaderSize, n);
      out_bytes_ += static_cast<std::uint32_t>(n);
      out_in_progress_ = !h.eom();
      if (h.eom()) {
        auto m = std::move(incoming_);
        incoming_.clear();
        out_bytes_ = 0;
        dispatch(m);
      }
      return;
    }
    case static_cast<std::uint8_t>(MsgId::request_dev_dep_msg_in): {
      if (data.size() != kHeaderSize) violation("REQUEST_DEV_DEP_MSG_IN longer than its 12-byte header");
      if (h.transfer_size == 0) violation("REQUEST_DEV_DEP_MSG_IN with TransferSize 0");
      if ((h.attributes & kAttrTermCharEnabled) && !config_.term_char)
        violation("TermCharEnabled although GET_CAPABILITIES says TermChar is not supported");
      if (request_ || !pieces_.empty())
        violation("REQUEST_DEV_DEP_MSG_IN while the previous one is still being answered");
      PendingRequest r;
      r.tag = h.tag;
      r.max_size = h.transfer_size;
      if (h.attributes & kAttrTermCharEnabled) r.term_char = h.term_char;
      request_ = r;
      last_request_tag_ = h.tag;
      return;
    }
    case static_cast<std::uint8_t>(MsgId::trigger):
      if (!config_.usb488 || !config_.trigger) violation("TRIGGER sent to a device that does not accept it");
      ++triggers_;
      return;
    default:
      violation("unknown MsgID " + std::to_string(h.msg_id));
  }
}

void FakeInstrument::pack_transfer() {
  // USBTMC §3.3.1.1, Table 9: header, TransferSize payload bytes, alignment to 4.
  auto& msg = outputs_.front();
  const auto& r = *request_;
  std::size_t n = std::min<std::size_t>(r.max_size, msg.size() - front_sent_);
  if (faults_.max_transfer_payload) n = std::min(n, faults_.max_transfer_payload);
  std::uint8_t attr = 0;
  if (r.term_char) {
    const auto p = msg.find(static_cast<char>(*r.term_char), front_sent_);
    if (p != std::string::npos && p < front_sent_ + n) {
      n = p - front_sent_ + 1;
      attr |= kAttrTermChar;
    }
  }
  const bool last = front_sent_ + n == msg.size();
  if (last && !faults_.drop_eom) attr |= kAttrEom;
  std::uint8_t tag = r.tag;
  if (faults_.wrong_tag > 0) {
    --faults_.wrong_tag;
    tag = static_cast<std::uint8_t>(tag == 255 ? 1 : tag + 1);
  }
  std::vector<std::uint8_t> t(kHeaderSize, 0);
  t[0] = static_cast<std::uint8_t>(MsgId::request_dev_dep_msg_in);
  t[1] = tag;
  t[2] = static_cast<std::uint8_t>(~tag);
  put_le32(&t[4], static_cast<std::uint32_t>(n));
  t[8] = attr;
  t.insert(t.end(), msg.begin() + static_cast<std::ptrdiff_t>(front_sent_),
           msg.begin() + static_cast<std::ptrdiff_t>(front_sent_ + n));
  t.resize(padded_transfer_length(n), 0);
  front_sent_ += n;
  if (last) {
    outputs_.pop_front();
    front_sent_ = 0;
  }
  in_bytes_ = static_cast<std::uint32_t>(n);
  request_.reset();
  // Short packets: reads of packet_size bytes; the alignment bytes travel with the last data
  // bytes (a device pads the end of its last packet, it does not send them on their own).
  const std::size_t content = kHeaderSize + n;
  const std::size_t piece = faults_.packet_size ? faults_.packet_size : t.size();
  for (std::size_t at = 0; at < content; at += piece) {
    const std::size_t end = at + piece >= content ? t.size() : at + piece;
    pieces_.emplace_back(t.begin() + static_cast<std::ptrdiff_t>(at), t.begin() + static_cast<std::ptrdiff_t>(end));
  }
}

std::vector<std::uint8_t> FakeInstrument::bulk_in(std::size_t max_length, std::chrono::milliseconds /*timeout*/) {
  if (pieces_.empty()) {
    if (!request_ || outputs_.empty()) throw TimeoutError("fake USBTMC: nothing on Bulk-IN");
    pack_transfer();
  }
  auto& front = pieces_.front();
  std::vector<std::uint8_t> out;
  if (front.size() > max_length) {  // the host's buffer is full; the rest stays for the next read
    out.assign(front.begin(), front.begin() + static_cast<std::ptrdiff_t>(max_length));
    front.erase(front.begin(), front.begin() + static_cast<std::ptrdiff_t>(max_length));
  } else {
    out = std::move(front);
    pieces_.pop_front();
  }
  in_log_.push_back(out);
  return out;
}

std::uint8_t FakeInstrument::status_byte() const {
  // IEEE 488.2 status byte as SCPI uses it: bit 4 MAV (message available), bit 2 error/event queue not empty.
  return static_cast<std::uint8_t>((outputs_.empty() ? 0 : 0x10) | (errors_.empty() ? 0 : 0x04));
}

std::size_t FakeInstrument::pending_output() const {
  std::size_t n = 0;
  for (const auto& m : outputs_) n += m.size();
  return n - front_sent_;
}

std::vector<std::uint8_t> FakeInstrument::control_in(const ControlSetup& s, std::chrono::milliseconds /*timeout*/) {
  control_log_.push_back(s);
  auto stall = [&](const std::string& why) -> std::vector<std::uint8_t> {
    violation(std::string(to_string(static_cast<Request>(s.request))) + ": " + why);
    throw hal::HardwareFault("fake USBTMC: control request stalled (LIBUSB_ERROR_PIPE): " + why);
  };
  auto expect = [&](std::uint8_t type, std::uint16_t index, std::uint16_t length) {
    if (s.request_type != type) return stall("bmRequestType " + std::to_string(s.request_type));
    if (s.index != index) return stall("wIndex " + std::to_string(s.index));
    if (s.length != length) return stall("wLength " + std::to_string(s.length));
    return std::vector<std::uint8_t>{};
  };
  auto st = [](Status v) { return static_cast<std::uint8_t>(v); };
  auto le32 = [](std::vector<std::uint8_t> v, std::uint32_t n) {
    put_le32(&v[4], n);
    return v;
  };
  const auto tag = static_cast<std::uint8_t>(s.value & 0xFF);
  switch (static_cast<Request>(s.request)) {
    case Request::initiate_abort_bulk_out:
      expect(kRequestTypeEndpoint, info_.bulk_out_endpoint, 2);
      if (!out_in_progress_) return {st(Status::failed), tag};
      if (tag != last_out_tag_) return {st(Status::transfer_not_in_progress), tag};
      incoming_.clear();  // §4.2.1.2: discard the message being received; the endpoint halts until cleared
      out_in_progress_ = false;
      out_halted_ = true;
      return {st(Status::success), tag};
    case Request::check_abort_bulk_out_status:
      expect(kRequestTypeEndpoint, info_.bulk_out_endpoint, 8);
      return le32({st(Status::success), 0, 0, 0, 0, 0, 0, 0}, out_bytes_);
    case Request::initiate_abort_bulk_in: {
      expect(kRequestTypeEndpoint, info_.bulk_in_endpoint, 2);
      if (!request_ && pieces_.empty()) return {st(Status::failed), tag};
      if (tag != last_request_tag_) return {st(Status::transfer_not_in_progress), tag};
      // §4.2.1.4: drop the rest of the message and end the transfer with a short packet.
      if (request_) {
        request_.reset();
        pieces_.emplace_back();
      }
      if (front_sent_ && !outputs_.empty()) {
        outputs_.pop_front();
        front_sent_ = 0;
      }
      return {st(Status::success), tag};
    }
    case Request::check_abort_bulk_in_status:
      expect(kRequestTypeEndpoint, info_.bulk_in_endpoint, 8);
      if (!pieces_.empty()) return le32({st(Status::pending), 1, 0, 0, 0, 0, 0, 0}, in_bytes_);
      return le32({st(Status::success), 0, 0, 0, 0, 0, 0, 0}, in_bytes_);
    case Request::initiate_clear:
      expect(kRequestTypeInterface, info_.interface_number, 1);
      incoming_.clear();
      outputs_.clear();
      front_sent_ = 0;
      request_.reset();
      pieces_.clear();
      out_in_progress_ = false;
      out_halted_ = true;  // §4.2.1.7: the host clears the Bulk-OUT halt afterwards
      return {st(Status::success)};
    case Request::check_clear_status:
      expect(kRequestTypeInterface, info_.interface_number, 2);
      return {st(Status::success), 0};
    case Request::get_capabilities: {
      expect(kRequestTypeInterface, info_.interface_number, 0x18);
      std::vector<std::uint8_t> c(0x18, 0);
      c[0] = st(Status::success);
      c[2] = 0x00;  // bcdUSBTMC 1.00, LSB first
      c[3] = 0x01;
      c[5] = config_.term_char ? 0x01 : 0x00;
      if (config_.usb488) {
        c[12] = 0x00;  // bcdUSB488 1.00
        c[13] = 0x01;
        c[14] = static_cast<std::uint8_t>(0x04 | 0x02 | (config_.trigger ? 0x01 : 0));
        c[15] =
            static_cast<std::uint8_t>(0x08 | (config_.interrupt_in ? 0x04 : 0) | 0x02 | (config_.trigger ? 0x01 : 0));
      }
      return c;
    }
    case Request::read_status_byte: {
      if (!config_.usb488) return stall("not a USB488 interface");
      expect(kRequestTypeInterface, info_.interface_number, 3);
      if (tag < 2 || tag > 127) violation("READ_STATUS_BYTE bTag " + std::to_string(tag) + " outside 2..127");
      if (config_.interrupt_in) {
        interrupts_.push_back({static_cast<std::uint8_t>(0x80 | tag), status_byte()});
        return {st(Status::success), tag, 0};
      }
      return {st(Status::success), tag, status_byte()};
    }
    default:
      return stall("request not supported by the fake");
  }
}

void FakeInstrument::clear_halt(std::uint8_t endpoint) {
  cleared_halts_.push_back(endpoint);
  if (endpoint == info_.bulk_out_endpoint) out_halted_ = false;
}

std::vector<std::uint8_t> FakeInstrument::interrupt_in(std::size_t /*max_length*/, std::chrono::milliseconds) {
  if (interrupts_.empty()) throw TimeoutError("fake USBTMC: nothing on Interrupt-IN");
  auto n = interrupts_.front();
  interrupts_.pop_front();
  return n;
}

}  // namespace dira::drivers::usbtmc
