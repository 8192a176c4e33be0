#include "dira/gui/history.hpp"

#include "dira/app/experiment.hpp"
#include "dira/app/lab_units.hpp"
#include "dira/app/run_file.hpp"
#include "dira/protocol/trial_index.hpp"

#include <QFileDialog>
#include <QHBoxLayout>
#include <QListWidget>
#include <QPushButton>
#include <QVBoxLayout>

#include <algorithm>
#include <fstream>
#include <sstream>

namespace dira::gui {

namespace fs = std::filesystem;

namespace {

std::string read_all(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace

Replay load_run_directory(const fs::path& dir) {
  Replay r;
  try {
    const std::string text = read_all(dir / "config.yaml");
    if (text.empty()) {
      r.error = (dir / "config.yaml").string() + " is missing or empty";
      return r;
    }
    const app::ExperimentConfig c = app::load_experiment_text(text, (dir / "config.yaml").string());
    {
      const auto rep = read_all(dir / "report.json");
      r.report = rep.empty() ? nlohmann::json(nullptr) : nlohmann::json::parse(rep, nullptr, false);
    }
    const auto& sc = c.inequality.expression.scenario();
    const protocol::TrialIndexer indexer(sc);
    std::size_t joint = 1;
    for (int p = 0; p < sc.parties(); ++p) joint *= static_cast<std::size_t>(sc.settings(p));
    std::vector<std::string> channels;
    std::vector<std::size_t> channel_base;
    for (int p = 0; p < sc.parties(); ++p) {
      channel_base.push_back(channels.size());
      for (int k = 0; k < sc.outcomes(p); ++k)
        channels.push_back(std::string(1, static_cast<char>('A' + p)) + ":" + std::to_string(k) + " (outcome)");
    }
    channels.push_back("no click (trials)");

    // Trials are streamed once; counts are cut at each statistics row's trial count, so the
    // replayed histogram and click series match what was on screen at that moment.
    std::vector<std::uint64_t> settings(joint, 0), clicks(channels.size(), 0);
    // The statistics rows arrive with the trials, so counts are kept per block of trial
    // indices and cut at each row afterwards.
    std::vector<std::uint64_t> block_index;
    std::vector<std::vector<std::uint64_t>> block_settings, block_clicks;
    constexpr std::uint64_t kBlock = 4096;
    auto contents = app::read_run_file(dir / "run.h5", [&](std::span<const protocol::Trial> b) {
      for (const auto& t : b) {
        const std::uint64_t blk = t.index / kBlock;
        if (block_index.empty() || block_index.back() != blk) {
          block_index.push_back(blk);
          block_settings.emplace_back(joint, 0);
          block_clicks.emplace_back(channels.size(), 0);
        }
        if (!indexer.valid(t)) continue;
        ++block_settings.back()[indexer.setting_index(t)];
        for (int p = 0; p < sc.parties(); ++p)
          ++block_clicks.back()[channel_base[static_cast<std::size_t>(p)] + t.x[static_cast<std::size_t>(p)]];
        if (t.flags & protocol::kTrialNoClick) ++block_clicks.back().back();
      }
    });
    const bool pa = c.protocol == 'A';
    const auto band = app::setting_probability_band(c);  // the ε-SV band, from the run's own config
    double bell_threshold = 0, ustar_threshold = 0;
    bool has_ustar = !pa;
    if (r.report.is_object()) {
      const auto tests = r.report.value("analysis", nlohmann::json::object())
                             .value("decision_record", nlohmann::json::object())
                             .value("tests", nlohmann::json::array());
      if (tests.size() > 0 && tests[0].contains("threshold") && tests[0]["threshold"].is_number())
        bell_threshold = tests[0]["threshold"].get<double>();
      if (tests.size() > 1 && tests[1].contains("threshold") && tests[1]["threshold"].is_number())
        ustar_threshold = tests[1]["threshold"].get<double>();
    }
    if (!pa) {
      bell_threshold = bell_threshold > 0 ? bell_threshold : c.b.delta;
      ustar_threshold = ustar_threshold > 0 ? ustar_threshold : c.b.mu1;
    }
    std::size_t bi = 0;
    for (const auto& row : contents.statistics) {
      // Whole blocks up to this row's trial count (a row cuts at most one block short).
      while (bi < block_index.size() && (block_index[bi] + 1) * kBlock <= row.trials) {
        for (std::size_t j = 0; j < joint; ++j) settings[j] += block_settings[bi][j];
        for (std::size_t j = 0; j < channels.size(); ++j) clicks[j] += block_clicks[bi][j];
        ++bi;
      }
      app::Progress p;
      p.trials = row.trials;
      p.planned = contents.trials;
      p.elapsed_s = row.elapsed_s;
      p.rate = row.elapsed_s > 0 ? static_cast<double>(row.trials) / row.elapsed_s : 0;
      // run.h5's statistics rows hold these of the live statistics; the projection (and, for
      // Protocol A, the probability of acceptance) were not recorded, and live.trials stays 0
      // so that nothing shows a projection for them.
      p.protocol = c.protocol;
      p.live.bell_mean = row.bell;
      p.live.bell_half_width = row.bell_half_width;
      p.live.bell_threshold = bell_threshold;
      p.live.ustar_mean = row.ustar;
      p.live.ustar_half_width = row.ustar_half_width;
      p.live.ustar_threshold = ustar_threshold;
      p.live.has_ustar = has_ustar;
      p.stage = "acquiring";  // each row was recorded during acquisition
      p.eta_s = 0;
      p.channel_names = channels;
      p.channel_counts = clicks;
      p.setting_counts = settings;
      p.setting_probability_ideal = 1.0 / static_cast<double>(joint);
      p.setting_probability_min = band.first;
      p.setting_probability_max = band.second;
      r.snapshots.push_back(std::move(p));
    }
    // The last snapshot holds every recorded trial, whatever the last row says.
    while (bi < block_index.size()) {
      for (std::size_t j = 0; j < joint; ++j) settings[j] += block_settings[bi][j];
      for (std::size_t j = 0; j < channels.size(); ++j) clicks[j] += block_clicks[bi][j];
      ++bi;
    }
    if (!r.snapshots.empty()) {
      r.snapshots.back().setting_counts = settings;
      r.snapshots.back().channel_counts = clicks;
    }
  } catch (const std::exception& e) {
    r.error = e.what();
  }
  return r;
}

std::vector<fs::path> find_run_directories(const std::vector<fs::path>& roots) {
  std::vector<std::pair<fs::file_time_type, fs::path>> found;
  for (const auto& root : roots) {
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(root, ec)) {
      if (!e.is_directory(ec)) continue;
      if (!fs::exists(e.path() / "run.h5", ec) && !fs::exists(e.path() / "report.json", ec)) continue;
      const auto t = fs::last_write_time(e.path(), ec);
      if (std::none_of(found.begin(), found.end(),
                       [&](const auto& f) { return fs::equivalent(f.second, e.path(), ec); }))
        found.emplace_back(t, e.path());
    }
  }
  std::sort(found.begin(), found.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
  std::vector<fs::path> out;
  for (auto& f : found) out.push_back(f.second);
  return out;
}

HistoryPanel::HistoryPanel(QWidget* parent) : QWidget(parent) {
  auto* layout = new QVBoxLayout(this);
  auto* buttons = new QHBoxLayout;
  auto* refresh = new QPushButton(tr("Refresh"));
  auto* open = new QPushButton(tr("Open directory…"));
  buttons->addWidget(refresh);
  buttons->addWidget(open);
  layout->addLayout(buttons);
  list_ = new QListWidget;
  list_->setObjectName("historyList");
  layout->addWidget(list_, 1);
  connect(refresh, &QPushButton::clicked, this, &HistoryPanel::rescan);
  connect(open, &QPushButton::clicked, this, [this] {
    const QString d = QFileDialog::getExistingDirectory(this, tr("Open run directory"));
    if (!d.isEmpty()) emit openRequested(d);
  });
  connect(list_, &QListWidget::itemActivated, this,
          [this](QListWidgetItem* item) { emit openRequested(item->data(Qt::UserRole).toString()); });
}

void HistoryPanel::set_roots(const std::vector<fs::path>& roots) {
  roots_ = roots;
  rescan();
}

void HistoryPanel::rescan() {
  list_->clear();
  for (const auto& d : find_run_directories(roots_)) {
    std::string status = "no report (crashed or running)";
    const auto rep = nlohmann::json::parse(read_all(d / "report.json"), nullptr, false);
    if (rep.is_object())
      status = rep.value("state", rep.value("status", "?")) + ", " + rep.value("decision", "?") + ", " +
               app::lab_units::count(rep.value("trials_recorded", 0.0), "trial");
    auto* item = new QListWidgetItem(QString::fromStdString(d.filename().string() + " — " + status), list_);
    item->setData(Qt::UserRole, QString::fromStdString(d.string()));
    item->setToolTip(QString::fromStdString(d.string()));
  }
}

int HistoryPanel::count() const {
  return list_->count();
}

QString HistoryPanel::directory_at(int row) const {
  auto* item = list_->item(row);
  return item ? item->data(Qt::UserRole).toString() : QString();
}

}  // namespace dira::gui
