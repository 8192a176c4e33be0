// USBTMC session logic over a Transport (USBTMC §3 for messages, §4.2.1 for recovery).
#include "dira/drivers/usbtmc/connection.hpp"

#include <stdexcept>
#include <thread>

namespace dira::drivers::usbtmc {

namespace {
std::span<const std::uint8_t> bytes_of(std::string_view s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}
std::string ms(std::chrono::milliseconds t) {
  return std::to_string(t.count()) + " ms";
}

/// REQUEST_DEV_DEP_MSG_IN itself timed out: the Bulk-OUT side is already aborted, nothing to do on Bulk-IN.
class RequestTimeout : public TimeoutError {
 public:
  using TimeoutError::TimeoutError;
};
}  // namespace

Connection::Connection(std::unique_ptr<Transport> transport, ConnectionOptions options)
    : transport_(std::move(transport)), options_(options) {
  if (!transport_) throw std::invalid_argument("usbtmc::Connection needs a transport");
  if (options_.max_out_payload == 0 || options_.max_in_payload == 0)
    throw std::invalid_argument("usbtmc::Connection: transfer sizes must be > 0");
  if (options_.query_capabilities) query_capabilities();
}

std::vector<std::uint8_t> Connection::control(const ControlSetup& s, std::size_t min_reply) {
  auto r = transport_->control_in(s, options_.timeout);
  if (r.size() < min_reply)
    throw ProtocolError(std::string("USBTMC ") + to_string(static_cast<Request>(s.request)) + ": reply of " +
                        std::to_string(r.size()) + " bytes, expected " + std::to_string(min_reply));
  return r;
}

Capabilities Connection::query_capabilities() {
  const auto c = parse_capabilities(control(get_capabilities(info().interface_number), 0x18));
  if (c.status != Status::success) throw hal::HardwareFault("USBTMC GET_CAPABILITIES answered " + to_string(c.status));
  caps_ = c;
  return c;
}

void Connection::write(std::string_view message) {
  const auto transfers = split_message(tags_, bytes_of(message), options_.max_out_payload);
  for (const auto& t : transfers) {
    last_out_tag_ = t[1];
    try {
      transport_->bulk_out(t, options_.timeout);
    } catch (const TimeoutError& e) {
      std::string note = "Bulk-OUT transfer aborted";
      try {
        abort_bulk_out();
      } catch (const hal::HardwareFault& r) {
        note = std::string("recovery failed: ") + r.what();
      }
      throw TimeoutError("USBTMC write of " + std::to_string(message.size()) + " bytes timed out after " +
                         ms(options_.timeout) + " (bTag " + std::to_string(last_out_tag_) + "; " + e.what() + "); " +
                         note);
    }
  }
}

std::size_t Connection::in_read_length() const {
  // One read holds the whole transfer: header, payload, alignment, rounded up to whole packets so
  // the device never overflows the buffer (libusb reports LIBUSB_ERROR_OVERFLOW otherwise).
  const std::size_t mps = info().max_packet_size ? info().max_packet_size : 64;
  const std::size_t n = padded_transfer_length(options_.max_in_payload);
  return (n + mps - 1) / mps * mps;
}

void Connection::read_transfer(std::string& out, bool& done) {
  const std::uint8_t tag = tags_.next();
  last_in_tag_ = tag;
  const auto term = (options_.term_char && caps_.term_char) ? options_.term_char : std::nullopt;
  try {
    transport_->bulk_out(request_dev_dep_msg_in(tag, options_.max_in_payload, term), options_.timeout);
  } catch (const TimeoutError&) {
    last_out_tag_ = tag;
    abort_bulk_out();
    throw RequestTimeout("USBTMC REQUEST_DEV_DEP_MSG_IN (bTag " + std::to_string(tag) + ") timed out after " +
                         ms(options_.timeout) + "; Bulk-OUT transfer aborted");
  }
  InTransfer t(tag, options_.max_in_payload);
  int empty_reads = 0;
  while (!t.complete()) {
    const auto chunk = transport_->bulk_in(in_read_length(), options_.timeout);
    if (chunk.empty() && ++empty_reads > 8)
      throw ProtocolError("USBTMC Bulk-IN: the device keeps sending zero-length packets instead of DEV_DEP_MSG_IN");
    t.feed(chunk);
  }
  const auto p = t.payload();
  out.append(reinterpret_cast<const char*>(p.data()), p.size());
  // USBTMC Table 9: EOM ends the message; with TermChar enabled, D1 says the transfer ended on it.
  done = t.header().eom() || (term && (t.header().attributes & kAttrTermChar));
}

void Connection::recover_in(const std::string& why) {
  try {
    abort_bulk_in();
  } catch (const hal::HardwareFault& a) {
    try {
      clear();
    } catch (const hal::HardwareFault& c) {
      throw hal::HardwareFault(why + "; INITIATE_ABORT_BULK_IN failed (" + a.what() + ") and INITIATE_CLEAR failed (" +
                               c.what() + ")");
    }
  }
}

std::string Connection::read() {
  std::string out;
  bool done = false;
  try {
    while (!done) {
      read_transfer(out, done);
      if (!done && out.size() >= options_.max_message)
        throw ProtocolError("USBTMC response exceeds " + std::to_string(options_.max_message) + " bytes without EOM");
    }
  } catch (const RequestTimeout&) {
    throw;
  } catch (const TimeoutError&) {
    const std::string why = std::string("USBTMC read timed out after ") + ms(options_.timeout) + " (bTag " +
                            std::to_string(last_in_tag_) + ", " + std::to_string(out.size()) + " bytes received" +
                            (out.empty() ? "" : " without EOM") + ")";
    recover_in(why);
    throw TimeoutError(why + "; Bulk-IN transfer aborted");
  } catch (const ProtocolError& e) {
    recover_in(e.what());
    throw ProtocolError(std::string(e.what()) + "; Bulk-IN transfer aborted");
  }
  return out;
}

std::string Connection::query(std::string_view message) {
  write(message);
  return read();
}

void Connection::trigger() {
  if (options_.query_capabilities && !caps_.trigger)
    throw hal::HardwareFault("USBTMC device does not accept the USB488 TRIGGER message (GET_CAPABILITIES)");
  const std::uint8_t tag = tags_.next();
  last_out_tag_ = tag;
  try {
    transport_->bulk_out(trigger_message(tag), options_.timeout);
  } catch (const TimeoutError&) {
    abort_bulk_out();
    throw TimeoutError("USBTMC TRIGGER timed out after " + ms(options_.timeout) + "; Bulk-OUT transfer aborted");
  }
}

std::uint8_t Connection::read_status_byte() {
  if (!info().usb488) throw hal::HardwareFault("READ_STATUS_BYTE needs a USB488 interface (bInterfaceProtocol 1)");
  const std::uint8_t tag = status_tags_.next();
  const auto r = parse_read_status_byte(control(usbtmc::read_status_byte(tag, info().interface_number), 3));
  if (r.status != Status::success) throw hal::HardwareFault("USB488 READ_STATUS_BYTE answered " + to_string(r.status));
  if (r.tag != tag)
    throw ProtocolError("USB488 READ_STATUS_BYTE: bTag " + std::to_string(r.tag) + ", expected " + std::to_string(tag));
  if (!info().interrupt_in_endpoint) return r.status_byte;
  // USB488 §4.3.1.2: with an Interrupt-IN endpoint the byte comes there as bNotify1 = 0x80|bTag, bNotify2 = STB.
  const auto n = transport_->interrupt_in(2, options_.timeout);
  if (n.size() < 2 || n[0] != (0x80 | tag))
    throw ProtocolError("USB488 Interrupt-IN: expected bNotify1 = 0x80|bTag " + std::to_string(tag));
  return n[1];
}

void Connection::drain_bulk_in() {
  // USBTMC §4.2.1.4: after a successful INITIATE_ABORT_BULK_IN the host reads until a short packet.
  const std::size_t len = in_read_length();
  for (int i = 0; i < 1024; ++i) {
    std::vector<std::uint8_t> b;
    try {
      b = transport_->bulk_in(len, options_.timeout);
    } catch (const TimeoutError&) {
      return;
    }
    if (b.size() < len) return;
  }
  throw hal::HardwareFault("USBTMC abort: the device keeps sending Bulk-IN data");
}

void Connection::abort_bulk_in() {
  // USBTMC §4.2.1.4–4.2.1.5.
  const auto ep = info().bulk_in_endpoint;
  const auto r = parse_initiate_abort(control(initiate_abort_bulk_in(last_in_tag_, ep), 2));
  if (r.status == Status::failed) return;  // no transfer in progress, FIFO empty: nothing to abort
  if (r.status == Status::transfer_not_in_progress) {
    clear();  // another transfer is in flight or the FIFO is not empty: clear everything
    return;
  }
  if (r.status != Status::success)
    throw hal::HardwareFault("USBTMC INITIATE_ABORT_BULK_IN answered " + to_string(r.status));
  drain_bulk_in();
  for (int n = 0;; ++n) {
    const auto c = parse_check_abort_in(control(check_abort_bulk_in_status(ep), 8));
    if (c.status == Status::success) return;
    if (c.status != Status::pending)
      throw hal::HardwareFault("USBTMC CHECK_ABORT_BULK_IN_STATUS answered " + to_string(c.status));
    if (n >= options_.max_status_polls)
      throw hal::HardwareFault("USBTMC CHECK_ABORT_BULK_IN_STATUS still pending after " + std::to_string(n) + " polls");
    if (c.fifo_has_data)
      drain_bulk_in();  // bmAbortBulkIn D0: read again before asking
    else
      std::this_thread::sleep_for(options_.poll_interval);
  }
}

void Connection::abort_bulk_out() {
  // USBTMC §4.2.1.2–4.2.1.3, then CLEAR_FEATURE(ENDPOINT_HALT) on Bulk-OUT.
  const auto ep = info().bulk_out_endpoint;
  const auto r = parse_initiate_abort(control(initiate_abort_bulk_out(last_out_tag_, ep), 2));
  if (r.status == Status::failed) return;
  if (r.status == Status::transfer_not_in_progress) {
    clear();
    return;
  }
  if (r.status != Status::success)
    throw hal::HardwareFault("USBTMC INITIATE_ABORT_BULK_OUT answered " + to_string(r.status));
  for (int n = 0;; ++n) {
    const auto c = parse_check_abort_out(control(check_abort_bulk_out_status(ep), 8));
    if (c.status == Status::success) break;
    if (c.status != Status::pending)
      throw hal::HardwareFault("USBTMC CHECK_ABORT_BULK_OUT_STATUS answered " + to_string(c.status));
    if (n >= options_.max_status_polls)
      throw hal::HardwareFault("USBTMC CHECK_ABORT_BULK_OUT_STATUS still pending after " + std::to_string(n) +
                               " polls");
    std::this_thread::sleep_for(options_.poll_interval);
  }
  transport_->clear_halt(ep);
}

void Connection::clear() {
  // USBTMC §4.2.1.6–4.2.1.7, then CLEAR_FEATURE(ENDPOINT_HALT) on Bulk-OUT.
  const auto itf = info().interface_number;
  const auto st = static_cast<Status>(control(initiate_clear(itf), 1)[0]);
  if (st != Status::success) throw hal::HardwareFault("USBTMC INITIATE_CLEAR answered " + to_string(st));
  for (int n = 0;; ++n) {
    const auto c = parse_check_clear(control(check_clear_status(itf), 2));
    if (c.status == Status::success) break;
    if (c.status != Status::pending)
      throw hal::HardwareFault("USBTMC CHECK_CLEAR_STATUS answered " + to_string(c.status));
    if (n >= options_.max_status_polls)
      throw hal::HardwareFault("USBTMC CHECK_CLEAR_STATUS still pending after " + std::to_string(n) + " polls");
    if (c.fifo_has_data)
      drain_bulk_in();  // bmClear D0
    else
      std::this_thread::sleep_for(options_.poll_interval);
  }
  transport_->clear_halt(info().bulk_out_endpoint);
}

}  // namespace dira::drivers::usbtmc
