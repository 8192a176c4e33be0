#include "dira/gui/experiment_panel.hpp"

#include "dira/gui/yaml_edit.hpp"

#include <QComboBox>
#include <QFile>
#include <QFileInfo>
#include <QFontDatabase>
#include <QFormLayout>
#include <QLabel>
#include <QLineEdit>
#include <QListWidget>
#include <QMessageBox>
#include <QPlainTextEdit>
#include <QScrollArea>
#include <QSplitter>
#include <QTextBlock>
#include <QTimer>
#include <QVBoxLayout>

namespace dira::gui {

namespace {

struct FieldSpec {
  const char* key;
  const char* label;
  const char* choices;  // comma-separated: a combo box; nullptr: a line edit
  char protocol;        // 'A' or 'B': shown only for that protocol; 0: always
  const char* tip;
};

// The parameters operators change between runs (docs/experiment-yaml.md); everything else is
// edited in the YAML text below the form.
constexpr FieldSpec kFields[] = {
    {"name", "name", nullptr, 0, "name of the experiment; run directories are NAME-TIMESTAMP"},
    {"inequality", "inequality", nullptr, 0, "a name from `dira inequalities` or a path"},
    {"security_target", "security target d_c", nullptr, 0, "target distance from uniform"},
    {"protocol.kind", "protocol", "A,B,C", 0,
     "A (guehne4, seed 000), B (ks294, seed 001) or C (chsh, probability estimation)"},
    {"protocol.demonstration", "demonstration", "false,true", 0,
     "run although the protocol's security conditions fail; nothing is certified"},
    {"protocol.epsilon", "ε (SV parameter)", nullptr, 0, "in [0, 1/2)"},
    {"protocol.trials", "trials n", nullptr, 'B', "Protocol B: number of trials"},
    {"protocol.delta", "δ", nullptr, 0, "B: accept iff L_n ≤ δ (eq. 39); A: threshold parameter (eq. 54)"},
    {"protocol.mu1", "μ1", nullptr, 'B', "accept iff S_n ≥ μ1 (eq. 44)"},
    {"protocol.mu", "μ", nullptr, 'A', "Protocol A: μ of eq. 54"},
    {"protocol.devices", "devices k", nullptr, 'A', "Protocol A: number of logical devices"},
    {"protocol.uses_per_device", "uses per device m_j", nullptr, 'A', "one number or [m_1, …, m_k]"},
    {"weak_source.kind", "weak source", "iid,adversarial,file", 0, "iid | adversarial | file"},
    {"weak_source.bias", "bias (P(0) − ½)", nullptr, 0, "iid: |bias| ≤ ε"},
    {"weak_source.seed", "weak-source seed", nullptr, 0, ""},
    {"stop.max_trials", "stop after trials", nullptr, 0, "empty: the protocol's own size"},
    {"stop.duration_s", "stop after seconds", nullptr, 0, "empty: no time limit"},
    {"outputs.directory", "run directories under", nullptr, 0, "relative to the working directory"},
};

bool issue_matches(const std::string& issue_key, const std::string& field_key) {
  if (issue_key == field_key) return true;
  return issue_key.size() > field_key.size() && issue_key.compare(0, field_key.size(), field_key) == 0 &&
         (issue_key[field_key.size()] == '.' || issue_key[field_key.size()] == '[');
}

QString widget_text(QWidget* w) {
  if (auto* e = qobject_cast<QLineEdit*>(w)) return e->text();
  if (auto* c = qobject_cast<QComboBox*>(w)) return c->currentText();
  return {};
}

}  // namespace

ExperimentPanel::ExperimentPanel(QWidget* parent) : QWidget(parent) {
  auto* layout = new QVBoxLayout(this);
  status_ = new QLabel(tr("No experiment loaded"), this);
  status_->setWordWrap(true);
  layout->addWidget(status_);

  auto* splitter = new QSplitter(Qt::Vertical, this);
  auto* form_host = new QWidget;
  auto* form = new QFormLayout(form_host);
  form->setFieldGrowthPolicy(QFormLayout::AllNonFixedFieldsGrow);
  for (const auto& spec : kFields) {
    Field f;
    f.key = spec.key;
    if (spec.choices) {
      auto* c = new QComboBox;
      c->addItems(QString::fromUtf8(spec.choices).split(','));
      connect(c, &QComboBox::activated, this, [this, key = f.key] {
        for (const auto& x : fields_)
          if (x.key == key) field_edited(x);
      });
      f.edit = c;
    } else {
      auto* e = new QLineEdit;
      connect(e, &QLineEdit::editingFinished, this, [this, key = f.key] {
        for (const auto& x : fields_)
          if (x.key == key) field_edited(x);
      });
      f.edit = e;
    }
    f.edit->setObjectName(QString::fromStdString("field:" + f.key));
    f.edit->setToolTip(QString::fromUtf8(spec.tip) + "\n(YAML key " + QString::fromUtf8(spec.key) + ")");
    f.error = new QLabel;
    f.error->setObjectName(QString::fromStdString("error:" + f.key));
    f.error->setStyleSheet("color: #b71c1c");
    f.error->setWordWrap(true);
    f.error->hide();
    auto* box = new QWidget;
    auto* v = new QVBoxLayout(box);
    v->setContentsMargins(0, 0, 0, 0);
    v->setSpacing(1);
    v->addWidget(f.edit);
    v->addWidget(f.error);
    form->addRow(QString::fromUtf8(spec.label), box);
    f.row_label = form->labelForField(box);
    f.edit->setProperty("protocol", QChar(spec.protocol ? spec.protocol : ' '));
    box->setProperty("protocol", QChar(spec.protocol ? spec.protocol : ' '));
    fields_.push_back(f);
  }
  auto* scroll = new QScrollArea;
  scroll->setWidget(form_host);
  scroll->setWidgetResizable(true);
  splitter->addWidget(scroll);

  editor_ = new QPlainTextEdit;
  editor_->setObjectName("yamlEditor");
  editor_->setFont(QFontDatabase::systemFont(QFontDatabase::FixedFont));
  editor_->setLineWrapMode(QPlainTextEdit::NoWrap);
  splitter->addWidget(editor_);
  issue_list_ = new QListWidget;
  issue_list_->setObjectName("issueList");
  splitter->addWidget(issue_list_);
  splitter->setStretchFactor(0, 3);
  splitter->setStretchFactor(1, 3);
  splitter->setStretchFactor(2, 1);
  layout->addWidget(splitter, 1);

  debounce_ = new QTimer(this);
  debounce_->setSingleShot(true);
  debounce_->setInterval(300);
  connect(debounce_, &QTimer::timeout, this, &ExperimentPanel::validate_now);
  connect(editor_, &QPlainTextEdit::textChanged, this, [this] {
    if (!updating_) debounce_->start();
  });
  connect(issue_list_, &QListWidget::itemActivated, this, [this](QListWidgetItem* item) {
    const int line = item->data(Qt::UserRole).toInt();
    if (line <= 0) return;
    const QTextBlock b = editor_->document()->findBlockByNumber(line - 1);
    QTextCursor c(b);
    editor_->setTextCursor(c);
    editor_->setFocus();
  });
}

bool ExperimentPanel::load_file(const QString& path, bool quiet) {
  QFile f(path);
  if (!f.open(QIODevice::ReadOnly)) {
    if (!quiet) QMessageBox::warning(this, tr("Open experiment"), tr("Cannot read %1").arg(path));
    return false;
  }
  set_text(QString::fromUtf8(f.readAll()), path);
  return true;
}

bool ExperimentPanel::save_file(const QString& path) {
  QFile f(path);
  if (!f.open(QIODevice::WriteOnly | QIODevice::Truncate)) {
    QMessageBox::warning(this, tr("Save experiment"), tr("Cannot write %1").arg(path));
    return false;
  }
  f.write(text().toUtf8());
  file_ = path;
  validate_now();
  return true;
}

void ExperimentPanel::set_text(const QString& yaml, const QString& file_name) {
  file_ = file_name;
  updating_ = true;
  editor_->setPlainText(yaml);
  updating_ = false;
  validate_now();
}

QString ExperimentPanel::text() const {
  return editor_->toPlainText();
}

void ExperimentPanel::set_value(const std::string& key_path, const std::string& yaml_value) {
  set_values({{key_path, yaml_value}});
}

void ExperimentPanel::set_values(const std::vector<std::pair<std::string, std::string>>& edits) {
  const std::string old = text().toStdString();
  std::string now = old;
  for (const auto& [key_path, yaml_value] : edits)
    now = yaml_value.empty() ? yaml_remove_key(now, key_path) : yaml_set_scalar(now, key_path, yaml_value);
  if (now == old) return;
  updating_ = true;
  // Keep the editor's undo history: replace the whole document through a cursor.
  QTextCursor c(editor_->document());
  c.select(QTextCursor::Document);
  c.insertText(QString::fromStdString(now));
  updating_ = false;
  validate_now();
}

void ExperimentPanel::field_edited(const Field& f) {
  if (updating_) return;
  std::string v = widget_text(f.edit).trimmed().toStdString();
  const auto current = yaml_scalar(text().toStdString(), f.key);
  if (current && *current == v) return;
  if (!v.empty() && v.front() != '[' && v.front() != '{') v = yaml_quote(v);
  set_value(f.key, v);
}

void ExperimentPanel::validate_now() {
  debounce_->stop();
  const std::string yaml = text().toStdString();
  const std::string name = file_.isEmpty() ? std::string("untitled.yaml") : file_.toStdString();
  const bool was_valid = config_.has_value();
  issues_.clear();
  config_.reset();
  try {
    config_ = app::load_experiment_text(yaml, name);
  } catch (const app::ConfigError& e) {
    issues_ = e.issues();
  } catch (const std::exception& e) {
    issues_.push_back(app::ConfigIssue{name, 0, 0, "", e.what()});
  }
  // Something to acquire with: the simulator, the file's devices (or those connected in the
  // Devices tab, which replace them at Start), or stations (docs/stations.md).
  if (config_ && !config_->simulator.present && !config_->devices.present && !config_->stations.present)
    issues_.push_back(app::ConfigIssue{name, 0, 0, "simulator",
                                       "nothing to acquire with: add a simulator:, devices: or stations: section"});
  if (!issues_.empty()) config_.reset();
  refresh_fields();
  show_issues();
  if (config_)
    status_->setText(tr("%1 — valid, Protocol %2")
                         .arg(file_.isEmpty() ? "untitled" : QFileInfo(file_).fileName(), QChar(config_->protocol)));
  else
    status_->setText(tr("%1 — %n problem(s): fix them to run", nullptr, static_cast<int>(issues_.size()))
                         .arg(file_.isEmpty() ? "untitled" : QFileInfo(file_).fileName()));
  status_->setStyleSheet(config_ ? "" : "color: #b71c1c; font-weight: bold");
  emit validityChanged(config_.has_value());
  if (config_ || was_valid) emit configChanged();
}

void ExperimentPanel::refresh_fields() {
  const std::string yaml = text().toStdString();
  updating_ = true;
  const auto kind = yaml_scalar(yaml, "protocol.kind").value_or("");
  for (auto& f : fields_) {
    const QString v = QString::fromStdString(yaml_scalar(yaml, f.key).value_or(""));
    if (auto* e = qobject_cast<QLineEdit*>(f.edit)) {
      if (e->text() != v && !e->hasFocus()) e->setText(v);
    } else if (auto* c = qobject_cast<QComboBox*>(f.edit)) {
      const int i = c->findText(v.isEmpty() && f.key == "protocol.demonstration" ? "false" : v);
      // A key the file does not have (misspelt section, `Protocol:`) shows as blank, never as
      // the list's first choice: the form must not claim protocol A while the file says B.
      c->setCurrentIndex(i);
    }
    const QChar p = f.edit->property("protocol").toChar();
    const bool shown = p == ' ' || (!kind.empty() && p == QChar(kind[0]));
    f.edit->parentWidget()->setVisible(shown);
    if (f.row_label) f.row_label->setVisible(shown);
  }
  updating_ = false;
}

void ExperimentPanel::show_issues() {
  const std::string yaml = text().toStdString();
  issue_list_->clear();
  error_lines_.clear();
  for (auto& f : fields_) {
    QStringList msgs;
    for (const auto& i : issues_)
      if (issue_matches(i.key, f.key)) msgs << QString::fromStdString(i.message);
    f.error->setText(msgs.join("\n"));
    f.error->setVisible(!msgs.isEmpty());
    f.edit->setStyleSheet(msgs.isEmpty() ? "" : "border: 2px solid #d32f2f");
  }
  QList<QTextEdit::ExtraSelection> marks;
  for (const auto& i : issues_) {
    int line = i.line > 0 ? i.line : (i.key.empty() ? 0 : yaml_key_line(yaml, i.key));
    // A key absent from the text: point at its parent section, where it would go.
    for (std::string k = i.key; line == 0 && !k.empty();) {
      const auto dot = k.rfind('.');
      if (dot == std::string::npos) break;
      k.resize(dot);
      line = yaml_key_line(yaml, k);
    }
    app::ConfigIssue shown = i;
    shown.line = line;
    auto* item = new QListWidgetItem(QString::fromStdString(shown.str()), issue_list_);
    item->setData(Qt::UserRole, line);
    item->setForeground(QColor(0xb71c1c));
    if (line > 0) {
      error_lines_.push_back(line);
      QTextEdit::ExtraSelection s;
      s.format.setBackground(QColor(0xffcdd2));
      s.format.setProperty(QTextFormat::FullWidthSelection, true);
      s.format.setToolTip(QString::fromStdString(i.message));
      s.cursor = QTextCursor(editor_->document()->findBlockByNumber(line - 1));
      marks.push_back(s);
    }
  }
  editor_->setExtraSelections(marks);
}

QWidget* ExperimentPanel::field(const std::string& key_path) const {
  for (const auto& f : fields_)
    if (f.key == key_path) return f.edit;
  return nullptr;
}

QString ExperimentPanel::field_error(const std::string& key_path) const {
  for (const auto& f : fields_)
    if (f.key == key_path) return f.error->text();
  return {};
}

std::vector<int> ExperimentPanel::error_lines() const {
  return error_lines_;
}

}  // namespace dira::gui
