#include "dira/gui/planner_dialog.hpp"

#include "dira/app/inequality_loader.hpp"
#include "dira/gui/experiment_panel.hpp"
#include "dira/gui/yaml_edit.hpp"
#include "dira/protocol/planner.hpp"

#include <QComboBox>
#include <QDialogButtonBox>
#include <QFormLayout>
#include <QLineEdit>
#include <QPushButton>
#include <QTextBrowser>
#include <QVBoxLayout>

#include <cmath>

#include "dira/protocol/ns_lp.hpp"

namespace dira::gui {

namespace {

nlohmann::json finite(double v) {
  return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr);
}

QString fmt(const nlohmann::json& v) {
  if (v.is_number()) return QString::number(v.get<double>(), 'g', 6);
  if (v.is_null()) return "—";
  return QString::fromStdString(v.dump());
}

}  // namespace

nlohmann::json run_plan(const PlanRequest& r) {
  const protocol::HardwareModel hw{r.visibility, r.efficiency, r.dark_count};
  nlohmann::json j;
  j["protocol"] = std::string(1, r.protocol);
  if (r.protocol == 'B') {
    const auto ineq = app::load_inequality_file(app::resolve_inequality("ks294"));
    const auto p = protocol::plan_protocol_b(ineq, r.epsilon, r.target, hw, r.trial_rate);
    j["feasible"] = p.feasible;
    j["verdict"] = p.verdict;
    j["honest"] = {{"bell_value", p.honest_bell_value},
                   {"bell_statistic_max", p.honest_bell_statistic},
                   {"ustar_rate_min", p.honest_ustar_rate}};
    if (p.feasible) {
      j["parameters"] = {{"epsilon", r.epsilon}, {"delta", p.delta}, {"mu1", p.mu1}};
      j["log10_trials"] = finite(p.log10_trials);
      j["log10_seconds"] = finite(p.log10_seconds);
      j["log10_honest_abort_probability"] = p.log10_reject_honest;
      j["explicit_extractor_bits"] = p.explicit_bits;
    }
    j["max_one_minus_visibility"] = p.max_one_minus_visibility;
  } else {
    const auto ineq = app::load_inequality_file(app::resolve_inequality("guehne4"));
    const auto p = protocol::plan_protocol_a(ineq, r.epsilon, r.target, hw, r.trial_rate);
    j["feasible"] = p.feasible;
    j["verdict"] = p.verdict;
    j["honest"] = {{"bell_value", p.honest_bell_value}, {"chosen_box_failure_probability", p.honest_run_rate}};
    if (p.feasible) {
      j["parameters"] = {{"epsilon", r.epsilon}, {"delta", p.delta}, {"mu", p.mu}, {"devices", p.devices}};
      j["log10_trials"] = finite(p.log10_trials);
      j["log10_log10_trials"] = finite(p.log10_log10_trials);
      j["log10_bound"] = p.log10_bound;
      j["log10_honest_abort_probability"] = p.log10_reject_honest;
    }
  }
  return j;
}

PlannerDialog::PlannerDialog(ExperimentPanel* experiment, QWidget* parent) : QDialog(parent), experiment_(experiment) {
  setWindowTitle(tr("Planner (dira plan)"));
  auto* layout = new QVBoxLayout(this);
  auto* form = new QFormLayout;
  protocol_ = new QComboBox;
  protocol_->addItems({"B", "A"});
  auto line = [](const char* v) { return new QLineEdit(QString::fromUtf8(v)); };
  epsilon_ = line("0.01");
  target_ = line("1e-6");
  visibility_ = line("1");
  efficiency_ = line("1");
  dark_ = line("0");
  rate_ = line("1e6");
  form->addRow(tr("protocol"), protocol_);
  form->addRow(tr("ε of the weak source"), epsilon_);
  form->addRow(tr("target distance from uniform"), target_);
  form->addRow(tr("visibility V"), visibility_);
  form->addRow(tr("detection efficiency η"), efficiency_);
  form->addRow(tr("dark-count probability per trial"), dark_);
  form->addRow(tr("trials per second"), rate_);
  layout->addLayout(form);
  if (experiment_ && experiment_->config()) {
    const auto& c = *experiment_->config();
    protocol_->setCurrentText(QString(QChar(c.protocol)));
    epsilon_->setText(QString::number(c.epsilon, 'g', 6));
    target_->setText(QString::number(c.security_target, 'g', 6));
  }
  output_ = new QTextBrowser;
  output_->setObjectName("planOutput");
  output_->setMinimumSize(520, 260);
  layout->addWidget(output_, 1);
  auto* buttons = new QDialogButtonBox(QDialogButtonBox::Close);
  plan_button_ = buttons->addButton(tr("Plan"), QDialogButtonBox::ActionRole);
  apply_button_ = buttons->addButton(tr("Apply to experiment"), QDialogButtonBox::ApplyRole);
  apply_button_->setEnabled(false);
  layout->addWidget(buttons);
  connect(buttons, &QDialogButtonBox::rejected, this, &QDialog::reject);
  connect(plan_button_, &QPushButton::clicked, this, &PlannerDialog::plan);
  connect(apply_button_, &QPushButton::clicked, this, &PlannerDialog::apply);
}

PlannerDialog::~PlannerDialog() {
  if (thread_.joinable()) thread_.join();
}

void PlannerDialog::plan() {
  if (thread_.joinable()) return;
  PlanRequest r;
  bool ok = true;
  auto num = [&](QLineEdit* e) {
    bool good = false;
    const double v = e->text().toDouble(&good);
    e->setStyleSheet(good ? "" : "border: 2px solid #d32f2f");
    ok = ok && good;
    return v;
  };
  r.protocol = protocol_->currentText() == "A" ? 'A' : 'B';
  r.epsilon = num(epsilon_);
  r.target = num(target_);
  r.visibility = num(visibility_);
  r.efficiency = num(efficiency_);
  r.dark_count = num(dark_);
  r.trial_rate = num(rate_);
  // The CLI's own preconditions (dira plan): 0 ≤ ε < 1/2, 0 < target < 1, rate > 0.
  if (!ok || !(r.epsilon >= 0 && r.epsilon < 0.5) || !(r.target > 0 && r.target < 1) || !(r.trial_rate > 0)) {
    output_->setHtml(tr("<b>Need numbers with 0 ≤ ε < 1/2, 0 < target < 1, trial rate > 0.</b>"));
    return;
  }
  plan_button_->setEnabled(false);
  output_->setHtml(tr("planning…"));
  thread_ = std::thread([this, r] {
    nlohmann::json j;
    try {
      j = run_plan(r);
    } catch (const std::exception& e) {
      j = {{"error", e.what()}};
    }
    protocol::release_thread_lp_environment();  // the planner's LPs used this thread's GLPK environment (see run_worker.cpp)
    const QString text = QString::fromStdString(j.dump());
    QMetaObject::invokeMethod(
        this,
        [this, text] {
          if (thread_.joinable()) thread_.join();
          result_ = nlohmann::json::parse(text.toStdString());
          plan_button_->setEnabled(true);
          QString h;
          if (result_.contains("error")) {
            h = "<b>" + tr("Planner failed: ") +
                QString::fromStdString(result_["error"].get<std::string>()).toHtmlEscaped() + "</b>";
          } else {
            h = QString("<b>%1</b><br>").arg(result_.value("feasible", false) ? tr("Feasible") : tr("Not feasible"));
            h += QString::fromStdString(result_.value("verdict", "")).toHtmlEscaped() + "<br><table>";
            for (const char* sect : {"parameters", "honest"})
              if (result_.contains(sect))
                for (auto& [k, v] : result_[sect].items())
                  h += QString("<tr><td>%1</td><td>%2</td></tr>").arg(QString::fromStdString(k), fmt(v));
            for (const char* k : {"log10_trials", "log10_log10_trials", "log10_seconds", "log10_bound",
                                  "log10_honest_abort_probability", "explicit_extractor_bits"})
              if (result_.contains(k)) h += QString("<tr><td>%1</td><td>%2</td></tr>").arg(k, fmt(result_[k]));
            h += "</table>";
          }
          output_->setHtml(h);
          apply_button_->setEnabled(result_.value("feasible", false) && experiment_ != nullptr);
          emit planFinished();
        },
        Qt::QueuedConnection);
  });
}

bool PlannerDialog::apply() {
  if (!experiment_ || !result_.value("feasible", false) || !result_.contains("parameters")) return false;
  std::vector<std::pair<std::string, std::string>> edits;
  const auto& p = result_["parameters"];
  auto num = [](const nlohmann::json& v) { return QString::number(v.get<double>(), 'g', 8).toStdString(); };
  edits.emplace_back("protocol.kind", result_.value("protocol", "B"));
  for (auto& [k, v] : p.items())
    if (v.is_number()) edits.emplace_back("protocol." + k, num(v));
  // Protocol B's trial count is a planner output too, when it fits in an integer.
  if (result_.value("protocol", "") == "B" && result_.contains("log10_trials") && result_["log10_trials"].is_number() &&
      result_["log10_trials"].get<double>() < 18)
    edits.emplace_back(
        "protocol.trials",
        std::to_string(static_cast<long long>(std::ceil(std::pow(10.0, result_["log10_trials"].get<double>())))));
  experiment_->set_values(edits);
  return true;
}

}  // namespace dira::gui
