// `dira simulate-trials`: trials and weak-source bits from the simulator, as CSV and a bit file,
// for `dira analyze-trials` before any hardware (or `dira run`, issue 5) exists.
#include "commands.hpp"

#include "dira/app/experiment.hpp"
#include "dira/protocol/local_bound.hpp"
#include "dira/protocol/quantum.hpp"
#include "dira/protocol/settings_rule.hpp"
#include "dira/sim/box_sampler.hpp"
#include "dira/sim/sv_sources.hpp"

#include <fstream>
#include <iostream>
#include <memory>

namespace dira::cli {

namespace {
struct Args {
  std::string config, out, sv_bits_out, box = "quantum", config_dir;
  double visibility = 1;
  std::uint64_t trials = 0, seed = 7, extra_bytes = 4096;
};

int run(const Args& a) {
  app::ExperimentConfig cfg;
  try {
    cfg = app::load_experiment_file(a.config, a.config_dir);
  } catch (const app::ConfigError& e) {
    std::cerr << "dira simulate-trials: invalid experiment file:\n" << e.what() << "\n";
    return usage_error;
  }
  if (!(a.visibility >= 0 && a.visibility <= 1)) {
    std::cerr << "dira simulate-trials: --visibility must be in [0, 1]\n";
    return usage_error;
  }
  const auto& ineq = cfg.inequality;
  const auto& sc = ineq.expression.scenario();
  protocol::Behaviour box;
  if (a.box == "quantum") {
    if (!ineq.quantum) {
      std::cerr << "dira simulate-trials: " << ineq.name << " has no quantum realisation\n";
      return usage_error;
    }
    box = sim::white_noise(sc, protocol::quantum_behaviour(sc, *ineq.quantum), a.visibility);
  } else if (a.box == "local") {
    box = sim::deterministic_behaviour(sc, protocol::local_bound(ineq.expression).optimal);
  } else {
    std::cerr << "dira simulate-trials: --box must be quantum or local\n";
    return usage_error;
  }
  const double eps = cfg.protocol == 'A' ? cfg.a.epsilon : cfg.b.epsilon;
  std::unique_ptr<protocol::SvSource> source;
  if (cfg.weak_source.kind == "adversarial" && !cfg.weak_source.avoid_setting.empty())
    source = std::make_unique<sim::AdversarialSvSource>(
        eps, sim::AdversarialSvSource::steer(4, static_cast<std::uint64_t>(cfg.weak_source.avoid_setting[0]), true),
        "avoid setting", cfg.weak_source.seed);
  else if (cfg.weak_source.kind == "file") {
    std::ifstream in(cfg.weak_source.path, std::ios::binary);
    if (!in) {
      std::cerr << "dira simulate-trials: cannot read weak_source.path " << cfg.weak_source.path << "\n";
      return usage_error;
    }
    std::vector<std::uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    source = std::make_unique<protocol::BufferSvSource>(
        protocol::BufferSvSource::from_bytes(bytes, "file " + cfg.weak_source.path, eps));
  } else if (cfg.weak_source.kind == "adversarial") {
    std::cerr << "dira simulate-trials: an adversarial source needs weak_source.avoid_setting\n";
    return usage_error;
  } else {
    source = std::make_unique<sim::IidSvSource>(cfg.weak_source.bias, cfg.weak_source.seed);
  }
  protocol::BitLedger ledger(*source);
  sim::BoxSampler sampler(sc, box);
  sim::Rng rng(a.seed);

  std::ofstream csv(a.out);
  if (!csv) {
    std::cerr << "dira simulate-trials: cannot write " << a.out << "\n";
    return failure;
  }
  csv << "trial";
  for (int p = 0; p < sc.parties(); ++p) csv << ",u" << p;
  for (int p = 0; p < sc.parties(); ++p) csv << ",x" << p;
  if (cfg.protocol == 'A') csv << ",device";
  csv << "\n";
  std::vector<std::uint64_t> blocks = cfg.uses_per_device;
  if (cfg.protocol == 'A' && blocks.empty()) blocks.assign(static_cast<std::size_t>(cfg.a.devices), 1000);
  const std::uint64_t n = cfg.protocol == 'A' ? 0 : (a.trials ? a.trials : cfg.b.trials);
  std::uint64_t i = 0;
  try {
    auto emit = [&](protocol::Trial& t) {
      sampler.sample(t, rng);
      csv << t.index;
      for (int p = 0; p < sc.parties(); ++p) csv << ',' << int(t.u[static_cast<std::size_t>(p)]);
      for (int p = 0; p < sc.parties(); ++p) csv << ',' << int(t.x[static_cast<std::size_t>(p)]);
      if (cfg.protocol == 'A') csv << ',' << t.device;
      csv << '\n';
    };
    if (cfg.protocol == 'A') {
      for (std::size_t j = 0; j < blocks.size(); ++j)
        for (std::uint64_t r = 0; r < blocks[j]; ++r, ++i) {
          protocol::Trial t;
          t.index = i;
          t.device = static_cast<std::uint32_t>(j);
          protocol::draw_setting_guehne(ledger, i, t);
          emit(t);
        }
    } else {
      for (; i < n; ++i) {
        protocol::Trial t;
        t.index = i;
        protocol::draw_setting_rejection(ledger, i, sc.parties(), sc.settings(0), t);
        emit(t);
      }
    }
  } catch (const protocol::SourceExhausted& e) {
    std::cerr << "dira simulate-trials: " << e.what() << "\n";
    return usage_error;
  }
  if (!a.sv_bits_out.empty()) {
    // The continuation of the same weak-source stream: bits after every setting bit.
    std::ofstream bits(a.sv_bits_out, std::ios::binary);
    for (std::uint64_t b = 0; b < a.extra_bytes; ++b) {
      std::uint8_t byte = 0;
      for (int k = 0; k < 8; ++k) byte = static_cast<std::uint8_t>((byte << 1) | (source->next_bit() ? 1 : 0));
      bits.put(static_cast<char>(byte));
    }
  }
  std::cerr << "simulate-trials: " << i << " trials (" << a.box << " box, visibility " << a.visibility << "), "
            << ledger.bits_drawn() << " setting bits from " << source->describe() << "\n";
  return ok;
}
}  // namespace

std::function<int()> register_simulate_trials_command(CLI::App& app) {
  auto a = std::make_shared<Args>();
  auto* c = app.add_subcommand("simulate-trials", "Simulated trials (CSV) and weak-source bits for analyze-trials");
  c->add_option("--config", a->config, "Experiment YAML")->required();
  c->add_option("--out", a->out, "CSV file to write")->required();
  c->add_option("--sv-bits-out", a->sv_bits_out,
                "Write the weak-source bits that follow the settings (box choice, extractor)");
  c->add_option("--box", a->box,
                "quantum (the seed's realisation, with --visibility) or local (best deterministic strategy)")
      ->capture_default_str();
  c->add_option("--visibility", a->visibility, "White-noise visibility of the quantum box")->capture_default_str();
  c->add_option("--trials", a->trials, "Protocol B: number of trials (default: the config's)");
  c->add_option("--seed", a->seed, "Seed of the box sampler")->capture_default_str();
  c->add_option("--sv-bytes", a->extra_bytes, "Bytes of weak-source bits to write")->capture_default_str();
  c->add_option("--config-dir", a->config_dir, "Directory holding inequalities/");
  return [=]() -> int { return *c ? run(*a) : -1; };
}

}  // namespace dira::cli
