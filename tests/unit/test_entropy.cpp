// Entropy-source drivers: bits in the order the bytes arrive, most significant first.
#include "dira/drivers/entropy/entropy_sources.hpp"
#include "dira/drivers/register.hpp"

#include <catch2/catch.hpp>

#include <cstdio>
#include <fstream>

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
