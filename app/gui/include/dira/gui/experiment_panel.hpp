#pragma once
/// @file experiment_panel.hpp
/// Experiment YAML: open/save, a form for the common parameters and the YAML text itself,
/// both validated by app::load_experiment_text (the CLI's check): each problem is shown at
/// its field and on its line of the YAML.

#include "dira/app/experiment.hpp"

#include <QWidget>

#include <optional>
#include <string>
#include <vector>

class QComboBox;
class QLabel;
class QLineEdit;
class QListWidget;
class QPlainTextEdit;
class QTimer;

namespace dira::gui {

class ExperimentPanel : public QWidget {
  Q_OBJECT
 public:
  explicit ExperimentPanel(QWidget* parent = nullptr);

  /// Loads a file; false (with a message box unless `quiet`) when it cannot be read.
  bool load_file(const QString& path, bool quiet = false);
  bool save_file(const QString& path);
  void set_text(const QString& yaml, const QString& file_name);
  QString text() const;
  QString file_name() const { return file_; }

  /// Sets one scalar in the YAML (as the form does) and revalidates at once.
  void set_value(const std::string& key_path, const std::string& yaml_value);
  /// Several set_value()s, validated once.
  void set_values(const std::vector<std::pair<std::string, std::string>>& edits);
  /// Validates now (normally debounced after typing).
  void validate_now();
  /// The validated configuration, or nullopt while there are problems.
  const std::optional<app::ExperimentConfig>& config() const { return config_; }
  const std::vector<app::ConfigIssue>& issues() const { return issues_; }
  /// The form field for a key path ("protocol.delta"), nullptr if the form has none.
  QWidget* field(const std::string& key_path) const;
  /// The error text shown under a field (empty when fine).
  QString field_error(const std::string& key_path) const;
  /// 1-based YAML lines currently highlighted as erroneous.
  std::vector<int> error_lines() const;

 signals:
  /// After each validation: whether the experiment can be run.
  void validityChanged(bool valid);
  /// The validated configuration changed (new file or edit).
  void configChanged();

 private:
  struct Field {
    std::string key;
    QWidget* edit = nullptr;  // QLineEdit or QComboBox
    QLabel* error = nullptr;
    QWidget* row_label = nullptr;
  };
  void field_edited(const Field& f);
  void refresh_fields();
  void show_issues();

  QString file_;
  QPlainTextEdit* editor_ = nullptr;
  QListWidget* issue_list_ = nullptr;
  QLabel* status_ = nullptr;
  QTimer* debounce_ = nullptr;
  std::vector<Field> fields_;
  std::optional<app::ExperimentConfig> config_;
  std::vector<app::ConfigIssue> issues_;
  std::vector<int> error_lines_;
  bool updating_ = false;
};

}  // namespace dira::gui
