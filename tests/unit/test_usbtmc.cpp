// USBTMC (issue 4 §4): wire format, bTag, transfer sizes, EOM, short packets, timeouts and the
// abort/clear recovery, against the in-process fake instrument. Golden bytes are written out by
// hand from the spec's tables (USBTMC rev 1.0 Tables 1–4, 9, 15, 16, 37 and §4.2.1; USB488 rev 1.0
// §4.2.2 Table 8 and §4.3.1), not produced by the code under test.
#include "dira/drivers/usbtmc/connection.hpp"
#include "dira/drivers/usbtmc/fake_instrument.hpp"
#include "dira/drivers/usbtmc/libusb_transport.hpp"
#include "dira/drivers/usbtmc/protocol.hpp"

#include <catch2/catch.hpp>

#include <memory>
#include <string>
#include <vector>

using namespace dira::drivers::usbtmc;
using Bytes = std::vector<std::uint8_t>;
using namespace std::chrono_literals;

namespace {

Bytes bytes(std::string_view s) {
  return Bytes(s.begin(), s.end());
}

Bytes cat(Bytes a, const Bytes& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

struct Rig {
  FakeInstrument* fake = nullptr;
  std::unique_ptr<Connection> conn;
};

Rig make_rig(FakeConfig cfg = {}, ConnectionOptions o = {}) {
  auto f = std::make_unique<FakeInstrument>(cfg);
  Rig r;
  r.fake = f.get();
  o.poll_interval = 0ms;
  r.conn = std::make_unique<Connection>(std::move(f), o);
  return r;
}

/// bRequest of every control request after the first `skip`.
std::vector<int> requests_after(const FakeInstrument& f, std::size_t skip) {
  std::vector<int> out;
  for (std::size_t i = skip; i < f.control_log().size(); ++i) out.push_back(f.control_log()[i].request);
  return out;
}

bool same(const ControlSetup& a, const ControlSetup& b) {
  return a == b;
}

const std::string kIdn = "DIRA,FAKE-USBTMC,FAKE0001,1.0\n";  // 30 bytes

}  // namespace

TEST_CASE("DEV_DEP_MSG_OUT: 12-byte header, payload, alignment to 4 (USBTMC Table 3, §3.2.1.1)", "[usbtmc]") {
  // MsgID 1, bTag 1, bTagInverse 0xFE, reserved, TransferSize 5 LSB first, EOM, 3 reserved, data, 3 pad.
  CHECK(dev_dep_msg_out(1, bytes("*IDN?"), true) == Bytes{0x01, 0x01, 0xFE, 0x00, 0x05, 0x00, 0x00, 0x00, 0x01, 0x00,
                                                          0x00, 0x00, '*',  'I',  'D',  'N',  '?',  0,    0,    0});
  // The spec's own bTag example: 0x5B has bTagInverse 0xA4. No EOM, already aligned.
  CHECK(dev_dep_msg_out(0x5B, bytes("ABCD"), false) ==
        Bytes{0x01, 0x5B, 0xA4, 0x00, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 'A', 'B', 'C', 'D'});
  // TransferSize 258 = 0x00000102 little-endian; 258 data + 2 alignment bytes.
  const auto big = dev_dep_msg_out(9, Bytes(258, 'x'), true);
  CHECK(big.size() == 12u + 260u);
  CHECK(Bytes(big.begin() + 4, big.begin() + 8) == Bytes{0x02, 0x01, 0x00, 0x00});
  CHECK_THROWS_AS(dev_dep_msg_out(1, Bytes{}, true), std::invalid_argument);     // TransferSize must be > 0
  CHECK_THROWS_AS(dev_dep_msg_out(0, bytes("x"), true), std::invalid_argument);  // bTag 0 is not allowed
}

TEST_CASE("REQUEST_DEV_DEP_MSG_IN and TRIGGER headers (USBTMC Table 4, USB488 §3.2.1.1)", "[usbtmc]") {
  CHECK(request_dev_dep_msg_in(2, 4096) ==
        Bytes{0x02, 0x02, 0xFD, 0x00, 0x00, 0x10, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00});
  // TermCharEnabled is D1 of byte 8, TermChar in byte 9.
  CHECK(request_dev_dep_msg_in(3, 0xFFFFFFFFu, std::uint8_t{'\n'}) ==
        Bytes{0x02, 0x03, 0xFC, 0x00, 0xFF, 0xFF, 0xFF, 0xFF, 0x02, 0x0A, 0x00, 0x00});
  CHECK(trigger_message(7) == Bytes{0x80, 0x07, 0xF8, 0x00, 0, 0, 0, 0, 0, 0, 0, 0});
}

TEST_CASE("bTag runs 1..255 and wraps to 1, never 0 (USBTMC Table 1)", "[usbtmc]") {
  TagCounter t;
  for (int i = 1; i <= 255; ++i) REQUIRE(t.next() == i);
  CHECK(t.next() == 1);
  CHECK(t.next() == 2);
  // READ_STATUS_BYTE tags are 2..127 (USB488 §4.3.1).
  StatusTagCounter s;
  for (int i = 2; i <= 127; ++i) REQUIRE(s.next() == i);
  CHECK(s.next() == 2);
}

TEST_CASE("a long message is split over transfers, EOM on the last, a new bTag each", "[usbtmc]") {
  TagCounter tags;
  const auto t = split_message(tags, bytes("0123456789"), 4);
  REQUIRE(t.size() == 3);
  CHECK(t[0] == Bytes{0x01, 0x01, 0xFE, 0x00, 4, 0, 0, 0, 0x00, 0, 0, 0, '0', '1', '2', '3'});
  CHECK(t[1] == Bytes{0x01, 0x02, 0xFD, 0x00, 4, 0, 0, 0, 0x00, 0, 0, 0, '4', '5', '6', '7'});
  CHECK(t[2] == Bytes{0x01, 0x03, 0xFC, 0x00, 2, 0, 0, 0, 0x01, 0, 0, 0, '8', '9', 0, 0});
}

TEST_CASE("Bulk-IN header checks: MsgID, bTag, bTagInverse, TransferSize (USBTMC §3.3.1.1, Table 9)", "[usbtmc]") {
  const Bytes good{0x02, 0x05, 0xFA, 0x00, 0x03, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 'a', 'b', 'c', 0x00};
  const auto h = check_bulk_in_header(good, 5, 100);
  CHECK(h.transfer_size == 3u);
  CHECK(h.eom());
  CHECK_THROWS_WITH(check_bulk_in_header(good, 6, 100), Catch::Contains("bTag 5 does not match"));
  auto bad_id = good;
  bad_id[0] = 0x01;
  CHECK_THROWS_WITH(check_bulk_in_header(bad_id, 5, 100), Catch::Contains("MsgID 1"));
  auto bad_inverse = good;
  bad_inverse[2] = 0xFB;
  CHECK_THROWS_WITH(check_bulk_in_header(bad_inverse, 5, 100), Catch::Contains("bTagInverse"));
  CHECK_THROWS_WITH(check_bulk_in_header(good, 5, 2), Catch::Contains("exceeds"));
  CHECK_THROWS_AS(check_bulk_in_header(Bytes(good.begin(), good.begin() + 11), 5, 100), ProtocolError);

  // The same transfer arriving in three reads, the header itself split (short packets).
  InTransfer t(5, 100);
  t.feed(Bytes{0x02, 0x05, 0xFA, 0x00, 0x03});
  CHECK_FALSE(t.complete());
  t.feed(Bytes{0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 'a'});
  CHECK_FALSE(t.complete());
  t.feed(Bytes{'b', 'c', 0x00});
  REQUIRE(t.complete());
  CHECK(Bytes(t.payload().begin(), t.payload().end()) == bytes("abc"));
}

TEST_CASE("class control requests: SETUP fields (USBTMC §4.2.1, Table 15 — USB488 §4.3.1)", "[usbtmc]") {
  // bmRequestType 0xA2 = IN | class | endpoint, 0xA1 = IN | class | interface.
  CHECK(same(initiate_abort_bulk_out(7, 0x01), ControlSetup{0xA2, 1, 7, 0x01, 2}));
  CHECK(same(check_abort_bulk_out_status(0x01), ControlSetup{0xA2, 2, 0, 0x01, 8}));
  CHECK(same(initiate_abort_bulk_in(9, 0x82), ControlSetup{0xA2, 3, 9, 0x82, 2}));
  CHECK(same(check_abort_bulk_in_status(0x82), ControlSetup{0xA2, 4, 0, 0x82, 8}));
  CHECK(same(initiate_clear(0), ControlSetup{0xA1, 5, 0, 0, 1}));
  CHECK(same(check_clear_status(0), ControlSetup{0xA1, 6, 0, 0, 2}));
  CHECK(same(get_capabilities(2), ControlSetup{0xA1, 7, 0, 2, 0x18}));
  CHECK(same(indicator_pulse(0), ControlSetup{0xA1, 64, 0, 0, 1}));
  CHECK(same(read_status_byte(2, 0), ControlSetup{0xA1, 128, 2, 0, 3}));
  CHECK_THROWS_AS(read_status_byte(1, 0), std::invalid_argument);
  CHECK_THROWS_AS(read_status_byte(128, 0), std::invalid_argument);
  // Table 16 names, and an undefined value.
  CHECK(to_string(Status::failed) == "STATUS_FAILED");
  CHECK(to_string(static_cast<Status>(0x42)) == "status 0x42");
  // Replies: status, bTag / status, bmAbortBulkIn, reserved, NBYTES_TXD little-endian.
  CHECK(parse_initiate_abort(Bytes{0x01, 0x09}).tag == 9);
  const auto in = parse_check_abort_in(Bytes{0x02, 0x01, 0, 0, 0x34, 0x12, 0, 0});
  CHECK(in.status == Status::pending);
  CHECK(in.fifo_has_data);
  CHECK(in.bytes_sent == 0x1234u);
  CHECK(parse_check_abort_out(Bytes{0x01, 0, 0, 0, 0x10, 0, 0, 0x01}).bytes_received == 0x01000010u);
  CHECK_THROWS_AS(parse_check_abort_out(Bytes{0x01, 0}), ProtocolError);
}

TEST_CASE("GET_CAPABILITIES: every capability bit in its place (USBTMC Table 37, USB488 Table 8)", "[usbtmc]") {
  Bytes all(0x18, 0);
  all[0] = 0x01;  // STATUS_SUCCESS
  all[2] = 0x00;  // bcdUSBTMC 1.00, LSB first
  all[3] = 0x01;
  all[4] = 0x07;   // indicator pulse D2, talk-only D1, listen-only D0
  all[5] = 0x01;   // TermChar D0
  all[12] = 0x00;  // bcdUSB488 1.00
  all[13] = 0x01;
  all[14] = 0x07;  // 488.2 D2, REN_CONTROL D1, TRIGGER D0
  all[15] = 0x0F;  // SCPI D3, SR1 D2, RL1 D1, DT1 D0
  const auto c = parse_capabilities(all);
  CHECK(c.status == Status::success);
  CHECK(c.bcd_usbtmc == 0x0100);
  CHECK(c.bcd_usb488 == 0x0100);
  CHECK(to_string(c) ==
        "USBTMC 1.00 (indicator pulse, talk-only, listen-only, TermChar), USB488 1.00 (488.2, REN, TRIGGER; SCPI, SR1, "
        "RL1, DT1)");

  struct Bit {
    int byte;
    std::uint8_t mask;
    bool Capabilities::*flag;
  };
  const Bit bits[] = {{4, 0x04, &Capabilities::indicator_pulse},
                      {4, 0x02, &Capabilities::talk_only},
                      {4, 0x01, &Capabilities::listen_only},
                      {5, 0x01, &Capabilities::term_char},
                      {14, 0x04, &Capabilities::usb488_2},
                      {14, 0x02, &Capabilities::ren_control},
                      {14, 0x01, &Capabilities::trigger},
                      {15, 0x08, &Capabilities::scpi},
                      {15, 0x04, &Capabilities::sr1},
                      {15, 0x02, &Capabilities::rl1},
                      {15, 0x01, &Capabilities::dt1}};
  for (const auto& b : bits) {
    Bytes one(0x18, 0);
    one[static_cast<std::size_t>(b.byte)] = b.mask;
    const auto d = parse_capabilities(one);
    for (const auto& other : bits) CHECK((d.*(other.flag)) == (other.flag == b.flag));
  }
  CHECK_THROWS_AS(parse_capabilities(Bytes(0x17, 0)), ProtocolError);
}

TEST_CASE("*IDN? through the fake instrument: the bytes on the wire", "[usbtmc]") {
  auto r = make_rig();
  CHECK(r.conn->capabilities().term_char);
  CHECK(r.conn->query("*IDN?\n") == kIdn);
  const auto& f = *r.fake;
  CHECK(f.violations().empty());
  REQUIRE(f.control_log().size() == 1);
  CHECK(same(f.control_log()[0], ControlSetup{0xA1, 7, 0, 0, 0x18}));  // GET_CAPABILITIES at connect
  REQUIRE(f.bulk_out_log().size() == 2);
  CHECK(f.bulk_out_log()[0] == Bytes{0x01, 0x01, 0xFE, 0x00, 0x06, 0x00, 0x00, 0x00, 0x01, 0x00,
                                     0x00, 0x00, '*',  'I',  'D',  'N',  '?',  '\n', 0x00, 0x00});
  CHECK(f.bulk_out_log()[1] == Bytes{0x02, 0x02, 0xFD, 0x00, 0x00, 0x10, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00});
  REQUIRE(f.bulk_in_log().size() == 1);
  // DEV_DEP_MSG_IN answering bTag 2: TransferSize 30, EOM, 30 bytes, 2 alignment bytes.
  const Bytes expected = cat(cat(Bytes{0x02, 0x02, 0xFD, 0x00, 30, 0, 0, 0, 0x01, 0, 0, 0}, bytes(kIdn)), Bytes{0, 0});
  CHECK(f.bulk_in_log()[0] == expected);
}

TEST_CASE("a long message goes out in several Bulk-OUT transfers and arrives whole", "[usbtmc]") {
  ConnectionOptions o;
  o.max_out_payload = 4096;
  auto r = make_rig({}, o);
  const std::string msg = std::string(9999, 'x') + "\n";
  r.conn->write(msg);
  const auto& log = r.fake->bulk_out_log();
  REQUIRE(log.size() == 3);
  CHECK(log[0].size() == 12u + 4096u);
  CHECK(log[1].size() == 12u + 4096u);
  CHECK(log[2].size() == 12u + 1808u);  // 10000 - 2·4096 = 1808, already a multiple of 4
  CHECK(log[0][8] == 0x00);
  CHECK(log[1][8] == 0x00);
  CHECK(log[2][8] == 0x01);  // EOM only on the last transfer
  CHECK((log[0][1] == 1 && log[1][1] == 2 && log[2][1] == 3));
  REQUIRE(r.fake->messages().size() == 1);
  CHECK(r.fake->messages()[0] == msg);
  CHECK(r.fake->violations().empty());
}

TEST_CASE("a response split over several transfers is reassembled until EOM", "[usbtmc]") {
  auto r = make_rig();
  r.fake->faults().max_transfer_payload = 7;
  const std::string q = "ECHO:THIS? 0123456789abcdef";  // echoed: 27 + '\n' = 28 bytes = 4 transfers of 7
  CHECK(r.conn->query(q) == q + "\n");
  std::vector<int> request_tags;
  for (const auto& t : r.fake->bulk_out_log())
    if (t[0] == 0x02) request_tags.push_back(t[1]);
  CHECK(request_tags == std::vector<int>{2, 3, 4, 5});  // one REQUEST_DEV_DEP_MSG_IN per transfer
  const auto& in = r.fake->bulk_in_log();
  REQUIRE(in.size() == 4);
  for (std::size_t i = 0; i < 4; ++i) {
    CHECK(in[i][4] == 7);                       // TransferSize
    CHECK(in[i][8] == (i == 3 ? 0x01 : 0x00));  // EOM on the last only
  }
  CHECK(r.fake->violations().empty());
}

TEST_CASE("short packets: a transfer over several reads, the header split between them", "[usbtmc]") {
  auto r = make_rig();
  r.fake->faults().packet_size = 5;
  CHECK(r.conn->query("*IDN?\n") == kIdn);
  // 12 + 30 + 2 alignment = 44 bytes in reads of at most 5: 9 reads.
  CHECK(r.fake->bulk_in_log().size() == 9);
  r.fake->faults().max_transfer_payload = 3;  // both at once
  CHECK(r.conn->query("*IDN?\n") == kIdn);
  CHECK(r.fake->violations().empty());
}

TEST_CASE("TermChar is requested only when GET_CAPABILITIES allows it", "[usbtmc]") {
  ConnectionOptions o;
  o.term_char = '\n';
  {
    auto r = make_rig({}, o);
    r.fake->reply("TWO?", "line1\nline2");
    r.conn->write("TWO?\n");
    CHECK(r.conn->read() == "line1\n");  // transfer ends on TermChar (Table 9 D1)
    CHECK(r.conn->read() == "line2\n");  // then the rest, with EOM
    const auto& req = r.fake->bulk_out_log()[1];
    CHECK((req[8] == 0x02 && req[9] == 0x0A));
    CHECK(r.fake->violations().empty());
  }
  {
    FakeConfig no;
    no.term_char = false;
    auto r = make_rig(no, o);
    CHECK(r.conn->query("*IDN?\n") == kIdn);
    const auto& req = r.fake->bulk_out_log()[1];
    CHECK((req[8] == 0x00 && req[9] == 0x00));
    CHECK(r.fake->violations().empty());
  }
}

TEST_CASE("a silent instrument: timeout, INITIATE_ABORT_BULK_IN sequence, next query works", "[usbtmc]") {
  auto r = make_rig();
  r.fake->faults().silent = 1;
  CHECK_THROWS_WITH(r.conn->query("*IDN?\n"),
                    Catch::Contains("timed out") && Catch::Contains("Bulk-IN transfer aborted"));
  const auto& c = r.fake->control_log();
  REQUIRE(c.size() == 3);
  CHECK(same(c[1], ControlSetup{0xA2, 3, 2, 0x82, 2}));  // abort the transfer answering bTag 2, Bulk-IN endpoint
  CHECK(same(c[2], ControlSetup{0xA2, 4, 0, 0x82, 8}));
  CHECK(r.conn->query("*IDN?\n") == kIdn);
  CHECK(r.fake->violations().empty());
}

TEST_CASE("a response without EOM: the host asks for more, times out and aborts", "[usbtmc]") {
  auto r = make_rig();
  r.fake->faults().drop_eom = true;
  try {
    r.conn->query("*IDN?\n");
    FAIL("expected a timeout");
  } catch (const TimeoutError& e) {
    CHECK_THAT(e.what(), Catch::Contains("30 bytes received without EOM"));
  }
  CHECK(requests_after(*r.fake, 1) == std::vector<int>{3, 4});
  CHECK(r.fake->control_log()[1].value == 3);  // the second REQUEST_DEV_DEP_MSG_IN
  r.fake->faults().drop_eom = false;
  CHECK(r.conn->query("*IDN?\n") == kIdn);
  CHECK(r.fake->violations().empty());
}

TEST_CASE("a wrong bTag: ProtocolError, the rest of the transfer drained, next query works", "[usbtmc]") {
  auto r = make_rig();
  r.fake->faults().wrong_tag = 1;
  r.fake->faults().packet_size = 16;
  CHECK_THROWS_AS(r.conn->query("*IDN?\n"), ProtocolError);
  // 44-byte transfer in reads of 16: the host read the first, saw bTag 3 ≠ 2, then INITIATE_ABORT
  // (SUCCESS), read until a short packet, CHECK_ABORT says PENDING with data, read again, SUCCESS.
  CHECK(requests_after(*r.fake, 1) == std::vector<int>{3, 4, 4});
  CHECK(r.fake->bulk_in_log().size() == 3);
  CHECK(r.conn->query("*IDN?\n") == kIdn);
  CHECK(r.fake->violations().empty());
}

TEST_CASE("a stuck Bulk-OUT: abort, CLEAR_FEATURE(ENDPOINT_HALT), next write works", "[usbtmc]") {
  auto r = make_rig();
  r.fake->faults().out_timeouts = 1;
  CHECK_THROWS_AS(r.conn->write("*RST\n"), TimeoutError);
  const auto& c = r.fake->control_log();
  REQUIRE(c.size() == 3);
  CHECK(same(c[1], ControlSetup{0xA2, 1, 1, 0x01, 2}));  // INITIATE_ABORT_BULK_OUT, bTag 1, Bulk-OUT endpoint
  CHECK(same(c[2], ControlSetup{0xA2, 2, 0, 0x01, 8}));
  CHECK(r.fake->cleared_halts() == std::vector<std::uint8_t>{0x01});
  CHECK(r.conn->query("*IDN?\n") == kIdn);  // the fake refuses Bulk-OUT while halted
  CHECK(r.fake->violations().empty());

  // The REQUEST_DEV_DEP_MSG_IN itself stuck: the Bulk-OUT side is aborted, Bulk-IN is left alone.
  r.conn->write("*IDN?\n");  // bTag 4
  r.fake->faults().out_timeouts = 1;
  CHECK_THROWS_WITH(r.conn->read(), Catch::Contains("REQUEST_DEV_DEP_MSG_IN (bTag 5) timed out"));
  CHECK(requests_after(*r.fake, 3) == std::vector<int>{1, 2});
  CHECK(r.fake->control_log()[3].value == 5);
  CHECK(r.fake->cleared_halts() == std::vector<std::uint8_t>{0x01, 0x01});
  CHECK(r.conn->read() == kIdn);  // the answer to *IDN? is still queued
  CHECK(r.fake->violations().empty());
}

TEST_CASE("INITIATE_CLEAR discards queued output (USBTMC §4.2.1.6–4.2.1.7)", "[usbtmc]") {
  auto r = make_rig();
  r.conn->write("*IDN?\n");
  CHECK(r.fake->pending_output() == kIdn.size());
  r.conn->clear();
  CHECK(requests_after(*r.fake, 1) == std::vector<int>{5, 6});
  CHECK(r.fake->cleared_halts() == std::vector<std::uint8_t>{0x01});
  CHECK(r.fake->pending_output() == 0u);
  CHECK(r.conn->query("*IDN?\n") == kIdn);
  CHECK(r.fake->violations().empty());
}

TEST_CASE("USB488 READ_STATUS_BYTE, control reply or Interrupt-IN (USB488 §4.3.1)", "[usbtmc]") {
  for (bool interrupt : {false, true}) {
    FakeConfig cfg;
    cfg.interrupt_in = interrupt;
    auto r = make_rig(cfg);
    CHECK(r.conn->read_status_byte() == 0x00);
    r.fake->push_error(-113, "Undefined header");
    CHECK(r.conn->read_status_byte() == 0x04);  // error queue not empty
    r.conn->write("*IDN?\n");
    CHECK(r.conn->read_status_byte() == 0x14);  // and MAV: a message is waiting
    CHECK(same(r.fake->control_log()[1], ControlSetup{0xA1, 128, 2, 0, 3}));
    CHECK(r.fake->control_log()[3].value == 4);  // bTag 2, 3, 4
    CHECK(r.fake->violations().empty());
  }
  FakeConfig plain;
  plain.usb488 = false;
  auto r = make_rig(plain);
  CHECK_THROWS_AS(r.conn->read_status_byte(), dira::hal::HardwareFault);
}

TEST_CASE("USB488 TRIGGER message", "[usbtmc]") {
  auto r = make_rig();
  r.conn->trigger();
  CHECK(r.fake->triggers() == 1);
  CHECK(r.fake->bulk_out_log().back() == Bytes{0x80, 0x01, 0xFE, 0x00, 0, 0, 0, 0, 0, 0, 0, 0});
  FakeConfig no;
  no.trigger = false;
  auto r2 = make_rig(no);
  CHECK_THROWS_AS(r2.conn->trigger(), dira::hal::HardwareFault);
}

TEST_CASE("the fake instrument flags host mistakes (so 'no violations' above means something)", "[usbtmc]") {
  FakeInstrument f;
  f.bulk_out(Bytes{0x01, 0x00, 0xFF, 0x00, 1, 0, 0, 0, 1, 0, 0, 0, 'x'}, 1ms);  // bTag 0, not aligned
  CHECK(f.violations().size() >= 2);
}

TEST_CASE("USB resources: VID:PID[:SERIAL] and VISA forms", "[usbtmc]") {
  auto m = parse_device_match("0957:1234");
  CHECK((m.vendor_id == 0x0957 && m.product_id == 0x1234 && m.serial.empty()));
  m = parse_device_match("0x0957:0x2807:MY123");
  CHECK((m.vendor_id == 0x0957 && m.product_id == 0x2807 && m.serial == "MY123"));
  m = parse_device_match("USB0::0x0957::0x2807::MY57401328::0::INSTR");
  CHECK((m.vendor_id == 0x0957 && m.product_id == 0x2807 && m.serial == "MY57401328"));
  m = parse_device_match("USB::2391::10247::INSTR");  // VISA allows decimal: 2391 = 0x0957, 10247 = 0x2807
  CHECK((m.vendor_id == 0x0957 && m.product_id == 0x2807 && m.serial.empty()));
  for (const char* bad : {"foo", "0957", "xyz:1234", "0957:12345", "0957:1234:", "USB0::0x0957"})
    CHECK_THROWS_AS(parse_device_match(bad), std::invalid_argument);
}

TEST_CASE("a missing device names what was found on the bus", "[usbtmc]") {
  const auto wanted = parse_device_match("0x0957:0x1234");
  UsbDeviceInfo hub;
  hub.vendor_id = 0x1d6b;
  hub.product_id = 0x0002;
  hub.manufacturer = "Linux Foundation";
  hub.product = "2.0 root hub";
  hub.bus = 1;
  hub.address = 1;
  UsbDeviceInfo awg;
  awg.vendor_id = 0x0957;
  awg.product_id = 0x2807;
  awg.manufacturer = "Keysight Technologies";
  awg.product = "33522B";
  awg.serial = "MY123";
  awg.usbtmc = awg.usb488 = true;
  awg.bus = 1;
  awg.address = 4;
  UsbDeviceInfo locked;
  locked.vendor_id = 0x046d;
  locked.product_id = 0xc52b;
  locked.strings_error = "LIBUSB_ERROR_ACCESS";
  locked.bus = 2;
  locked.address = 3;
  CHECK(describe_missing_device(wanted, {hub, awg, locked}, "") ==
        "no USBTMC device matching 0x0957:0x1234; found: 0957:2807 Keysight Technologies 33522B serial MY123 "
        "[USBTMC/USB488 interface 0] (bus 1 address 4); 1d6b:0002 Linux Foundation 2.0 root hub (bus 1 address 1); "
        "046d:c52b (strings unreadable: LIBUSB_ERROR_ACCESS) (bus 2 address 3)");
  CHECK(describe_missing_device(wanted, {}, "") ==
        "no USBTMC device matching 0x0957:0x1234; found: no USB devices (is /dev/bus/usb present and readable?)");
  CHECK(describe_missing_device(wanted, {}, "libusb_init: LIBUSB_ERROR_OTHER") ==
        "no USBTMC device matching 0x0957:0x1234; the USB bus could not be read (libusb_init: LIBUSB_ERROR_OTHER)");
  CHECK(awg.matches(parse_device_match("0957:2807")));
  CHECK(awg.matches(parse_device_match("0957:2807:MY123")));
  CHECK_FALSE(awg.matches(parse_device_match("0957:2807:OTHER")));
  CHECK_FALSE(hub.matches(parse_device_match("1d6b:0002")));  // not a USBTMC device
}

TEST_CASE("libusb: enumeration never throws, opening a missing device explains itself", "[usbtmc]") {
  std::string error;
  const auto devices = list_usb_devices(&error);  // empty without USB access (CI containers)
  CHECK((devices.empty() || error.empty()));
  CHECK_THROWS_WITH(open_libusb(parse_device_match("0957:1234")),
                    Catch::StartsWith("no USBTMC device matching 0x0957:0x1234"));
}
