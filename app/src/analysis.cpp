#include "dira/app/analysis.hpp"

#include "dira/app/lab_units.hpp"

#include "dira/protocol/bounds.hpp"
#include "dira/protocol/extraction_c.hpp"
#include "dira/protocol/extractor.hpp"
#include "dira/protocol/ns_lp.hpp"
#include "dira/protocol/protocol_a.hpp"
#include "dira/protocol/protocol_b.hpp"
#include "dira/protocol/security_a.hpp"
#include "dira/protocol/security_b.hpp"
#include "dira/protocol/settings_rule.hpp"

#include <cmath>
#include <limits>
#include <optional>

namespace dira::app {

using nlohmann::json;
namespace P = dira::protocol;

namespace {

json decision_json(const P::Decision& d) {
  json tests = json::array();
  for (const auto& t : d.tests)
    tests.push_back({{"name", t.name},
                     {"statistic", t.statistic},
                     {"value", t.value},
                     {"relation", t.relation},
                     {"threshold", t.threshold},
                     {"passed", t.passed},
                     {"source", t.source}});
  json params = json::object();
  for (const auto& [k, v] : d.parameters) params[k] = v;
  return {{"protocol", d.protocol}, {"verdict", P::to_string(d.verdict)},
          {"tests", tests},         {"trials_used", d.trials_used},
          {"parameters", params},   {"reasons", d.reasons}};
}

json ledger_json(const P::BitLedger& l) {
  json entries = json::array();
  for (const auto& e : l.entries())
    entries.push_back({{"purpose", P::to_string(e.purpose)},
                       {"first_bit", e.first_bit},
                       {"bits", e.bit_count},
                       {"first_item", e.first_item},
                       {"last_item", e.last_item}});
  return {{"source", l.source().describe()},
          {"bits_drawn", l.bits_drawn()},
          {"by_purpose",
           {{"setting", l.bits_drawn(P::BitPurpose::setting)},
            {"box_choice", l.bits_drawn(P::BitPurpose::box_choice)},
            {"extractor", l.bits_drawn(P::BitPurpose::extractor)},
            {"observed_setting", l.bits_drawn(P::BitPurpose::observed_setting)},
            {"skipped", l.bits_drawn(P::BitPurpose::skipped)}}},
          {"device_outputs_fixed", l.device_outputs_fixed()},
          {"entries", entries}};
}

/// Each trial of `o.trials`, in order, to `f`.
template <class F>
void each_trial(const AnalysisOptions& o, F&& f) {
  o.trials([&](std::span<const P::Trial> ts) {
    for (const P::Trial& t : ts) f(t);
  });
}

double finite_or(double v, double fallback) {
  return std::isfinite(v) ? v : fallback;
}

AnalysisResult analyze_a(const ExperimentConfig& c, const AnalysisOptions& o) {
  AnalysisResult res;
  P::ProtocolA a(c.inequality.expression, c.protocol_a());
  std::uint64_t next_device_switch = c.uses_per_device.empty() ? 0 : c.uses_per_device[0];
  std::size_t block = 0;
  std::uint64_t seen = 0;
  bool explicit_devices = false;
  each_trial(o, [&](const P::Trial& t0) {
    P::Trial t = t0;
    if (t.device != 0) explicit_devices = true;
    if (!explicit_devices && !c.uses_per_device.empty()) {
      // No device column: consecutive blocks of uses_per_device trials, device 0 first.
      while (block + 1 < c.uses_per_device.size() && seen >= next_device_switch)
        next_device_switch += c.uses_per_device[++block];
      t.device = static_cast<std::uint32_t>(block);
    }
    ++seen;
    a.add(t);
  });
  json r;
  r["protocol"] = "A";
  r["inequality"] = c.inequality.name;
  r["trials_used"] = a.trials();
  const auto live = a.live();
  // E[Z_k] if the boxes were chosen uniformly now: (1/k) Σ_j violations_j / n_j (protocol_a.cpp).
  r["bell_statistic"] = live.bell_mean;
  json devices = json::array();
  std::vector<double> valid;
  for (const auto& d : a.devices()) {
    devices.push_back({{"uses", d.uses}, {"valid_runs", d.valid_runs}, {"bell_ones", d.bell_ones}});
    valid.push_back(static_cast<double>(d.valid_runs));
  }
  r["devices"] = devices;
  r["device_mapping"] = c.device_mapping.empty()
                            ? "not stated: the config does not say how the k logical devices map onto apparatus; "
                              "no-signalling between them is then an assumption, not enforced by separation"
                            : c.device_mapping;
  if (!o.weak_bits && !o.ledger) {
    r["decision"] = "undecided";
    r["reasons"] = {"Protocol A chooses one box per device with weak-source bits (Fig. 2 step 2): give --sv-bits"};
    r["certified_bits"] = 0;
    res.report = r;
    return res;
  }
  std::optional<P::BitLedger> own;
  if (!o.ledger) own.emplace(*o.weak_bits);
  P::BitLedger& ledger = o.ledger ? *o.ledger : *own;
  const auto out = a.finalize(ledger);
  r["decision"] = P::to_string(out.decision.verdict);
  r["reasons"] = out.decision.reasons;
  r["decision_record"] = decision_json(out.decision);
  r["z_k"] = out.z_k;
  r["threshold"] = out.threshold;
  r["chosen_boxes"] = out.chosen_box;

  // Security statement (eq. 17 for the actual blocks; docs/protocol-a-security.md).
  P::ProtocolASecurityInput in;
  in.epsilon = c.epsilon;
  in.delta = c.a.delta;
  in.mu = c.a.mu;
  in.devices = c.a.devices;
  in.valid_runs = valid;
  {
    // Tight per-box bias β(δ) from the certified LP (seed 000 Lemma 4; docs/seed-notes.md).
    P::NoSignallingLp lp(c.inequality.expression);
    const auto& sc = c.inequality.expression.scenario();
    double beta = 0;
    for (std::size_t ui : c.inequality.expression.settings_in_expression())
      for (int e = 0; e < 2; ++e) {
        const auto s = lp.maximize(P::majority_objective(sc, c.a.majority_parties, sc.setting_at(ui), e),
                                   P::rationalize(c.a.delta), true);
        beta = std::max(beta, s.certificate ? P::to_double(s.certificate->bound) : 0.5);
      }
    in.tight_bias = beta;
  }
  const auto sec = P::protocol_a_security(in);
  json bounds = json::array();
  double best = 0;
  for (const auto& b : sec.bounds) {
    bounds.push_back({{"name", b.name},
                      {"formula", b.formula},
                      {"log10_bias_term", finite_or(b.log10_bias, -1e308)},
                      {"log10_test_term", b.log10_test},
                      {"log10_de_finetti_term", finite_or(b.log10_de_finetti, -1e308)},
                      {"log10_bound", b.log10_total}});
    best = std::min(best, b.log10_total);
  }
  const double log10_target = std::log10(c.security_target);
  const bool meaningful = best <= log10_target;
  r["security"] = {
      {"bound", "d_c(S_r | Z, W): distance of the output bit from uniform given the adversary (seed 000 eq. 13)"},
      {"log10_bound", best},
      {"log10_target", log10_target},
      {"meaningful", meaningful},
      {"tight_bias", *in.tight_bias},
      {"bounds", bounds},
      {"log10_de_finetti_actual_blocks", finite_or(sec.log10_de_finetti_actual, -1e308)},
      {"assumptions", sec.assumptions},
      {"device_independent", true}};
  if (out.output_bit && meaningful) {
    res.accepted = true;
    res.output_bits = 1;
    res.output.push_back(static_cast<std::uint8_t>(*out.output_bit ? 0x80 : 0x00));
    r["certified_bits"] = 1;
  } else {
    r["certified_bits"] = 0;
    if (out.output_bit) {
      r["uncertified_output_bit"] = *out.output_bit ? 1 : 0;
      r["certification"] =
          "accepted, but the security bound " + lab_units::significant(std::pow(10.0, best), 3) +
          " does not reach the target " + lab_units::significant(std::pow(10.0, log10_target), 3) +
          ": the bit is reported for testing and is not certified (dira plan --protocol A shows what run would be)";
    }
  }
  res.accepted = out.decision.verdict == P::Verdict::accept;
  r["ledger"] = ledger_json(ledger);
  res.report = r;
  return res;
}

AnalysisResult analyze_b(const ExperimentConfig& c, const AnalysisOptions& o) {
  AnalysisResult res;
  P::ProtocolB b(c.inequality.expression, c.protocol_b());
  // The decision needs counts only: memory stays flat however many trials (issue 12). The
  // extractor's input, the device outputs, is collected in a second pass over the trials,
  // only when something is extracted.
  std::uint64_t n = 0, ignored = 0;
  o.trials([&](std::span<const P::Trial> ts) {
    // Protocol I uses exactly the n trials fixed in advance; those after them are counted only.
    const auto used = static_cast<std::size_t>(std::min<std::uint64_t>(ts.size(), c.b.trials - n));
    b.add(ts.first(used));
    n += used;
    ignored += ts.size() - used;
  });
  const auto d = b.decide();
  json r;
  r["protocol"] = "B";
  r["inequality"] = c.inequality.name;
  r["decision"] = P::to_string(d.verdict);
  r["reasons"] = d.reasons;
  if (ignored)
    r["reasons"].push_back(std::to_string(ignored) + " trials after the planned n = " + std::to_string(c.b.trials) +
                           " were not used (n is fixed before the run; seed 001, Protocol I)");
  r["trials_ignored"] = ignored;
  r["decision_record"] = decision_json(d);
  r["trials_used"] = b.trials();
  r["bell_statistic"] = b.bell_statistic();
  r["ustar_statistic"] = b.ustar_statistic();
  r["counts"] = {{"bell_terms", b.bell_count()}, {"ustar_events", b.ustar_count()}};
  {
    const auto live = b.live();
    r["live"] = {{"bell_half_width", live.bell_half_width},
                 {"ustar_half_width", live.ustar_half_width},
                 {"confidence", live.confidence},
                 {"projected", P::to_string(live.projected)},
                 {"interval", "Azuma–Hoeffding, seed 001 eq. 41"}};
  }

  const P::ProtocolBSecurityInput in = protocol_b_security_input(c, static_cast<double>(b.trials()));
  const auto k = P::protocol_b_constants(in);
  const double log2_target = std::log2(c.security_target);
  // dira's explicit extractors (docs/extractors.md) need k_x + k_t above the input length;
  // the accounting's k_x is tiny next to 4n, so they certify nothing here.
  const auto explicit_plan = P::plan_protocol_b_output_circulant(k, log2_target, in.epsilon);
  const auto nonexplicit = P::plan_protocol_b_output_nonexplicit(k, log2_target);
  r["security"] = {
      {"bound",
       "d_c·p(ACC): distance of the output from uniform given the adversary, times the acceptance probability "
       "(seed 001 Theorem 9, made explicit in docs/protocol-b-security.md §2.9)"},
      {"constants",
       {{"nu_pair_min", k.nu_pair_min},
        {"nu_ustar_min", k.nu_ustar_min},
        {"delta_az", k.delta_az},
        {"tau", k.tau},
        {"delta_tilde", k.delta_tilde},
        {"f_lemma2", k.f},
        {"f_lemma2_seed", k.f_seed},
        {"mu2", k.mu2},
        {"mu3", k.mu3},
        {"mu4", k.mu4},
        {"kappa", k.kappa},
        {"ln_gamma", k.ln_gamma},
        {"ln_eps_az1", k.ln_eps_az1},
        {"ln_eps_az2", k.ln_eps_az2},
        {"log2_delta1", k.log2_delta1},
        {"n_x", k.n_x},
        {"n_t", k.n_t},
        {"k_t", k.k_t},
        {"honest_ustar_rate_min", k.honest_ustar_rate_min}}},
      {"conditions_hold", k.valid()},
      {"violations", k.violations},
      {"log2_target", log2_target},
      {"explicit_extractor",
       {{"bits", explicit_plan.bits}, {"log2_error", explicit_plan.log2_error}, {"reason", explicit_plan.reason}}},
      {"nonexplicit_extractor",
       {{"bits", nonexplicit.bits},
        {"log2_error", nonexplicit.log2_error},
        {"reason", nonexplicit.reason},
        {"note", "what the seed's non-explicit extractor would give; dira cannot output these bits"}}},
      {"setting_rule",
       "rejection sampling: 4 bits per party per attempt, values ≥ 9 redrawn (docs/protocol-b-security.md §3)"},
      {"assumptions",
       {"the weak source is ε-SV and independent of the device given the adversary (seed 001, A1-A2)",
        "no-signalling between the two stations and time-ordered no-signalling within each"}},
      {"device_independent", true}};

  std::uint64_t m = 0;
  if (d.verdict == P::Verdict::accept && explicit_plan.bits >= 1) {
    if (!o.weak_bits && !o.ledger) {
      r["certification"] =
          "accepted with a positive certified length, but no weak-source bits were given for the extractor";
    } else {
      // Extract (ProtocolB::finalize, docs/protocol-b-security.md §1.1 steps 6–7): the device
      // outputs are fixed first, then the extractor's second source is drawn — bits after every
      // setting bit. The decision kept counts only (issue 12): the outputs of the same first n
      // trials are read again here, only because something is extracted.
      std::optional<P::BitLedger> own;
      if (!o.ledger) own.emplace(*o.weak_bits);
      P::BitLedger& ledger = o.ledger ? *o.ledger : *own;
      // Device outputs, 2 bits per party per trial (docs/protocol-b-security.md §1.1 step 7).
      P::BitVector device = P::BitVector::zeros(static_cast<std::size_t>(4 * n));
      std::uint64_t again = 0;
      each_trial(o, [&](const P::Trial& t) {
        if (again >= n) return;
        const std::uint64_t at = 4 * again++;
        const unsigned nib = ((t.x[0] & 3u) << 2) | (t.x[1] & 3u);
        for (unsigned bit = 0; bit < 4; ++bit)
          if ((nib >> (3 - bit)) & 1u) device.set(static_cast<std::size_t>(at + bit), true);
      });
      if (again != n)
        throw std::runtime_error("the trials changed between the decision and the extraction: " + std::to_string(n) +
                                 " trials decided over, " + std::to_string(again) + " read again");
      auto fin = b.finalize(ledger, k, explicit_plan, log2_target, c.extractor.side_information,
                            [&](std::size_t i) { return device.get(i); });
      if (const auto& params = fin.extractor) {
        m = fin.output_bits;
        res.output = std::move(fin.output);
        res.output_bits = m;
        r["extractor"] = {{"kind", P::to_string(params->kind)},
                          {"n1", params->n1},
                          {"n2", params->n2},
                          {"m", m},
                          {"log2_error", params->log2_error},
                          {"statement", params->statement}};
        r["ledger"] = ledger_json(ledger);
      } else {
        r["certification"] = "the accounting allows bits, but no admissible extractor length was found";
      }
    }
  }
  r["certified_bits"] = m;
  if (m == 0 && d.verdict == P::Verdict::accept && !r.contains("certification"))
    r["certification"] = "accepted; no bits certified: " + explicit_plan.reason;
  res.accepted = d.verdict == P::Verdict::accept;
  res.report = r;
  return res;
}

/// Protocol C (docs/protocol-c-security.md): score every trial with the PEFs fixed before it,
/// decide pass iff the outward-rounded smooth min-entropy reaches the target, and on a pass
/// extract from the device string (2 bits per trial, zero-padded to the budget: §5.4) and
/// weak-source bits drawn after the outputs are fixed.
AnalysisResult analyze_c(const ExperimentConfig& c, const AnalysisOptions& o) {
  AnalysisResult res;
  json r;
  r["protocol"] = "C";
  r["inequality"] = c.inequality.name;
  r["security"] = {
      {"adversary",
       "no-signalling devices (the CHSH no-signalling polytope: 16 local deterministic + 8 PR boxes) "
       "with classical side information"},
      {"weak_source",
       "epsilon-SV with epsilon = " + lab_units::significant(c.epsilon, 4) +
           " for one stream supplying Alice's bit then Bob's (8 vertices), independent of the devices' outputs given "
           "the adversary's information (the Markov condition the extractors need); correlations with the devices "
           "through hidden variables are mixtures and are covered (docs/protocol-c-security.md §3)"},
      {"not_covered", "quantum side information; the NS ∩ Tsirelson (quantum devices) model is not implemented"},
      {"device_independent", true},
      {"post_selection", "none: no-click → outcome 0 (docs/trial-policy.md)"},
      {"error_budget", {{"estimation_and_smoothing", c.c.error / 2}, {"extractor", c.c.error / 2}}},
      {"source",
       "probability estimation: Zhang, Knill, Bierhorst, PRA 98, 040304(R) (2018); Knill et al., PRR 2, "
       "033465 (2020); derivation in docs/protocol-c-security.md"}};
  if (!o.protocol_c) {
    r["decision"] = "undecided";
    r["reasons"] = {"no PEF: Protocol C scores trials with the PEFs fixed before the run (pef.json)"};
    r["certified_bits"] = 0;
    res.report = r;
    return res;
  }
  const ProtocolCRunPlan& plan = *o.protocol_c;
  const auto make_scorer = [&] {
    P::ProtocolC scorer(plan.scoring, plan.pefs.front().second);
    for (std::size_t i = 1; i < plan.pefs.size(); ++i) scorer.replace_pef(plan.pefs[i].first, plan.pefs[i].second);
    return scorer;
  };
  P::ProtocolC pc = make_scorer();
  // The decision needs the running product only: memory flat in the trials (issue 12). The
  // device string (the extractor's input) is collected in a second pass, on a pass only.
  std::uint64_t n = 0, ignored = 0;
  each_trial(o, [&](const P::Trial& t) {
    if (pc.done() || pc.score(t) == 0) {
      ++ignored;
      return;
    }
    ++n;
  });
  const P::ProtocolCResult fin = pc.finish();
  const P::ProtocolCStats st = pc.stats();
  r["trials_scored"] = fin.trials;
  r["trials_used"] = fin.trials;
  r["trials_ignored"] = ignored;
  r["log2_T"] = fin.log2_T_lower;
  r["min_entropy"] = fin.min_entropy_lower;
  r["target_min_entropy"] = plan.scoring.target_min_entropy;
  r["beta"] = plan.pefs.front().second.beta_exact;
  r["log2_inv_eps_est"] = plan.scoring.log2_inv_eps_est;
  r["stopped_when_certified"] = fin.stopped_early;
  r["mean_log2_gain_per_trial"] = st.mean_log2_gain;
  r["pef_segments"] = pc.segments().size();
  r["decision"] = fin.passed ? "accept" : "abort";
  r["reasons"] = json::array();
  if (!fin.passed)
    r["reasons"].push_back("certified smooth min-entropy " + lab_units::significant(fin.min_entropy_lower, 4) +
                           " bits is below the target " + lab_units::significant(plan.scoring.target_min_entropy, 4) +
                           " fixed before the run (" + lab_units::count(static_cast<double>(fin.trials), "trial") +
                           " scored)");
  std::uint64_t m = 0;
  if (fin.passed) {
    // The device string: (a, b) of every scored trial, most significant bit first, zero-padded
    // to the budget (§5.4); the trials scored are found by scoring again with the same PEFs.
    P::BitVector device = P::BitVector::zeros(static_cast<std::size_t>(2 * plan.scoring.max_trials));
    {
      P::ProtocolC again = make_scorer();
      std::uint64_t k = 0;
      each_trial(o, [&](const P::Trial& t) {
        if (again.done() || again.score(t) == 0) return;
        if (t.x[0] & 1u) device.set(static_cast<std::size_t>(2 * k), true);
        if (t.x[1] & 1u) device.set(static_cast<std::size_t>(2 * k + 1), true);
        ++k;
      });
      if (k != n)
        throw std::runtime_error("the trials changed between the decision and the extraction: " + std::to_string(n) +
                                 " scored, then " + std::to_string(k));
    }
    const std::size_t device_bits = device.size;
    const auto ext =
        P::plan_extraction_c(device_bits, std::min(fin.min_entropy_lower, static_cast<double>(device_bits)), c.epsilon,
                             plan.log2_extractor_error, device_bits + 1);
    r["extractor"] = {{"route", P::to_string(ext.kind)}, {"device_bits", ext.device_bits},
                      {"weak_bits", ext.weak_bits},      {"output_bits", ext.output_bits},
                      {"log2_error", ext.log2_error},    {"statement", ext.statement}};
    if (ext.output_bits == 0) {
      r["certification"] = "accepted; no bits certified: " + ext.statement;
    } else if (!o.weak_bits && !o.ledger) {
      r["certification"] =
          "accepted with a positive certified length, but no weak-source bits were given for the "
          "extractor";
    } else {
      std::optional<P::BitLedger> own;
      if (!o.ledger) own.emplace(*o.weak_bits);
      P::BitLedger& ledger = o.ledger ? *o.ledger : *own;
      ledger.fix_device_outputs(fin.trials);  // the outputs are final before the extractor's bits are drawn
      const P::BitVector weak = P::BitVector::from_bools(ledger.draw_extractor_bits(ext.weak_bits, 0));
      // The extractor takes the first ext.device_bits bits (a cut, when there is one, is charged
      // in the plan's min-entropy: docs/extractors.md, "Cutting a source").
      const P::BitVector z = P::extract_c(ext, device.prefix(ext.device_bits), weak);
      m = z.size;
      res.output.assign((m + 7) / 8, 0);
      for (std::uint64_t i = 0; i < m; ++i)
        if (z.get(i)) res.output[i / 8] |= static_cast<std::uint8_t>(0x80u >> (i % 8));
      res.output_bits = m;
      r["ledger"] = ledger_json(ledger);
    }
  }
  r["certified_bits"] = m;
  res.accepted = fin.passed;
  res.report = r;
  return res;
}

}  // namespace

AnalysisResult analyze(const ExperimentConfig& c, const AnalysisOptions& o) {
  if (c.protocol == 'C') return analyze_c(c, o);
  return c.protocol == 'A' ? analyze_a(c, o) : analyze_b(c, o);
}

}  // namespace dira::app
