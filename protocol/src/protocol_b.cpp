#include "dira/protocol/protocol_b.hpp"

#include "dira/protocol/rational.hpp"

#include <algorithm>
#include <cmath>
#include <sstream>

namespace dira::protocol {

ProtocolB::ProtocolB(const BellExpression& B, ProtocolBParameters p)
    : parameters_(std::move(p)), indexer_(B.scenario()) {
  const Scenario& sc = B.scenario();
  if (!(parameters_.epsilon >= 0 && parameters_.epsilon < 0.5)) throw std::invalid_argument("ε must be in [0, 1/2)");
  if (!(parameters_.delta >= 0 && parameters_.delta <= 1)) throw std::invalid_argument("δ must be in [0, 1]");
  if (!(parameters_.mu1 > 0 && parameters_.mu1 <= 1)) throw std::invalid_argument("μ1 must be in (0, 1]");
  if (parameters_.trials == 0) throw std::invalid_argument("the protocol needs at least one trial");
  if (!sc.valid_setting(parameters_.u_star) || !sc.valid_outcome(parameters_.x_star))
    throw std::invalid_argument("u*/x* not in the scenario");
  for (std::int64_t c : B.coefficients())
    if (c != 0 && c != 1) throw std::invalid_argument("Protocol B needs a 0/1 Bell expression (eq. 24)");
  in_expression_.resize(sc.size());
  for (std::size_t j = 0; j < sc.size(); ++j) in_expression_[j] = B.coefficient(j) != 0;
  ustar_index_ = sc.index(parameters_.u_star, parameters_.x_star);
  if (in_expression_[ustar_index_]) throw std::invalid_argument("(u*, x*) must not be a term of B");
}

LiveStatistics ProtocolB::live() const {
  LiveStatistics s;
  s.trials = s.trials_in_test = trials_;
  s.bell_mean = bell_statistic();
  s.ustar_mean = ustar_statistic();
  s.bell_half_width = s.ustar_half_width = azuma_half_width(trials_, parameters_.live_alpha);
  s.bell_threshold = parameters_.delta;
  s.ustar_threshold = parameters_.mu1;
  s.has_ustar = true;
  s.confidence = 1 - parameters_.live_alpha;
  if (trials_ == 0) return s;
  const bool bell_ok = s.bell_mean + s.bell_half_width <= parameters_.delta;
  const bool bell_bad = s.bell_mean - s.bell_half_width > parameters_.delta;
  const bool ustar_ok = s.ustar_mean - s.ustar_half_width >= parameters_.mu1;
  const bool ustar_bad = s.ustar_mean + s.ustar_half_width < parameters_.mu1;
  s.projected = (bell_bad || ustar_bad) ? Verdict::abort : (bell_ok && ustar_ok) ? Verdict::accept : Verdict::undecided;
  return s;
}

Decision ProtocolB::decide() const {
  Decision d;
  d.protocol = "B";
  d.trials_used = trials_;
  d.parameters = {{"epsilon", parameters_.epsilon},
                  {"delta", parameters_.delta},
                  {"mu1", parameters_.mu1},
                  {"trials_planned", static_cast<double>(parameters_.trials)}};
  const double L = bell_statistic(), S = ustar_statistic();
  // Exact comparisons n_B ≤ δ·n and n_D ≥ μ1·n with δ, μ1 the rationals their decimals denote.
  const Rational n(static_cast<long long>(trials_));
  const bool bell_pass =
      trials_ > 0 && Rational(static_cast<long long>(bell_count_)) <= rationalize(parameters_.delta) * n;
  const bool ustar_pass =
      trials_ > 0 && Rational(static_cast<long long>(ustar_count_)) >= rationalize(parameters_.mu1) * n;
  d.tests.push_back({"Bell test", "L_n", L, "<=", parameters_.delta, bell_pass, "seed 001, eq. 39; Protocol I"});
  d.tests.push_back({"u* frequency test", "S_n", S, ">=", parameters_.mu1, ustar_pass, "seed 001, eqs. 42 and 44"});
  bool ok = trials_ > 0;
  for (const auto& t : d.tests) {
    if (t.passed || trials_ == 0) continue;
    ok = false;
    std::ostringstream os;
    os << t.name << " failed: " << t.statistic << " = " << t.value << " is not " << t.relation << " " << t.threshold;
    d.reasons.push_back(os.str());
  }
  if (trials_ == 0) d.reasons.push_back("no trials");
  if (trials_ < parameters_.trials)
    d.reasons.push_back("decided on " + std::to_string(trials_) + " of the " + std::to_string(parameters_.trials) +
                        " planned trials");
  d.verdict = ok ? Verdict::accept : Verdict::abort;
  return d;
}

ProtocolBResult ProtocolB::finalize(BitLedger& ledger, const ProtocolBConstants& k, const ProtocolBOutputPlan& plan,
                                    double log2_target, bool side_information,
                                    const std::function<bool(std::size_t)>& device_bit) const {
  ProtocolBResult out;
  out.extractor = choose_extractor(static_cast<std::size_t>(k.n_x), static_cast<std::size_t>(k.n_x), plan.k_x,
                                   static_cast<double>(k.n_x) * -std::log2(0.5 + parameters_.epsilon), log2_target - 1,
                                   side_information);
  if (!out.extractor || out.extractor->m < 1) {
    out.extractor.reset();
    return out;
  }
  const ExtractorParameters& params = *out.extractor;
  ledger.fix_device_outputs(trials_);
  BitVector x = BitVector::zeros(params.n1);
  for (std::size_t i = 0; i < params.n1 && i < 4 * trials_; ++i) x.set(i, device_bit(i));
  const BitVector y = BitVector::from_bools(ledger.draw_extractor_bits(params.n2, 0));
  const BitVector z = extract(params, x, y);
  const std::uint64_t m = std::min<std::uint64_t>(z.size, static_cast<std::uint64_t>(plan.bits));
  out.output.assign((m + 7) / 8, 0);
  for (std::uint64_t i = 0; i < m; ++i)
    if (z.get(i)) out.output[i / 8] |= static_cast<std::uint8_t>(0x80u >> (i % 8));
  out.output_bits = m;
  return out;
}

}  // namespace dira::protocol
