// libFuzzer target: what a USBTMC device sends back (drivers/usbtmc): Bulk-IN transfers, control
// replies, Interrupt-IN notifications, through the real Connection logic (reassembly until EOM,
// header checks, the abort/clear recovery) and the reply parsers. A misbehaving or hostile
// instrument must produce a reply or a hal::HardwareFault (ProtocolError, TimeoutError), with
// bounded memory, never a crash or another exception.
//
// Input: a script of device answers, each [kind][length][length bytes]. kind % 4: 0 = data for
// the next Bulk-IN read, 1 = reply to the next control request, 2 = Interrupt-IN data, 3 = the
// next Bulk-IN read times out. When the script runs out, reads time out and control requests
// answer STATUS_FAILED (nothing in progress), so every recovery loop ends.
#include "dira/drivers/usbtmc/connection.hpp"
#include "dira/drivers/usbtmc/protocol.hpp"
#include "dira/drivers/usbtmc/transport.hpp"

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <vector>

namespace {

namespace ut = dira::drivers::usbtmc;

class ScriptedDevice : public ut::Transport {
 public:
  ScriptedDevice(const std::uint8_t* data, std::size_t size, bool usb488) {
    info_.usb488 = usb488;
    if (usb488) info_.interrupt_in_endpoint = 0x82;
    info_.description = "fuzz";
    std::size_t i = 0;
    while (i + 2 <= size) {
      const int kind = data[i] % 4;
      const std::size_t n = std::min<std::size_t>(data[i + 1], size - i - 2);
      std::vector<std::uint8_t> bytes(data + i + 2, data + i + 2 + n);
      i += 2 + n;
      if (kind == 0) bulk_.push_back({false, std::move(bytes)});
      if (kind == 1) control_.push_back(std::move(bytes));
      if (kind == 2) interrupt_.push_back(std::move(bytes));
      if (kind == 3) bulk_.push_back({true, {}});
    }
  }
  const ut::InterfaceInfo& info() const override { return info_; }
  void bulk_out(std::span<const std::uint8_t>, std::chrono::milliseconds) override {}
  std::vector<std::uint8_t> bulk_in(std::size_t max_length, std::chrono::milliseconds) override {
    if (bulk_.empty() || bulk_.front().timeout) {
      if (!bulk_.empty()) bulk_.pop_front();
      throw ut::TimeoutError("fuzz: Bulk-IN timed out");
    }
    auto b = std::move(bulk_.front().bytes);
    bulk_.pop_front();
    if (b.size() > max_length) b.resize(max_length);
    return b;
  }
  std::vector<std::uint8_t> control_in(const ut::ControlSetup& setup, std::chrono::milliseconds) override {
    if (control_.empty()) return {0x80, 0, 0, 0, 0, 0, 0, 0};  // STATUS_FAILED: nothing in progress
    auto b = std::move(control_.front());
    control_.pop_front();
    if (b.size() > setup.length) b.resize(setup.length);
    return b;
  }
  void clear_halt(std::uint8_t) override {}
  std::vector<std::uint8_t> interrupt_in(std::size_t max_length, std::chrono::milliseconds) override {
    if (interrupt_.empty()) throw ut::TimeoutError("fuzz: Interrupt-IN timed out");
    auto b = std::move(interrupt_.front());
    interrupt_.pop_front();
    if (b.size() > max_length) b.resize(max_length);
    return b;
  }

 private:
  struct Read {
    bool timeout;
    std::vector<std::uint8_t> bytes;
  };
  ut::InterfaceInfo info_;
  std::deque<Read> bulk_;
  std::deque<std::vector<std::uint8_t>> control_;
  std::deque<std::vector<std::uint8_t>> interrupt_;
};

template <typename F>
void expect_fault_or_value(F&& f) {
  try {
    f();
  } catch (const dira::hal::HardwareFault&) {
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const std::span<const std::uint8_t> all(data + 1, size - 1);
  // The pure parsers on the raw bytes.
  expect_fault_or_value([&] { (void)ut::parse_header(all); });
  expect_fault_or_value([&] { (void)ut::check_bulk_in_header(all, 1, 4096); });
  expect_fault_or_value([&] { (void)ut::parse_capabilities(all); });
  expect_fault_or_value([&] { (void)ut::parse_initiate_abort(all); });
  expect_fault_or_value([&] { (void)ut::parse_check_abort_out(all); });
  expect_fault_or_value([&] { (void)ut::parse_check_abort_in(all); });
  expect_fault_or_value([&] { (void)ut::parse_check_clear(all); });
  expect_fault_or_value([&] { (void)ut::parse_read_status_byte(all); });

  // The session logic against a scripted device.
  ut::ConnectionOptions o;
  o.timeout = std::chrono::milliseconds(1);
  o.poll_interval = std::chrono::milliseconds(0);
  o.max_status_polls = 4;
  o.max_in_payload = 64;
  o.max_message = 4096;  // small, so a device that never sends EOM is cut off quickly
  o.query_capabilities = (data[0] & 1) != 0;
  if (data[0] & 2) o.term_char = '\n';
  expect_fault_or_value([&] {
    ut::Connection c(std::make_unique<ScriptedDevice>(data + 1, size - 1, (data[0] & 4) != 0), o);
    for (int q = 0; q < 3; ++q) expect_fault_or_value([&] { (void)c.query("*IDN?\n"); });
    expect_fault_or_value([&] { (void)c.read_status_byte(); });
    expect_fault_or_value([&] { c.trigger(); });
  });
  return 0;
}
