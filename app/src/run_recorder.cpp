#include "run_recorder.hpp"

namespace dira::app {

namespace {
constexpr std::uint64_t kStorageCheckTrials = 1u << 16;
}

RunRecorder::RunRecorder(RunFileWriter& file, const RunDirectory& dir, RunStatistics& stats, LiveProtocol& protocol,
                         RecorderSettings settings, std::function<void(const Progress&)> progress,
                         std::chrono::steady_clock::time_point start)
    : file_(file),
      dir_(dir),
      stats_(stats),
      protocol_(protocol),
      settings_(settings),
      progress_(std::move(progress)),
      start_(start),
      last_progress_(std::chrono::steady_clock::now()),
      last_flush_(last_progress_) {
  if (!(settings_.progress_interval_s > 0)) settings_.progress_interval_s = 1.0;
}

double RunRecorder::elapsed() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

void RunRecorder::progress(const std::string& stage, const std::string& decision) {
  last_progress_ = std::chrono::steady_clock::now();
  if (!progress_) return;
  Progress p = stats_.snapshot(protocol_.live(), protocol_.protocol(),
                               {trials_, settings_.planned, elapsed(), settings_.duration_s}, stage);
  protocol_.fill(p);
  p.decision = decision;
  p.stations = station::station_health();  // issue 14: the GUI's station view (station/health.hpp)
  progress_(p);
}

void RunRecorder::publish(bool final_flush) {
  const auto now = std::chrono::steady_clock::now();
  if (!final_flush && now - last_progress_ >= std::chrono::duration<double>(settings_.progress_interval_s))
    progress("acquiring");
  // Flushed, with a statistics row, every half second so a crash loses at most about that much
  // (issue 12 asks ≤ 1 s; a flush waits for the next block or idle call, which a loaded machine
  // delays: once a second was seen to lose 1.01 s).
  if (!final_flush && now - last_flush_ < std::chrono::milliseconds(500)) return;
  last_flush_ = now;
  // Entries before the last are final; the last may still grow, so it is written now and
  // rewritten at the next flush (a crash keeps the ledger up to the last flush).
  if (ledger_.size() > ledger_written_) {
    file_.write_ledger_from(ledger_written_, {ledger_.data() + ledger_written_, ledger_.size() - ledger_written_});
    ledger_written_ = ledger_.size() - 1;
  }
  const auto s = protocol_.live();
  file_.append_statistics({elapsed(), trials_, s.bell_mean, s.bell_half_width, s.ustar_mean, s.ustar_half_width});
  file_.flush();
}

std::optional<RunStatus> RunRecorder::record(const AcquiredBlock& b, const std::vector<protocol::LedgerEntry>& ledger) {
  stats_.add_counters(b.clicks, b.assembly, b.scheduler);
  if (!recording_) return std::nullopt;
  bool may_stop = false;
  try {
    if (settings_.raw_tags && !b.tags.empty()) file_.append_tags(settings_.station, b.tags);
    if (!b.trials.empty()) {
      // In the file first: a block whose append fails is not counted live either, so the live
      // statistics and the trial count stay those of the file (issue 12, disk_fill).
      file_.append_trials(b.trials);
      may_stop = protocol_.add(b.trials);
      stats_.add_trials(b.trials);
      trials_ += b.trials.size();
    }
    ledger_ = ledger;
    publish(false);
  } catch (const RunFileError& e) {
    // Disk full or the file became unwritable: stop acquiring; what was flushed is kept.
    recording_ = false;
    fault_ = e.what();
    return RunStatus::storage_error;
  }
  if (may_stop) return RunStatus::complete;
  // Headroom: stop cleanly, with run.h5 closed properly, before the disk (or the file-size
  // limit) is full, keeping room for two more checks' worth of data plus the final writes.
  if (trials_ - trials_at_last_check_ >= kStorageCheckTrials) {
    const double step = static_cast<double>(trials_ - trials_at_last_check_) * settings_.bytes_per_trial;
    trials_at_last_check_ = trials_;
    if (room_for_run_file(dir_.path(), dir_.file("run.h5")) < 4e6 + 4 * step) {
      fault_ = "stopped before the disk (or file-size limit) was full: " + std::to_string(trials_) + " trials recorded";
      return RunStatus::storage_full;
    }
  }
  return std::nullopt;
}

void RunRecorder::idle(bool paused) {
  if (std::chrono::steady_clock::now() - last_progress_ >= std::chrono::duration<double>(settings_.progress_interval_s))
    progress(paused ? "paused" : "acquiring");
  if (!recording_) return;
  try {
    publish(false);
  } catch (const RunFileError&) {
  }
}

void RunRecorder::finish(const std::vector<protocol::LedgerEntry>& ledger) {
  ledger_ = ledger;
  try {
    if (recording_) publish(true);  // writes the ledger through its last entry
    file_.flush();
  } catch (const RunFileError&) {
    recording_ = false;  // nothing more goes to a file that cannot be written
    throw;
  }
}

void RunRecorder::append_ledger(const std::vector<protocol::LedgerEntry>& ledger) {
  if (!recording_ || ledger.size() <= ledger_written_) return;
  file_.write_ledger_from(ledger_written_, {ledger.data() + ledger_written_, ledger.size() - ledger_written_});
  ledger_written_ = ledger.size() - 1;
}

}  // namespace dira::app
