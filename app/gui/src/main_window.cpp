#include "dira/gui/main_window.hpp"

#include "dira/app/lab_units.hpp"
#include "dira/gui/chart_panel.hpp"
#include "dira/gui/device_panel.hpp"
#include "dira/gui/experiment_panel.hpp"
#include "dira/gui/history.hpp"
#include "dira/gui/planner_dialog.hpp"
#include "dira/gui/run_worker.hpp"
#include "dira/gui/station_panel.hpp"

#include <QApplication>
#include <QCloseEvent>
#include <QDir>
#include <QFile>
#include <QFileDialog>
#include <QGridLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QMenuBar>
#include <QMessageBox>
#include <QProgressBar>
#include <QPushButton>
#include <QSplitter>
#include <QStatusBar>
#include <QTabWidget>
#include <QTimer>
#include <QVBoxLayout>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <ctime>
#include <memory>
#include <thread>

namespace dira::gui {

namespace {

// At most 25 redraws a second: the session already sends ≤ 25 snapshots/s, this keeps the
// bound if a faster source is ever plugged in.
constexpr int kMinFrameMs = 40;
constexpr int kHeartbeatMs = 10;

std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

std::int64_t thread_cpu_ns() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

QString hms(double s) {
  if (!(s >= 0) || !std::isfinite(s)) return "—";
  const auto t = static_cast<long long>(std::llround(s));
  return QString("%1:%2:%3").arg(t / 3600).arg(t / 60 % 60, 2, 10, QChar('0')).arg(t % 60, 2, 10, QChar('0'));
}

QString rate_text(double r) {
  if (r >= 1e6) return QString::number(r / 1e6, 'f', 2) + " M trials/s";
  if (r >= 1e3) return QString::number(r / 1e3, 'f', 1) + " k trials/s";
  return QString::number(r, 'f', 0) + " trials/s";
}

}  // namespace

MainWindow::MainWindow(QWidget* parent) : QMainWindow(parent) {
  setWindowTitle("dira");
  worker_ = new RunWorker(this);
  experiment_ = new ExperimentPanel;
  devices_ = new DevicePanel(experiment_);
  history_ = new HistoryPanel;

  auto* tabs = new QTabWidget;
  tabs->addTab(experiment_, tr("Experiment"));
  tabs->addTab(devices_, tr("Devices"));
  tabs->addTab(history_, tr("Run history"));

  auto* right = new QWidget;
  auto* rv = new QVBoxLayout(right);
  auto* controls = new QHBoxLayout;
  start_ = new QPushButton(tr("Start"));
  start_->setObjectName("startButton");
  pause_ = new QPushButton(tr("Pause"));
  pause_->setObjectName("pauseButton");
  pause_->setCheckable(true);
  stop_ = new QPushButton(tr("Stop"));
  stop_->setObjectName("stopButton");
  progress_ = new QProgressBar;
  progress_->setRange(0, 1000);
  progress_->setTextVisible(false);
  controls->addWidget(start_);
  controls->addWidget(pause_);
  controls->addWidget(stop_);
  controls->addWidget(progress_, 1);
  rv->addLayout(controls);
  auto* stats = new QHBoxLayout;
  trials_label_ = new QLabel;
  trials_label_->setObjectName("trialsLabel");
  rate_label_ = new QLabel;
  time_label_ = new QLabel;
  stage_label_ = new QLabel;
  for (auto* l : {trials_label_, rate_label_, time_label_, stage_label_}) stats->addWidget(l, 1);
  rv->addLayout(stats);
  banner_ = new QLabel;
  banner_->setObjectName("decisionBanner");
  banner_->setWordWrap(true);
  banner_->setTextInteractionFlags(Qt::TextSelectableByMouse);
  banner_->setMargin(8);
  rv->addWidget(banner_);
  // A coordinated run's stations (link, heartbeat, tag rate, backlog, clock offset, backfill);
  // hidden for a single-process run.
  stations_ = new StationPanel;
  stations_->setMaximumHeight(160);
  stations_->setVisible(false);
  rv->addWidget(stations_);
  auto* grid = new QGridLayout;
  for (int i = 0; i < 4; ++i) {
    auto* c = new ChartPanel;
    c->setObjectName(QString("chart%1").arg(i));
    charts_.push_back(c);
    grid->addWidget(c, i / 2, i % 2);
  }
  rv->addLayout(grid, 1);

  auto* split = new QSplitter(Qt::Horizontal);
  split->addWidget(tabs);
  split->addWidget(right);
  split->setStretchFactor(0, 2);
  split->setStretchFactor(1, 5);
  setCentralWidget(split);
  resize(1500, 950);

  // A frame clock on a fixed 40 ms grid (precise timers do not drift): each tick draws the
  // newest snapshot if one is waiting, so redraws are at most 25 a second and evenly spaced.
  frame_timer_ = new QTimer(this);
  frame_timer_->setInterval(kMinFrameMs);
  frame_timer_->setTimerType(Qt::PreciseTimer);
  connect(frame_timer_, &QTimer::timeout, this, &MainWindow::draw_frame);
  heartbeat_ = new QTimer(this);
  heartbeat_->setInterval(kHeartbeatMs);
  heartbeat_->setTimerType(Qt::PreciseTimer);
  connect(heartbeat_, &QTimer::timeout, this, &MainWindow::heartbeat);

  connect(worker_, &RunWorker::snapshotReady, this, &MainWindow::snapshot_ready);
  connect(worker_, &RunWorker::directoryCreated, this, [this](const QString& d) {
    run_directory_ = d;
    statusBar()->showMessage(tr("run directory %1").arg(d));
  });
  connect(worker_, &RunWorker::finished, this, &MainWindow::run_finished);
  connect(worker_, &RunWorker::failed, this, &MainWindow::run_failed);
  connect(start_, &QPushButton::clicked, this, [this] { start_run(); });
  connect(pause_, &QPushButton::toggled, this, [this](bool on) { set_paused(on); });
  connect(stop_, &QPushButton::clicked, this, &MainWindow::stop_run);
  connect(experiment_, &ExperimentPanel::validityChanged, this, [this] { update_controls(); });
  connect(experiment_, &ExperimentPanel::configChanged, this, [this] {
    devices_->experiment_changed();
    std::vector<std::filesystem::path> roots;
    if (!out_dir_.isEmpty()) roots.emplace_back(out_dir_.toStdString());
    if (const auto& c = experiment_->config()) roots.emplace_back(c->outputs.directory);
    history_->set_roots(roots);
  });
  connect(history_, &HistoryPanel::openRequested, this, [this](const QString& d) { open_run_directory(d); });

  build_menus();
  for (std::size_t i = 0; i < charts_.size(); ++i) charts_[i]->show_data(model_.charts()[i]);
  show_banner(decision_);
  update_controls();
}

MainWindow::~MainWindow() {
  if (replay_thread_.joinable()) replay_thread_.join();
}

void MainWindow::build_menus() {
  auto* file = menuBar()->addMenu(tr("&File"));
  file->addAction(tr("&Open experiment…"), QKeySequence::Open, this, [this] {
    const QString f =
        QFileDialog::getOpenFileName(this, tr("Open experiment"), {}, tr("Experiment YAML (*.yaml *.yml)"));
    if (!f.isEmpty()) load_experiment(f);
  });
  file->addAction(tr("&Save experiment"), QKeySequence::Save, this, [this] {
    QString f = experiment_->file_name();
    if (f.isEmpty()) f = QFileDialog::getSaveFileName(this, tr("Save experiment"), {}, tr("Experiment YAML (*.yaml)"));
    if (!f.isEmpty()) experiment_->save_file(f);
  });
  file->addAction(tr("Save experiment &as…"), QKeySequence::SaveAs, this, [this] {
    const QString f = QFileDialog::getSaveFileName(this, tr("Save experiment"), experiment_->file_name(),
                                                   tr("Experiment YAML (*.yaml)"));
    if (!f.isEmpty()) experiment_->save_file(f);
  });
  file->addSeparator();
  file->addAction(tr("Open &run directory…"), this, [this] {
    const QString d = QFileDialog::getExistingDirectory(this, tr("Open run directory"));
    if (!d.isEmpty()) open_run_directory(d);
  });
  file->addAction(tr("Export &plots (PNG, SVG)…"), this, [this] {
    const QString d = QFileDialog::getExistingDirectory(this, tr("Export plots to"));
    if (!d.isEmpty()) export_plots(d);
  });
  file->addAction(tr("Export &data (CSV)…"), this, [this] {
    const QString d = QFileDialog::getExistingDirectory(this, tr("Export data to"));
    if (!d.isEmpty()) export_data(d);
  });
  file->addSeparator();
  file->addAction(tr("&Quit"), QKeySequence::Quit, this, &QWidget::close);
  auto* run = menuBar()->addMenu(tr("&Run"));
  run->addAction(tr("&Start"), this, [this] { start_run(); });
  run->addAction(tr("&Stop"), this, &MainWindow::stop_run);
  auto* tools = menuBar()->addMenu(tr("&Tools"));
  tools->addAction(tr("&Planner…"), this, [this] {
    auto* d = new PlannerDialog(experiment_, this);
    d->setAttribute(Qt::WA_DeleteOnClose);
    d->show();
  });
}

bool MainWindow::running() const {
  return worker_->running();
}

void MainWindow::set_out_directory(const QString& dir) {
  out_dir_ = dir;
  std::vector<std::filesystem::path> roots{dir.toStdString()};
  if (const auto& c = experiment_->config()) roots.emplace_back(c->outputs.directory);
  history_->set_roots(roots);
}

bool MainWindow::load_experiment(const QString& path) {
  const bool ok = experiment_->load_file(path, true);
  if (!ok) {
    decision_ = {};
    decision_.headline = "cannot read " + path.toStdString();
    show_banner(decision_);
  }
  return ok;
}

bool MainWindow::start_run() {
  if (worker_->running()) return false;
  // The devices connected in the device panel are the ones this run uses (written into the
  // experiment, so the run directory's config.yaml says what ran).
  if (QString msg; !devices_->use_connected_in_experiment(&msg)) {
    decision_ = {};
    decision_.headline = "Cannot start: " + msg.toStdString();
    show_banner(decision_);
    return false;
  } else if (!msg.isEmpty()) {
    statusBar()->showMessage(msg);
  }
  experiment_->validate_now();
  const auto& cfg = experiment_->config();
  if (!cfg) {
    decision_ = {};
    decision_.headline = "Cannot start: the experiment has " + std::to_string(experiment_->issues().size()) +
                         " problem(s), shown at their fields and YAML lines";
    show_banner(decision_);
    return false;
  }
  app::RunOptions o;
  if (!out_dir_.isEmpty()) o.out = out_dir_.toStdString();
  o.max_trials = max_trials_;
  // The session offers a snapshot every 30 ms; the GUI takes one per frame, at most every
  // 40 ms (25 a second), so a frame never waits for a snapshot and never shows a stale one.
  o.progress_interval_s = 0.03;
  model_.reset();
  decision_ = {};
  run_directory_.clear();
  metrics_ = {};
  frame_intervals_ms_.clear();
  last_stage_.clear();
  last_frame_ns_ = 0;
  run_start_ns_ = now_ns();
  last_beat_ns_ = run_start_ns_;
  cpu_start_ns_ = thread_cpu_ns();
  if (!worker_->start(*cfg, o)) return false;
  heartbeat_->start();
  pause_->setChecked(false);
  banner_->setText(
      tr("<b>Running %1</b> — decision when the run ends").arg(QString::fromStdString(cfg->name).toHtmlEscaped()));
  banner_->setStyleSheet("background: #e3f2fd");
  for (std::size_t i = 0; i < charts_.size(); ++i) charts_[i]->show_data(model_.charts()[i]);
  update_controls();
  emit runStarted();
  return true;
}

void MainWindow::set_paused(bool paused) {
  if (!worker_->running()) return;
  worker_->set_paused(paused);
  pause_->setText(paused ? tr("Resume") : tr("Pause"));
}

void MainWindow::stop_run() {
  if (!worker_->running()) return;
  worker_->stop();
  stage_label_->setText(tr("stopping: flushing run.h5, analysing, writing the report…"));
}

void MainWindow::snapshot_ready() {
  // The first snapshot of a run is drawn at once; later ones wait for the frame clock.
  if (frame_timer_->isActive()) return;
  draw_frame();
  frame_timer_->start();
}

void MainWindow::draw_frame() {
  auto snap = worker_->take_snapshot();
  if (!snap) {
    // Before a run's first snapshot a coordinator may still be waiting for its stations to
    // connect (docs/stations.md): show them as they are, straight from the coordinator's hub.
    if (model_.snapshots() == 0) {
      const auto waiting = station::station_health();
      stations_->setVisible(!waiting.empty());
      if (!waiting.empty()) stations_->show_rows(station_rows(waiting));
    }
    return;
  }
  const std::int64_t t0 = now_ns();
  model_.add(*snap);
  const auto shown = model_.charts();
  for (std::size_t i = 0; i < charts_.size() && i < shown.size(); ++i) charts_[i]->show_data(shown[i]);
  const auto& p = *snap;
  stations_->setVisible(!p.stations.empty());
  if (!p.stations.empty()) stations_->show_rows(station_rows(p.stations));
  trials_label_->setText(tr("%L1 / %L2 trials").arg(p.trials).arg(p.planned));
  rate_label_->setText(rate_text(p.rate));
  double eta = p.eta_s;
  if (eta < 0 && p.rate > 0 && p.planned > p.trials) eta = static_cast<double>(p.planned - p.trials) / p.rate;
  time_label_->setText(tr("elapsed %1, remaining %2").arg(hms(p.elapsed_s), hms(eta)));
  if (p.protocol_c)
    stage_label_->setText(tr("%1, certified %2 / %3 bits of min-entropy, target in %4")
                              .arg(QString::fromStdString(p.stage.empty() ? std::string("acquiring") : p.stage))
                              .arg(p.protocol_c->certified_min_entropy, 0, 'f', 1)
                              .arg(p.protocol_c->target, 0, 'f', 1)
                              .arg(hms(p.eta_to_target_s)));
  else {
    std::string text = p.stage.empty() ? std::string("acquiring") : p.stage;
    // The done snapshot carries the decision; before it, the live projection and (Protocol A)
    // the probability that the test on the chosen boxes would accept if they were chosen now.
    if (!p.decision.empty())
      text += ", decision: " + p.decision;
    else if (p.live.trials > 0)  // a live run's protocol has seen trials (a replayed run's rows have no projection)
      text += std::string(", projected: ") + protocol::to_string(p.live.projected);
    if (p.decision.empty() && p.protocol == 'A' && p.live.accept_probability >= 0)
      text += ", P(accept if the boxes were chosen now) " +
              app::lab_units::significant(100 * p.live.accept_probability, 3) + "%";
    stage_label_->setText(QString::fromStdString(text));
  }
  progress_->setValue(
      p.planned ? static_cast<int>(1000.0 * static_cast<double>(p.trials) / static_cast<double>(p.planned)) : 0);

  const std::int64_t t1 = now_ns();
  if (worker_->running()) {
    metrics_.frame_cost_max_ms = std::max(metrics_.frame_cost_max_ms, static_cast<double>(t1 - t0) / 1e6);
    if (last_frame_ns_ && last_stage_ == "acquiring" && p.stage == "acquiring")
      frame_intervals_ms_.push_back(static_cast<double>(t0 - last_frame_ns_) / 1e6);
    ++metrics_.frames;
  }
  last_frame_ns_ = t0;
  last_stage_ = p.stage;
  if (!shot_during_.isEmpty() && p.planned && p.trials * 2 >= p.planned && p.stage != "done") {
    grab().save(shot_during_);
    shot_during_.clear();
  }
  emit frameDrawn();
}

void MainWindow::heartbeat() {
  const std::int64_t t = now_ns();
  const double late = static_cast<double>(t - last_beat_ns_) / 1e6 - kHeartbeatMs;
  metrics_.stall_max_ms = std::max(metrics_.stall_max_ms, late);
  last_beat_ns_ = t;
}

void MainWindow::run_finished(const QString& status, const QString& report, const QString& directory) {
  heartbeat_->stop();
  frame_timer_->stop();
  const std::int64_t end = now_ns();
  metrics_.wall_s = static_cast<double>(end - run_start_ns_) / 1e9;
  metrics_.gui_cpu_s = static_cast<double>(thread_cpu_ns() - cpu_start_ns_) / 1e9;
  metrics_.gui_cpu_fraction = metrics_.wall_s > 0 ? metrics_.gui_cpu_s / metrics_.wall_s : 0;
  if (!frame_intervals_ms_.empty()) {
    auto v = frame_intervals_ms_;
    std::sort(v.begin(), v.end());
    double sum = 0;
    for (double x : v) sum += x;
    metrics_.frame_interval_mean_ms = sum / static_cast<double>(v.size());
    metrics_.frame_interval_p95_ms = v[std::min(v.size() - 1, v.size() * 95 / 100)];
    metrics_.frame_interval_max_ms = v.back();
  }
  metrics_.snapshots_produced = worker_->produced();
  metrics_.snapshots_notified = worker_->notified();
  // The final ("done") snapshot may still be waiting: draw it so the plots end at the decision.
  frame_timer_->stop();
  draw_frame();
  metrics_.trials = model_.last().trials;
  metrics_.trial_rate = model_.last().rate;
  run_directory_ = directory;
  const auto j = nlohmann::json::parse(report.toStdString(), nullptr, false);
  decision_ = summarize_report(j);
  show_banner(decision_);
  pause_->setChecked(false);
  pause_->setText(tr("Pause"));
  history_->rescan();
  update_controls();
  statusBar()->showMessage(tr("run %1: %2").arg(status, directory));
  emit runFinished(status);
  if (close_after_run_) QTimer::singleShot(0, this, &QWidget::close);
}

void MainWindow::run_failed(const QString& message) {
  heartbeat_->stop();
  frame_timer_->stop();
  decision_ = {};
  decision_.headline = "Run not started: " + message.toStdString();
  show_banner(decision_);
  update_controls();
  emit runFinished("failed");
  if (close_after_run_) QTimer::singleShot(0, this, &QWidget::close);
}

void MainWindow::show_banner(const DecisionSummary& s) {
  if (s.headline.empty()) {
    banner_->setText(tr("No run yet: open an experiment and press Start."));
    banner_->setStyleSheet("background: #eeeeee");
    return;
  }
  banner_->setText(QString::fromStdString(decision_html(s)));
  banner_->setStyleSheet(QString("background: #%1").arg(decision_colour(s.kind), 6, 16, QChar('0')));
}

void MainWindow::update_controls() {
  const bool run = worker_->running();
  start_->setEnabled(!run && experiment_->config().has_value());
  start_->setToolTip(experiment_->config() ? tr("Start a run") : tr("Fix the experiment's problems first"));
  pause_->setEnabled(run);
  stop_->setEnabled(run);
  experiment_->setEnabled(!run);
}

bool MainWindow::open_run_directory(const QString& dir) {
  if (worker_->running() || replay_thread_.joinable()) return false;
  stage_label_->setText(tr("reading %1…").arg(dir));
  // A long run's run.h5 takes seconds to stream: never on the GUI thread.
  replay_thread_ = std::thread([this, dir] {
    auto r = std::make_shared<Replay>(load_run_directory(dir.toStdString()));
    QMetaObject::invokeMethod(
        this,
        [this, dir, r] {
          if (replay_thread_.joinable()) replay_thread_.join();
          show_replay(dir, *r);
        },
        Qt::QueuedConnection);
  });
  return true;
}

void MainWindow::show_replay(const QString& dir, const Replay& r) {
  if (!r.error.empty()) {
    decision_ = {};
    decision_.headline = "Cannot replot " + dir.toStdString() + ": " + r.error;
    show_banner(decision_);
    stage_label_->clear();
    emit replayLoaded(false);
    return;
  }
  model_.reset();
  for (const auto& s : r.snapshots) model_.add(s);
  const auto shown = model_.charts();
  for (std::size_t i = 0; i < charts_.size() && i < shown.size(); ++i) charts_[i]->show_data(shown[i]);
  decision_ = summarize_report(r.report);
  if (decision_.headline.empty() || decision_.kind == DecisionSummary::Kind::none)
    decision_.headline = "no report.json (the run did not finish): plots show the trials recorded";
  if (decision_.run_directory.empty()) decision_.run_directory = dir.toStdString();
  show_banner(decision_);
  run_directory_ = dir;
  if (!r.snapshots.empty()) {
    trials_label_->setText(tr("%L1 trials (replay)").arg(r.snapshots.back().trials));
    time_label_->setText(tr("elapsed %1").arg(hms(r.snapshots.back().elapsed_s)));
  }
  stage_label_->setText(tr("replay of %1").arg(QDir(dir).dirName()));
  emit replayLoaded(true);
}

bool MainWindow::export_plots(const QString& dir) {
  QDir().mkpath(dir);
  bool ok = true;
  for (auto* c : charts_) {
    const QString base = QDir(dir).filePath(QString::fromStdString(c->data().id));
    ok = c->grab().save(base + ".png") && ok;
    QFile f(base + ".svg");
    if (f.open(QIODevice::WriteOnly | QIODevice::Truncate))
      f.write(QByteArray::fromStdString(chart_svg(c->data())));
    else
      ok = false;
  }
  if (!ok) QMessageBox::warning(this, tr("Export plots"), tr("Could not write every file in %1").arg(dir));
  return ok;
}

bool MainWindow::export_data(const QString& dir) {
  QDir().mkpath(dir);
  bool ok = true;
  const std::pair<const char*, std::string> files[] = {{"timeseries.csv", model_.time_series_csv()},
                                                       {"settings.csv", model_.settings_csv()},
                                                       {"channels.csv", model_.channels_csv()}};
  for (const auto& [name, text] : files) {
    QFile f(QDir(dir).filePath(name));
    if (f.open(QIODevice::WriteOnly | QIODevice::Truncate))
      f.write(QByteArray::fromStdString(text));
    else
      ok = false;
  }
  if (!ok) QMessageBox::warning(this, tr("Export data"), tr("Could not write every file in %1").arg(dir));
  return ok;
}

void MainWindow::closeEvent(QCloseEvent* event) {
  if (!worker_->running()) {
    event->accept();
    return;
  }
  if (close_after_run_) {  // already stopping
    event->ignore();
    return;
  }
  const bool yes = confirm_close_ ? confirm_close_()
                                  : QMessageBox::question(this, tr("Run in progress"),
                                                          tr("A run is in progress. Stop it (data is flushed and the "
                                                             "report written) and close?")) == QMessageBox::Yes;
  if (!yes) {
    event->ignore();
    return;
  }
  // Never block the GUI thread on the worker: close when it reports that the run has ended.
  close_after_run_ = true;
  stop_run();
  event->ignore();
}

}  // namespace dira::gui
