// The capability builders (hal/capability.hpp) and the declarations every registered driver makes
// with them. Expected values come from the rules written in capability.hpp and docs/devices.md
// (a bounded integer refuses values outside [min, max] and non-integers; a read-only setting is
// reported but refused by set), not from running the builders.
#include "dira/drivers/register.hpp"
#include "dira/hal/capability.hpp"
#include "dira/hal/registry.hpp"
#include "dira/sim/register.hpp"

#include <catch2/catch.hpp>

#include <set>

using namespace dira;
using hal::Capability;

// The message names the value and the bounds as the operator would write them: 2^24 is
// 16777216 (the default stream printed 1.67772e+07), an integer out of range exactly (not
// through a double: 2^62 + 1 would print as 4.61169e+18), a real bound in its shortest form.
TEST_CASE("an out-of-range value and its bounds are written out exactly", "[hal][capability]") {
  const auto block = hal::integer_setting("block", "records", 1, 16777216, 4, "records per block");
  CHECK(hal::check_value(block, std::int64_t{0}) == "0 out of range [1, 16777216] records");
  CHECK(hal::check_value(block, std::int64_t{4611686018427387905}) ==
        "4611686018427387905 out of range [1, 16777216] records");
  const auto eff = hal::real_setting("efficiency", "", 0.0, 1.0, 1.0, "efficiency");
  CHECK(hal::check_value(eff, 1.25) == "1.25 out of range [0, 1]");
  CHECK(hal::check_value(eff, std::int64_t{2}) == "2 out of range [0, 1]");
  const auto jitter = hal::real_setting("jitter", "ps", 1e-3, std::nullopt, 1.0, "jitter");
  CHECK(hal::check_value(jitter, 0.0001) == "0.0001 out of range [0.001, inf] ps");
}

TEST_CASE("capability builders fill type, range, default and flags", "[hal][capability]") {
  const auto n = hal::integer_setting("block", "records", 1, 16, 4, "records per block");
  CHECK(n.type == Capability::Type::integer);
  CHECK(n.unit == "records");
  CHECK(n.can_set);
  CHECK_FALSE(n.can_list);
  CHECK(std::get<std::int64_t>(n.default_value) == 4);
  CHECK(hal::check_value(n, std::int64_t{1}).empty());
  CHECK(hal::check_value(n, std::int64_t{16}).empty());
  CHECK_FALSE(hal::check_value(n, std::int64_t{0}).empty());
  CHECK_FALSE(hal::check_value(n, std::int64_t{17}).empty());
  CHECK_FALSE(hal::check_value(n, std::string("4")).empty());

  const auto open = hal::real_setting("pace", "", 0.0, std::nullopt, 0.0, "pace");
  CHECK(open.type == Capability::Type::real);
  CHECK_FALSE(open.max.has_value());
  CHECK(hal::check_value(open, 1e300).empty());
  CHECK_FALSE(hal::check_value(open, -1e-300).empty());

  const auto c = hal::choice_setting("mode", {"a", "b"}, "b", "mode");
  CHECK(c.can_list);
  CHECK(hal::check_value(c, std::string("a")).empty());
  CHECK_FALSE(hal::check_value(c, std::string("c")).empty());

  const auto t = hal::text_setting("file", "x.ptu", "file");
  CHECK(t.type == Capability::Type::text);
  CHECK(std::get<std::string>(t.default_value) == "x.ptu");
  const auto b = hal::bool_setting("echo", true, "echo");
  CHECK(b.type == Capability::Type::boolean);
  CHECK(std::get<bool>(b.default_value));

  const auto r = hal::read_only(n);
  CHECK_FALSE(r.can_set);
  CHECK(r.can_get);
  CHECK(r.key == n.key);
  CHECK(r.min == n.min);
  CHECK(r.max == n.max);
}

TEST_CASE("every registered driver's declarations are well formed", "[hal][capability]") {
  hal::DriverRegistry registry;
  sim::register_sim(registry);
  drivers::register_drivers(registry);
  REQUIRE(registry.all().size() >= 5);
  for (const auto* d : registry.all()) {
    std::set<std::string> keys;
    for (const auto& c : d->capabilities) {
      INFO(d->name << "." << c.key);
      CHECK(keys.insert(c.key).second);  // one declaration per key
      CHECK_FALSE(c.description.empty());
      CHECK(hal::check_value(c, c.default_value).empty());  // the default is a legal value
      CHECK(c.can_list == (c.type == Capability::Type::choice));
      if (c.min && c.max) CHECK(*c.min <= *c.max);
      // One validate (hal::DriverRegistry): a read-only key is refused however it is given.
      if (!c.can_set) CHECK_FALSE(hal::check_setting(*d, c.key, c.default_value).empty());
    }
  }
}
