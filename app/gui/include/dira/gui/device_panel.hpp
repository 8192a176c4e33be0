#pragma once
/// @file device_panel.hpp
/// Drivers and the devices their scans find, connect/disconnect, and a settings editor
/// generated from each driver's capability declarations (hal::Capability: type, unit, range,
/// choices, get/set), validated by the registry exactly as YAML settings are. The simulator's
/// settings are written into the experiment's `simulator:` section.

#include "dira/hal/device.hpp"
#include "dira/hal/registry.hpp"

#include <QWidget>

#include <map>
#include <memory>
#include <optional>
#include <thread>

class QLabel;
class QListWidget;
class QPushButton;
class QTreeWidget;
class QFormLayout;

namespace dira::gui {

class ExperimentPanel;

class DevicePanel : public QWidget {
  Q_OBJECT
 public:
  /// `experiment` receives the simulator settings (may be nullptr).
  explicit DevicePanel(ExperimentPanel* experiment, QWidget* parent = nullptr);
  ~DevicePanel() override;

  /// Lists the drivers again; with `scan`, each driver's scan runs on a worker thread.
  void refresh(bool scan);
  /// Shows the settings editor of a driver; false if no such driver.
  bool select_driver(const QString& name);
  QString selected_driver() const;
  /// The editor widget for a capability key of the selected driver.
  QWidget* setting_widget(const std::string& key) const;
  /// The error text at a setting (empty when valid).
  QString setting_error(const std::string& key) const;
  /// Settings entered for the selected driver that differ from its defaults, or nullopt
  /// (errors shown at the fields) when a value is malformed or outside its declaration.
  std::optional<std::map<std::string, hal::SettingValue>> entered_settings();
  /// Creates a device of the selected driver with the entered settings.
  bool connect_selected();
  void disconnect_all();
  QStringList connected() const;
  /// The last connect/disconnect message (errors included).
  QString status() const;
  /// Writes the entered simulator settings into the experiment YAML.
  bool apply_to_experiment();
  /// Before a GUI run: the devices connected here are the ones the run uses (issue 13). Their
  /// driver and settings are written into the experiment YAML (so the run's config.yaml records
  /// what ran) — the simulator into `simulator:`, a time tagger into `devices.tagger` — and the
  /// panel releases its handles so the session can open them. Nothing connected: no change,
  /// true. False with `message` when a connected device cannot be expressed in this
  /// experiment (a tagger without a `devices:` section giving the channel layout; modulators
  /// and entropy sources from the panel, not yet supported).
  bool use_connected_in_experiment(QString* message);

 public slots:
  /// Loads the experiment's simulator settings into the editor when `sim` is selected.
  void experiment_changed();

 signals:
  void scanFinished();

 private:
  struct Row {
    hal::Capability cap;
    QWidget* edit = nullptr;
    QLabel* error = nullptr;
  };
  void build_editor(const hal::DriverInfo* d);
  void set_row_value(Row& r, const hal::SettingValue& v);
  void show_found(const QString& json);

  ExperimentPanel* experiment_;
  QTreeWidget* tree_ = nullptr;
  QWidget* editor_host_ = nullptr;
  QFormLayout* editor_form_ = nullptr;
  QLabel* editor_title_ = nullptr;
  QLabel* status_ = nullptr;
  QListWidget* connected_list_ = nullptr;
  QPushButton* apply_ = nullptr;
  const hal::DriverInfo* selected_ = nullptr;
  std::vector<Row> rows_;
  struct Connected {
    std::string label;
    const hal::DriverInfo* driver = nullptr;
    std::map<std::string, hal::SettingValue> settings;  ///< as entered (defaults omitted)
    std::unique_ptr<hal::Device> device;
  };
  std::vector<Connected> devices_;
  std::thread scan_thread_;
};

}  // namespace dira::gui
