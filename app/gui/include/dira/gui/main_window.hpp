#pragma once
/// @file main_window.hpp
/// dira-gui's window: experiment, devices and run history on the left; run control, the
/// decision banner and four live plots on the right. Runs go through app::run_experiment on a
/// RunWorker thread, so a run started here writes the same run directory and report as
/// `dira run`.

#include "dira/gui/decision.hpp"
#include "dira/gui/plot_model.hpp"

#include <QMainWindow>

#include <functional>
#include <string>
#include <thread>
#include <vector>

class QLabel;
class QProgressBar;
class QPushButton;
class QTimer;

namespace dira::gui {

class StationPanel;

class ChartPanel;
class DevicePanel;
class ExperimentPanel;
class HistoryPanel;
class RunWorker;
struct Replay;

/// What the GUI thread spent during the last run (docs/gui.md): measured on the GUI thread
/// itself, from the run's start to its decision.
struct GuiMetrics {
  double wall_s = 0;
  double gui_cpu_s = 0;         ///< CLOCK_THREAD_CPUTIME_ID of the GUI thread
  double gui_cpu_fraction = 0;  ///< gui_cpu_s / wall_s
  std::uint64_t frames = 0;     ///< plot redraws
  /// Time between consecutive redraws while acquiring (the analysis at the end sends none).
  double frame_interval_mean_ms = 0, frame_interval_p95_ms = 0, frame_interval_max_ms = 0;
  double frame_cost_max_ms = 0;  ///< longest redraw (snapshot → charts and labels)
  double stall_max_ms = 0;       ///< worst lateness of a 10 ms heartbeat timer: the longest the event loop was blocked
  std::uint64_t snapshots_produced = 0, snapshots_notified = 0;
  std::uint64_t trials = 0;
  double trial_rate = 0;
};

class MainWindow : public QMainWindow {
  Q_OBJECT
 public:
  explicit MainWindow(QWidget* parent = nullptr);
  ~MainWindow() override;

  ExperimentPanel* experiment_panel() const { return experiment_; }
  DevicePanel* device_panel() const { return devices_; }
  HistoryPanel* history_panel() const { return history_; }
  QPushButton* start_button() const { return start_; }
  QLabel* banner() const { return banner_; }
  ChartPanel* chart(int i) const { return charts_.at(static_cast<std::size_t>(i)); }
  int chart_count() const { return static_cast<int>(charts_.size()); }
  /// The station table: shown only while the run's snapshots carry stations (issue 14).
  StationPanel* station_panel() const { return stations_; }
  const PlotModel& plot_model() const { return model_; }
  const DecisionSummary& decision() const { return decision_; }
  const GuiMetrics& metrics() const { return metrics_; }
  QString run_directory() const { return run_directory_; }
  bool running() const;

  /// Parent directory for run directories (overrides the experiment's outputs.directory).
  void set_out_directory(const QString& dir);
  /// Stop after this many trials (0: the experiment's own size).
  void set_max_trials(std::uint64_t n) { max_trials_ = n; }
  /// Replaces the "stop the run and close?" question (tests answer it without a dialog).
  void set_close_confirmation(std::function<bool()> ask) { confirm_close_ = std::move(ask); }
  /// Saves a PNG of the whole window once the run passes half its trials.
  void set_screenshot_during(const QString& file) { shot_during_ = file; }

  bool load_experiment(const QString& path);
  /// Starts a run of the validated experiment; false (and why, in the banner) otherwise.
  bool start_run();
  void set_paused(bool paused);
  void stop_run();
  /// Replots a finished (or crashed) run directory and shows its decision. Reading run.h5
  /// happens on a worker thread; replayLoaded() follows. False if a run or a replay is under way.
  bool open_run_directory(const QString& dir);
  /// Writes every chart as NAME.png and NAME.svg into `dir`.
  bool export_plots(const QString& dir);
  /// Writes timeseries.csv, settings.csv and channels.csv into `dir`.
  bool export_data(const QString& dir);

 signals:
  void runStarted();
  /// The run ended and the banner shows its decision (status as in report.json, or "failed").
  void runFinished(const QString& status);
  void frameDrawn();
  /// A replay requested by open_run_directory() is shown (ok) or failed (reason in the banner).
  void replayLoaded(bool ok);

 protected:
  void closeEvent(QCloseEvent* event) override;

 private:
  void build_menus();
  void snapshot_ready();
  void draw_frame();
  void run_finished(const QString& status, const QString& report, const QString& directory);
  void run_failed(const QString& message);
  void update_controls();
  void show_banner(const DecisionSummary& s);
  void heartbeat();
  void show_replay(const QString& dir, const Replay& r);

  ExperimentPanel* experiment_ = nullptr;
  DevicePanel* devices_ = nullptr;
  HistoryPanel* history_ = nullptr;
  RunWorker* worker_ = nullptr;
  QPushButton *start_ = nullptr, *pause_ = nullptr, *stop_ = nullptr;
  QProgressBar* progress_ = nullptr;
  QLabel *trials_label_ = nullptr, *rate_label_ = nullptr, *time_label_ = nullptr, *stage_label_ = nullptr;
  QLabel* banner_ = nullptr;
  std::vector<ChartPanel*> charts_;
  StationPanel* stations_ = nullptr;
  QTimer* frame_timer_ = nullptr;
  QTimer* heartbeat_ = nullptr;
  PlotModel model_{1000};  // ~2 points per horizontal pixel of a chart
  DecisionSummary decision_;
  GuiMetrics metrics_;
  QString out_dir_, run_directory_, shot_during_;
  std::uint64_t max_trials_ = 0;
  std::function<bool()> confirm_close_;
  std::thread replay_thread_;
  bool close_after_run_ = false;
  // Timing of the current run, on the GUI thread.
  std::int64_t run_start_ns_ = 0, last_frame_ns_ = 0, last_beat_ns_ = 0, cpu_start_ns_ = 0;
  std::vector<double> frame_intervals_ms_;
  std::string last_stage_;
};

}  // namespace dira::gui
