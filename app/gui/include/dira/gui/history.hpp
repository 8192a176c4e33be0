#pragma once
/// @file history.hpp
/// Earlier runs: finding run directories and turning one back into what the live plots
/// showed (its statistics time series from run.h5, click and setting counts from its trials,
/// its report.json for the decision banner).

#include "dira/app/session.hpp"

#include <QWidget>

#include <nlohmann/json.hpp>

#include <filesystem>
#include <string>
#include <vector>

class QListWidget;

namespace dira::gui {

/// A recorded run as the snapshots a live run would have produced, one per statistics row.
struct Replay {
  std::vector<app::Progress> snapshots;
  nlohmann::json report;  ///< report.json (null for a crashed run)
  std::string error;      ///< empty on success
};

/// Reads a run directory (config.yaml, run.h5, report.json). Never throws: problems land in
/// `error`. Click counts are outcome counts after the fixed outcome rule (run.h5 keeps trials,
/// not raw tags), so for a replay the click plot shows outcomes per party and channel.
Replay load_run_directory(const std::filesystem::path& dir);

/// Run directories (holding run.h5 or report.json) directly under `roots`, newest first.
std::vector<std::filesystem::path> find_run_directories(const std::vector<std::filesystem::path>& roots);

class HistoryPanel : public QWidget {
  Q_OBJECT
 public:
  explicit HistoryPanel(QWidget* parent = nullptr);
  /// Where to look for run directories (the experiment's outputs.directory, --out).
  void set_roots(const std::vector<std::filesystem::path>& roots);
  void rescan();
  int count() const;
  QString directory_at(int row) const;

 signals:
  void openRequested(const QString& directory);

 private:
  std::vector<std::filesystem::path> roots_;
  QListWidget* list_ = nullptr;
};

}  // namespace dira::gui
