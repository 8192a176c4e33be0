#include "dira/gui/run_worker.hpp"

#include "dira/app/config_error.hpp"

#include <QMetaObject>

#include "dira/protocol/ns_lp.hpp"

namespace dira::gui {

RunWorker::RunWorker(QObject* parent) : QObject(parent) {}

RunWorker::~RunWorker() {
  interrupt_ = true;
  pause_ = false;
  join();
}

void RunWorker::join() {
  if (thread_.joinable()) thread_.join();
}

bool RunWorker::start(const app::ExperimentConfig& config, app::RunOptions options) {
  if (running_.load()) return false;
  // The previous run's thread has posted its last message; reap it before reusing the handle.
  join();
  interrupt_ = false;
  pause_ = false;
  pending_ = false;
  produced_ = 0;
  notified_ = 0;
  {
    std::lock_guard lock(mutex_);
    latest_.reset();
  }
  running_ = true;
  options.interrupt = &interrupt_;
  options.pause = &pause_;
  options.progress = [this](const app::Progress& p) {
    {
      std::lock_guard lock(mutex_);
      latest_ = p;
    }
    ++produced_;
    // One queued notification at a time: the GUI takes the newest snapshot when it gets to it.
    if (!pending_.exchange(true)) {
      ++notified_;
      QMetaObject::invokeMethod(
          this, [this] { emit snapshotReady(); }, Qt::QueuedConnection);
    }
  };
  options.on_directory = [this](const std::filesystem::path& d) {
    const QString dir = QString::fromStdString(d.string());
    QMetaObject::invokeMethod(
        this, [this, dir] { emit directoryCreated(dir); }, Qt::QueuedConnection);
  };
  thread_ = std::thread([this, config, options] {
    QString status, report, directory, error;
    try {
      const app::RunResult r = app::run_experiment(config, options);
      status = QString::fromStdString(r.state + ": " + r.decision);  // e.g. "completed: accept"
      report = QString::fromStdString(r.report.dump());
      directory = QString::fromStdString(r.directory.string());
    } catch (const app::ConfigError& e) {
      error = QString::fromStdString(e.what());
    } catch (const std::exception& e) {
      error = QString::fromStdString(e.what());
    }
    // GLPK keeps a per-thread environment (the analysis' LPs ran here); this thread ends now,
    // so free it or every run of a long GUI session leaks one.
    protocol::release_thread_lp_environment();
    QMetaObject::invokeMethod(
        this,
        [this, status, report, directory, error] {
          running_ = false;
          join();
          if (error.isEmpty())
            emit finished(status, report, directory);
          else
            emit failed(error);
        },
        Qt::QueuedConnection);
  });
  return true;
}

void RunWorker::set_paused(bool paused) {
  pause_ = paused;
}

void RunWorker::stop() {
  pause_ = false;
  interrupt_ = true;
}

std::optional<app::Progress> RunWorker::take_snapshot() {
  std::lock_guard lock(mutex_);
  pending_ = false;
  auto p = std::move(latest_);
  latest_.reset();
  return p;
}

}  // namespace dira::gui
