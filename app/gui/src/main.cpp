// dira-gui: the operator's window on the same session code as `dira run` (docs/gui.md).
#include "dira/gui/experiment_panel.hpp"
#include "dira/gui/main_window.hpp"

#include <QApplication>
#include <QCommandLineParser>
#include <QCoreApplication>
#include <QFile>
#include <QTimer>

#include <nlohmann/json.hpp>

#include <iostream>
#include <string>

namespace {

QCommandLineOption hidden(const QString& name, const QString& help, const QString& value = {}) {
  QCommandLineOption o(name, help, value);
  o.setFlags(QCommandLineOption::HiddenFromHelp);
  return o;
}

int exit_code(const QString& status) {
  // The same codes as `dira run` (docs/cli.md) from "STATE: DECISION" (RunWorker::finished);
  // 2 when the run could not start.
  if (status.endsWith(": accept")) return 0;
  if (status.endsWith(": abort")) return 3;
  if (status.startsWith("hardware-fault")) return 4;
  if (status.startsWith("interrupted")) return 130;
  if (status.startsWith("storage")) return 1;
  if (status.endsWith(": incomplete")) return 5;
  return 2;
}

void write_metrics(const QString& file, const dira::gui::GuiMetrics& m, const QString& status) {
  const nlohmann::json j{{"status", status.toStdString()},
                         {"wall_s", m.wall_s},
                         {"gui_cpu_s", m.gui_cpu_s},
                         {"gui_cpu_percent_of_one_core", 100 * m.gui_cpu_fraction},
                         {"frames", m.frames},
                         {"frame_interval_mean_ms", m.frame_interval_mean_ms},
                         {"frame_interval_p95_ms", m.frame_interval_p95_ms},
                         {"frame_interval_max_ms", m.frame_interval_max_ms},
                         {"frame_cost_max_ms", m.frame_cost_max_ms},
                         {"event_loop_stall_max_ms", m.stall_max_ms},
                         {"snapshots_produced", m.snapshots_produced},
                         {"snapshots_notified", m.snapshots_notified},
                         {"trials", m.trials},
                         {"trial_rate", m.trial_rate}};
  QFile f(file);
  if (f.open(QIODevice::WriteOnly | QIODevice::Truncate))
    f.write(QByteArray::fromStdString(j.dump(2) + "\n"));
  else
    std::cerr << "dira-gui: cannot write " << file.toStdString() << "\n";
}

struct GuiOptions {
  QCommandLineOption autostart{"autostart", "start a run as soon as the experiment is loaded"};
  QCommandLineOption out{"out", "parent directory of run directories (default: outputs.directory)", "DIR"};
  QCommandLineOption max_trials{"max-trials", "stop after N trials", "N"};
  QCommandLineOption shot_during = hidden("screenshot-during", "save a PNG of the window at half the run", "FILE");
  QCommandLineOption shot_after = hidden("screenshot-after", "save a PNG of the window after the decision", "FILE");
  QCommandLineOption quit = hidden("quit-when-done", "exit when the run ends (exit code as dira run)");
  QCommandLineOption measure = hidden("measure", "write the GUI-thread metrics of the run as JSON", "FILE");

  void add_to(QCommandLineParser& cli) const {
    cli.setApplicationDescription("dira-gui: run device-independent randomness amplification experiments");
    cli.addHelpOption();
    cli.addVersionOption();
    cli.addPositionalArgument("EXPERIMENT.yaml", "experiment to open");
    for (const auto& o : {autostart, out, max_trials, shot_during, shot_after, quit, measure}) cli.addOption(o);
  }
};

}  // namespace

int main(int argc, char** argv) {
  const GuiOptions opt;
  // --help and --version need no display: answer them before a QApplication (which needs one)
  // exists, so `dira-gui --help` works over ssh and in CI.
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "-h" || a == "--help" || a == "--help-all" || a == "-v" || a == "--version") {
      QCoreApplication core(argc, argv);
      QCoreApplication::setApplicationName("dira-gui");
      QCoreApplication::setApplicationVersion(DIRA_VERSION);
      QCommandLineParser cli;
      opt.add_to(cli);
      cli.process(core);  // prints and exits
      return 0;
    }
  }
  QApplication app(argc, argv);
  QApplication::setApplicationName("dira-gui");
  QApplication::setApplicationVersion(DIRA_VERSION);
  QCommandLineParser cli;
  opt.add_to(cli);
  cli.process(app);
  const auto& autostart = opt.autostart;
  const auto& out = opt.out;
  const auto& max_trials = opt.max_trials;
  const auto& shot_during = opt.shot_during;
  const auto& shot_after = opt.shot_after;
  const auto& quit = opt.quit;
  const auto& measure = opt.measure;

  dira::gui::MainWindow w;
  if (cli.isSet(out)) w.set_out_directory(cli.value(out));
  if (cli.isSet(max_trials)) w.set_max_trials(cli.value(max_trials).toULongLong());
  if (cli.isSet(shot_during)) w.set_screenshot_during(cli.value(shot_during));
  const auto args = cli.positionalArguments();
  if (!args.isEmpty() && !w.load_experiment(args.front())) {
    std::cerr << "dira-gui: cannot read " << args.front().toStdString() << "\n";
    if (cli.isSet(quit)) return 2;
  }
  const bool quit_when_done = cli.isSet(quit);
  const QString after = cli.value(shot_after), metrics = cli.value(measure);
  QObject::connect(&w, &dira::gui::MainWindow::runFinished, &w, [&w, after, metrics, quit_when_done](const QString& s) {
    if (!metrics.isEmpty()) write_metrics(metrics, w.metrics(), s);
    // Let the last frame and the banner paint before grabbing.
    QTimer::singleShot(300, &w, [&w, after, quit_when_done, s] {
      if (!after.isEmpty() && !w.grab().save(after))
        std::cerr << "dira-gui: cannot write " << after.toStdString() << "\n";
      if (quit_when_done) QApplication::exit(exit_code(s));
    });
  });
  w.show();
  if (cli.isSet(autostart)) {
    QTimer::singleShot(0, &w, [&w, quit_when_done] {
      if (!w.start_run()) {
        for (const auto& i : w.experiment_panel()->issues()) std::cerr << i.str() << "\n";
        if (quit_when_done) QApplication::exit(2);
      }
    });
  }
  return QApplication::exec();
}
