#include "dira/sim/sv_sources.hpp"
#include <cmath>

#include <algorithm>
#include <sstream>
#include <stdexcept>

namespace dira::sim {

IidSvSource::IidSvSource(double bias, std::uint64_t seed)
    : bias_(bias),
      zero_below_(static_cast<std::uint64_t>(std::ceil(std::ldexp(0.5 + bias, 53)))),
      seed_(seed),
      rng_(seed) {
  if (!(bias > -0.5 && bias < 0.5)) throw std::invalid_argument("bias must be in (-1/2, 1/2)");
}

std::uint64_t IidSvSource::make_word(Rng& rng, std::uint64_t zero_below) {
  std::uint64_t w = 0;
  for (int i = 0; i < 64; ++i) w = (w << 1) | ((rng.next() >> 11) >= zero_below ? 1u : 0u);
  return w;
}

std::uint64_t IidSvSource::take_across(unsigned count) {
  // The current word has fewer than `count` bits left: they come first (most significant),
  // then the first bits of the next word.
  const unsigned have = left_;
  const std::uint64_t high = have ? word_ & ((std::uint64_t{1} << have) - 1) : 0;
  word_ = next_word();
  left_ = 64;
  const unsigned need = count - have;  // 1 … 64; 64 only when have = 0
  const std::uint64_t low = take(need);
  return have ? (high << need) | low : low;
}

std::uint64_t IidSvSource::next_word() {
  return make_word(rng_, zero_below_);
}

std::optional<double> IidSvSource::declared_epsilon() const {
  return bias_ < 0 ? -bias_ : bias_;
}

std::string IidSvSource::describe() const {
  std::ostringstream os;
  os << "sim iid, P(0) = 1/2 + " << bias_ << ", seed " << seed_;
  return os.str();
}

AdversarialSvSource::AdversarialSvSource(double epsilon, Strategy strategy, std::string name, std::uint64_t seed)
    : epsilon_(epsilon), strategy_(std::move(strategy)), rng_(seed) {
  if (!(epsilon >= 0 && epsilon < 0.5)) throw std::invalid_argument("ε must be in [0, 1/2)");
  std::ostringstream os;
  os << "sim adversarial '" << name << "', ε = " << epsilon << ", seed " << seed;
  description_ = os.str();
}

bool AdversarialSvSource::next_bit() {
  const double want = strategy_(history_);
  const double p0 = std::clamp(want, 0.5 - epsilon_, 0.5 + epsilon_);  // stay ε-SV
  const bool bit = !(rng_.uniform() < p0);
  history_.recent = (history_.recent << 1) | (bit ? 1u : 0u);
  ++history_.position;
  return bit;
}

AdversarialSvSource::Strategy AdversarialSvSource::steer(unsigned group, std::uint64_t target, bool avoid) {
  if (group == 0 || group > 64) throw std::invalid_argument("steer: group must be 1..64");
  return [group, target, avoid](const SvHistory& h) {
    const unsigned k = static_cast<unsigned>(h.position % group);  // position within the block
    const bool digit = (target >> (group - 1 - k)) & 1u;
    if (avoid) {
      // Once an earlier bit of this block already differs from the target, the block
      // cannot be the target any more: stop spending bias.
      const std::uint64_t mask = k ? ((std::uint64_t{1} << k) - 1) : 0;
      const std::uint64_t prefix_target = k ? (target >> (group - k)) & mask : 0;
      if (k && (h.recent & mask) != prefix_target) return 0.5;
      return digit ? 1.0 : 0.0;  // push towards the other digit (P(0) high when digit is 1)
    }
    return digit ? 0.0 : 1.0;
  };
}

}  // namespace dira::sim
