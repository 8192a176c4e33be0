#include "dira/protocol/protocol_a.hpp"

#include <cmath>
#include <sstream>

#include "dira/protocol/protocol_b.hpp"  // InvalidTrial
#include "dira/protocol/rational.hpp"

namespace dira::protocol {

ProtocolA::ProtocolA(const BellExpression& B, ProtocolAParameters p) : parameters_(std::move(p)), indexer_(B.scenario()) {
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
}

double ProtocolA::threshold() const {
  return std::pow(0.5 - parameters_.epsilon, 4) * (parameters_.delta / 2) * (1 - parameters_.mu);
}

void ProtocolA::add(const Trial& t) {
  if (!indexer_.valid(t)) throw InvalidTrial("trial " + std::to_string(t.index) + ": setting or outcome out of range");
  if (t.device >= devices_.size())
    throw InvalidTrial("trial " + std::to_string(t.index) + ": device " + std::to_string(t.device) + " ≥ k = " +
                       std::to_string(devices_.size()));
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
  bell_ones_ += b;
  ++valid_;
}

LiveStatistics ProtocolA::live() const {
  LiveStatistics s;
  s.trials = trials_;
  s.trials_in_test = valid_;
  s.bell_mean = valid_ ? static_cast<double>(bell_ones_) / static_cast<double>(valid_) : 0;
  s.bell_half_width = azuma_half_width(valid_, parameters_.live_alpha);
  s.bell_threshold = threshold();
  s.confidence = 1 - parameters_.live_alpha;
  // Z_k is an average of k chosen boxes, each a uniformly weighted-ish draw from its
  // device's valid runs; the running mean over all valid runs is its expectation, so it
  // is what the live display projects with (the decision itself uses Z_k only).
  if (valid_ > 0) {
    if (s.bell_mean + s.bell_half_width <= s.bell_threshold) s.projected = Verdict::accept;
    else if (s.bell_mean - s.bell_half_width > s.bell_threshold) s.projected = Verdict::abort;
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
  const Rational half(1, 2);
  const Rational e = rationalize(parameters_.epsilon), dl = rationalize(parameters_.delta), mu = rationalize(parameters_.mu);
  const Rational thr = (half - e) * (half - e) * (half - e) * (half - e) * (dl / 2) * (1 - mu);
  const bool pass = Rational(bell_sum) <= thr * static_cast<long long>(devices_.size());
  d.tests.push_back({"Bell test on chosen boxes", "Z_k", res.z_k, "<=", res.threshold, pass, "seed 000, eq. 54; Fig. 2 step 3"});
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
