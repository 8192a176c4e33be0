#include "dira/protocol/protocol_a.hpp"

#include <cmath>
#include <limits>
#include <sstream>

#include "dira/protocol/protocol_b.hpp"  // InvalidTrial
#include "dira/protocol/rational.hpp"

namespace dira::protocol {

ProtocolA::ProtocolA(const BellExpression& B, ProtocolAParameters p)
    : parameters_(std::move(p)), indexer_(B.scenario()) {
  const Scenario& sc = B.scenario();
  if (!(parameters_.epsilon >= 0 && parameters_.epsilon < 0.5)) throw std::invalid_argument("ε must be in [0, 1/2)");
  if (!(parameters_.delta > 0)) throw std::invalid_argument("δ must be positive");
  if (!(parameters_.mu > 0 && parameters_.mu < 1)) throw std::invalid_argument("μ must be in (0, 1)");
  if (parameters_.devices < 1) throw std::invalid_argument("k must be at least 1");
  if (parameters_.majority_parties.empty() || parameters_.majority_parties.size() % 2 == 0)
    throw std::invalid_argument("the majority needs an odd number of parties");
  for (int party : parameters_.majority_parties)
    if (party < 0 || party >= sc.parties() || sc.outcomes(party) != 2)
      throw std::invalid_argument("majority party out of range or not binary");
  for (std::int64_t c : B.coefficients())
    if (c != 0 && c != 1) throw std::invalid_argument("Protocol A needs a 0/1 Bell expression (eq. 7)");
  in_expression_.resize(sc.size());
  setting_in_test_.assign(sc.setting_count(), 0);
  for (std::size_t j = 0; j < sc.size(); ++j) {
    in_expression_[j] = B.coefficient(j) != 0;
    if (in_expression_[j]) setting_in_test_[j / sc.outcome_count()] = 1;
  }
  devices_.resize(static_cast<std::size_t>(parameters_.devices));
  // The largest number of chosen boxes with B = 1 the test accepts: Σ B ≤ k·thr ⇔ Σ B ≤ ⌊k·thr⌋,
  // with thr the same exact rational finalize compares against.
  const Rational scaled = exact_threshold() * static_cast<long long>(devices_.size());
  max_failures_ =
      static_cast<std::size_t>(boost::multiprecision::numerator(scaled) / boost::multiprecision::denominator(scaled));
}

Rational ProtocolA::exact_threshold() const {
  const Rational half(1, 2);
  const Rational e = rationalize(parameters_.epsilon), dl = rationalize(parameters_.delta),
                 mu = rationalize(parameters_.mu);
  return (half - e) * (half - e) * (half - e) * (half - e) * (dl / 2) * (1 - mu);
}

double ProtocolA::threshold() const {
  return std::pow(0.5 - parameters_.epsilon, 4) * (parameters_.delta / 2) * (1 - parameters_.mu);
}

void ProtocolA::add(const Trial& t) {
  if (!indexer_.valid(t)) throw InvalidTrial("trial " + std::to_string(t.index) + ": setting or outcome out of range");
  if (t.device >= devices_.size())
    throw InvalidTrial("trial " + std::to_string(t.index) + ": device " + std::to_string(t.device) +
                       " ≥ k = " + std::to_string(devices_.size()));
  DeviceRecord& d = devices_[t.device];
  ++d.uses;
  ++trials_;
  if (!setting_in_test_[indexer_.setting_index(t)]) return;
  const std::uint64_t r = d.valid_runs++;
  if (r % 64 == 0) {
    d.bell_bits.push_back(0);
    d.maj_bits.push_back(0);
  }
  const bool b = in_expression_[indexer_.index(t)] != 0;
  int ones = 0;
  for (int party : parameters_.majority_parties) ones += t.x[static_cast<std::size_t>(party)] != 0;
  const bool maj = 2 * ones > static_cast<int>(parameters_.majority_parties.size());
  d.bell_bits.back() |= static_cast<std::uint64_t>(b) << (r % 64);
  d.maj_bits.back() |= static_cast<std::uint64_t>(maj) << (r % 64);
  d.bell_ones += b;
  ++valid_;
}

LiveStatistics ProtocolA::live() const {
  LiveStatistics s;
  s.trials = trials_;
  s.trials_in_test = valid_;
  s.bell_threshold = threshold();
  s.confidence = 1 - parameters_.live_alpha;
  // The decision statistic is Z_k = (1/k) Σ_j B(x_{a_j}, u_{a_j}) over one box a_j per device
  // (eq. 54), and a_j is drawn only after every output is fixed (Fig. 2 step 2), so Z_k itself
  // does not exist during the run. What does: its distribution if the boxes were chosen now by
  // an ideal choice — a_j uniform on device j's n_j valid runs, independent across devices —
  // under which B_j = B(x_{a_j}, u_{a_j}) is Bernoulli(f_j), f_j = bell_ones_j / n_j. Hence
  //   E[Z_k | runs so far] = (1/k) Σ_j f_j                      (shown as the live value), and
  //   Pr[accept] = Pr[Σ_j B_j ≤ m], m = ⌊k·threshold⌋          (a Poisson-binomial sum).
  // The weak source biases each a_j within its SV band, so the real choice deviates from uniform
  // by at most that band; the decision itself (finalize) never uses these numbers.
  const std::size_t k = devices_.size();
  bool every_device_has_runs = true;
  double mean = 0, inverse_runs = 0;
  for (const DeviceRecord& d : devices_) {
    if (d.valid_runs == 0) {
      every_device_has_runs = false;
      continue;
    }
    mean += static_cast<double>(d.bell_ones) / static_cast<double>(d.valid_runs);
    inverse_runs += 1.0 / static_cast<double>(d.valid_runs);
  }
  s.bell_mean = mean / static_cast<double>(k);
  // Azuma–Hoeffding for Σ_j Σ_r B_jr/(k·n_j): increments bounded by c_jr = 1/(k·n_j), so
  // Pr[|dev| ≥ t] ≤ 2·exp(−t²/(2 Σ c²)) with Σ c² = Σ_j 1/(k²·n_j); the same form as
  // azuma_half_width(n) = √(2 ln(2/α)/n), which it equals when every n_j = n/k.
  s.bell_half_width = every_device_has_runs ? std::sqrt(2.0 * std::log(2.0 / parameters_.live_alpha) * inverse_runs) /
                                                  static_cast<double>(k)
                                            : std::numeric_limits<double>::infinity();
  s.accept_probability = 0;
  if (every_device_has_runs) {
    // Pr[Σ_j B_j = t] for t = 0..m by the standard one-device-at-a-time recursion; terms above
    // m are never needed (they only ever flow upwards), so the cost is O(k·(m+1)).
    std::vector<double> p(max_failures_ + 1, 0.0);
    p[0] = 1;
    for (const DeviceRecord& d : devices_) {
      const double f = static_cast<double>(d.bell_ones) / static_cast<double>(d.valid_runs);
      for (std::size_t t = p.size(); t-- > 0;) p[t] = p[t] * (1 - f) + (t > 0 ? p[t - 1] * f : 0.0);
    }
    for (double v : p) s.accept_probability += v;
    s.accept_probability = std::min(1.0, s.accept_probability);
    if (s.bell_mean + s.bell_half_width <= s.bell_threshold)
      s.projected = Verdict::accept;
    else if (s.bell_mean - s.bell_half_width > s.bell_threshold)
      s.projected = Verdict::abort;
  }
  return s;
}

ProtocolAResult ProtocolA::finalize(BitLedger& ledger) {
  ProtocolAResult res;
  res.threshold = threshold();
  Decision& d = res.decision;
  d.protocol = "A";
  d.trials_used = trials_;
  d.parameters = {{"epsilon", parameters_.epsilon},
                  {"delta", parameters_.delta},
                  {"mu", parameters_.mu},
                  {"k", static_cast<double>(parameters_.devices)}};
  for (std::size_t j = 0; j < devices_.size(); ++j)
    if (devices_[j].valid_runs == 0) {
      d.verdict = Verdict::abort;
      d.reasons.push_back("device " + std::to_string(j) + " has no valid run (n_j = 0): no box can be chosen");
    }
  if (!d.reasons.empty()) return res;
  ledger.fix_device_outputs(trials_);

  // Step 2: a_j ∈ [n_j] from ⌈log₂ n_j⌉ weak-source bits, redrawn while ≥ n_j, drawn after
  // every setting and in the order a_k, …, a_1: the proof of Lemma 6 (eq. 45) needs
  // ν(a_i | settings, a_{>i}) bounded (docs/protocol-a-security.md §1.2, §2.3).
  std::uint64_t bell_sum = 0;
  bool s_r = false;
  res.chosen_box.assign(devices_.size(), 0);
  for (std::size_t j = devices_.size(); j-- > 0;) {
    const DeviceRecord& dev = devices_[j];
    unsigned bits = 0;
    while ((std::uint64_t{1} << bits) < dev.valid_runs) ++bits;
    std::uint64_t a = 0;
    do {
      a = bits ? ledger.draw(BitPurpose::box_choice, bits, j) : 0;
    } while (a >= dev.valid_runs);
    res.chosen_box[j] = a;
    bell_sum += dev.bell(a);
    s_r ^= dev.maj(a);
  }
  // Step 3: Z_k = (1/k) Σ_j B(x_{a_j}, u_{a_j}) (eq. 54).
  res.z_k = static_cast<double>(bell_sum) / static_cast<double>(devices_.size());
  // Compared exactly: Σ B ≤ ⌊k·thr⌋ with thr a rational built from the decimal parameters
  // (a double comparison would leave the boundary case to rounding).
  const bool pass = Rational(bell_sum) <= exact_threshold() * static_cast<long long>(devices_.size());
  d.tests.push_back(
      {"Bell test on chosen boxes", "Z_k", res.z_k, "<=", res.threshold, pass, "seed 000, eq. 54; Fig. 2 step 3"});
  if (pass) {
    d.verdict = Verdict::accept;
    res.output_bit = s_r;  // Step 4: S_r = ⊕_j maj(x¹, x², x³) of the chosen boxes.
  } else {
    d.verdict = Verdict::abort;
    std::ostringstream os;
    os << "Bell test failed: Z_k = " << res.z_k << " (" << bell_sum << " of " << devices_.size()
       << " chosen boxes gave B = 1) is not <= " << res.threshold;
    d.reasons.push_back(os.str());
  }
  return res;
}

}  // namespace dira::protocol
