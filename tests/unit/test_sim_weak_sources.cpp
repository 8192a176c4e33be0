// The simulated weak sources as entropy drivers `iid` and `adversarial` (issue 10, item 3):
// created through the registry, they are hal::EntropySource devices with exactly the bit
// sequence of the classes they wrap (sim::IidSvSource, sim::AdversarialSvSource), however the
// bits are read. Golden: the classes read bit by bit; and for the adversary the closed form
// P(block = avoided value) = (½ − ε)^bits (every bit pushed away while the prefix matches).
#include "dira/hal/registry.hpp"
#include "dira/sim/register.hpp"
#include "dira/sim/sv_sources.hpp"

#include <catch2/catch.hpp>

#include <cmath>
#include <memory>

using namespace dira;

namespace {

std::unique_ptr<hal::Device> create(const std::string& driver, const std::map<std::string, hal::SettingValue>& s) {
  hal::DriverRegistry registry;
  sim::register_sim(registry);
  const auto* info = registry.find(driver, hal::DeviceKind::entropy_source);
  REQUIRE(info);
  REQUIRE(info->scan);
  CHECK(info->scan().size() == 1);
  CHECK(registry.validate(*info, s).empty());
  return info->create(s);
}

/// Reads `total` bits alternating single reads and bulk reads of 1…64 bits.
std::vector<bool> read_mixed(protocol::SvSource& s, std::size_t total) {
  std::vector<bool> out;
  unsigned count = 1;
  while (out.size() < total) {
    if (count % 3 == 0) {
      out.push_back(s.next_bit());
    } else {
      unsigned taken = 0;
      const std::uint64_t v = s.next_bits(count, &taken);
      REQUIRE(taken == count);
      for (unsigned i = count; i-- > 0;) out.push_back((v >> i) & 1u);
    }
    count = count % 64 + 1;
  }
  out.resize(total);
  return out;
}

std::vector<bool> read_single(protocol::SvSource& s, std::size_t total) {
  std::vector<bool> out(total);
  for (std::size_t i = 0; i < total; ++i) out[i] = s.next_bit();
  return out;
}

}  // namespace

TEST_CASE("entropy driver `iid` gives sim::IidSvSource's bits", "[simulator][weak_source]") {
  auto dev = create("iid", {{"bias", 0.1}, {"seed", std::int64_t{42}}});
  auto* src = dynamic_cast<hal::EntropySource*>(dev.get());
  REQUIRE(src);
  CHECK(dev->driver() == "iid");
  sim::IidSvSource reference(0.1, 42);
  CHECK(src->describe() == reference.describe());
  REQUIRE(src->declared_epsilon());
  CHECK(*src->declared_epsilon() == Approx(0.1));  // ε = |bias| unless declared higher
  const std::size_t n = 200'000;
  CHECK(read_mixed(*src, n) == read_single(reference, n));
  CHECK_THROWS_AS(dev->set("bias", 0.2), std::invalid_argument);  // fixed: it defines the sequence
  CHECK(dev->get("seed") == hal::SettingValue(std::int64_t{42}));

  auto declared = create("iid", {{"bias", -0.05}, {"epsilon", 0.2}});
  CHECK(*dynamic_cast<hal::EntropySource&>(*declared).declared_epsilon() == Approx(0.2));
  hal::DriverRegistry registry;
  sim::register_sim(registry);
  const auto* info = registry.find("iid", hal::DeviceKind::entropy_source);
  // An i.i.d. source with bias 0.1 is not 0.05-SV.
  CHECK_THROWS_AS(info->create({{"bias", 0.1}, {"epsilon", 0.05}}), std::invalid_argument);
  CHECK_THROWS_AS(info->create({{"colour", 1.0}}), std::invalid_argument);
}

TEST_CASE("entropy driver `adversarial` gives sim::AdversarialSvSource's bits", "[simulator][weak_source]") {
  const double eps = 0.2;
  auto dev = create("adversarial", {{"epsilon", eps},
                                    {"avoid_setting", std::int64_t{5}},
                                    {"bits_per_attempt", std::int64_t{4}},
                                    {"seed", std::int64_t{9}}});
  auto* src = dynamic_cast<hal::EntropySource*>(dev.get());
  REQUIRE(src);
  sim::AdversarialSvSource reference(eps, sim::AdversarialSvSource::steer(4, 5, true), "avoid setting 5", 9);
  CHECK(src->describe() == reference.describe());
  CHECK(*src->declared_epsilon() == eps);
  const std::size_t n = 160'000;
  const auto bits = read_mixed(*src, n);
  CHECK(bits == read_single(reference, n));
  // The avoided 4-bit value 0101 appears with probability (½ − ε)^4 = 0.0081 per block.
  std::size_t hits = 0;
  for (std::size_t i = 0; i + 4 <= n; i += 4)
    hits += (bits[i] == 0 && bits[i + 1] == 1 && bits[i + 2] == 0 && bits[i + 3] == 1) ? 1 : 0;
  const double blocks = static_cast<double>(n / 4), p = std::pow(0.5 - eps, 4);
  INFO(hits << " of " << blocks << " blocks");
  CHECK(std::fabs(static_cast<double>(hits) - blocks * p) < 5 * std::sqrt(blocks * p));

  hal::DriverRegistry registry;
  sim::register_sim(registry);
  const auto* info = registry.find("adversarial", hal::DeviceKind::entropy_source);
  CHECK_THROWS_AS(info->create({{"avoid_setting", std::int64_t{16}}, {"bits_per_attempt", std::int64_t{4}}}),
                  std::invalid_argument);  // 16 does not fit in 4 bits
}
