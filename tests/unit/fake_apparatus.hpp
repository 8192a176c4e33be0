#pragma once
// An in-process apparatus for the causality tests of the acquisition pipeline (issue 10): a
// free-running time tagger and one modulator per party sharing one event log. The tagger emits
// trial i's tags — sync, a click on detector 0, and the echo of the setting the party's
// modulator holds for trial i — whether or not that setting has arrived (a real apparatus does
// not wait); each emission and each arrival is stamped with a global event number, so a test
// can check that every modulator had trial i's setting before trial i's tags existed.
// In segment mode the tagger plays exactly the armed segment (plus `extra_per_segment`
// trials, to model an AWG that saw extra trigger edges), then a time_mark.
//
// Hardware-chosen settings (issue 10, item 2): with `hardware_bits` set, the tagger itself picks
// party p's setting of trial i as bit i·parties + p of that stream — one bit per party per trial,
// party 0 first, as a physical weak source wired to the modulators would — and emits it on the
// echo channels; no modulator is involved. `box` makes the clicks a function of the trial
// and every party's setting (one fake box for all parties, so it may be as non-local as a test
// needs); without it every party clicks on detector 0.
#include "dira/hal/device.hpp"
#include "dira/hal/registry.hpp"
#include "dira/hal/trial_assembly.hpp"

#include <algorithm>
#include <array>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <string>
#include <vector>

namespace dira::test {

struct FakeLab {
  static constexpr std::uint64_t kNever = std::numeric_limits<std::uint64_t>::max();
  int parties = 2;
  int settings = 2;
  int outcomes = 2;
  std::int64_t period_ps = 1'000'000;
  std::uint64_t trials_per_block = 1000;
  hal::SettingDelivery mode = hal::SettingDelivery::streaming;
  std::uint64_t segment_capacity = 0;
  std::uint64_t extra_per_segment = 0;        // segment mode: trials played past the armed segment
  std::uint64_t corrupt_echo_trial = kNever;  // this trial's echo (party 0) shows another setting
  std::vector<bool> hardware_bits;            // non-empty: the tagger chooses the settings from these bits (2 settings)
  using Outcomes = std::function<void(std::uint64_t trial, const std::array<std::uint8_t, protocol::kMaxParties>& u,
                                      std::array<std::uint8_t, protocol::kMaxParties>& x)>;
  Outcomes box;  // empty: detector 0 of every party clicks

  std::uint64_t clock = 0;                          // event counter
  std::vector<std::vector<std::uint64_t>> arrival;  // [party][trial] → event number
  std::vector<std::vector<std::uint8_t>> setting;   // [party][trial]
  std::vector<std::uint64_t> emitted;               // [trial] → event number
  std::uint64_t armed_end = 0;                      // segment mode: trials < armed_end may be played
  std::uint64_t arms = 0;
  std::uint64_t late = 0;  // trials emitted before some party's setting arrived

  int echo_channel(int p, int v) const { return 20 * p + 2 + outcomes + v; }
  void grow(std::uint64_t n) {
    arrival.resize(static_cast<std::size_t>(parties));
    setting.resize(static_cast<std::size_t>(parties));
    for (auto& a : arrival)
      if (a.size() < n) a.resize(n, kNever);
    for (auto& s : setting)
      if (s.size() < n) s.resize(n, 0);
    if (emitted.size() < n) emitted.resize(n, kNever);
  }
  /// Channel layout: sync 1; party p: detectors 20p+2 … (one per outcome), then its echoes.
  hal::TrialAssemblyConfig layout() const {
    hal::TrialAssemblyConfig c;
    c.sync_period_ps = period_ps;
    c.detection_offset_ps = 10'000;
    c.detection_width_ps = 2'000;
    c.echo_offset_ps = 5'000;
    c.echo_width_ps = 1'000;
    for (int p = 0; p < parties; ++p) {
      hal::StationLayout s;
      s.sync_channel = 1;
      for (int o = 0; o < outcomes; ++o) s.detector_channels.push_back(20 * p + 2 + o);
      for (int v = 0; v < settings; ++v) s.echo_channels.push_back(echo_channel(p, v));
      c.parties.push_back(s);
    }
    return c;
  }
};

inline const std::vector<hal::Capability>& fake_capabilities() {
  static const std::vector<hal::Capability> caps = [] {
    hal::Capability party;
    party.key = "party";
    party.type = hal::Capability::Type::integer;
    party.min = 0;
    party.max = 3;
    party.default_value = std::int64_t{0};
    return std::vector<hal::Capability>{party};
  }();
  return caps;
}

class FakeModulator final : public hal::Modulator {
 public:
  FakeModulator(FakeLab& lab, int party) : lab_(&lab), party_(party) {}
  std::string driver() const override { return "fake-modulator"; }
  std::string identity() const override { return "fake modulator, party " + std::to_string(party_); }
  const std::vector<hal::Capability>& capabilities() const override { return fake_capabilities(); }
  void set(const std::string&, const hal::SettingValue&) override {}
  hal::SettingValue get(const std::string&) const override { return std::int64_t{party_}; }
  void schedule(std::uint64_t first, std::span<const std::uint8_t> s) override {
    lab_->grow(first + s.size());
    const std::uint64_t stamp = ++lab_->clock;
    for (std::size_t i = 0; i < s.size(); ++i) {
      lab_->arrival[static_cast<std::size_t>(party_)][first + i] = stamp;
      lab_->setting[static_cast<std::size_t>(party_)][first + i] = s[i];
    }
    scheduled_end_ = std::max<std::uint64_t>(scheduled_end_, first + s.size());
  }
  std::vector<hal::AppliedSetting> readback() override { return {}; }
  double settling_time_ns() const override { return 0; }
  hal::SettingDelivery delivery() const override { return lab_->mode; }
  std::uint64_t segment_capacity() const override { return lab_->segment_capacity; }
  void arm() override {
    if (party_ != 0) return;  // one arm per segment (party 0's AWG triggers the rest)
    lab_->armed_end = scheduled_end_;
    ++lab_->arms;
  }

 private:
  FakeLab* lab_;
  int party_;
  std::uint64_t scheduled_end_ = 0;
};

class FakeTagger final : public hal::TimeTagger {
 public:
  explicit FakeTagger(FakeLab& lab) : lab_(&lab) {}
  std::string driver() const override { return "fake-tagger"; }
  std::string identity() const override { return "fake free-running tagger"; }
  const std::vector<hal::Capability>& capabilities() const override { return fake_capabilities(); }
  void set(const std::string&, const hal::SettingValue&) override {}
  hal::SettingValue get(const std::string&) const override { return std::int64_t{0}; }
  void start() override { started_ = true; }
  void stop() override { stopped_ = true; }
  std::vector<int> channels() const override { return {1}; }
  hal::TaggerEvent next(std::chrono::milliseconds) override {
    if (!sent_start_) {
      sent_start_ = true;
      return hal::StreamStart{1, "fake"};
    }
    if (stopped_) {
      if (!sent_end_) {
        sent_end_ = true;
        // Closes the windows of the last trial.
        return hal::TagBlock{
            hal::Tag{hal::TagType::time_mark, 0, 0, 0, static_cast<std::int64_t>(next_) * lab_->period_ps}};
      }
      return hal::StreamEnd{false, "stopped"};
    }
    std::uint64_t end = next_ + lab_->trials_per_block;
    const bool hardware = !lab_->hardware_bits.empty();
    if (hardware) {
      // The physical source's bits run out: the apparatus stops (as if stopped).
      const std::uint64_t available = lab_->hardware_bits.size() / static_cast<std::size_t>(lab_->parties);
      end = std::min(end, available);
      if (end <= next_) {
        stopped_ = true;
        return next(std::chrono::milliseconds(0));
      }
    }
    if (lab_->mode == hal::SettingDelivery::segment && !hardware) {
      const std::uint64_t limit = lab_->armed_end + (lab_->armed_end > 0 ? lab_->extra_per_segment : 0);
      end = std::min(end, limit);
      if (end <= next_) {
        if (mark_sent_for_ == lab_->armed_end) return hal::TagBlock{};
        mark_sent_for_ = lab_->armed_end;
        // The segment is played: everything before the next (unplayed) sync has been delivered.
        return hal::TagBlock{
            hal::Tag{hal::TagType::time_mark, 0, 0, 0, static_cast<std::int64_t>(next_) * lab_->period_ps}};
      }
    }
    lab_->grow(end);
    hal::TagBlock b;
    for (std::uint64_t i = next_; i < end; ++i) {
      const std::int64_t t0 = static_cast<std::int64_t>(i) * lab_->period_ps;
      b.push_back(hal::Tag{hal::TagType::time_tag, 0, 0, 1, t0});
      lab_->emitted[i] = ++lab_->clock;
      std::array<std::uint8_t, protocol::kMaxParties> u{}, x{};
      for (int p = 0; p < lab_->parties; ++p) {
        const auto pp = static_cast<std::size_t>(p);
        if (hardware) {
          u[pp] =
              lab_->hardware_bits[static_cast<std::size_t>(i) * static_cast<std::size_t>(lab_->parties) + pp] ? 1 : 0;
          lab_->setting[pp][i] = u[pp];  // what the hardware chose, for the test to compare
        } else {
          if (lab_->arrival[pp][i] == FakeLab::kNever) ++lab_->late;
          u[pp] = lab_->setting[pp][i];
        }
      }
      if (lab_->box) lab_->box(i, u, x);
      for (int p = 0; p < lab_->parties; ++p) {
        int v = u[static_cast<std::size_t>(p)];
        if (p == 0 && i == lab_->corrupt_echo_trial) v = (v + 1) % lab_->settings;
        b.push_back(hal::Tag{hal::TagType::time_tag, 0, 0, lab_->echo_channel(p, v), t0 + 5'200});
      }
      for (int p = 0; p < lab_->parties; ++p)
        b.push_back(hal::Tag{hal::TagType::time_tag, 0, 0, 20 * p + 2 + x[static_cast<std::size_t>(p)], t0 + 10'100});
    }
    next_ = end;
    return b;
  }

 private:
  FakeLab* lab_;
  std::uint64_t next_ = 0;
  std::uint64_t mark_sent_for_ = FakeLab::kNever;
  bool started_ = false, stopped_ = false, sent_start_ = false, sent_end_ = false;
};

/// Registers "fake-tagger" and "fake-modulator" bound to `lab`.
inline void register_fake_apparatus(hal::DriverRegistry& r, FakeLab& lab) {
  hal::DriverInfo t;
  t.name = "fake-tagger";
  t.kind = hal::DeviceKind::time_tagger;
  t.capabilities = fake_capabilities();
  t.create = [&lab](const std::map<std::string, hal::SettingValue>&) -> std::unique_ptr<hal::Device> {
    return std::make_unique<FakeTagger>(lab);
  };
  r.add(t);
  hal::DriverInfo m;
  m.name = "fake-modulator";
  m.kind = hal::DeviceKind::modulator;
  m.capabilities = fake_capabilities();
  m.create = [&lab](const std::map<std::string, hal::SettingValue>& s) -> std::unique_ptr<hal::Device> {
    const auto it = s.find("party");
    return std::make_unique<FakeModulator>(lab,
                                           it == s.end() ? 0 : static_cast<int>(std::get<std::int64_t>(it->second)));
  };
  r.add(m);
}

}  // namespace dira::test
