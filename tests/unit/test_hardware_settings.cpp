// Hardware-chosen settings end to end (issue 10, item 2 and its test list): a physical weak
// source wired to the modulators chooses each party's setting, the tagger reports it on the
// setting-echo channels, the ledger records those bits as observed, and the bits drawn after
// the outputs are fixed (Protocol A's box choice) come from a second, recorded stream.
//
// The comparison is with the same bits drawn by dira: ONE file holding the setting bits and then
// the box-choice bits, settings drawn through the ledger (draw_setting_guehne: 4 bits per trial,
// bit p = party p's setting, seed 000 Fig. 2 step 1) and pushed to fake modulators. The
// hardware run gets the setting part as the fake tagger's own bit stream and the rest as its
// weak_source file. Independent expectations: trial i's settings are bits 4i … 4i+3 of the file
// (read here, not by dira), the setting bits number 4 per trial, and the fake box is a
// deterministic function satisfying every parity constraint of guehne4 (eq. 7: parity 1 on U0,
// 0 on U1), so B = 0 on every valid run and Z_k = 0 ≤ threshold: both runs accept.
#include "fake_apparatus.hpp"

#include "dira/app/experiment.hpp"
#include "dira/app/run_file.hpp"
#include "dira/app/session.hpp"
#include "dira/drivers/register.hpp"
#include "dira/sim/register.hpp"

#include <catch2/catch.hpp>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

using namespace dira;

namespace {

std::filesystem::path scratch(const std::string& name) {
  auto d =
      std::filesystem::temp_directory_path() / ("dira-test-hw-settings-" + name + "-" + std::to_string(::getpid()));
  std::filesystem::remove_all(d);
  std::filesystem::create_directories(d);
  return d;
}

std::string random_bytes(std::size_t n, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::string s(n, '\0');
  for (auto& b : s) b = static_cast<char>(rng() & 0xff);
  return s;
}

/// Bit k of a byte string, most significant bit of each byte first (the file driver's order).
bool bit_of(const std::string& bytes, std::uint64_t k) {
  return ((static_cast<unsigned char>(bytes[static_cast<std::size_t>(k / 8)]) >> (7 - k % 8)) & 1u) != 0;
}

std::string read_all(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream os;
  os << in.rdbuf();
  return os.str();
}

/// A non-local fake box for guehne4 (one box for all four parties): x0, x1, x2 pseudo-random
/// per trial, x3 fixing the parity to 1 when u has weight 1 (U0) and 0 otherwise (U1 has weight 3).
void parity_box(std::uint64_t trial, const std::array<std::uint8_t, protocol::kMaxParties>& u,
                std::array<std::uint8_t, protocol::kMaxParties>& x) {
  std::uint64_t z = trial * 0x9E3779B97F4A7C15ull + 0x632BE59BD9B4E019ull;  // splitmix64 step
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  z ^= z >> 31;
  const int weight = u[0] + u[1] + u[2] + u[3];
  x[0] = static_cast<std::uint8_t>(z & 1u);
  x[1] = static_cast<std::uint8_t>((z >> 1) & 1u);
  x[2] = static_cast<std::uint8_t>((z >> 2) & 1u);
  x[3] = static_cast<std::uint8_t>(x[0] ^ x[1] ^ x[2] ^ (weight == 1 ? 1 : 0));
}

constexpr std::uint64_t kTrials = 32 * 2000;  // sim-guehne4: k = 32 devices, m = 2000 uses each
constexpr std::uint64_t kSettingBits = 4 * kTrials;
constexpr std::size_t kAfterBytes = 4096;  // box-choice bits and more

/// sim-guehne4 on the fake apparatus (4 parties, echoes), weak source = driver file.
struct GuehneFakeRun {
  test::FakeLab lab;
  hal::DriverRegistry registry;
  app::ExperimentConfig config;
  app::RunOptions options;
  std::filesystem::path dir;

  GuehneFakeRun(const std::string& name, const std::string& weak_bytes) {
    dir = scratch(name);
    drivers::register_drivers(registry);
    sim::register_sim(registry);
    test::register_fake_apparatus(registry, lab);
    config = app::load_experiment_file(std::filesystem::path(DIRA_TEST_SOURCE_DIR) / "config" / "experiments" /
                                       "sim-guehne4.yaml");
    lab.parties = 4;
    lab.settings = 2;
    lab.outcomes = 2;
    config.simulator = {};
    config.devices.present = true;
    config.devices.tagger = {"fake-tagger", {}};
    config.devices.layout = lab.layout();  // with echo channels for every party
    std::ofstream(dir / "weak.bin", std::ios::binary) << weak_bytes;
    config.weak_source.driver = "file";
    config.weak_source.settings = {{"path", (dir / "weak.bin").string()}, {"epsilon", 0.01}};
    options.out = dir / "runs";
    options.registry = &registry;
  }
  ~GuehneFakeRun() { std::filesystem::remove_all(dir); }

  std::vector<protocol::Trial> trials(const app::RunResult& r, app::RunFileContents* contents = nullptr) const {
    std::vector<protocol::Trial> out;
    auto c = app::read_run_file(r.directory / "run.h5",
                                [&](std::span<const protocol::Trial> b) { out.insert(out.end(), b.begin(), b.end()); });
    if (contents) *contents = c;
    return out;
  }
};

std::uint64_t sum_bits(const std::vector<protocol::LedgerEntry>& ledger, protocol::BitPurpose purpose) {
  std::uint64_t n = 0;
  for (const auto& e : ledger)
    if (e.purpose == purpose) n += e.bit_count;
  return n;
}

}  // namespace

TEST_CASE("hardware-chosen settings: the same trials, decision and ledger counts as the same bits drawn by dira",
          "[pipeline][hardware_settings]") {
  const std::string settings_part = random_bytes(kSettingBits / 8, 11);
  const std::string after_part = random_bytes(kAfterBytes, 12);

  // dira draws: one file, settings then box choice; fake modulators apply the settings.
  GuehneFakeRun dira_run("dira", settings_part + after_part);
  dira_run.lab.box = parity_box;
  for (int p = 0; p < 4; ++p)
    dira_run.config.devices.modulators.push_back({"fake-modulator", {{"party", std::int64_t{p}}}});
  const auto rd = app::run_experiment(dira_run.config, dira_run.options);
  INFO("dira draws: " << rd.report.dump(2));
  REQUIRE(rd.exit_code == 0);

  // The hardware chooses: the tagger's own bits are the settings part; the weak source holds the rest.
  GuehneFakeRun hw_run("hardware", after_part);
  hw_run.lab.box = parity_box;
  for (std::uint64_t k = 0; k < kSettingBits; ++k) hw_run.lab.hardware_bits.push_back(bit_of(settings_part, k));
  hw_run.config.devices.hardware_chosen_settings = true;
  const auto rh = app::run_experiment(hw_run.config, hw_run.options);
  INFO("hardware chooses: " << rh.report.dump(2));
  REQUIRE(rh.exit_code == 0);

  CHECK(rd.report["decision"] == "accept");
  CHECK(rh.report["decision"] == rd.report["decision"]);
  CHECK(rh.report["settings_delivery"]["mode"] == "hardware-chosen");
  CHECK(rh.report["settings_delivery"]["bits_observed"] == kSettingBits);
  CHECK(rh.report["analysis"]["chosen_boxes"] == rd.report["analysis"]["chosen_boxes"]);
  CHECK(rh.report["analysis"]["z_k"] == 0);

  // The recorded trials, one by one: settings from the file's bits 4i … 4i+3, the same outcomes
  // and the same logical device (blocks of 2000).
  app::RunFileContents cd, ch;
  const auto td = dira_run.trials(rd, &cd);
  const auto th = hw_run.trials(rh, &ch);
  REQUIRE(td.size() == kTrials);
  REQUIRE(th.size() == kTrials);
  std::uint64_t differ = 0, wrong_setting = 0, wrong_device = 0;
  for (std::size_t i = 0; i < td.size(); ++i) {
    if (td[i].index != th[i].index || td[i].u != th[i].u || td[i].x != th[i].x || td[i].device != th[i].device)
      ++differ;
    for (std::size_t p = 0; p < 4; ++p)
      if (th[i].u[p] != (bit_of(settings_part, 4 * i + p) ? 1 : 0)) ++wrong_setting;
    if (th[i].device != i / 2000) ++wrong_device;
  }
  CHECK(differ == 0);
  CHECK(wrong_setting == 0);
  CHECK(wrong_device == 0);

  // Ledger counts, in the report: setting bits drawn by dira = bits observed on the echo; the
  // box-choice bits agree.
  const auto& ld = rd.report["analysis"]["ledger"]["by_purpose"];
  const auto& lh = rh.report["analysis"]["ledger"]["by_purpose"];
  CHECK(ld["setting"] == kSettingBits);
  CHECK(ld["observed_setting"] == 0);
  CHECK(lh["observed_setting"] == kSettingBits);
  CHECK(lh["setting"] == 0);
  CHECK(ld["box_choice"].get<std::uint64_t>() > 0);
  CHECK(lh["box_choice"] == ld["box_choice"]);

  // And in run.h5: the one ledger of each run, with every purpose. The box-choice bits start
  // where the settings end in dira's one stream, and at 0 in the hardware run's second stream.
  const std::uint64_t box_bits = ld["box_choice"].get<std::uint64_t>();
  CHECK(sum_bits(cd.ledger, protocol::BitPurpose::setting) == kSettingBits);
  CHECK(sum_bits(cd.ledger, protocol::BitPurpose::box_choice) == box_bits);
  CHECK(sum_bits(ch.ledger, protocol::BitPurpose::observed_setting) == kSettingBits);
  CHECK(sum_bits(ch.ledger, protocol::BitPurpose::box_choice) == box_bits);
  CHECK(sum_bits(ch.ledger, protocol::BitPurpose::setting) == 0);
  for (const auto& e : cd.ledger)
    if (e.purpose == protocol::BitPurpose::box_choice) CHECK(e.first_bit >= kSettingBits);
  for (const auto& e : ch.ledger)
    if (e.purpose == protocol::BitPurpose::box_choice) CHECK(e.first_bit < box_bits);

  // sv_bits.bin (the bits after the settings) is the same in both runs: the head of after_part.
  const std::string sd = read_all(rd.directory / "sv_bits.bin");
  const std::string sh = read_all(rh.directory / "sv_bits.bin");
  CHECK(sd.size() == (box_bits + 7) / 8);
  CHECK(sh == sd);
  std::uint64_t mismatched = 0;
  for (std::uint64_t k = 0; k < box_bits && k / 8 < sd.size(); ++k)
    if (bit_of(sd, k) != bit_of(after_part, k)) ++mismatched;
  CHECK(mismatched == 0);
}

TEST_CASE("hardware-chosen settings: Protocol B, no echoes, or modulators are configuration errors naming the key",
          "[pipeline][hardware_settings][config]") {
  const std::string layout_with_echoes = R"(
  layout:
    sync_channel: 1
    sync_period_ps: 1000000
    detection_offset_ps: 10000
    detection_width_ps: 2000
    echo_offset_ps: 5000
    echo_width_ps: 1000
)";
  auto guehne = [](const std::string& devices) {
    return std::string(R"(name: hw
inequality: guehne4
protocol:
  kind: A
  demonstration: true
  epsilon: 0.01
  delta: 0.2
  mu: 0.3
  devices: 2
  uses_per_device: 100
weak_source:
  kind: iid
  bias: 0.01
devices:
  tagger: {driver: ptu, settings: {file: /nonexistent.ptu}}
  settings_chosen_by: hardware
)") + devices;
  };
  const std::string det4 = "    detectors: [[2, 3], [22, 23], [42, 43], [62, 63]]\n";
  const std::string echo4 = "    echoes: [[4, 5], [24, 25], [44, 45], [64, 65]]\n";
  auto message = [](const std::string& yaml) -> std::string {
    try {
      app::load_experiment_text(yaml, "hw.yaml");
    } catch (const app::ConfigError& e) {
      return e.what();
    }
    return "";
  };

  SECTION("Protocol A with echoes and no modulators loads (the control)") {
    const auto c = app::load_experiment_text(guehne(layout_with_echoes + det4 + echo4), "hw.yaml");
    CHECK(c.devices.hardware_chosen_settings);
    CHECK(c.devices.layout.parties.size() == 4);
  }
  SECTION("without echoes") {
    const auto m = message(guehne(layout_with_echoes + det4));
    CHECK_THAT(m, Catch::Contains("devices.settings_chosen_by") && Catch::Contains("echo"));
  }
  SECTION("with modulators") {
    const auto m = message(guehne(layout_with_echoes + det4 + echo4 + R"(  modulators:
    - {driver: usbtmc-awg, settings: {resource: fake, profile: awg-generic}}
    - {driver: usbtmc-awg, settings: {resource: fake, profile: awg-generic}}
    - {driver: usbtmc-awg, settings: {resource: fake, profile: awg-generic}}
    - {driver: usbtmc-awg, settings: {resource: fake, profile: awg-generic}}
)"));
    // The issue names the key to remove (devices.modulators) and says why: hardware-chosen settings.
    CHECK_THAT(m, Catch::Contains("devices.modulators") && Catch::Contains("hardware-chosen"));
  }
  SECTION("Protocol B") {
    const std::string yaml = R"(name: hw-b
inequality: ks294
protocol:
  kind: B
  demonstration: true
  epsilon: 0.01
  trials: 1000
  delta: 0.01
  mu1: 0.0005
  u_star: [0, 1]
  x_star: [0, 2]
weak_source:
  kind: iid
  bias: 0.01
devices:
  tagger: {driver: ptu, settings: {file: /nonexistent.ptu}}
  settings_chosen_by: hardware
)" + layout_with_echoes + "    detectors: [[2, 3, 4, 5], [22, 23, 24, 25]]\n" +
                             "    echoes: [[6, 7, 8, 9, 10, 11, 12, 13, 14], [26, 27, 28, 29, 30, 31, 32, 33, 34]]\n";
    const auto m = message(yaml);
    CHECK_THAT(m, Catch::Contains("devices.settings_chosen_by") && Catch::Contains("Protocol B"));
  }
}
