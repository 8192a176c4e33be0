// Entropy drivers `iid` and `adversarial`: hal::EntropySource devices wrapping sim::IidSvSource
// and sim::AdversarialSvSource. They forward every read to the wrapped class, so a seed gives
// the same bits through the registry as through the class (tests compare).
#include "weak_sources.hpp"

#include "dira/sim/sv_sources.hpp"

#include <cmath>
#include <memory>
#include <stdexcept>
#include <string>

namespace dira::sim::detail {

namespace {

using hal::Capability;
using hal::SettingValue;
using Settings = std::map<std::string, SettingValue>;

// Given when the device is created (YAML); they define the bit sequence, so set() on a created
// source refuses them (as drivers/entropy does with `path`).
const std::vector<Capability>& iid_capabilities() {
  static const std::vector<Capability> caps{
      hal::real_setting("bias", "", -0.49, 0.49, 0.0, "P(bit = 0) = ½ + bias, independently for every bit"),
      hal::integer_setting("seed", "", 0, std::nullopt, 1, "random seed"),
      hal::real_setting("epsilon", "", 0, 0.49, 0.0, "declared SV parameter ε (at least |bias|; not given: |bias|)"),
  };
  return caps;
}

const std::vector<Capability>& adversarial_capabilities() {
  static const std::vector<Capability> caps{
      hal::real_setting("epsilon", "", 0, 0.49, 0.0,
                        "SV parameter ε: every bit's P(0 | history) stays in [½ − ε, ½ + ε]"),
      hal::integer_setting("avoid_setting", "", 0, std::nullopt, 0,
                           "the value of each bits_per_attempt-bit block the adversary makes as rare as ε allows"),
      hal::integer_setting("bits_per_attempt", "", 1, 64, 4,
                           "bits per block (Protocol A: 1 per party; Protocol B: 4-bit setting attempts)"),
      hal::integer_setting("seed", "", 0, std::nullopt, 1, "random seed"),
  };
  return caps;
}

/// Validated values with defaults from the declaration.
class Values {
 public:
  Values(const std::string& driver, const std::vector<Capability>& caps, const Settings& given)
      : caps_(caps), given_(given) {
    std::string problems;
    for (const auto& [key, value] : given) {
      const Capability* c = find(key);
      const std::string msg = c ? hal::check_value(*c, value) : "unknown setting";
      if (!msg.empty()) problems += (problems.empty() ? "" : "; ") + key + ": " + msg;
    }
    if (!problems.empty()) throw std::invalid_argument(driver + ": " + problems);
  }
  const SettingValue& value(const std::string& key) const {
    if (auto it = given_.find(key); it != given_.end()) return it->second;
    return find(key)->default_value;
  }
  double real(const std::string& key) const {
    const auto& v = value(key);
    if (const auto* i = std::get_if<std::int64_t>(&v)) return static_cast<double>(*i);
    return std::get<double>(v);
  }
  std::int64_t integer(const std::string& key) const { return std::get<std::int64_t>(value(key)); }
  bool given(const std::string& key) const { return given_.count(key) != 0; }

 private:
  const Capability* find(const std::string& key) const {
    for (const auto& c : caps_)
      if (c.key == key) return &c;
    return nullptr;
  }
  const std::vector<Capability>& caps_;
  const Settings& given_;
};

/// A simulated weak source as a device: the SvSource calls go to the wrapped class.
template <class Source>
class SvSourceDevice final : public hal::EntropySource {
 public:
  SvSourceDevice(std::string driver, const std::vector<Capability>& caps, Settings values,
                 std::unique_ptr<Source> source, std::optional<double> epsilon)
      : driver_(std::move(driver)),
        caps_(caps),
        values_(std::move(values)),
        source_(std::move(source)),
        epsilon_(epsilon) {}

  std::string driver() const override { return driver_; }
  std::string identity() const override { return source_->describe(); }
  const std::vector<Capability>& capabilities() const override { return caps_; }
  void set(const std::string& key, const SettingValue& /*value*/) override {
    throw std::invalid_argument(driver_ + ": '" + key +
                                "' is fixed when the source is created (it defines the bit sequence)");
  }
  SettingValue get(const std::string& key) const override {
    if (auto it = values_.find(key); it != values_.end()) return it->second;
    for (const auto& c : caps_)
      if (c.key == key) return c.default_value;
    throw std::invalid_argument(driver_ + ": no setting '" + key + "'");
  }

  bool next_bit() override { return source_->next_bit(); }
  // Forwarded in bulk: IidSvSource reads up to 64 bits without a virtual call per bit; the
  // adversarial source has no bulk read, so its default (per bit, same sequence) runs.
  std::uint64_t next_bits(unsigned count, unsigned* taken) override { return source_->next_bits(count, taken); }
  std::optional<double> declared_epsilon() const override { return epsilon_; }
  std::string describe() const override { return source_->describe(); }

 private:
  std::string driver_;
  const std::vector<Capability>& caps_;
  Settings values_;
  std::unique_ptr<Source> source_;
  std::optional<double> epsilon_;
};

std::unique_ptr<hal::Device> make_iid(const Settings& settings) {
  const Values v("iid", iid_capabilities(), settings);
  const double bias = v.real("bias");
  // An i.i.d. source with P(0) = ½ + b is ε-SV exactly for ε ≥ |b| (seed 000, eq. 1).
  double epsilon = std::fabs(bias);
  if (v.given("epsilon")) {
    epsilon = v.real("epsilon");
    if (epsilon < std::fabs(bias))
      throw std::invalid_argument("iid: epsilon " + std::to_string(epsilon) + " is below |bias| = " +
                                  std::to_string(std::fabs(bias)) + ": the source would not be ε-SV");
  }
  auto source = std::make_unique<IidSvSource>(bias, static_cast<std::uint64_t>(v.integer("seed")));
  return std::make_unique<SvSourceDevice<IidSvSource>>("iid", iid_capabilities(), settings, std::move(source), epsilon);
}

std::unique_ptr<hal::Device> make_adversarial(const Settings& settings) {
  const Values v("adversarial", adversarial_capabilities(), settings);
  const double epsilon = v.real("epsilon");
  const auto bits = static_cast<unsigned>(v.integer("bits_per_attempt"));
  const auto avoid = static_cast<std::uint64_t>(v.integer("avoid_setting"));
  if (bits < 64 && avoid >> bits)
    throw std::invalid_argument("adversarial: avoid_setting " + std::to_string(avoid) + " does not fit in " +
                                std::to_string(bits) + " bits_per_attempt");
  auto source = std::make_unique<AdversarialSvSource>(epsilon, AdversarialSvSource::steer(bits, avoid, true),
                                                      "avoid setting " + std::to_string(avoid),
                                                      static_cast<std::uint64_t>(v.integer("seed")));
  return std::make_unique<SvSourceDevice<AdversarialSvSource>>("adversarial", adversarial_capabilities(), settings,
                                                               std::move(source), epsilon);
}

}  // namespace

void register_weak_sources(hal::DriverRegistry& registry) {
  hal::DriverInfo iid;
  iid.name = "iid";
  iid.kind = hal::DeviceKind::entropy_source;
  iid.description = "simulated weak source: i.i.d. bits with P(0) = ½ + bias (sim::IidSvSource)";
  iid.capabilities = iid_capabilities();
  iid.create = make_iid;
  iid.scan = [] {
    return std::vector<hal::FoundDevice>{{"iid", "iid", "simulated i.i.d. weak source (always present)"}};
  };
  registry.add(std::move(iid));

  hal::DriverInfo adv;
  adv.name = "adversarial";
  adv.kind = hal::DeviceKind::entropy_source;
  adv.description =
      "simulated weak source steered by an adversary within the SV bounds: makes one block value as rare as ε "
      "allows (sim::AdversarialSvSource::steer)";
  adv.capabilities = adversarial_capabilities();
  adv.create = make_adversarial;
  adv.scan = [] {
    return std::vector<hal::FoundDevice>{
        {"adversarial", "adversarial", "simulated adversarial SV source (always present)"}};
  };
  registry.add(std::move(adv));
}

}  // namespace dira::sim::detail
