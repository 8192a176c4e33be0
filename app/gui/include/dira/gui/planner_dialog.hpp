#pragma once
/// @file planner_dialog.hpp
/// The `dira plan` engine (protocol::plan_protocol_a/b) in a dialog: hardware quality and
/// trial rate in, parameters, trial count and verdict out; the parameters can be copied into
/// the experiment. Planning runs on a worker thread (LPs can take a second).

#include <QDialog>

#include <nlohmann/json.hpp>

#include <thread>

class QComboBox;
class QLineEdit;
class QPushButton;
class QTextBrowser;

namespace dira::gui {

class ExperimentPanel;

/// The inputs of one plan, as `dira plan` takes them.
struct PlanRequest {
  char protocol = 'B';
  double epsilon = 0.01, target = 1e-6, visibility = 1, efficiency = 1, dark_count = 0, trial_rate = 1e6;
};

/// Runs the planner; the JSON has the fields of `dira plan --json` that the dialog shows
/// (feasible, verdict, parameters, log10_trials, …). Throws on unreadable inequality files.
nlohmann::json run_plan(const PlanRequest& r);

class PlannerDialog : public QDialog {
  Q_OBJECT
 public:
  explicit PlannerDialog(ExperimentPanel* experiment, QWidget* parent = nullptr);
  ~PlannerDialog() override;
  /// Starts planning with the entered values; planFinished() follows.
  void plan();
  const nlohmann::json& result() const { return result_; }
  /// Copies the planned parameters into the experiment; false if there is no feasible plan.
  bool apply();

 signals:
  void planFinished();

 private:
  ExperimentPanel* experiment_;
  QComboBox* protocol_ = nullptr;
  QLineEdit *epsilon_ = nullptr, *target_ = nullptr, *visibility_ = nullptr, *efficiency_ = nullptr, *dark_ = nullptr,
            *rate_ = nullptr;
  QPushButton *plan_button_ = nullptr, *apply_button_ = nullptr;
  QTextBrowser* output_ = nullptr;
  nlohmann::json result_;
  std::thread thread_;
};

}  // namespace dira::gui
