#include "live_protocol.hpp"

#include <cmath>

namespace dira::app {

namespace P = dira::protocol;

LiveProtocol::LiveProtocol(const ExperimentConfig& c, const ProtocolCRunPlan* plan_c) {
  if (c.protocol == 'C') {
    c_ = std::make_unique<P::ProtocolC>(plan_c->scoring, plan_c->pefs.front().second);
    for (std::size_t i = 1; i < plan_c->pefs.size(); ++i)
      c_->replace_pef(plan_c->pefs[i].first, plan_c->pefs[i].second);
    stop_when_certified_ = plan_c->scoring.stop_when_certified;
  } else if (c.protocol == 'B') {
    b_ = std::make_unique<P::ProtocolB>(c.inequality.expression, c.protocol_b());
  } else {
    a_ = std::make_unique<P::ProtocolA>(c.inequality.expression, c.protocol_a());
  }
}

bool LiveProtocol::add(std::span<const P::Trial> trials) {
  if (b_) {
    b_->add(trials);
  } else if (a_) {
    a_->add(trials);
  } else {
    if (!c_->done()) c_->score(trials);
    return stop_when_certified_ && c_->done() && c_->stats().target_reached;
  }
  return false;
}

P::LiveStatistics LiveProtocol::live() const {
  if (b_) return b_->live();
  if (a_) return a_->live();
  P::LiveStatistics s;  // Protocol C: the PEF's running log-gain is the statistic shown
  const auto st = c_->stats();
  s.trials = s.trials_in_test = st.trials;
  s.bell_mean = st.mean_log2_gain;
  s.bell_threshold = st.target;
  s.projected = st.target_reached ? P::Verdict::accept : P::Verdict::undecided;
  return s;
}

void LiveProtocol::fill(Progress& p) const {
  if (!c_) return;
  const auto st = c_->stats();
  p.protocol_c = st;
  if (st.target_reached)
    p.eta_to_target_s = 0;
  else if (std::isfinite(st.projected_trials_to_target) && p.rate > 0)
    p.eta_to_target_s = st.projected_trials_to_target / p.rate;
}

}  // namespace dira::app
