// `dira bounds` and `dira inequalities`.
#include "commands.hpp"

#include "dira/app/bounds_report.hpp"
#include "dira/app/inequality_loader.hpp"
#include "dira/protocol/bounds.hpp"

#include <unistd.h>

#include <fstream>
#include <iostream>
#include <memory>

namespace dira::cli {

namespace {
struct BoundsArgs {
  std::string inequality;
  std::vector<std::string> deltas;
  bool json = false;
  std::string certificate;
  bool no_table = false;
  bool quick_table = false;
  bool quiet = false;
  std::string config_dir;
};

int run_list(bool as_json, const std::string& config_dir) {
  const auto names = app::known_inequalities(config_dir);
  if (as_json) {
    nlohmann::json j = nlohmann::json::array();
    for (const auto& n : names) {
      nlohmann::json e{{"name", n}};
      try {
        const auto ineq = app::load_inequality_file(app::resolve_inequality(n, config_dir));
        e["title"] = ineq.title;
        e["file"] = ineq.file;
      } catch (const std::exception& ex) {
        e["error"] = ex.what();
      }
      j.push_back(e);
    }
    std::cout << j.dump(2) << "\n";
  } else {
    for (const auto& n : names) std::cout << n << "\n";
  }
  return ok;
}

int run_bounds(const BoundsArgs& a) {
  protocol::Inequality ineq;
  try {
    ineq = app::load_inequality_file(app::resolve_inequality(a.inequality, a.config_dir));
  } catch (const app::ConfigError& e) {
    std::cerr << "dira bounds: invalid inequality file:\n" << e.what() << "\n";
    return usage_error;
  } catch (const app::UnknownInequality& e) {
    std::cerr << "dira bounds: " << e.what() << "\n";
    return usage_error;
  }
  protocol::BoundsOptions opt;
  if (!a.deltas.empty()) {
    opt.deltas.clear();
    // B·P = Σ b_i P_i with every P_i in [0, 1], so |B·P| ≤ Σ|b_i|: a δ above that constrains
    // nothing, and one far above it (1e309) reaches GLPK as an infinite bound, where it aborts.
    protocol::Rational l1 = 0;
    for (const auto b : ineq.expression.coefficients()) l1 += b < 0 ? -protocol::Rational(b) : protocol::Rational(b);
    for (const auto& d : a.deltas) {
      try {
        const auto r = protocol::parse_rational(d);
        if (r < 0) throw std::invalid_argument("must be ≥ 0");
        if (r > l1)
          throw std::invalid_argument("out of range: B·P of " + a.inequality + " lies within ±" +
                                      protocol::to_string(l1) + " (the sum of |coefficients|); give 0 ≤ δ ≤ " +
                                      protocol::to_string(l1));
        opt.deltas.push_back(r);
      } catch (const std::exception& e) {
        std::cerr << "dira bounds: --delta " << d << ": " << e.what() << "\n";
        return usage_error;
      }
    }
  }
  opt.event_table = !a.no_table;
  opt.certify_event_table = !a.quick_table;
  const bool tty = isatty(STDERR_FILENO);
  if (!a.quiet && tty)
    opt.progress = [](std::size_t done, std::size_t total, const std::string& what) {
      std::cerr << "\r" << what << " " << done << "/" << total << "        " << std::flush;
      if (done == total) std::cerr << "\r" << std::string(60, ' ') << "\r";
    };
  protocol::BoundsReport rep;
  try {
    rep = protocol::compute_bounds(ineq, opt);
  } catch (const std::domain_error& e) {
    std::cerr << "\ndira bounds: " << e.what() << "\n";
    return usage_error;
  }
  if (!a.quiet && tty) std::cerr << "\r" << std::string(60, ' ') << "\r";
  if (!a.certificate.empty()) {
    std::ofstream f(a.certificate);
    if (!f) {
      std::cerr << "dira bounds: cannot write certificate file " << a.certificate << "\n";
      return failure;
    }
    f << app::certificates_to_json(rep).dump(1) << "\n";
    if (!f.flush()) {
      std::cerr << "dira bounds: writing " << a.certificate << " failed\n";
      return failure;
    }
  }
  if (a.json) {
    auto j = app::bounds_to_json(rep);
    if (!a.certificate.empty()) j["certificate_file"] = a.certificate;
    std::cout << j.dump(2) << "\n";
  } else {
    app::print_bounds_text(std::cout, rep);
    if (!a.certificate.empty())
      std::cout << "\n  certificates written to " << a.certificate << " (check: python3 scripts/check_certificate.py "
                << a.certificate << ")\n";
  }
  return ok;
}
}  // namespace

std::function<int()> register_bounds_commands(CLI::App& app) {
  auto args = std::make_shared<BoundsArgs>();
  auto* b = app.add_subcommand(
      "bounds", "Local, no-signalling and quantum values of an inequality, and certified randomness bounds");
  b->add_option("inequality", args->inequality, "Inequality name (e.g. guehne4, ks294) or path to a YAML file")
      ->required();
  b->add_option("--delta", args->deltas,
                "Bell value δ for the randomness LPs (B·P ≤ δ); repeatable; exact decimals or p/q (default 0)")
      ->expected(1)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  b->add_flag("--json", args->json, "Print one JSON object instead of the table");
  b->add_option("--certificate", args->certificate, "Write the exact dual certificates to FILE (JSON)");
  b->add_flag("--no-table", args->no_table, "Skip the event table (seed 001: max P(x|u) at B·P = 0 for every event)");
  b->add_flag("--quick-table", args->quick_table,
              "Compute the event table in floating point only (no exact certification)");
  b->add_flag("-q,--quiet", args->quiet, "No progress on stderr");
  b->add_option("--config-dir", args->config_dir, "Directory holding inequalities/ (default: see README)");

  auto list_json = std::make_shared<bool>(false);
  auto list_dir = std::make_shared<std::string>();
  auto* l = app.add_subcommand("inequalities", "List the inequalities dira knows");
  l->add_flag("--json", *list_json, "JSON output");
  l->add_option("--config-dir", *list_dir, "Directory holding inequalities/");

  return [=]() -> int {
    if (*b) return run_bounds(*args);
    if (*l) return run_list(*list_json, *list_dir);
    return -1;
  };
}

}  // namespace dira::cli
