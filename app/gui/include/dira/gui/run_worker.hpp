#pragma once
/// @file run_worker.hpp
/// Runs app::run_experiment (the code behind `dira run`) on its own thread and hands the GUI
/// owned snapshots. The engine never touches a widget: its progress callback stores the newest
/// snapshot and posts at most one notification until the GUI has taken it (PlotJuggler's
/// pattern), so a slow GUI drops intermediate snapshots instead of queueing them.

#include "dira/app/session.hpp"

#include <QObject>
#include <QString>

#include <atomic>
#include <mutex>
#include <optional>
#include <thread>

namespace dira::gui {

class RunWorker : public QObject {
  Q_OBJECT
 public:
  explicit RunWorker(QObject* parent = nullptr);
  /// Requests a stop and waits for the run to end (the session flushes and writes its report).
  ~RunWorker() override;

  /// Starts a run; false when one is already running. `options.progress`, `interrupt`,
  /// `pause` and `on_directory` are replaced by the worker's own.
  bool start(const app::ExperimentConfig& config, app::RunOptions options);
  /// Pauses or resumes acquisition (the simulator waits; elapsed time keeps running).
  void set_paused(bool paused);
  /// Asks the run to stop: the session flushes run.h5, analyses what was recorded and writes
  /// report.json; finished() follows.
  void stop();
  bool running() const { return running_.load(); }
  bool paused() const { return pause_.load(); }

  /// The newest snapshot not yet taken, if any.
  std::optional<app::Progress> take_snapshot();
  /// Snapshots the session produced and snapshots the GUI was told about (coalesced).
  std::uint64_t produced() const { return produced_.load(); }
  std::uint64_t notified() const { return notified_.load(); }

 signals:
  /// A snapshot is waiting in take_snapshot().
  void snapshotReady();
  void directoryCreated(const QString& directory);
  /// The run ended: status (accepted | aborted | interrupted | hardware-fault), report JSON
  /// text and run directory.
  void finished(const QString& status, const QString& report_json, const QString& directory);
  /// The run could not be set up (configuration or run-file error); nothing was acquired.
  void failed(const QString& message);

 private:
  void join();

  std::thread thread_;
  std::atomic<bool> running_{false}, interrupt_{false}, pause_{false}, pending_{false};
  std::atomic<std::uint64_t> produced_{0}, notified_{0};
  std::mutex mutex_;
  std::optional<app::Progress> latest_;
};

}  // namespace dira::gui
