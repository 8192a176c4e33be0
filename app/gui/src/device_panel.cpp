#include "dira/gui/device_panel.hpp"

#include "dira/app/devices.hpp"
#include "dira/gui/experiment_panel.hpp"
#include "dira/gui/yaml_edit.hpp"

#include <QCheckBox>
#include <QComboBox>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QLineEdit>
#include <QListWidget>
#include <QPushButton>
#include <QScrollArea>
#include <QSplitter>
#include <QTreeWidget>
#include <QVBoxLayout>

#include <cmath>
#include <nlohmann/json.hpp>

namespace dira::gui {

namespace {

QString range_text(const hal::Capability& c) {
  QString s;
  if (c.min || c.max)
    s = QString("[%1, %2]")
            .arg(c.min ? QString::number(*c.min, 'g', 10) : "−∞", c.max ? QString::number(*c.max, 'g', 10) : "∞");
  if (!c.unit.empty()) s += (s.isEmpty() ? "" : " ") + QString::fromStdString(c.unit);
  return s;
}

bool same(const hal::SettingValue& a, const hal::SettingValue& b) {
  // Integers and reals compare by value: YAML "1" for a real arrives as an integer.
  auto as_double = [](const hal::SettingValue& v, double& out) {
    if (const auto* i = std::get_if<std::int64_t>(&v)) return out = static_cast<double>(*i), true;
    if (const auto* d = std::get_if<double>(&v)) return out = *d, true;
    return false;
  };
  double x = 0, y = 0;
  if (as_double(a, x) && as_double(b, y)) return x == y;
  return a == b;
}

}  // namespace

DevicePanel::DevicePanel(ExperimentPanel* experiment, QWidget* parent) : QWidget(parent), experiment_(experiment) {
  auto* layout = new QVBoxLayout(this);
  auto* buttons = new QHBoxLayout;
  auto* scan = new QPushButton(tr("Scan"));
  scan->setObjectName("scanButton");
  auto* conn = new QPushButton(tr("Connect"));
  conn->setObjectName("connectButton");
  auto* disc = new QPushButton(tr("Disconnect all"));
  apply_ = new QPushButton(tr("Apply to experiment"));
  apply_->setToolTip(tr("Write these simulator settings into the experiment's simulator: section"));
  buttons->addWidget(scan);
  buttons->addWidget(conn);
  buttons->addWidget(disc);
  buttons->addWidget(apply_);
  layout->addLayout(buttons);

  auto* split = new QSplitter(Qt::Vertical);
  tree_ = new QTreeWidget;
  tree_->setObjectName("driverTree");
  tree_->setHeaderLabels({tr("driver / device"), tr("kind"), tr("description")});
  tree_->header()->setSectionResizeMode(0, QHeaderView::ResizeToContents);
  split->addWidget(tree_);
  auto* ed = new QWidget;
  auto* edl = new QVBoxLayout(ed);
  edl->setContentsMargins(0, 0, 0, 0);
  editor_title_ = new QLabel(tr("Select a driver to edit its settings"));
  editor_title_->setWordWrap(true);
  edl->addWidget(editor_title_);
  auto* scroll = new QScrollArea;
  editor_host_ = new QWidget;
  editor_form_ = new QFormLayout(editor_host_);
  scroll->setWidget(editor_host_);
  scroll->setWidgetResizable(true);
  edl->addWidget(scroll, 1);
  split->addWidget(ed);
  status_ = new QLabel;
  status_->setObjectName("deviceStatus");
  status_->setWordWrap(true);
  edl->addWidget(status_);
  connected_list_ = new QListWidget;
  connected_list_->setObjectName("connectedList");
  split->addWidget(connected_list_);
  split->setStretchFactor(0, 2);
  split->setStretchFactor(1, 4);
  split->setStretchFactor(2, 1);
  layout->addWidget(split, 1);

  connect(scan, &QPushButton::clicked, this, [this] { refresh(true); });
  connect(conn, &QPushButton::clicked, this, [this] { connect_selected(); });
  connect(disc, &QPushButton::clicked, this, [this] { disconnect_all(); });
  connect(apply_, &QPushButton::clicked, this, [this] { apply_to_experiment(); });
  connect(tree_, &QTreeWidget::currentItemChanged, this, [this](QTreeWidgetItem* item) {
    while (item && item->parent()) item = item->parent();
    if (item) select_driver(item->text(0));
  });
  refresh(false);
  select_driver("sim");
}

DevicePanel::~DevicePanel() {
  if (scan_thread_.joinable()) scan_thread_.join();
}

void DevicePanel::refresh(bool scan) {
  const QString current = selected_driver();
  tree_->clear();
  for (const auto* d : app::driver_registry().all()) {
    auto* item = new QTreeWidgetItem(
        tree_, {QString::fromStdString(d->name), hal::to_string(d->kind), QString::fromStdString(d->description)});
    item->setToolTip(2, QString::fromStdString(d->description));
  }
  if (scan) {
    if (scan_thread_.joinable()) return;  // a scan is under way; its result will arrive
    // USB scans can take seconds: never on the GUI thread.
    scan_thread_ = std::thread([this] {
      const QString json = QString::fromStdString(app::describe_drivers(app::driver_registry(), true).dump());
      QMetaObject::invokeMethod(
          this,
          [this, json] {
            if (scan_thread_.joinable()) scan_thread_.join();
            show_found(json);
            emit scanFinished();
          },
          Qt::QueuedConnection);
    });
  }
  if (!current.isEmpty()) {
    const auto items = tree_->findItems(current, Qt::MatchExactly, 0);
    if (!items.isEmpty()) tree_->setCurrentItem(items.front());
  }
}

void DevicePanel::show_found(const QString& json) {
  const auto j = nlohmann::json::parse(json.toStdString(), nullptr, false);
  if (!j.is_array()) return;
  for (const auto& d : j) {
    const auto items = tree_->findItems(QString::fromStdString(d.value("driver", "")), Qt::MatchExactly, 0);
    if (items.isEmpty()) continue;
    auto* item = items.front();
    qDeleteAll(item->takeChildren());
    if (d.contains("scan_error"))
      new QTreeWidgetItem(item, {tr("scan failed"), "", QString::fromStdString(d["scan_error"].get<std::string>())});
    for (const auto& f : d.value("found", nlohmann::json::array()))
      new QTreeWidgetItem(item, {QString::fromStdString(f.value("identity", "")), tr("found"),
                                 QString::fromStdString(f.value("detail", ""))});
    item->setExpanded(true);
  }
}

bool DevicePanel::select_driver(const QString& name) {
  const hal::DriverInfo* found = nullptr;
  for (const auto* d : app::driver_registry().all())
    if (QString::fromStdString(d->name) == name) found = d;
  if (!found) return false;
  if (found != selected_) build_editor(found);
  const auto items = tree_->findItems(name, Qt::MatchExactly, 0);
  if (!items.isEmpty() && tree_->currentItem() != items.front()) tree_->setCurrentItem(items.front());
  return true;
}

QString DevicePanel::selected_driver() const {
  return selected_ ? QString::fromStdString(selected_->name) : QString();
}

void DevicePanel::build_editor(const hal::DriverInfo* d) {
  selected_ = d;
  rows_.clear();
  while (editor_form_->rowCount() > 0) editor_form_->removeRow(0);
  editor_title_->setText(QString("<b>%1</b> (%2): %3")
                             .arg(QString::fromStdString(d->name), hal::to_string(d->kind),
                                  QString::fromStdString(d->description).toHtmlEscaped()));
  apply_->setEnabled(d->name == "sim");
  // One editor row per declared capability: the form is the declaration (DESIGN.md).
  for (const auto& c : d->capabilities) {
    Row r;
    r.cap = c;
    switch (c.type) {
      case hal::Capability::Type::boolean:
        r.edit = new QCheckBox;
        break;
      case hal::Capability::Type::choice: {
        auto* cb = new QComboBox;
        for (const auto& ch : c.choices) cb->addItem(QString::fromStdString(ch));
        r.edit = cb;
        break;
      }
      default:
        r.edit = new QLineEdit;
        break;
    }
    r.edit->setObjectName(QString::fromStdString("setting:" + c.key));
    r.edit->setEnabled(c.can_set);
    r.edit->setToolTip(QString::fromStdString(c.description) +
                       (c.can_set ? "" : tr("\n(read-only: reported by the device)")));
    r.error = new QLabel;
    r.error->setStyleSheet("color: #b71c1c");
    r.error->setWordWrap(true);
    r.error->hide();
    auto* box = new QWidget;
    auto* v = new QVBoxLayout(box);
    v->setContentsMargins(0, 0, 0, 0);
    v->setSpacing(1);
    auto* h = new QHBoxLayout;
    h->addWidget(r.edit, 1);
    h->addWidget(new QLabel(range_text(c)));
    v->addLayout(h);
    v->addWidget(r.error);
    editor_form_->addRow(QString::fromStdString(c.key), box);
    set_row_value(r, c.default_value);
    rows_.push_back(r);
  }
  if (d->name == "sim") experiment_changed();
}

void DevicePanel::set_row_value(Row& r, const hal::SettingValue& v) {
  if (auto* cb = qobject_cast<QCheckBox*>(r.edit)) {
    if (const auto* b = std::get_if<bool>(&v)) cb->setChecked(*b);
  } else if (auto* co = qobject_cast<QComboBox*>(r.edit)) {
    co->setCurrentText(QString::fromStdString(hal::to_string(v)));
  } else if (auto* le = qobject_cast<QLineEdit*>(r.edit)) {
    if (const auto* d = std::get_if<double>(&v))
      le->setText(QString::number(*d, 'g', 12));
    else
      le->setText(QString::fromStdString(hal::to_string(v)));
  }
}

void DevicePanel::experiment_changed() {
  if (!experiment_ || !selected_ || selected_->name != "sim") return;
  const auto& cfg = experiment_->config();
  if (!cfg) return;
  for (auto& r : rows_) {
    const auto it = cfg->simulator.settings.find(r.cap.key);
    set_row_value(r, it != cfg->simulator.settings.end() ? it->second : r.cap.default_value);
  }
}

QWidget* DevicePanel::setting_widget(const std::string& key) const {
  for (const auto& r : rows_)
    if (r.cap.key == key) return r.edit;
  return nullptr;
}

QString DevicePanel::setting_error(const std::string& key) const {
  for (const auto& r : rows_)
    if (r.cap.key == key) return r.error->text();
  return {};
}

std::optional<std::map<std::string, hal::SettingValue>> DevicePanel::entered_settings() {
  if (!selected_) return std::nullopt;
  std::map<std::string, hal::SettingValue> out;
  bool ok = true;
  for (auto& r : rows_) {
    r.error->clear();
    r.error->hide();
    if (!r.cap.can_set) continue;
    hal::SettingValue v;
    QString bad;
    if (auto* cb = qobject_cast<QCheckBox*>(r.edit)) {
      v = cb->isChecked();
    } else if (auto* co = qobject_cast<QComboBox*>(r.edit)) {
      v = co->currentText().toStdString();
    } else if (auto* le = qobject_cast<QLineEdit*>(r.edit)) {
      const QString t = le->text().trimmed();
      bool parsed = true;
      if (r.cap.type == hal::Capability::Type::integer) {
        const qlonglong n = t.toLongLong(&parsed);
        v = static_cast<std::int64_t>(n);
        if (!parsed) bad = tr("not an integer");
      } else if (r.cap.type == hal::Capability::Type::real) {
        const double x = t.toDouble(&parsed);
        v = x;
        if (!parsed || !std::isfinite(x)) bad = tr("not a number");
      } else {
        v = t.toStdString();
      }
    }
    // A real default is shown with 12 digits (set_row_value); read back, that text is not the
    // exact default (e.g. a quantum realisation's angle), yet the operator did not change it.
    const auto* dflt = std::get_if<double>(&r.cap.default_value);
    const auto* le = qobject_cast<QLineEdit*>(r.edit);
    const bool shown_default = dflt && le && le->text().trimmed() == QString::number(*dflt, 'g', 12);
    if (bad.isEmpty() && (shown_default || same(v, r.cap.default_value))) continue;
    if (bad.isEmpty()) {
      const auto msg = hal::check_value(r.cap, v);
      if (!msg.empty()) bad = QString::fromStdString(msg);
    }
    if (!bad.isEmpty()) {
      r.error->setText(bad);
      r.error->show();
      ok = false;
      continue;
    }
    out[r.cap.key] = v;
  }
  if (!ok) return std::nullopt;
  // The registry's own check (cross-setting rules), reported at the fields it names.
  for (const auto& [key, msg] : app::driver_registry().validate(*selected_, out)) {
    for (auto& r : rows_)
      if (r.cap.key == key) {
        r.error->setText(QString::fromStdString(msg));
        r.error->show();
      }
    ok = false;
  }
  if (!ok) return std::nullopt;
  return out;
}

bool DevicePanel::connect_selected() {
  auto settings = entered_settings();
  if (!settings || !selected_) return false;
  if (!selected_->create) {
    status_->setText(tr("Driver %1 cannot create devices").arg(selected_driver()));
    return false;
  }
  try {
    auto dev = app::driver_registry().create(*selected_, *settings);
    const std::string label = selected_->name + ": " + dev->identity();
    // Read-only capabilities show what the device reports.
    for (auto& r : rows_)
      if (r.cap.can_get && !r.cap.can_set) {
        try {
          set_row_value(r, dev->get(r.cap.key));
        } catch (const std::exception&) {
          // A device that cannot report a value yet (not started) keeps the declared default.
        }
      }
    connected_list_->addItem(QString::fromStdString(label));
    status_->setText(tr("Connected %1").arg(QString::fromStdString(label)));
    devices_.push_back({label, selected_, *settings, std::move(dev)});
    return true;
  } catch (const std::exception& e) {
    // Not a modal box: a failed connect is ordinary (device unplugged) and must not stop a script.
    status_->setText(tr("Cannot open %1: %2").arg(selected_driver(), e.what()));
    return false;
  }
}

void DevicePanel::disconnect_all() {
  devices_.clear();
  status_->setText(tr("All devices closed"));
  connected_list_->clear();
}

QString DevicePanel::status() const {
  return status_->text();
}

QStringList DevicePanel::connected() const {
  QStringList out;
  for (const auto& d : devices_) out << QString::fromStdString(d.label);
  return out;
}

namespace {
// A setting value as the experiment YAML writes it.
std::string yaml_value(const hal::SettingValue& value) {
  if (const auto* d = std::get_if<double>(&value)) return QString::number(*d, 'g', 12).toStdString();
  if (const auto* b = std::get_if<bool>(&value)) return *b ? "true" : "false";
  if (const auto* s = std::get_if<std::string>(&value)) return yaml_quote(*s);
  return hal::to_string(value);
}
}  // namespace

bool DevicePanel::use_connected_in_experiment(QString* message) {
  if (devices_.empty() || !experiment_) return true;
  const std::string yaml = experiment_->text().toStdString();
  std::vector<std::pair<std::string, std::string>> edits;
  QStringList used;
  for (const auto& d : devices_) {
    if (d.driver->name == "sim") {
      for (const auto& [key, value] : d.settings) edits.emplace_back("simulator." + key, yaml_value(value));
    } else if (d.driver->kind == hal::DeviceKind::time_tagger) {
      if (yaml_key_line(yaml, "devices") < 0) {
        *message = tr("the connected tagger %1 needs the experiment's devices: section (its channel layout "
                      "tells trial assembly which channel is which); add it, or disconnect the tagger")
                       .arg(QString::fromStdString(d.label));
        return false;
      }
      edits.emplace_back("devices.tagger.driver", d.driver->name);
      for (const auto& [key, value] : d.settings)
        edits.emplace_back("devices.tagger.settings." + key, yaml_value(value));
    } else {
      *message = tr("%1 (%2) is connected, but a GUI run takes only the simulator and a time tagger from the "
                    "device panel; list modulators and entropy sources in the experiment file")
                     .arg(QString::fromStdString(d.label), hal::to_string(d.driver->kind));
      return false;
    }
    used << QString::fromStdString(d.label);
  }
  experiment_->set_values(edits);
  // One open handle per device: the session opens them from the experiment now.
  disconnect_all();
  *message = tr("the run uses the connected devices (%1), written into the experiment").arg(used.join(", "));
  status_->setText(*message);
  return true;
}

bool DevicePanel::apply_to_experiment() {
  if (!experiment_ || !selected_ || selected_->name != "sim") return false;
  auto settings = entered_settings();
  if (!settings) return false;
  const std::string yaml = experiment_->text().toStdString();
  std::vector<std::pair<std::string, std::string>> edits;
  for (const auto& r : rows_) {
    if (!r.cap.can_set) continue;
    const std::string key = "simulator." + r.cap.key;
    const auto it = settings->find(r.cap.key);
    // At its default: leave the file alone unless it names another value (keeps comments).
    const hal::SettingValue& value = it == settings->end() ? r.cap.default_value : it->second;
    if (it == settings->end() && !yaml_scalar(yaml, key)) continue;
    const std::string v = yaml_value(value);
    if (yaml_scalar(yaml, key) != v) edits.emplace_back(key, v);
  }
  experiment_->set_values(edits);
  return true;
}

}  // namespace dira::gui
