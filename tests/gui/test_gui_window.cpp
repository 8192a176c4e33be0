// dira-gui end to end, offscreen: runs on the simulator through the same session as `dira run`.
#include "dira/app/experiment.hpp"
#include "dira/gui/chart_panel.hpp"
#include "dira/gui/device_panel.hpp"
#include "dira/gui/experiment_panel.hpp"
#include "dira/gui/history.hpp"
#include "dira/gui/main_window.hpp"
#include "dira/gui/planner_dialog.hpp"
#include "dira/gui/station_panel.hpp"
#include "dira/gui/yaml_edit.hpp"

#include <QComboBox>
#include <QDir>
#include <QFile>
#include <QLabel>
#include <QLineEdit>
#include <QProcess>
#include <QPushButton>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QtTest>

#include <nlohmann/json.hpp>

#include <chrono>
#include <fstream>

using namespace dira::gui;

namespace {

QString experiment(const char* name) {
  return QString(DIRA_SOURCE_CONFIG_DIR) + "/experiments/" + name;
}

nlohmann::json read_json(const QString& path) {
  QFile f(path);
  if (!f.open(QIODevice::ReadOnly)) return nullptr;
  return nlohmann::json::parse(f.readAll().toStdString(), nullptr, false);
}

// Runs the window's experiment to its decision; returns the status.
QString run_to_end(MainWindow& w, int timeout_ms = 60000) {
  QSignalSpy done(&w, &MainWindow::runFinished);
  if (!w.start_run()) return "not started";
  if (!done.wait(timeout_ms)) return "timeout";
  return done.takeFirst().at(0).toString();
}

}  // namespace

class GuiWindowTest : public QObject {
  Q_OBJECT
 private slots:
  void init();
  void acceptRunShowsDecisionPlotsAndPassesAnalyze();
  void invalidEditShowsErrorAndBlocksStart();
  void noisyRunAbortsWithReason();
  void hardwareFaultIsShown();
  void protocolARunPlotsZk();
  void pauseThenCloseStopsCleanly();
  void deviceEditorFollowsCapabilities();
  void plannerAppliesParameters();
  void runUsesConnectedDevices();
  void misspeltSectionShownAtItsLine();
  void stationPanelDrawsRowsAndLevels();
  void stationRunShowsEachStation();

 private:
  std::unique_ptr<QTemporaryDir> out_;
};

void GuiWindowTest::init() {
  out_ = std::make_unique<QTemporaryDir>();
}

void GuiWindowTest::acceptRunShowsDecisionPlotsAndPassesAnalyze() {
  MainWindow w;
  w.set_out_directory(out_->path());
  w.show();
  QVERIFY(w.load_experiment(experiment("sim-ks294.yaml")));
  QVERIFY(w.start_button()->isEnabled());
  QSignalSpy frames(&w, &MainWindow::frameDrawn);
  QCOMPARE(run_to_end(w), QString("completed: accept"));
  // The demonstration size certifies 0 bits: accepted, but a neutral banner, not the green one.
  QCOMPARE(static_cast<int>(w.decision().kind), static_cast<int>(DecisionSummary::Kind::accepted_no_bits));
  QVERIFY(w.banner()->text().startsWith("<b style='font-size:14pt'>ACCEPTED — 0 bits certified</b>"));
  QVERIFY(w.banner()->text().contains("L_n = 0 ≤ 0.01"));
  QVERIFY(w.banner()->text().contains("certified output: 0 bits"));
  QVERIFY(frames.count() >= 1);
  // Every plot shows data drawn from the session's snapshots.
  QCOMPARE(w.chart_count(), 4);
  for (int i = 0; i < 4; ++i) QVERIFY2(w.chart(i)->drawn_points() > 0, qPrintable(QString("chart %1 is empty").arg(i)));
  QCOMPARE(w.chart(1)->data().id, std::string("ustar"));
  QCOMPARE(w.plot_model().last().trials, std::uint64_t{200000});
  // Never more frames than the 25 Hz cap allows over the run (plus the final frame).
  QVERIFY(static_cast<double>(w.metrics().frames) <= 25.0 * w.metrics().wall_s + 2);

  // The run directory is the one `dira run` writes, and `dira analyze` reproduces its decision.
  const QString dir = w.run_directory();
  QVERIFY(dir.startsWith(out_->path()));
  for (const char* f : {"config.yaml", "run.h5", "report.json", "sv_bits.bin", "dira.log"})
    QVERIFY2(QFile::exists(dir + "/" + f), f);
  const auto report = read_json(dir + "/report.json");
  QCOMPARE(QString::fromStdString(report.value("state", "")), QString("completed"));
  QCOMPARE(QString::fromStdString(report.value("decision", "")), QString("accept"));
  QProcess analyze;
  analyze.start(DIRA_CLI, {"analyze", dir, "--json"});
  QVERIFY(analyze.waitForFinished(60000));
  QCOMPARE(analyze.exitCode(), 0);
  const auto a = nlohmann::json::parse(analyze.readAllStandardOutput().toStdString(), nullptr, false);
  QCOMPARE(QString::fromStdString(a.value("decision", "")), QString("accept"));
  QCOMPARE(a.value("reproduces_live_decision", false), true);

  // History: the directory is listed and replots with the same decision.
  QVERIFY(w.history_panel()->count() >= 1);
  QCOMPARE(w.history_panel()->directory_at(0), dir);
  QSignalSpy replayed(&w, &MainWindow::replayLoaded);
  QVERIFY(w.open_run_directory(dir));
  QVERIFY(replayed.wait(30000));
  QCOMPARE(replayed.takeFirst().at(0).toBool(), true);
  QCOMPARE(static_cast<int>(w.decision().kind), static_cast<int>(DecisionSummary::Kind::accepted_no_bits));
  for (int i = 0; i < 4; ++i) QVERIFY2(w.chart(i)->drawn_points() > 0, qPrintable(QString("replayed chart %1").arg(i)));
  std::uint64_t replay_settings = 0;
  for (auto n : w.plot_model().last().setting_counts) replay_settings += n;
  QCOMPARE(replay_settings, std::uint64_t{200000});  // every recorded trial counted once
  // The replay draws the histogram against the same ε-SV band as the live run did.
  QVERIFY(w.plot_model().last().setting_probability_min > 0);
  QVERIFY(w.plot_model().last().setting_probability_min < 1.0 / 81);
  QVERIFY(w.plot_model().last().setting_probability_max > 1.0 / 81);

  // Exports: a PNG and an SVG per chart, three CSV files with a header and data rows.
  const QString ex = out_->path() + "/export";
  QVERIFY(w.export_plots(ex));
  QVERIFY(w.export_data(ex));
  for (const char* id : {"bell", "ustar", "clicks", "settings"}) {
    QVERIFY(QFileInfo(ex + "/" + id + ".png").size() > 1000);
    QVERIFY(QFileInfo(ex + "/" + id + ".svg").size() > 300);
  }
  QFile csv(ex + "/settings.csv");
  QVERIFY(csv.open(QIODevice::ReadOnly));
  QCOMPARE(csv.readAll().count('\n'), 82);  // header + 81 joint settings of ks294 (9 × 9)
}

void GuiWindowTest::invalidEditShowsErrorAndBlocksStart() {
  MainWindow w;
  w.set_out_directory(out_->path());
  w.show();
  QVERIFY(w.load_experiment(experiment("sim-ks294.yaml")));
  auto* delta = qobject_cast<QLineEdit*>(w.experiment_panel()->field("protocol.delta"));
  QVERIFY(delta);
  delta->setFocus();
  delta->selectAll();
  QTest::keyClicks(delta, "-1");
  QTest::keyClick(delta, Qt::Key_Return);
  // The YAML now says δ = -1, the field shows the CLI's message, the line is marked.
  const std::string yaml = w.experiment_panel()->text().toStdString();
  QCOMPARE(yaml_scalar(yaml, "protocol.delta").value_or("?"), std::string("-1"));
  QVERIFY(!w.experiment_panel()->config().has_value());
  QVERIFY(!w.experiment_panel()->field_error("protocol.delta").isEmpty());
  const int line = yaml_key_line(yaml, "protocol.delta");
  const auto marked = w.experiment_panel()->error_lines();
  QVERIFY(std::find(marked.begin(), marked.end(), line) != marked.end());
  bool issue_has_line = false;
  for (const auto& i : w.experiment_panel()->issues())
    issue_has_line = issue_has_line || (i.key == "protocol.delta" && i.line == line);
  QVERIFY(issue_has_line);
  QVERIFY(!w.start_button()->isEnabled());
  QVERIFY(!w.start_run());
  QVERIFY(!w.running());
  QVERIFY(w.banner()->text().contains("Cannot start"));
  QVERIFY(QDir(out_->path()).entryList(QDir::Dirs | QDir::NoDotAndDotDot).isEmpty());  // nothing written

  // Fixing the value clears the error and enables Start again.
  delta->setFocus();
  delta->selectAll();
  QTest::keyClicks(delta, "0.01");
  QTest::keyClick(delta, Qt::Key_Return);
  QVERIFY(w.experiment_panel()->config().has_value());
  QVERIFY(w.experiment_panel()->field_error("protocol.delta").isEmpty());
  QVERIFY(w.start_button()->isEnabled());
}

void GuiWindowTest::noisyRunAbortsWithReason() {
  MainWindow w;
  w.set_out_directory(out_->path());
  QVERIFY(w.load_experiment(experiment("sim-ks294-noisy.yaml")));
  QCOMPARE(run_to_end(w), QString("completed: abort"));
  QCOMPARE(static_cast<int>(w.decision().kind), static_cast<int>(DecisionSummary::Kind::abort));
  QVERIFY(w.banner()->text().contains("ABORT — Bell test failed: L_n = 0.0384 is not &lt;= 0.01"));
  QVERIFY(w.banner()->text().contains("✘ failed"));
  QVERIFY(w.decision().output_path.empty());
}

void GuiWindowTest::hardwareFaultIsShown() {
  MainWindow w;
  w.set_out_directory(out_->path());
  QVERIFY(w.load_experiment(experiment("sim-ks294.yaml")));
  w.experiment_panel()->set_value("simulator.fail_after_trials", "50000");
  QVERIFY(w.experiment_panel()->config().has_value());
  QCOMPARE(run_to_end(w), QString("hardware-fault: incomplete"));
  QCOMPARE(static_cast<int>(w.decision().kind), static_cast<int>(DecisionSummary::Kind::hardware_fault));
  QVERIFY(w.banner()->text().contains("HARDWARE FAULT"));
  QVERIFY(!w.decision().reasons.empty());
  QVERIFY(QFile::exists(w.run_directory() + "/report.json"));  // a fault keeps what was acquired
}

void GuiWindowTest::protocolARunPlotsZk() {
  MainWindow w;
  w.set_out_directory(out_->path());
  QVERIFY(w.load_experiment(experiment("sim-guehne4.yaml")));
  QCOMPARE(run_to_end(w), QString("completed: accept"));
  QCOMPARE(w.chart(1)->data().id, std::string("zk"));
  QVERIFY(w.station_panel()->isHidden());  // a single-process run has no stations to show
  for (int i = 0; i < 4; ++i) QVERIFY(w.chart(i)->drawn_points() > 0);
  QCOMPARE(w.plot_model().last().setting_counts.size(), std::size_t{16});  // 2^4 joint settings
}

void GuiWindowTest::pauseThenCloseStopsCleanly() {
  MainWindow w;
  w.set_out_directory(out_->path());
  w.show();
  QVERIFY(w.load_experiment(experiment("sim-ks294.yaml")));
  // Long enough (minutes at full speed) that only the close can end it.
  w.experiment_panel()->set_value("protocol.trials", "2000000000");
  QVERIFY(w.experiment_panel()->config().has_value());
  QSignalSpy frames(&w, &MainWindow::frameDrawn);
  QSignalSpy done(&w, &MainWindow::runFinished);
  QVERIFY(w.start_run());
  QVERIFY(frames.wait(20000));
  w.set_paused(true);
  // While paused the trial count stands still (the simulator waits) and snapshots say so.
  QTRY_COMPARE_WITH_TIMEOUT(QString::fromStdString(w.plot_model().last().stage), QString("paused"), 10000);
  const auto paused_at = w.plot_model().last().trials;
  QTest::qWait(300);
  QCOMPARE(w.plot_model().last().trials, paused_at);
  w.set_paused(false);
  QTRY_VERIFY_WITH_TIMEOUT(w.plot_model().last().trials > paused_at, 10000);

  int asked = 0;
  w.set_close_confirmation([&] {
    ++asked;
    return true;
  });
  const auto t0 = std::chrono::steady_clock::now();
  w.close();
  // close() returned without waiting for the worker (the GUI thread never blocks on it).
  QVERIFY(std::chrono::steady_clock::now() - t0 < std::chrono::milliseconds(500));
  QCOMPARE(asked, 1);
  QVERIFY(done.wait(60000));
  QCOMPARE(done.takeFirst().at(0).toString(), QString("interrupted: incomplete"));
  QTRY_VERIFY_WITH_TIMEOUT(!w.isVisible(), 5000);
  const auto report = read_json(w.run_directory() + "/report.json");
  QCOMPARE(QString::fromStdString(report.value("state", "")), QString("interrupted"));
  QCOMPARE(QString::fromStdString(report.value("decision", "")), QString("incomplete"));
  QVERIFY(report.value("trials_recorded", std::uint64_t{0}) >= paused_at);
  QVERIFY(report.contains("decision_note"));
}

void GuiWindowTest::deviceEditorFollowsCapabilities() {
  MainWindow w;
  QVERIFY(w.load_experiment(experiment("sim-ks294.yaml")));
  DevicePanel* d = w.device_panel();
  QVERIFY(d->select_driver("sim"));
  // One editor per declared capability, read-only ones disabled.
  auto* vis = qobject_cast<QLineEdit*>(d->setting_widget("visibility"));
  QVERIFY(vis);
  QCOMPARE(vis->text(), QString("1"));  // from the experiment's simulator: section
  QVERIFY(d->setting_widget("source") != nullptr);
  vis->setText("1.5");  // declared range [0, 1]
  QVERIFY(!d->entered_settings().has_value());
  QVERIFY(!d->setting_error("visibility").isEmpty());
  vis->setText("0.8");
  QVERIFY(d->apply_to_experiment());
  const auto& cfg = w.experiment_panel()->config();
  QVERIFY(cfg.has_value());
  QCOMPARE(std::get<double>(cfg->simulator.settings.at("visibility")), 0.8);
  QVERIFY(d->setting_error("visibility").isEmpty());
  // Other drivers get their own editors from their declarations.
  QVERIFY(d->select_driver("ptu"));
  QVERIFY(d->setting_widget("file") != nullptr);
  QVERIFY(d->setting_widget("visibility") == nullptr);
  // A PTU replay of a missing file cannot open: the error is reported, not thrown.
  qobject_cast<QLineEdit*>(d->setting_widget("file"))->setText(out_->path() + "/missing.ptu");
  QVERIFY(!d->connect_selected());
  QVERIFY2(d->status().contains("missing.ptu"), qPrintable(d->status()));
  QVERIFY(!d->status().isEmpty());
  QVERIFY(d->connected().isEmpty());
  QVERIFY(d->select_driver("sim"));
  // The simulator always opens, with the settings entered (seed 3 from the experiment).
  QVERIFY2(d->connect_selected(), qPrintable(d->status()));
  QCOMPARE(d->connected().size(), 1);
  QVERIFY2(d->connected().front().contains("seed 3"), qPrintable(d->connected().front()));
  d->disconnect_all();
  QVERIFY(d->connected().isEmpty());
}

void GuiWindowTest::plannerAppliesParameters() {
  MainWindow w;
  QVERIFY(w.load_experiment(experiment("sim-ks294.yaml")));
  PlannerDialog p(w.experiment_panel());
  QSignalSpy done(&p, &PlannerDialog::planFinished);
  p.plan();
  QVERIFY(done.wait(60000));
  QVERIFY(p.result().contains("verdict"));
  // The same engine as `dira plan --protocol B` at the defaults.
  QProcess cli;
  cli.start(DIRA_CLI, {"plan", "--protocol", "B", "--json"});
  QVERIFY(cli.waitForFinished(60000));
  const auto j = nlohmann::json::parse(cli.readAllStandardOutput().toStdString(), nullptr, false);
  QCOMPARE(p.result().value("feasible", true), j.value("feasible", false));
  QCOMPARE(p.result().value("headline", std::string("gui")), j.value("headline", std::string("cli")));
  if (p.result().value("feasible_on_paper", false)) {
    QCOMPARE(p.result()["parameters"]["delta"].get<double>(), j["parameters"]["delta"].get<double>());
    QVERIFY(p.apply());
    const auto delta = yaml_scalar(w.experiment_panel()->text().toStdString(), "protocol.delta");
    QVERIFY(delta.has_value());
    QVERIFY(std::abs(std::stod(*delta) / j["parameters"]["delta"].get<double>() - 1) < 1e-6);
    // Every parameter the planner chose is a key dira run reads (issue 13): the form validates.
    for (const char* k : {"protocol.kappa", "protocol.delta_az", "protocol.tau"})
      QVERIFY2(yaml_scalar(w.experiment_panel()->text().toStdString(), k).has_value(), k);
    w.experiment_panel()->validate_now();
    QVERIFY2(w.experiment_panel()->config().has_value(),
             qPrintable(w.experiment_panel()->issues().empty()
                            ? QString()
                            : QString::fromStdString(w.experiment_panel()->issues().front().str())));
  } else {
    QVERIFY(!p.apply());
  }
}

void GuiWindowTest::runUsesConnectedDevices() {
  // Issue 13: a GUI run uses the devices connected in the device panel, not only the file's.
  MainWindow w;
  w.set_out_directory(out_->path());
  w.set_max_trials(200000);
  QVERIFY(w.load_experiment(experiment("sim-ks294.yaml")));
  DevicePanel* d = w.device_panel();
  QVERIFY(d->select_driver("sim"));
  qobject_cast<QLineEdit*>(d->setting_widget("visibility"))->setText("0.97");
  QVERIFY2(d->connect_selected(), qPrintable(d->status()));
  QCOMPARE(d->connected().size(), 1);
  // V = 0.97 may well fail the Bell test: either verdict is a completed run on these devices.
  const QString result = run_to_end(w);
  QVERIFY2(result.startsWith("completed: "), qPrintable(result + " — " + w.banner()->text()));
  QVERIFY(d->connected().isEmpty());  // handed over to the run
  // The run directory records what ran: the panel's visibility, not the file's 1.0.
  QFile f(w.run_directory() + "/config.yaml");
  QVERIFY(f.open(QIODevice::ReadOnly));
  const auto ran = dira::app::load_experiment_text(f.readAll().toStdString(), "config.yaml");
  QCOMPARE(std::get<double>(ran.simulator.settings.at("visibility")), 0.97);
}

void GuiWindowTest::misspeltSectionShownAtItsLine() {
  // Issue 13: `Protocol:` for `protocol:` is an error at its line, and the form shows no
  // protocol rather than the list's first (A) while the file says B.
  MainWindow w;
  QFile f(experiment("sim-ks294.yaml"));
  QVERIFY(f.open(QIODevice::ReadOnly));
  QString yaml = QString::fromUtf8(f.readAll());
  yaml.replace("\nprotocol:\n", "\nProtocol:\n");
  w.experiment_panel()->set_text(yaml, "misspelt.yaml");
  w.experiment_panel()->validate_now();
  QVERIFY(!w.experiment_panel()->config().has_value());
  QVERIFY(!w.experiment_panel()->issues().empty());
  bool at_line = false;
  for (const auto& i : w.experiment_panel()->issues()) at_line = at_line || i.line > 0;
  QVERIFY(at_line);
  QVERIFY(!w.experiment_panel()->error_lines().empty());
  auto* kind = qobject_cast<QComboBox*>(w.experiment_panel()->field("protocol.kind"));
  QVERIFY(kind);
  QVERIFY2(kind->currentText() != "A", qPrintable(kind->currentText()));
  QVERIFY(!w.start_button()->isEnabled() || !w.start_run());
}

QTEST_MAIN(GuiWindowTest)
// Issue 14: the station table draws what station_view decides (text, one row per station) and
// colours a lost station apart from a current one.
void GuiWindowTest::stationPanelDrawsRowsAndLevels() {
  using namespace dira::station;
  StationHealth a;
  a.name = "alice";
  a.link = LinkState::connected;
  a.heartbeat_age_s = 0.05;
  a.tag_rate = 2.5e6;
  StationHealth b = a;
  b.name = "bob";
  b.link = LinkState::lost;
  b.clock_offset_ps = 1'000'000'000;
  StationPanel panel;
  panel.show_rows(station_rows({a, b}, 0.2));
  QCOMPARE(panel.rowCount(), 2);
  QCOMPARE(panel.columnCount(), 7);
  QCOMPARE(panel.horizontalHeaderItem(5)->text(), QString("clock offset"));
  QCOMPARE(panel.item(1, 5)->text(), QString("+1.000 ms"));
  QCOMPARE(panel.item(1, 1)->text(), QString("lost"));
  QCOMPARE(panel.item(0, 3)->text(), QString("2.50 M tags/s"));
  QVERIFY(panel.item(1, 0)->background() != panel.item(0, 0)->background());
  panel.show_rows(station_rows({a}, 0.2));
  QCOMPARE(panel.rowCount(), 1);
}

// Issue 14 end to end: the shipped two-station ks294 experiment (config/stations/) with its two
// `dira station` processes on 127.0.0.1, run from the window; the station table lists both, by
// name, with their link state, and the run decides as `dira run` does (accept).
void GuiWindowTest::stationRunShowsEachStation() {
  QTemporaryDir dir;
  QVERIFY(dir.isValid());
  // A port of its own, so a parallel CTest station test (port 5555) does not collide.
  const QString port = QString::number(20000 + QCoreApplication::applicationPid() % 20000);
  for (const char* name : {"ks294-coordinator.yaml", "alice.yaml", "bob.yaml"}) {
    QFile in(QString(DIRA_SOURCE_CONFIG_DIR) + "/stations/" + name);
    QVERIFY(in.open(QIODevice::ReadOnly));
    QString text = QString::fromUtf8(in.readAll()).replace("127.0.0.1:5555", "127.0.0.1:" + port);
    QFile out(dir.filePath(name));
    QVERIFY(out.open(QIODevice::WriteOnly));
    out.write(text.toUtf8());
  }
  // No mkdir: `dira keygen keys/NAME` creates keys/ (0700), as the shipped example's comment says.
  for (const char* k : {"coordinator", "alice", "bob"}) {
    QProcess keygen;
    keygen.setWorkingDirectory(dir.path());
    keygen.start(DIRA_CLI, {"keygen", QString("keys/") + k});
    QVERIFY(keygen.waitForFinished(10000));
    QCOMPARE(keygen.exitCode(), 0);
  }
  QProcess alice, bob;
  for (auto* p : {&alice, &bob}) {
    p->setWorkingDirectory(dir.path());
    p->setProcessChannelMode(QProcess::MergedChannels);
  }
  alice.start(DIRA_CLI, {"station", "alice.yaml"});
  bob.start(DIRA_CLI, {"station", "bob.yaml"});
  QVERIFY(alice.waitForStarted(5000));
  QVERIFY(bob.waitForStarted(5000));

  MainWindow w;
  w.set_out_directory(out_->path());
  QVERIFY(w.load_experiment(dir.filePath("ks294-coordinator.yaml")));
  const QString status = run_to_end(w, 120000);
  if (status != "completed: accept") qWarning() << w.banner()->text();
  // The stations end once the coordinator has everything (docs/stations.md); a station still
  // running 20 s after the run is a failure, its output shown.
  for (auto* p : {&alice, &bob}) {
    // waitForFinished is false for a process that already finished (its finished signal seen in
    // run_to_end's event loop): that station ended too.
    const bool ended = p->state() == QProcess::NotRunning || p->waitForFinished(20000);
    if (!ended) {
      p->kill();
      p->waitForFinished(5000);
    }
    QVERIFY2(ended, p->readAll().constData());
  }
  QCOMPARE(status, QString("completed: accept"));
  auto* table = w.station_panel();
  QCOMPARE(table->rowCount(), 2);
  QCOMPARE(table->item(0, 0)->text(), QString("alice"));
  QCOMPARE(table->item(1, 0)->text(), QString("bob"));
  for (int r = 0; r < 2; ++r) {
    const QString link = table->item(r, 1)->text();
    QVERIFY2(link == "connected" || link == "ended", qPrintable(link));
    QVERIFY(table->item(r, 3)->text().endsWith("tags/s"));
  }
  const auto report = read_json(w.run_directory() + "/report.json");
  QVERIFY(report.contains("stations"));
}

#include "test_gui_window.moc"
