// dira — device-independent randomness amplification, command-line front end.
#include "commands.hpp"

#include <nlohmann/json.hpp>

#include <cstring>
#include <iostream>
#include <streambuf>
#include <string>
#include <vector>

#ifndef DIRA_VERSION
#define DIRA_VERSION "unknown"
#endif

namespace {

/// Passes everything on to `out` and keeps a copy of the last 64 kB (stderr's text for a JSON
/// error; bounded, as a run may print progress for days).
class TeeBuffer : public std::streambuf {
 public:
  explicit TeeBuffer(std::streambuf* out) : out_(out) {}
  const std::string& text() const { return copy_; }
  bool written() const { return any_; }

 protected:
  int overflow(int c) override {
    if (c == traits_type::eof()) return traits_type::not_eof(c);
    const char ch = static_cast<char>(c);
    keep(&ch, 1);
    return out_->sputc(ch);
  }
  std::streamsize xsputn(const char* s, std::streamsize n) override {
    keep(s, static_cast<std::size_t>(n));
    return out_->sputn(s, n);
  }
  int sync() override { return out_->pubsync(); }

 private:
  void keep(const char* s, std::size_t n) {
    any_ = any_ || n > 0;
    copy_.append(s, n);
    if (copy_.size() > kKeep) copy_.erase(0, copy_.size() - kKeep / 2);
  }
  static constexpr std::size_t kKeep = 65536;
  std::streambuf* out_;
  std::string copy_;
  bool any_ = false;
};

bool wants_json(int argc, char** argv) {
  for (int i = 1; i < argc; ++i)
    if (std::strcmp(argv[i], "--json") == 0) return true;
  return false;
}

/// `--json` errors are JSON on every command (issue 13): when a command fails without having
/// written its JSON result, what it said on stderr becomes {"error", "command", "exit_code"} on
/// stdout (stderr keeps the text for a person).
int finish(int rc, bool json, const TeeBuffer& out, const TeeBuffer& err, const std::string& command) {
  if (json && rc != 0 && !out.written()) {
    std::string message = err.text();
    while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) message.pop_back();
    if (message.empty()) message = "failed (exit " + std::to_string(rc) + ")";
    std::cout << nlohmann::json{{"error", message}, {"command", command}, {"exit_code", rc}}.dump(2) << std::endl;
  }
  return rc;
}

}  // namespace

int main(int argc, char** argv) {
  const bool json = wants_json(argc, argv);
  TeeBuffer out_tee(std::cout.rdbuf()), err_tee(std::cerr.rdbuf());
  std::streambuf* const cout_buf = std::cout.rdbuf(&out_tee);
  std::streambuf* const cerr_buf = std::cerr.rdbuf(&err_tee);
  struct Restore {
    std::streambuf *o, *e;
    ~Restore() {
      std::cout.rdbuf(o);
      std::cerr.rdbuf(e);
    }
  } restore{cout_buf, cerr_buf};
  const std::string command = argc > 1 ? std::string("dira ") + argv[1] : "dira";
  CLI::App app{"dira — device-independent randomness amplification (see README.md)", "dira"};
  app.set_version_flag("--version", std::string("dira ") + DIRA_VERSION);
  app.require_subcommand(1);
  const std::vector<std::function<int()>> commands{dira::cli::register_bounds_commands(app),
                                                   dira::cli::register_analyze_trials_command(app),
                                                   dira::cli::register_plan_command(app),
                                                   dira::cli::register_simulate_trials_command(app),
                                                   dira::cli::register_devices_command(app),
                                                   dira::cli::register_run_commands(app),
                                                   dira::cli::register_ptu_info_command(app),
                                                   dira::cli::register_station_command(app),
                                                   dira::cli::register_keygen_command(app)};
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    // CLI11's own codes are not ours: usage errors exit 2
    return finish(dira::cli::usage_error, json, out_tee, err_tee, command);
  }
  try {
    for (const auto& run : commands)
      if (const int rc = run(); rc >= 0) return finish(rc, json, out_tee, err_tee, command);
  } catch (const std::exception& e) {
    std::cerr << "dira: error: " << e.what() << "\n";
    return finish(dira::cli::failure, json, out_tee, err_tee, command);
  }
  std::cerr << app.help();
  return finish(dira::cli::usage_error, json, out_tee, err_tee, command);
}
