#include "dira/protocol/local_bound.hpp"

#include <algorithm>
#include <limits>
#include <stdexcept>

namespace dira::protocol {

std::int64_t deterministic_value(const BellExpression& expression, const DeterministicStrategy& strategy) {
  const Scenario& sc = expression.scenario();
  if (strategy.size() != static_cast<std::size_t>(sc.parties())) throw std::invalid_argument("strategy: wrong party count");
  std::int64_t total = 0;
  Outcome x(static_cast<std::size_t>(sc.parties()));
  for (std::size_t ui = 0; ui < sc.setting_count(); ++ui) {
    const Setting u = sc.setting_at(ui);
    for (std::size_t p = 0; p < x.size(); ++p) x[p] = strategy[p].at(static_cast<std::size_t>(u[p]));
    total += expression.coefficient(sc.index(u, x));
  }
  return total;
}

LocalBound local_bound(const BellExpression& expression) {
  const Scenario& sc = expression.scenario();
  const int n = sc.parties();
  const int last = n - 1;
  const std::size_t nx = sc.outcome_count();
  const int s_last = sc.settings(last), o_last = sc.outcomes(last);

  // Odometer digits: (party, setting) for parties 0..n-2, radix outcomes(party).
  struct Digit { int party, setting, radix; };
  std::vector<Digit> digits;
  double total_strategies = 1;
  for (int p = 0; p < last; ++p)
    for (int s = 0; s < sc.settings(p); ++s) {
      digits.push_back({p, s, sc.outcomes(p)});
      total_strategies *= sc.outcomes(p);
    }
  if (total_strategies > static_cast<double>(std::uint64_t{1} << 40))
    throw std::invalid_argument("local bound: too many deterministic strategies to enumerate");

  DeterministicStrategy strat(static_cast<std::size_t>(n));
  for (int p = 0; p < n; ++p) strat[static_cast<std::size_t>(p)].assign(static_cast<std::size_t>(sc.settings(p)), 0);

  // Mixed-radix strides (party 0 most significant; the last party has stride 1).
  std::vector<std::size_t> s_stride(static_cast<std::size_t>(n)), o_stride(static_cast<std::size_t>(n));
  for (int p = n - 1, ss = 1, os = 1; p >= 0; --p) {
    s_stride[static_cast<std::size_t>(p)] = static_cast<std::size_t>(ss);
    o_stride[static_cast<std::size_t>(p)] = static_cast<std::size_t>(os);
    ss *= sc.settings(p);
    os *= sc.outcomes(p);
  }
  // Head = setting tuple of parties 0..n-2. For each: the setting-index offset and the
  // outcome-index offset that the current strategy gives it.
  struct Head { Setting u; std::size_t u_offset = 0, x_offset = 0; };
  std::vector<Head> heads;
  const std::size_t head_count = sc.setting_count() / static_cast<std::size_t>(s_last);
  for (std::size_t i = 0; i < head_count; ++i) {
    Head h;
    h.u = sc.setting_at(i * static_cast<std::size_t>(s_last));  // last party's setting is 0
    for (int p = 0; p < last; ++p) h.u_offset += static_cast<std::size_t>(h.u[static_cast<std::size_t>(p)]) * s_stride[static_cast<std::size_t>(p)];
    heads.push_back(std::move(h));
  }
  const auto& coef = expression.coefficients();
  // cost[v][b] = Σ over heads of B(x(head), (head, v)) with the last party answering b.
  std::vector<std::int64_t> cost(static_cast<std::size_t>(s_last * o_last), 0);
  for (const auto& h : heads)
    for (int v = 0; v < s_last; ++v)
      for (int b = 0; b < o_last; ++b)
        cost[static_cast<std::size_t>(v * o_last + b)] +=
            coef[(h.u_offset + static_cast<std::size_t>(v)) * nx + h.x_offset + static_cast<std::size_t>(b)];

  // For each digit, the heads it influences (those with u[party] = setting).
  std::vector<std::vector<std::size_t>> touched(digits.size());
  for (std::size_t d = 0; d < digits.size(); ++d)
    for (std::size_t hi = 0; hi < heads.size(); ++hi)
      if (heads[hi].u[static_cast<std::size_t>(digits[d].party)] == digits[d].setting) touched[d].push_back(hi);

  LocalBound best;
  best.value = std::numeric_limits<std::int64_t>::max();
  auto evaluate = [&]() {
    std::int64_t v_total = 0;
    for (int v = 0; v < s_last; ++v) {
      std::int64_t m = std::numeric_limits<std::int64_t>::max();
      for (int b = 0; b < o_last; ++b) m = std::min(m, cost[static_cast<std::size_t>(v * o_last + b)]);
      v_total += m;
    }
    ++best.strategies_enumerated;
    if (v_total < best.value) {
      best.value = v_total;
      best.optimal = strat;
      for (int v = 0; v < s_last; ++v) {
        int arg = 0;
        for (int b = 1; b < o_last; ++b)
          if (cost[static_cast<std::size_t>(v * o_last + b)] < cost[static_cast<std::size_t>(v * o_last + arg)]) arg = b;
        best.optimal[static_cast<std::size_t>(last)][static_cast<std::size_t>(v)] = arg;
      }
    }
  };

  evaluate();
  // Odometer: increment digit 0, carrying; each digit change updates the cost table.
  while (true) {
    std::size_t d = 0;
    for (; d < digits.size(); ++d) {
      auto& cell = strat[static_cast<std::size_t>(digits[d].party)][static_cast<std::size_t>(digits[d].setting)];
      const int old_outcome = cell;
      const int new_outcome = (old_outcome + 1) % digits[d].radix;
      const std::size_t stride = o_stride[static_cast<std::size_t>(digits[d].party)];
      for (const std::size_t hi : touched[d]) {
        Head& h = heads[hi];
        const std::size_t x_new = h.x_offset + static_cast<std::size_t>(new_outcome) * stride -
                                  static_cast<std::size_t>(old_outcome) * stride;
        for (int v = 0; v < s_last; ++v) {
          const std::size_t row = (h.u_offset + static_cast<std::size_t>(v)) * nx;
          for (int b = 0; b < o_last; ++b)
            cost[static_cast<std::size_t>(v * o_last + b)] +=
                coef[row + x_new + static_cast<std::size_t>(b)] - coef[row + h.x_offset + static_cast<std::size_t>(b)];
        }
        h.x_offset = x_new;
      }
      cell = new_outcome;
      if (new_outcome != 0) break;  // no carry
    }
    if (d == digits.size()) break;  // wrapped around: all strategies seen
    evaluate();
  }
  return best;
}

}  // namespace dira::protocol
