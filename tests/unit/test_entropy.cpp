// Entropy-source drivers: bits in the order the bytes arrive, most significant first.
#include "dira/drivers/entropy/entropy_sources.hpp"
#include "dira/drivers/register.hpp"

#include <catch2/catch.hpp>

#include <sys/stat.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <thread>

using dira::drivers::ByteStreamEntropySource;

TEST_CASE("file entropy source: MSB-first bits, then a clean end", "[entropy]") {
  const std::string path = "dira-test-entropy.bin";
  {
    std::ofstream f(path, std::ios::binary);
    f.put(static_cast<char>(0xA5));  // 1010 0101
    f.put(static_cast<char>(0x01));  // 0000 0001
  }
  ByteStreamEntropySource s(ByteStreamEntropySource::Kind::file, path, 0.02);
  const bool expected[16] = {1, 0, 1, 0, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1};
  for (bool e : expected) CHECK(s.next_bit() == e);
  CHECK_THROWS_AS(s.next_bit(), dira::protocol::SourceExhausted);
  CHECK(s.declared_epsilon() == 0.02);
  CHECK(s.bytes_read() == 2);
  std::remove(path.c_str());
}

TEST_CASE("command entropy source reads the child's stdout", "[entropy]") {
  ByteStreamEntropySource s(ByteStreamEntropySource::Kind::command, "printf '\\360'", std::nullopt);  // 0xF0
  for (int i = 0; i < 8; ++i) CHECK(s.next_bit() == (i < 4));
  CHECK_THROWS_AS(s.next_bit(), dira::protocol::SourceExhausted);
}

TEST_CASE("a missing source is a hardware fault that says what is missing", "[entropy]") {
  try {
    ByteStreamEntropySource s(ByteStreamEntropySource::Kind::file, "/nonexistent/dira-bits", std::nullopt);
    FAIL("expected HardwareFault");
  } catch (const dira::hal::HardwareFault& e) {
    CHECK(std::string(e.what()).find("/nonexistent/dira-bits") != std::string::npos);
    CHECK(std::string(e.what()).find("No such file") != std::string::npos);
  }
}

TEST_CASE("entropy drivers are registered with their capabilities", "[entropy]") {
  dira::hal::DriverRegistry r;
  dira::drivers::register_drivers(r);
  for (const char* name : {"file", "hwrng", "command"}) {
    const auto* d = r.find(name, dira::hal::DeviceKind::entropy_source);
    REQUIRE(d);
    CHECK(d->capabilities.size() == 2);
  }
  const auto* file = r.find("file", dira::hal::DeviceKind::entropy_source);
  const auto problems = r.validate(*file, {{"epsilon", 0.7}, {"colour", std::string("red")}});
  REQUIRE(problems.size() == 2);
}

TEST_CASE("DriverRegistry::create validates once, every problem at once, before the driver is called", "[entropy]") {
  // Issue 10 item 6: the session, the GUI and `dira station` make devices through this one call.
  dira::hal::DriverRegistry r;
  dira::drivers::register_drivers(r);
  dira::hal::DriverInfo file = *r.find("file", dira::hal::DeviceKind::entropy_source);
  int made = 0;
  const auto inner = file.create;
  file.create = [&](const std::map<std::string, dira::hal::SettingValue>& s) {
    ++made;
    return inner(s);
  };
  try {
    (void)r.create(file, {{"epsilon", 0.7}, {"colour", std::string("red")}});
    FAIL("expected SettingsRefused");
  } catch (const dira::hal::SettingsRefused& e) {
    REQUIRE(e.problems().size() == 2);  // ε above its range and an unknown key, both named
    CHECK(e.problems()[0].first == "colour");
    CHECK(e.problems()[1].first == "epsilon");
    CHECK_THAT(std::string(e.what()), Catch::Contains("colour: unknown setting of driver 'file'"));
  }
  CHECK(made == 0);  // refused before the driver ran
  const auto dev = r.create(file, {{"path", std::string("/dev/zero")}, {"epsilon", 0.01}});
  CHECK(made == 1);
  CHECK(dev->driver() == "file");
}

// ---- bounded reading and a clean end (issue 12) -----------------------------------------------

TEST_CASE("entropy sources read /dev/zero through a fixed buffer", "[entropy][issue12]") {
  // Before the driver, the app read a whole SV-bit file into memory: /dev/zero took 3.7 GB in 7 s.
  // Here 10^6 bits (125000 bytes) must not read more than one buffer beyond what they need.
  ByteStreamEntropySource s(ByteStreamEntropySource::Kind::file, "/dev/zero", std::nullopt);
  for (int i = 0; i < 1000000; ++i) REQUIRE_FALSE(s.next_bit());
  CHECK(s.buffer_capacity() == 65536);
  CHECK(s.bytes_read() >= 125000);
  CHECK(s.bytes_read() <= 125000 + s.buffer_capacity());
}

TEST_CASE("a FIFO is read as it arrives and its end is SourceExhausted with the byte count", "[entropy][issue12]") {
  const std::string path = "dira-test-entropy.fifo";
  std::remove(path.c_str());
  REQUIRE(::mkfifo(path.c_str(), 0600) == 0);
  // The writer: 3 bytes, then it closes. open() of the reading end blocks until it has opened.
  std::thread writer([&] {
    std::ofstream f(path, std::ios::binary);
    f.put(static_cast<char>(0xFF)).put(static_cast<char>(0x00)).put(static_cast<char>(0x81));
  });
  {
    ByteStreamEntropySource s(ByteStreamEntropySource::Kind::file, path, std::nullopt);
    dira::protocol::BitLedger ledger(s);
    CHECK(ledger.draw(dira::protocol::BitPurpose::setting, 8, 0) == 0xFF);
    CHECK(ledger.draw(dira::protocol::BitPurpose::setting, 16, 1) == 0x0081);
    try {
      ledger.draw(dira::protocol::BitPurpose::setting, 1, 2);
      FAIL("expected SourceExhausted");
    } catch (const dira::protocol::SourceExhausted& e) {
      CHECK_THAT(e.what(),
                 Catch::Contains("file '" + path + "'") && Catch::EndsWith(": end of stream after 3 bytes (24 bits)"));
    }
    CHECK(ledger.bits_drawn() == 24);  // every bit that was there is accounted for, none more
  }
  writer.join();
  std::remove(path.c_str());
}

TEST_CASE("a file that ends mid-draw is SourceExhausted, not a generic error", "[entropy][issue12]") {
  const std::string path = "dira-test-entropy-short.bin";
  std::ofstream(path, std::ios::binary).put(static_cast<char>(0xA5));
  ByteStreamEntropySource s(ByteStreamEntropySource::Kind::file, path, std::nullopt);
  unsigned taken = 0;
  try {
    s.next_bits(12, &taken);  // 8 bits there, 4 missing
    FAIL("expected SourceExhausted");
  } catch (const dira::protocol::SourceExhausted& e) {
    CHECK(taken == 8);
    CHECK_THAT(e.what(), Catch::EndsWith("end of stream after 1 bytes (8 bits)"));
  }
  std::remove(path.c_str());
}

TEST_CASE("a directory is refused when the source is opened", "[entropy][issue12]") {
  try {
    ByteStreamEntropySource s(ByteStreamEntropySource::Kind::file, "/", std::nullopt);
    FAIL("expected HardwareFault");
  } catch (const dira::hal::HardwareFault& e) {
    CHECK(std::string(e.what()) == "file entropy source '/' is a directory, not a file, FIFO or device");
  }
}

TEST_CASE("a command that stops writing but never exits is ended with the source", "[entropy][issue12]") {
  // Before, pclose() in the destructor waited for the command to exit: forever for this one.
  // The source now ends the command's process group; the test finishing in time is the check.
  const auto start = std::chrono::steady_clock::now();
  {
    ByteStreamEntropySource s(ByteStreamEntropySource::Kind::command, "printf y; exec sleep 1000", std::nullopt);
    const bool y[8] = {0, 1, 1, 1, 1, 0, 0, 1};  // 'y' = 0x79 = 0111 1001
    for (bool b : y) CHECK(s.next_bit() == b);
  }
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(5));
}

TEST_CASE("an endless command is read through the fixed buffer", "[entropy][issue12]") {
  ByteStreamEntropySource s(ByteStreamEntropySource::Kind::command, "yes", std::nullopt);
  for (int i = 0; i < 100000; ++i) (void)s.next_bit();  // 12500 bytes of "y\n"
  CHECK(s.bytes_read() <= 12500 + s.buffer_capacity());
}
