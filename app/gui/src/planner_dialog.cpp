#include "dira/gui/planner_dialog.hpp"

#include "dira/app/plan_report.hpp"
#include "dira/gui/experiment_panel.hpp"
#include "dira/gui/yaml_edit.hpp"

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

QString fmt(const nlohmann::json& v) {
  if (v.is_number()) return QString::number(v.get<double>(), 'g', 6);
  if (v.is_null()) return "—";
  return QString::fromStdString(v.dump());
}

}  // namespace

nlohmann::json run_plan(const PlanRequest& r) {
  // The same plan, words and fields as `dira plan --json` (app/plan_report.hpp).
  app::PlanRequest q;
  q.protocol = r.protocol;
  q.epsilon = r.epsilon;
  q.target = r.target;
  q.visibility = r.visibility;
  q.efficiency = r.efficiency;
  q.dark_count = r.dark_count;
  q.trial_rate = r.trial_rate;
  return app::plan_report(q);
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
    protocol::release_thread_lp_environment();  // the planner's LPs used this thread's GLPK environment (see
                                                // run_worker.cpp)
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
            // The lab's answer first (trials, wall time, what hardware is needed), the reasoning after.
            h = "<b>" + QString::fromStdString(result_.value("headline", "")).toHtmlEscaped() + "</b><br>";
            h += "<i>" + tr("Why: ") + "</i>" + QString::fromStdString(result_.value("why", "")).toHtmlEscaped() +
                 "<br><table>";
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
          // Parameters exist whenever the seed's proof admits some (even if dira would certify 0
          // bits at that size): applying them gives an experiment `dira run` accepts.
          apply_button_->setEnabled(result_.value("feasible_on_paper", false) && experiment_ != nullptr);
          emit planFinished();
        },
        Qt::QueuedConnection);
  });
}

bool PlannerDialog::apply() {
  if (!experiment_ || !result_.value("feasible_on_paper", false) || !result_["parameters"].is_object()) return false;
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
