#pragma once
/// @file live_protocol.hpp
/// The protocol a run tests while it acquires (A, B or C), behind one small interface: trials
/// in, live statistics out, and whether the run may stop (Protocol C, run until certified).
/// The decision itself is made afterwards by the analysis over run.h5 (analysis.hpp).

#include "dira/app/experiment.hpp"
#include "dira/app/protocol_c_run.hpp"
#include "dira/app/session.hpp"
#include "dira/protocol/decision.hpp"
#include "dira/protocol/protocol_a.hpp"
#include "dira/protocol/protocol_b.hpp"
#include "dira/protocol/protocol_c.hpp"

#include <memory>
#include <span>

namespace dira::app {

class LiveProtocol {
 public:
  /// `plan_c` (Protocol C only) must outlive this object.
  LiveProtocol(const ExperimentConfig& config, const ProtocolCRunPlan* plan_c);
  /// Adds trials in order; true when the run may stop now (Protocol C reached its target and
  /// the experiment stops when certified: the stopping time of docs/protocol-c-security.md §5.4).
  bool add(std::span<const protocol::Trial> trials);
  protocol::LiveStatistics live() const;
  /// 'A', 'B' or 'C'.
  char protocol() const { return a_ ? 'A' : b_ ? 'B' : 'C'; }
  /// Protocol C's part of a progress snapshot: its scorer's statistics (min-entropy against
  /// target, gain) and the time to the target at the snapshot's rate.
  void fill(Progress& p) const;
  /// Protocol C's scorer (null for A and B): its segments go into pef.json.
  const protocol::ProtocolC* protocol_c() const { return c_.get(); }

 private:
  std::unique_ptr<protocol::ProtocolA> a_;
  std::unique_ptr<protocol::ProtocolB> b_;
  std::unique_ptr<protocol::ProtocolC> c_;
  bool stop_when_certified_ = false;
};

}  // namespace dira::app
