// Two stations and a coordinator as separate processes on 127.0.0.1 (issue 14): `dira keygen`,
// `dira station` ×2, `dira run` with the stations as its devices. The reference is the
// single-process `dira run` of the same experiment with the same seeds (config/experiments/
// sim-ks294.yaml): merged trials (run.h5, trial by trial), decision and statistics must be
// identical — whatever the stations' clock offsets and delays, and through a station killed
// with SIGKILL and restarted. Each process is bounded in time and killed if it overruns.
#include "dira/app/experiment.hpp"
#include "dira/app/run_file.hpp"
#include "dira/app/session.hpp"
#include "dira/station/health.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>
#include <tuple>

extern char** environ;

using namespace dira;
using namespace std::chrono_literals;
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

std::string read_all(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream os;
  os << in.rdbuf();
  return os.str();
}

/// A child process; killed (SIGKILL) if still running when destroyed.
class Process {
 public:
  Process(const std::vector<std::string>& args, const fs::path& cwd, const std::string& log_name) {
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addchdir_np(&fa, cwd.c_str());
    const std::string out = (cwd / (log_name + ".out")).string(), err = (cwd / (log_name + ".err")).string();
    posix_spawn_file_actions_addopen(&fa, 1, out.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_addopen(&fa, 2, err.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    std::vector<char*> argv;
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    if (posix_spawn(&pid_, args[0].c_str(), &fa, nullptr, argv.data(), environ) != 0) pid_ = -1;
    posix_spawn_file_actions_destroy(&fa);
  }
  ~Process() {
    if (pid_ > 0 && !done_) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;
  bool started() const { return pid_ > 0; }
  void signal(int sig) { ::kill(pid_, sig); }
  /// Exit code; −1 when it had to be killed after `limit`, −2 when it died of a signal.
  int wait(std::chrono::milliseconds limit) {
    if (done_) return code_;
    const auto end = std::chrono::steady_clock::now() + limit;
    int status = 0;
    for (;;) {
      const pid_t r = ::waitpid(pid_, &status, WNOHANG);
      if (r == pid_) break;
      if (std::chrono::steady_clock::now() > end) {
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, &status, 0);
        done_ = true;
        return code_ = -1;
      }
      std::this_thread::sleep_for(10ms);
    }
    done_ = true;
    return code_ = WIFEXITED(status) ? WEXITSTATUS(status) : -2;
  }

 private:
  pid_t pid_ = -1;
  bool done_ = false;
  int code_ = 0;
};

int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

const std::string kDira = DIRA_BINARY;
const fs::path kSource = DIRA_TEST_SOURCE_DIR;

/// Which shipped experiment, split into two stations.
struct Split {
  std::string experiment;  // config/experiments/…
  std::string inequality;
  std::uint64_t trials = 0;
  std::string sim;           // the simulator's settings (as in the experiment), YAML flow items
  std::string tagger_extra;  // more keys of the `stations:` section (indented 2)
  std::string detectors;     // one station's detector channels for its party (its own numbering)
  std::string echoes;        // one station's echo channels for its party
  std::string extra;         // more top-level YAML for the coordinator
};

Split ks294() {
  return {"sim-ks294.yaml",
          "ks294",
          200000,
          "seed: 3, visibility: 1.0, efficiency: 1.0",
          "",
          "[2, 3, 4, 5]",
          "[6, 7, 8, 9, 10, 11, 12, 13, 14]",
          ""};
}

// Protocol C on the photonic CHSH experiment. Its model of the apparatus comes from the
// hardware: section and the state and angles stated on the `stations` tagger (the simulator
// reports its own). The whole budget is run (stop_when_certified: false): with the stop rule on,
// how many trials are recorded after the stop and how many setting bits were drawn ahead depend
// on thread timing even in one process, and the extractor's bits follow them in the ledger.
Split chsh() {
  const std::string angles =
      "state_theta: 0.416356, alice_angle_0: 1.045592, alice_angle_1: -1.445981, bob_angle_0: 1.446630, "
      "bob_angle_1: -1.044236";
  return {"sim-chsh-photonic.yaml",
          "chsh",
          250000,
          "seed: 11, visibility: 0.99, efficiency: 0.8, " + angles,
          "  state_theta: 0.416356\n  alice_angle_0: 1.045592\n  alice_angle_1: -1.445981\n"
          "  bob_angle_0: 1.446630\n  bob_angle_1: -1.044236\n",
          "[2, 3]",
          "[4, 5]",
          "hardware: {visibility: 0.99, efficiency: 0.8}\n"};
}

// Protocol A on guehne4 with four stations, one party each.
Split guehne4() {
  return {"sim-guehne4.yaml", "guehne4", 64000, "seed: 4, visibility: 1.0", "", "[2, 3]", "[4, 5]", ""};
}

std::string without_stop_rule(std::string text) {
  const std::string on = "stop_when_certified: true";
  if (const auto at = text.find(on); at != std::string::npos) text.replace(at, on.size(), "stop_when_certified: false");
  return text;
}

struct StationOptions {
  std::int64_t clock_offset_ps = 0;
  int send_delay_ms = 0;
  double pace = 0;  // the simulator's real-time pace (0: as fast as it can)
};

/// How the coordinator's experiment names its stations.
enum class Form {
  section,  // a `stations:` section (docs/stations.md), generated from the shipped experiment
  shipped,  // config/stations/ks294-coordinator.yaml, alice.yaml and bob.yaml as shipped (ks294 only)
  devices,  // the older spelling: a devices: section naming the `stations` and `station_modulator` drivers
};

/// A scratch directory holding keys, the station files and a coordinator experiment.
struct Stations {
  fs::path dir;
  int port = 0;
  Split split;
  std::vector<std::string> names;
  explicit Stations(const std::string& name, const std::vector<StationOptions>& options, int station_timeout_ms = 10000,
                    Split what = ks294(), Form form = Form::section)
      : split(std::move(what)) {
    dir = fs::temp_directory_path() / ("dira-station-run-" + name + "-" + std::to_string(::getpid()));
    fs::remove_all(dir);
    fs::create_directories(dir / "keys");
    port = free_port();
    static const char* kNames[] = {"alice", "bob", "carol", "dave"};
    for (std::size_t i = 0; i < options.size(); ++i) names.push_back(kNames[i]);
    std::string list, parties;
    for (std::size_t i = 0; i < names.size(); ++i) {
      list += (i ? ", " : "") + names[i] + "=keys/" + names[i] + ".pub";
      parties += (i ? ", " : "") + std::to_string(i);
    }
    for (const auto& k : names) {
      Process p({kDira, "keygen", "keys/" + k}, dir, "keygen");
      REQUIRE(p.wait(20s) == 0);
    }
    Process p({kDira, "keygen", "keys/coordinator"}, dir, "keygen");
    REQUIRE(p.wait(20s) == 0);
    if (form == Form::shipped) {
      // The shipped files, on a free port, with the test hooks appended to the station files.
      REQUIRE(names.size() == 2);
      auto on_port = [&](std::string text) {
        const std::string shipped = "tcp://127.0.0.1:5555";
        for (auto at = text.find(shipped); at != std::string::npos; at = text.find(shipped))
          text.replace(at, shipped.size(), endpoint());
        return text;
      };
      std::ofstream(dir / "coordinator.yaml") << on_port(read_all(kSource / "config/stations/ks294-coordinator.yaml"));
      for (std::size_t i = 0; i < 2; ++i) {
        std::string text = on_port(read_all(kSource / "config/stations" / (names[i] + ".yaml")));
        const std::string end = "station: " + std::to_string(i) + "}";
        REQUIRE(text.find(end) != std::string::npos);
        text.replace(text.find(end), end.size(),
                     "station: " + std::to_string(i) + ", pace: " + std::to_string(options[i].pace) + "}");
        std::ofstream(dir / (names[i] + ".yaml")) << text << "clock_offset_ps: " << options[i].clock_offset_ps
                                                  << "\nsend_delay_ms: " << options[i].send_delay_ms << "\n";
      }
      return;
    }
    for (std::size_t i = 0; i < names.size(); ++i) station_file(names[i], static_cast<int>(i), options[i], parties);
    // The shipped experiment with the stations as its devices instead of the simulator.
    std::string text = without_stop_rule(read_all(kSource / "config/experiments" / split.experiment));
    text = text.substr(0, text.find("simulator:"));
    std::ofstream out(dir / "coordinator.yaml");
    out << text << "outputs: {directory: runs}\n" << split.extra;
    const std::string timing =
        "sync_period_ps: 1000000, detection_offset_ps: 9000, detection_width_ps: 2000, echo_offset_ps: 4500, "
        "echo_width_ps: 1000";
    if (form == Form::section) {
      out << "stations:\n  listen: " << endpoint() << "\n  key: keys/coordinator.key\n"
          << "  heartbeat_ms: 100\n  station_timeout_ms: " << station_timeout_ms << "\n"
          << "  connect_timeout_ms: 20000\n  health_file: health.json\n"
          << split.tagger_extra << "  layout: {sync_channel: 1, " << timing << "}\n  members:\n";
      // Per-party simulated stations number their channels alike (docs/simulator.md).
      for (std::size_t i = 0; i < names.size(); ++i)
        out << "    - {name: " << names[i] << ", public_key: keys/" << names[i] << ".pub, parties: [" << i
            << "], detectors: [" << split.detectors << "], echoes: [" << split.echoes << "]}\n";
      return;
    }
    // Form::devices: the merged layout by hand, station s's channel c at 256·s + c.
    auto merged = [&](const std::string& one) {
      std::string all = "[";
      for (std::size_t i = 0; i < names.size(); ++i) {
        std::string l = one.substr(1, one.size() - 2), shifted;
        std::stringstream ss(l);
        for (std::string x; std::getline(ss, x, ',');)
          shifted += (shifted.empty() ? "" : ", ") + std::to_string(std::stoi(x) + 256 * static_cast<int>(i));
        all += (i ? ", [" : "[") + shifted + "]";
      }
      return all + "]";
    };
    REQUIRE(split.tagger_extra.empty());  // (the model's keys would go under settings:)
    out << "devices:\n"
        << "  tagger:\n    driver: stations\n    settings:\n"
        << "      listen: " << endpoint() << "\n      key: keys/coordinator.key\n"
        << "      stations: " << list << "\n"
        << "      heartbeat_ms: 100\n      station_timeout_ms: " << station_timeout_ms << "\n"
        << "      connect_timeout_ms: 20000\n      health_file: health.json\n"
        << "  layout: {sync_channel: 1, " << timing << ",\n    detectors: " << merged(split.detectors)
        << ",\n    echoes: " << merged(split.echoes) << "}\n"
        << "  modulators:\n";
    for (std::size_t i = 0; i < names.size(); ++i)
      out << "    - {driver: station_modulator, settings: {coordinator: \"" << endpoint() << "\", party: " << i
          << "}}\n";
  }
  ~Stations() {
    if (!getenv("DIRA_KEEP_TEST_FILES")) fs::remove_all(dir);
  }
  std::string endpoint() const { return "tcp://127.0.0.1:" + std::to_string(port); }
  void station_file(const std::string& name, int index, const StationOptions& o, const std::string& parties) {
    // The simulated apparatus of the shipped experiment, split per party: each station
    // simulates every party from the same seed and keeps its own party's channels.
    std::ofstream(dir / (name + ".yaml"))
        << "station: " << name << "\ncoordinator:\n  endpoint: " << endpoint()
        << "\n  public_key: keys/coordinator.pub\nkey: keys/" << name << ".key\nrecord: " << name
        << ".tags\nsettings_for: [" << parties << "]\ninequality: " << split.inequality << "\ntrials: " << split.trials
        << "\n"
        << "heartbeat_ms: 100\ncoordinator_timeout_ms: 5000\nclock_offset_ps: " << o.clock_offset_ps
        << "\nsend_delay_ms: " << o.send_delay_ms << "\ntagger:\n  driver: sim\n  settings: {" << split.sim
        << ", station_layout: per_party, station: " << index << ", pace: " << o.pace << "}\n";
  }
  std::unique_ptr<Process> station(const std::string& name) {
    return std::make_unique<Process>(std::vector<std::string>{kDira, "station", name + ".yaml"}, dir, name);
  }
  std::unique_ptr<Process> coordinator() {
    return std::make_unique<Process>(std::vector<std::string>{kDira, "run", "coordinator.yaml", "--json"}, dir,
                                     "coordinator");
  }
  /// The coordinator, then every station (in `names` order), as processes.
  struct Processes {
    std::unique_ptr<Process> coordinator;
    std::vector<std::unique_ptr<Process>> stations;
  };
  Processes start_all() {
    Processes p;
    p.coordinator = coordinator();
    for (const auto& n : names) p.stations.push_back(station(n));
    return p;
  }
  /// A whole run: start_all(); the coordinator completes (exit 0) within 90 s and every station
  /// then ends by itself (check_station_ends). Returns the coordinator's report.
  json run_all();
  /// Whether station `name`'s record holds more than `bytes`.
  bool recorded(const std::string& name, std::uintmax_t bytes) const {
    const fs::path record = dir / (name + ".tags");
    return fs::exists(record) && fs::file_size(record) > bytes;
  }
  /// Waits until the records of `who` each hold more than `bytes`, at most 30 s (slow builds
  /// take longer to get there).
  void wait_until_recorded(const std::vector<std::string>& who, std::uintmax_t bytes) const {
    const auto until = std::chrono::steady_clock::now() + 30s;
    auto all = [&] { return std::all_of(who.begin(), who.end(), [&](const auto& n) { return recorded(n, bytes); }); };
    while (std::chrono::steady_clock::now() < until && !all()) std::this_thread::sleep_for(20ms);
  }
  /// Kills station `name` (SIGKILL) mid-run, once its record holds more than `bytes`.
  void kill_once_recorded(Process& p, const std::string& name, std::uintmax_t bytes);
  json report() const { return json::parse(read_all(dir / "coordinator.out")); }
  bool report_exists() const {
    return fs::exists(dir / "coordinator.out") && fs::file_size(dir / "coordinator.out") > 0;
  }
  std::string log(const std::string& who) const { return read_all(dir / (who + ".err")); }
};

/// A station ends by itself once the coordinator stopped it; if it does not, the failure shows
/// its log (what it made of the coordinator's frames), which is gone with the test directory.
void check_station_ends(Process& p, const Stations& t, const std::string& name) {
  const int exit_code = p.wait(20s);
  INFO("station " << name << "'s log:\n" << t.log(name));
  CHECK(exit_code == 0);
}

json Stations::run_all() {
  Processes p = start_all();
  REQUIRE(p.coordinator->wait(90s) == 0);
  for (std::size_t i = 0; i < names.size(); ++i) check_station_ends(*p.stations[i], *this, names[i]);
  return report();
}

void Stations::kill_once_recorded(Process& p, const std::string& name, std::uintmax_t bytes) {
  wait_until_recorded({name}, bytes);
  REQUIRE(fs::file_size(dir / (name + ".tags")) > bytes);
  p.signal(SIGKILL);
  CHECK(p.wait(5s) == -2);
}

/// For the `dira station` configuration-error tests: a directory with the coordinator's and
/// alice's keys, and the first nine lines of a valid station file (`head`); `run` writes a file
/// there and runs `dira station` on it.
struct StationFileCheck {
  fs::path dir;
  const std::string head =
      "station: alice\ncoordinator:\n  endpoint: tcp://127.0.0.1:9\n  public_key: keys/coordinator.pub\n"
      "key: keys/alice.key\nrecord: alice.tags\nsettings_for: [0, 1]\ninequality: ks294\ntrials: 10\n";
  struct Outcome {
    int exit_code;
    std::string err, out;
  };
  explicit StationFileCheck(const std::string& name)
      : dir(fs::temp_directory_path() / ("dira-" + name + "-" + std::to_string(::getpid()))) {
    fs::remove_all(dir);
    fs::create_directories(dir / "keys");
    for (const char* k : {"keys/coordinator", "keys/alice"}) {
      Process p({kDira, "keygen", k}, dir, "keygen");
      REQUIRE(p.wait(20s) == 0);
    }
  }
  ~StationFileCheck() { fs::remove_all(dir); }
  Outcome run(const std::string& name, const std::string& text, bool as_json = false) const {
    std::ofstream(dir / name) << text;
    std::vector<std::string> args{kDira, "station", name};
    if (as_json) args.push_back("--json");
    Process p(args, dir, name);
    const int rc = p.wait(20s);
    return {rc, read_all(dir / (name + ".err")), read_all(dir / (name + ".out"))};
  }
};

struct Reference {
  json report;
  json pef;  // Protocol C: pef.json
  std::vector<protocol::Trial> trials;
};

std::vector<protocol::Trial> trials_of(const fs::path& run_h5) {
  std::vector<protocol::Trial> out;
  app::read_run_file(run_h5, [&](std::span<const protocol::Trial> b) { out.insert(out.end(), b.begin(), b.end()); });
  return out;
}

/// The single-process run of the shipped experiment (stop rule off, as for the stations).
Reference single_process_run(const Split& split) {
  {
    const fs::path dir =
        fs::temp_directory_path() / ("dira-station-run-single-" + split.inequality + "-" + std::to_string(::getpid()));
    fs::remove_all(dir);
    fs::create_directories(dir);
    std::ofstream(dir / "single.yaml") << without_stop_rule(
        read_all(kSource / "config/experiments" / split.experiment));
    Process p({kDira, "run", "single.yaml", "--out", "runs", "--json"}, dir, "single");
    REQUIRE(p.wait(120s) == 0);
    Reference r;
    r.report = json::parse(read_all(dir / "single.out"));
    const fs::path run = r.report["run_directory"].get<std::string>();
    r.trials = trials_of((run.is_absolute() ? run : dir / run) / "run.h5");
    if (fs::exists((run.is_absolute() ? run : dir / run) / "pef.json"))
      r.pef = json::parse(read_all((run.is_absolute() ? run : dir / run) / "pef.json"));
    fs::remove_all(dir);
    return r;
  }
}

/// The single-process run of config/experiments/sim-ks294.yaml (computed once).
const Reference& single_process() {
  static const Reference ref = single_process_run(ks294());
  return ref;
}

fs::path run_h5(const Stations& t, const json& report) {
  fs::path d = report["run_directory"].get<std::string>();
  return (d.is_absolute() ? d : t.dir / d) / "run.h5";
}

void same_trials(const std::vector<protocol::Trial>& a, const std::vector<protocol::Trial>& b) {
  REQUIRE(a.size() == b.size());
  std::size_t differ = 0;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (a[i].index != b[i].index || a[i].u != b[i].u || a[i].x != b[i].x || a[i].device != b[i].device) ++differ;
  CHECK(differ == 0);
}

void same_decision(const json& single, const json& merged) {
  CHECK(merged["state"] == single["state"]);
  CHECK(merged["decision"] == single["decision"]);
  CHECK(merged["decision"] == single["decision"]);
  CHECK(merged["trials_recorded"] == single["trials_recorded"]);
  CHECK(merged["analysis"] == single["analysis"]);
  CHECK(merged["assembly"] == single["assembly"]);
  CHECK(merged["setting_bits"] == single["setting_bits"]);
  CHECK(merged["certified_bits"] == single["certified_bits"]);
  CHECK(merged.contains("output_sha256") == single.contains("output_sha256"));
  CHECK(merged.value("output_sha256", "") == single.value("output_sha256", ""));
}

}  // namespace

TEST_CASE(
    "two stations + coordinator (ks294): trials, decision and statistics identical to one process, with "
    "clock offsets of ±1 ms and different delays",
    "[station][run]") {
  const auto& ref = single_process();
  REQUIRE(ref.trials.size() == 200000);
  StationOptions alice, bob;
  alice.clock_offset_ps = 1'000'000'000;  // +1 ms
  bob.clock_offset_ps = -1'000'000'000;   // −1 ms
  bob.send_delay_ms = 40;                 // bob's blocks arrive 40 ms late
  Stations t("merge", {alice, bob}, 10000, ks294(), Form::shipped);
  const json report = t.run_all();
  same_decision(ref.report, report);
  same_trials(ref.trials, trials_of(run_h5(t, report)));
  // report.json's health record (station/health.hpp), taken at the end: both ended, nothing
  // rejected or left behind, bob's clock measured 2 ms behind alice's.
  REQUIRE(report.contains("stations"));
  REQUIRE(report["stations"].size() == 2);
  for (std::size_t s = 0; s < 2; ++s) {
    const json& r = report["stations"][s];
    CHECK(r["station"] == t.names[s]);
    CHECK(r["state"] == "ended");
    CHECK(r["tags_received"] == r["tags_acquired"]);  // everything acquired arrived
    CHECK(r["backlog_tags"] == 0);
    CHECK(r["unmerged_tags"] == 0);
    // A link that never dropped needed no backfill and refused nothing. On a starved machine a
    // process can miss two heartbeats (400 ms) and reconnect: then the station backfilled from
    // its file, and the checks above and the identical trials are what shows nothing was lost.
    if (r["drops"] == 0 && r["reconnects"] == 0) {
      CHECK(r["backfill"] == "none");
      CHECK(r["rejected_frames"] == 0);
    } else {
      CHECK(r["backfill"] == "complete");
    }
  }
  CHECK(report["stations"][1]["clock_offset_ps"] == -2'000'000'000);
}

TEST_CASE(
    "a station killed with SIGKILL is reported lost within 2 heartbeats — restarted, it backfills from its file "
    "and no trial is missing",
    "[station][run][faults]") {
  const auto& ref = single_process();
  StationOptions slow;
  slow.pace = 0.1;  // 200 000 trials of 1 µs in about 2 s of real time
  Stations t("kill", {slow, slow}, 20000);
  auto c = t.coordinator();
  auto a = t.station("alice");
  auto b = t.station("bob");
  // Killed mid-run, once its record holds something.
  t.kill_once_recorded(*b, "bob", 100'000);
  std::this_thread::sleep_for(600ms);
  // Reported: silent for more than two heartbeats (100 ms each), checked every 10 ms.
  const std::string clog = t.log("coordinator");
  const auto lost = clog.find("station bob lost: no message for ");
  REQUIRE(lost != std::string::npos);
  // Declared lost once silent for more than 2 heartbeats (200 ms), checked every 10 ms: the
  // silence it reports is 200–230 ms (a little more on a loaded machine).
  const int silent_ms = std::stoi(clog.substr(lost + std::string("station bob lost: no message for ").size()));
  CHECK(silent_ms >= 200);
  CHECK(silent_ms < 300);
  b = t.station("bob");  // the same station file and record: it continues its stream
  REQUIRE(c->wait(90s) == 0);
  check_station_ends(*a, t, "alice");
  check_station_ends(*b, t, "bob");
  CHECK(t.log("coordinator").find("station bob is back") != std::string::npos);
  CHECK(t.log("bob").find("the stream continues after them") != std::string::npos);
  const json report = t.report();
  same_decision(ref.report, report);
  same_trials(ref.trials, trials_of(run_h5(t, report)));
  const json health = json::parse(read_all(t.dir / "health.json"));
  CHECK(health[1]["drops"] == 1);
  CHECK(health[1]["reconnects"] == 1);
  // Whether bob's file held blocks the coordinator had not received when it was killed is a
  // race (it records, then sends); either way nothing is left to backfill at the end.
  const json& bob = report["stations"][1];
  CHECK(bob["drops"] == 1);
  CHECK((bob["backfill"] == "none" || bob["backfill"] == "complete"));
  CHECK(bob["backfill_blocks_left"] == 0);
  CHECK(bob["backlog_tags"] == 0);
}

TEST_CASE("a station stopped (SIGSTOP) longer than the allowed time ends the run as a hardware fault, data kept",
          "[station][run][faults]") {
  StationOptions slow;
  slow.pace = 0.05;
  Stations t("stop", {slow, slow}, 1500);
  auto c = t.coordinator();
  auto a = t.station("alice");
  auto b = t.station("bob");
  // Stopped mid-run, once both records hold data.
  t.wait_until_recorded(t.names, 300'000);
  std::this_thread::sleep_for(300ms);
  b->signal(SIGSTOP);
  const int rc = c->wait(60s);
  b->signal(SIGCONT);
  CHECK(rc == 4);
  const json report = t.report();
  CHECK(report["state"] == "hardware-fault");
  CHECK(report.value("fault", "").find("station bob has been away") != std::string::npos);
  const auto kept = trials_of(run_h5(t, report));
  CHECK(kept.size() > 0);
  CHECK(kept.size() < 200000);
  CHECK(report["trials_recorded"] == kept.size());
  check_station_ends(*a, t, "alice");
  (void)b->wait(20s);
}

TEST_CASE("two stations + coordinator (CHSH, Protocol C): certified output identical to one process",
          "[station][run]") {
  const Reference ref = single_process_run(chsh());
  REQUIRE(ref.report["certified_bits"].get<std::uint64_t>() > 0);  // the comparison is worth making
  StationOptions alice, bob;
  // Station 0's clock is the merged stream's time axis; like any tagger's it starts at ≥ 0.
  alice.clock_offset_ps = 1'000'000'000;
  bob.clock_offset_ps = -1'000'000'000;
  alice.send_delay_ms = 25;
  Stations t("chsh", {alice, bob}, 10000, chsh());
  const json report = t.run_all();
  same_decision(ref.report, report);
  CHECK(report["output_sha256"] == ref.report["output_sha256"]);
  same_trials(ref.trials, trials_of(run_h5(t, report)));
  // The PEF was chosen from the same model: pef.json's factors are the same.
  const fs::path run = fs::path(report["run_directory"].get<std::string>());
  const json pef = json::parse(read_all((run.is_absolute() ? run : t.dir / run) / "pef.json"));
  CHECK(pef["pefs"] == ref.pef["pefs"]);
  CHECK(pef["run"]["model"] == ref.pef["run"]["model"]);
}

TEST_CASE("four stations + coordinator (guehne4, Protocol A): trials, decision and statistics identical to one process",
          "[station][run]") {
  const Reference ref = single_process_run(guehne4());
  REQUIRE(ref.trials.size() == 64000);
  std::vector<StationOptions> o(4);
  o[1].clock_offset_ps = -1'000'000'000;
  o[2].clock_offset_ps = 1'000'000'000;
  o[3].send_delay_ms = 30;
  Stations t("guehne4", o, 10000, guehne4());
  const json report = t.run_all();
  same_decision(ref.report, report);
  same_trials(ref.trials, trials_of(run_h5(t, report)));
}

TEST_CASE("dira station: a bad station file is a configuration error (exit 2) naming file, line, column and key",
          "[station][cli]") {
  const StationFileCheck f("station-cli");
  const auto& head = f.head;
  const auto& dir = f.dir;
  const auto run = [&](const std::string& name, const std::string& text) {
    const auto o = f.run(name, text);
    return std::make_pair(o.exit_code, o.err);
  };
  {
    const auto [rc, err] = run("bad-number.yaml", head + "heartbeat_ms: often\ntagger: {driver: sim}\n");
    CHECK(rc == 2);
    CHECK(err.find("bad-number.yaml:10:15: heartbeat_ms: expected an integer, got 'often'") != std::string::npos);
  }
  {
    const auto [rc, err] = run("bad-driver.yaml", head + "tagger: {driver: nosuch}\n");
    CHECK(rc == 2);
    CHECK(err.find("tagger.driver: no time_tagger driver 'nosuch'") != std::string::npos);
  }
  {
    const auto [rc, err] = run("bad-setting.yaml", head + "tagger: {driver: sim, settings: {visibility: 2}}\n");
    CHECK(rc == 2);
    CHECK(err.find("tagger.settings.visibility") != std::string::npos);
  }
  {
    // The secret key readable by others: refused before anything runs.
    fs::permissions(dir / "keys/alice.key", fs::perms::group_read, fs::perm_options::add);
    const auto [rc, err] = run("open-key.yaml", head + "tagger: {driver: sim}\n");
    CHECK(rc == 2);
    CHECK(err.find("open-key.yaml:5:6: key: ") != std::string::npos);
    CHECK(err.find("chmod 600") != std::string::npos);
  }
  {
    Process p({kDira, "keygen", "keys/alice"}, dir, "keygen-again");
    CHECK(p.wait(20s) == 2);  // never overwritten
  }
}

// Issue 10 item 6: a station file reports every problem at once (not the first only), and its
// driver settings are judged by the registry's one validate — the messages `dira run` and the
// GUI give — each at its own line and column. The positions are counted by hand in the texts below.
TEST_CASE("dira station: every problem of a station file at once, driver settings judged by the driver's declarations",
          "[station][cli]") {
  const StationFileCheck f("station-issues");
  const auto& head = f.head;
  const auto& dir = f.dir;
  const auto run = [&](const std::string& name, const std::string& text, bool as_json = false) {
    const auto o = f.run(name, text, as_json);
    return std::make_tuple(o.exit_code, o.err, o.out);
  };
  SECTION("a bad station key and two refused driver settings: all three, in file order, nothing opened") {
    // ptu declares `records` read-only (it comes from the file's header) and block_records ≥ 1.
    const auto [rc, err, out] = run("three.yaml", head +
                                                      "heartbeat_ms: often\n"     // line 10
                                                      "tagger:\n"                 // 11
                                                      "  driver: ptu\n"           // 12
                                                      "  settings:\n"             // 13
                                                      "    records: 5\n"          // 14
                                                      "    block_records: 0\n");  // 15
    CHECK(rc == 2);
    const auto a = err.find("three.yaml:10:15: heartbeat_ms: expected an integer, got 'often'");
    const auto b = err.find("three.yaml:14:5: tagger.settings.records: read-only (driver 'ptu'");
    const auto c = err.find("three.yaml:15:20: tagger.settings.block_records: 0 out of range [1,");
    CHECK(a != std::string::npos);
    CHECK(b != std::string::npos);
    CHECK(c != std::string::npos);
    CHECK((a < b && b < c));
    CHECK(!fs::exists(dir / "alice.tags"));
  }
  SECTION("issues of the sim driver's declarations, a missing key file, an unknown key and a party: all reported") {
    const std::string text =
        "station: alice\ncoordinator:\n  endpoint: tcp://127.0.0.1:9\n  public_key: keys/coordinator.pub\n"
        "key: keys/nobody.key\n"  // line 5: no such file
        "record: alice.tags\nsettings_for: [0, 1]\ninequality: ks294\ntrials: 10\n"
        "hartbeat_ms: 100\n"  // 10: misspelt
        "tagger:\n  driver: sim\n"
        "  settings: {seed: 3, visibilty: 0.9, efficiency: 2, station_layout: diagonal}\n"  // 13
        "modulators:\n  - {party: 2, driver: usbtmc-awg, settings: {resource: fake}}\n";    // 15
    const auto [rc, err, out] = run("many.yaml", text, true);
    CHECK(rc == 2);
    CHECK(err.find("many.yaml:5:6: key: ") != std::string::npos);
    CHECK(err.find("many.yaml:10:1: hartbeat_ms: unknown key; did you mean `heartbeat_ms`?") != std::string::npos);
    CHECK(err.find("many.yaml:13:23: tagger.settings.visibilty: unknown setting of driver 'sim'") != std::string::npos);
    CHECK(err.find("did you mean `visibility`?") != std::string::npos);
    CHECK(err.find("many.yaml:13:51: tagger.settings.efficiency: 2 out of range [0, 1]") != std::string::npos);
    CHECK(err.find("many.yaml:13:70: tagger.settings.station_layout: 'diagonal' is not one of: shared, per_party") !=
          std::string::npos);
    CHECK(err.find("many.yaml:15:13: modulators[0].party: party 2 is not in settings_for") != std::string::npos);
    // --json: the same issues, one object each.
    const json j = json::parse(out);
    CHECK(j["exit_code"] == 2);
    REQUIRE(j["issues"].size() == 6);
    CHECK(j["issues"][0]["line"] == 5);
    CHECK(j["issues"][5]["key"] == "modulators[0].party");
  }
  SECTION("a plain YAML scalar is read in the form the driver declares: 1 is a real, 1e3 an integer") {
    // Accepted: the station then waits for a coordinator that is not there, briefly (not a config error).
    const auto [rc, err, out] =
        run("forms.yaml", head +
                              "coordinator_timeout_ms: 200\ntagger:\n  driver: sim\n  settings: {seed: 3, visibility: "
                              "1, efficiency: 1.0, station_layout: per_party, station: 0, block_trials: 1e3}\n");
    CHECK(err.find("invalid station file") == std::string::npos);
    CHECK(err.find("no coordinator answered") != std::string::npos);
    CHECK(rc == 4);  // accepted (not 2); no coordinator, so no run: a hardware fault, not "complete"
  }
}

TEST_CASE(
    "a station restarted with an apparatus that does not reproduce its record is a hardware fault, not a "
    "silent splice",
    "[station][run][faults]") {
  StationOptions slow;
  slow.pace = 0.1;
  // The older devices: spelling of the stations, kept working (docs/stations.md).
  Stations t("splice", {slow, slow}, 20000, ks294(), Form::devices);
  auto c = t.coordinator();
  auto a = t.station("alice");
  auto b = t.station("bob");
  // Killed once its record holds something to compare with.
  t.kill_once_recorded(*b, "bob", 100'000);
  // Bob comes back with another seed: its regenerated stream differs from its record.
  std::string text = read_all(t.dir / "bob.yaml");
  text.replace(text.find("seed: 3"), 7, "seed: 4");
  std::ofstream(t.dir / "bob.yaml") << text;
  b = t.station("bob");
  CHECK(b->wait(60s) == 4);
  CHECK(t.log("bob").find("does not reproduce the stream its record holds") != std::string::npos);
  CHECK(c->wait(60s) == 4);
  CHECK(t.report()["state"] == "hardware-fault");
  check_station_ends(*a, t, "alice");
}

TEST_CASE(
    "the coordinator killed with SIGKILL mid-run: dira analyze --stations rebuilds the run from the stations' "
    "records, trials and decision identical to an uninterrupted run",
    "[station][run][faults][rebuild]") {
  const auto& ref = single_process();
  StationOptions slow;
  slow.pace = 0.1;  // 200 000 trials of 1 µs in about 2 s of real time
  Stations t("rebuild", {slow, slow}, 20000);
  // Every setting is sent before the trials (look-ahead = the run), so the stations can finish
  // their trials without the coordinator; with a shorter look-ahead they would stop where
  // their settings end, and the rebuild would hold only those trials.
  std::ofstream(t.dir / "coordinator.yaml", std::ios::app) << "devices: {scheduler: {lookahead: 200000}}\n";
  auto c = t.coordinator();
  auto a = t.station("alice");
  auto b = t.station("bob");
  t.wait_until_recorded(t.names, 200'000);
  REQUIRE(t.recorded("bob", 200'000));
  c->signal(SIGKILL);
  CHECK(c->wait(5s) == -2);
  // The stations record to the end of their trials (or stop acquiring: settings from a coordinator
  // that is gone cannot come), then give up on the coordinator (coordinator_timeout_ms: 5000 in
  // their files) and end by themselves; they used to wait forever for settings under load.
  CHECK(a->wait(30s) == 0);
  CHECK(b->wait(30s) == 0);
  CHECK(!t.report_exists());  // the coordinator never wrote its report
  // The crashed run's directory holds its config.yaml.
  std::vector<fs::path> runs;
  for (const auto& e : fs::directory_iterator(t.dir / "runs")) runs.push_back(e.path());
  REQUIRE(runs.size() == 1);
  Process rb({kDira, "analyze", runs[0].string(), "--stations", t.dir.string(), "--out", "rebuilt", "--json"}, t.dir,
             "rebuild");
  REQUIRE(rb.wait(120s) == 0);
  const json rebuilt = json::parse(read_all(t.dir / "rebuild.out"));
  same_decision(ref.report, rebuilt);
  CHECK(rebuilt["rebuilt_from_stations"].size() == 2);
  CHECK(rebuilt["analyze"]["decision"] == ref.report["decision"]);
  CHECK(rebuilt["analyze"]["reproduces_live_decision"] == true);
  fs::path d = rebuilt["run_directory"].get<std::string>();
  same_trials(ref.trials, trials_of((d.is_absolute() ? d : t.dir / d) / "run.h5"));

  // --help and --json errors.
  Process help({kDira, "analyze", "--help"}, t.dir, "help");
  CHECK(help.wait(20s) == 0);
  CHECK(read_all(t.dir / "help.out").find("--stations") != std::string::npos);
  Process wrong({kDira, "analyze", runs[0].string(), "--stations", (t.dir / "alice.tags").string(), "--json"}, t.dir,
                "wrong");
  CHECK(wrong.wait(20s) == 2);
  const json err = json::parse(read_all(t.dir / "wrong.out"));
  CHECK(err["error"].get<std::string>().find("1 records for the experiment's 2 stations") != std::string::npos);
}

TEST_CASE("the GUI's view: a run's progress snapshots carry every station's health (app::Progress::stations)",
          "[station][run][health]") {
  StationOptions slow;
  slow.pace = 0.1;  // about 2 s of acquisition: many snapshots
  Stations t("progress", {slow, slow});
  // The stations as processes, the coordinator in this process, as the GUI runs it.
  auto a = t.station("alice");
  auto b = t.station("bob");
  const app::ExperimentConfig cfg = app::load_experiment_file(t.dir / "coordinator.yaml");
  app::RunOptions o;
  o.out = t.dir / "runs";
  o.progress_interval_s = 0.05;
  std::vector<std::vector<station::StationHealth>> seen;
  o.progress = [&](const app::Progress& p) { seen.push_back(p.stations); };
  const app::RunResult r = app::run_experiment(cfg, o);
  CHECK(r.state == "completed");
  check_station_ends(*a, t, "alice");
  check_station_ends(*b, t, "bob");
  REQUIRE(seen.size() > 3);
  bool streaming = false;
  for (const auto& s : seen) {
    REQUIRE(s.size() == 2);
    CHECK(s[0].name == "alice");
    CHECK(s[1].name == "bob");
    if (s[0].link == station::LinkState::connected && s[0].tag_rate > 0 && s[1].tag_rate > 0 &&
        s[0].heartbeat_age_s >= 0 && s[0].heartbeat_age_s < 1)
      streaming = true;
  }
  CHECK(streaming);
  // The last snapshot ("done") is after both streams ended: nothing left behind.
  CHECK(seen.back()[0].link == station::LinkState::ended);
  CHECK(seen.back()[1].backlog_tags == 0);
  CHECK(seen.back()[1].tags == seen.back()[1].station_tags);
  CHECK(station::station_health().empty());  // the run's hub is gone with its devices
}

namespace {

/// Random bytes from a fixed seed (splitmix64): the weak source's bits in the hardware-chosen test.
std::string seeded_bytes(std::size_t n, std::uint64_t seed) {
  std::string s(n, '\0');
  for (auto& b : s) {
    std::uint64_t z = (seed += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    b = static_cast<char>((z ^ (z >> 31)) & 0xFF);
  }
  return s;
}

/// Bit k of a byte string, most significant bit of each byte first (the `file` driver's order).
int bit_of(const std::string& bytes, std::uint64_t k) {
  return (static_cast<unsigned char>(bytes[static_cast<std::size_t>(k / 8)]) >> (7 - k % 8)) & 1;
}

/// The experiment text with its weak_source: block replaced by `with` (one line).
std::string with_weak_source(std::string text, const std::string& with) {
  const auto at = text.find("weak_source:");
  REQUIRE(at != std::string::npos);
  auto end = text.find('\n', at);
  while (end != std::string::npos && end + 1 < text.size() && text[end + 1] == ' ') end = text.find('\n', end + 1);
  text.replace(at, (end == std::string::npos ? text.size() : end) - at, with);
  return text;
}

std::uint64_t purpose_bits(const json& report, const char* purpose) {
  const json& by = report["analysis"]["ledger"]["by_purpose"];
  return by.contains(purpose) ? by[purpose].get<std::uint64_t>() : 0;
}

}  // namespace

// settings_chosen_by: hardware with stations (docs/stations.md, "Hardware-chosen settings"):
// each station's own weak source (here a bit file, standing in for a physical source wired to
// its modulators) chooses the settings; its tagger reports them on the setting echo; the
// coordinator sends no settings, reads them from the echoes and records them in its ledger as
// observed bits. The comparison is the issue 10 one: the same bits drawn by dira in one process
// (ONE file: the setting bits, then the box-choice bits), against stations whose sources hold
// the setting part and a coordinator whose weak source holds the rest. Independent expectation:
// trial i's setting of party p is bit 4i + p of the setting part (read here, not by dira:
// draw_setting_guehne takes 4 bits per trial, the first for party 0; each station draws one bit
// per party of settings_for, in order) — so the merged trials, the decision, the box choice and
// the ledger's counts (setting bits drawn = bits observed) must be the single-process run's.
TEST_CASE(
    "four stations choosing their own settings (settings_chosen_by: hardware, guehne4): trials, decision and ledger "
    "counts identical to one process drawing the same bits",
    "[station][run][hardware_settings]") {
  constexpr std::uint64_t kTrials = 64000;
  constexpr std::uint64_t kSettingBits = 4 * kTrials;
  const std::string setting_part = seeded_bytes(kSettingBits / 8, 21);
  const std::string after_part = seeded_bytes(4096, 22);
  const std::string file_source = "{driver: file, settings: {path: %s, epsilon: 0.01}}";
  auto source = [&](const std::string& path) {
    std::string s = file_source;
    return s.replace(s.find("%s"), 2, path);
  };

  // One process, dira drawing every bit from one file (settings first).
  Reference ref;
  {
    const fs::path dir = fs::temp_directory_path() / ("dira-station-run-single-hw-" + std::to_string(::getpid()));
    fs::remove_all(dir);
    fs::create_directories(dir);
    std::ofstream(dir / "weak.bin", std::ios::binary) << setting_part << after_part;
    std::ofstream(dir / "single.yaml") << with_weak_source(read_all(kSource / "config/experiments/sim-guehne4.yaml"),
                                                           "weak_source: " + source("weak.bin"));
    Process p({kDira, "run", "single.yaml", "--out", "runs", "--json"}, dir, "single");
    REQUIRE(p.wait(120s) == 0);
    ref.report = json::parse(read_all(dir / "single.out"));
    const fs::path run = ref.report["run_directory"].get<std::string>();
    ref.trials = trials_of((run.is_absolute() ? run : dir / run) / "run.h5");
    fs::remove_all(dir);
  }
  REQUIRE(ref.trials.size() == kTrials);
  REQUIRE(purpose_bits(ref.report, "setting") == kSettingBits);

  // Four stations, each with its own source; the coordinator's weak source holds the rest.
  std::vector<StationOptions> o(4);
  o[1].clock_offset_ps = -1'000'000'000;
  o[2].clock_offset_ps = 1'000'000'000;
  o[3].send_delay_ms = 30;
  Stations t("hw-guehne4", o, 10000, guehne4());
  std::ofstream(t.dir / "settings.bin", std::ios::binary) << setting_part;
  std::ofstream(t.dir / "after.bin", std::ios::binary) << after_part;
  for (const auto& n : t.names)
    std::ofstream(t.dir / (n + ".yaml"), std::ios::app) << "settings_source: " << source("settings.bin") << "\n";
  {
    std::string text = with_weak_source(read_all(t.dir / "coordinator.yaml"), "weak_source: " + source("after.bin"));
    std::ofstream(t.dir / "coordinator.yaml") << text << "devices: {settings_chosen_by: hardware}\n";
  }
  const json report = t.run_all();
  INFO(report.dump(2));

  CHECK(report["settings_delivery"]["mode"] == "hardware-chosen");
  CHECK(report["settings_delivery"]["bits_observed"] == kSettingBits);
  CHECK(report["state"] == ref.report["state"]);
  CHECK(report["decision"] == ref.report["decision"]);
  CHECK(report["trials_recorded"] == kTrials);
  CHECK(report["analysis"]["chosen_boxes"] == ref.report["analysis"]["chosen_boxes"]);
  CHECK(report["analysis"]["z_k"] == ref.report["analysis"]["z_k"]);
  // The ledger: dira's setting bits are the stations' observed bits; the box choice is the same.
  CHECK(purpose_bits(report, "observed_setting") == kSettingBits);
  CHECK(purpose_bits(report, "setting") == 0);
  CHECK(purpose_bits(ref.report, "observed_setting") == 0);
  CHECK(purpose_bits(ref.report, "box_choice") > 0);
  CHECK(purpose_bits(report, "box_choice") == purpose_bits(ref.report, "box_choice"));

  const auto merged = trials_of(run_h5(t, report));
  same_trials(ref.trials, merged);
  std::uint64_t wrong_setting = 0;
  for (std::size_t i = 0; i < merged.size(); ++i)
    for (std::size_t p = 0; p < 4; ++p)
      if (merged[i].u[p] != bit_of(setting_part, 4 * i + p)) ++wrong_setting;
  CHECK(wrong_setting == 0);
  // No settings went over the links: the stations said they choose their own.
  for (const auto& n : t.names) CHECK(t.log(n).find("refused settings from the coordinator") == std::string::npos);
}

TEST_CASE(
    "a station choosing its own settings under a coordinator that has dira choose them is a hardware fault naming "
    "the station, not trials with settings nobody applied",
    "[station][run][hardware_settings][faults]") {
  Stations t("own-vs-dira", {StationOptions{}, StationOptions{}});
  std::ofstream(t.dir / "bits.bin", std::ios::binary) << seeded_bytes(1 << 16, 5);
  std::ofstream(t.dir / "bob.yaml", std::ios::app)
      << "settings_source: {driver: file, settings: {path: bits.bin, epsilon: 0.01}}\n";
  auto c = t.coordinator();
  auto a = t.station("alice");
  auto b = t.station("bob");
  CHECK(c->wait(60s) == 4);
  const json report = t.report();
  CHECK(report["state"] == "hardware-fault");
  CHECK(report.value("fault", "").find("station bob chooses party 0's settings with its own source") !=
        std::string::npos);
  CHECK(report["trials_recorded"] == 0);
  (void)a->wait(20s);
  (void)b->wait(20s);
}

// The mirror case (docs/stations.md): the experiment has the hardware choose the settings, but a
// station has no source of its own and waits for settings from the coordinator — which sends none.
// It used to stall forever (stations connected, heartbeats flowing, no trial); now the run ends
// at once as a hardware fault naming the station, before the first trial.
TEST_CASE(
    "a station waiting for settings under a coordinator whose settings the hardware chooses is a hardware fault "
    "naming the station, not a run that stalls",
    "[station][run][hardware_settings][faults]") {
  // guehne4: one bit per party and trial, which hardware-chosen settings need (ks294's nine
  // settings are refused as a config error before any station is asked).
  Stations t("dira-vs-own", std::vector<StationOptions>(4), 10000, guehne4());
  {
    std::string text = read_all(t.dir / "coordinator.yaml");
    std::ofstream(t.dir / "coordinator.yaml") << text << "devices: {settings_chosen_by: hardware}\n";
  }
  auto run = t.start_all();
  CHECK(run.coordinator->wait(60s) == 4);
  const json report = t.report();
  INFO(report.dump(2));
  CHECK(report["state"] == "hardware-fault");
  CHECK(report.value("fault", "")
            .find("'s settings from the coordinator, but this experiment has the hardware "
                  "choose them") != std::string::npos);
  CHECK(report["trials_recorded"] == 0);
  for (auto& p : run.stations) (void)p->wait(20s);
}
