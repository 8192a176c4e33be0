#include "dira/sim/sv_sources.hpp"
#include <cmath>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <sstream>
#include <stdexcept>
#include <thread>
#include <vector>

namespace dira::sim {

struct IidSvSource::Ahead {
  // 16 k words (1 Mbit, 128 kB): about 70 000 trials of settings, so a generator thread that
  // the scheduler keeps off the core for a while does not stall the reader.
  static constexpr std::uint64_t kWords = std::uint64_t{1} << 14;
  static constexpr std::uint64_t kPublish = 256;  // words made between two publications
  std::vector<std::uint64_t> ring = std::vector<std::uint64_t>(kWords);
  std::atomic<std::uint64_t> made{0};   // words written (by the generator)
  std::atomic<std::uint64_t> taken{0};  // words read (by the reader)
  std::atomic<bool> stop{false};
  std::uint64_t read = 0;  // the reader's own count (== taken)
  std::thread thread;
};

IidSvSource::IidSvSource(double bias, std::uint64_t seed)
    : p0_(0.5 + bias),
      bias_(bias),
      zero_below_(static_cast<std::uint64_t>(std::ceil(std::ldexp(0.5 + bias, 53)))),
      seed_(seed),
      rng_(seed) {
  if (!(bias > -0.5 && bias < 0.5)) throw std::invalid_argument("bias must be in (-1/2, 1/2)");
}

IidSvSource::~IidSvSource() {
  if (ahead_) {
    ahead_->stop.store(true, std::memory_order_relaxed);
    ahead_->thread.join();
  }
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
  ++words_;
  if (!ahead_) {
    if (words_ * 64 < kAheadAfterBits) return make_word(rng_, zero_below_);
    // From here the generator continues the stream on its own thread, from the state the
    // reader left it in: the words it makes are the words the reader would have made.
    ahead_ = std::make_unique<Ahead>();
    Ahead* a = ahead_.get();
    a->thread = std::thread([a, rng = rng_, zero_below = zero_below_]() mutable {
      std::uint64_t made = 0;
      while (!a->stop.load(std::memory_order_relaxed)) {
        const std::uint64_t room = Ahead::kWords - (made - a->taken.load(std::memory_order_acquire));
        if (room < Ahead::kPublish) {  // full: the reader is far behind
          std::this_thread::sleep_for(std::chrono::microseconds(100));
          continue;
        }
        for (std::uint64_t k = 0; k < Ahead::kPublish; ++k, ++made)
          a->ring[static_cast<std::size_t>(made & (Ahead::kWords - 1))] = make_word(rng, zero_below);
        a->made.store(made, std::memory_order_release);
      }
    });
  }
  Ahead& a = *ahead_;
  for (int spins = 0; a.made.load(std::memory_order_acquire) == a.read; ++spins) {
    // Empty: only at the start, or when the generator thread was kept off the cores.
    if (spins < 64)
      std::this_thread::yield();
    else
      std::this_thread::sleep_for(std::chrono::microseconds(20));
  }
  const std::uint64_t w = a.ring[static_cast<std::size_t>(a.read & (Ahead::kWords - 1))];
  a.taken.store(++a.read, std::memory_order_release);
  return w;
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
