// The GUI's Qt-free logic: YAML edits, plot model, CSV/SVG export, decision banner.
// Expected values are written out by hand from the definitions (not produced by the code).
#include "dira/gui/decision.hpp"
#include "dira/gui/plot_model.hpp"
#include "dira/gui/station_view.hpp"
#include "dira/gui/yaml_edit.hpp"

#include <QFile>
#include <QXmlStreamReader>
#include <QtTest>

#include <cmath>
#include <fstream>
#include <sstream>

using namespace dira::gui;

namespace {

dira::app::Progress snapshot(std::uint64_t trials, double elapsed, double bell, double hw) {
  dira::app::Progress p;
  p.trials = trials;
  p.planned = 1000;
  p.elapsed_s = elapsed;
  p.live.bell_mean = bell;
  p.live.bell_half_width = hw;
  p.live.bell_threshold = 0.01;
  p.live.ustar_mean = 2 * bell;
  p.live.ustar_half_width = hw;
  p.live.ustar_threshold = 0.0005;
  p.live.has_ustar = true;
  return p;
}

const Curve* curve(const ChartData& c, const std::string& name) {
  for (const auto& cv : c.curves)
    if (cv.name == name) return &cv;
  return nullptr;
}

}  // namespace

class GuiLogicTest : public QObject {
  Q_OBJECT
 private slots:
  void yamlReadsScalarsWithoutComments();
  void yamlSetKeepsCommentsAndLayout();
  void yamlAddsMissingKeysAndSections();
  void yamlRemovesKey();
  void yamlKeyLineMatchesShippedFile();
  void plotModelBandsAndThresholds();
  void plotModelThinsKeepingEnds();
  void plotModelIgnoresOlderSnapshots();
  void plotModelChannelRatesAreDifferences();
  void plotModelSettingFrequencies();
  void plotModelAxesShowTheTest();
  void plotModelClickRatesInLabUnits();
  void protocolAChartsShowTheDecisionStatistic();
  void protocolCChartsShowMinEntropyAgainstTarget();
  void csvExport();
  void svgExportIsWellFormed();
  void niceTicks();
  void decisionAbort();
  void decisionAcceptWithOutput();
  void decisionAcceptedNoBits();
  void decisionHardwareFault();
  void decisionInterrupted();
  void decisionStorageFullAndPlan();
  void stationRowsInLabUnits();
};

static const char* kYaml =
    "name: demo\n"
    "protocol:\n"
    "  kind: B      # which protocol\n"
    "  delta: 0.01  # accept iff L_n <= delta\n"
    "  u_star: [0, 1]\n"
    "weak_source:\n"
    "  kind: iid\n"
    "  path: \"a # b.bin\"\n";

void GuiLogicTest::yamlReadsScalarsWithoutComments() {
  QCOMPARE(yaml_scalar(kYaml, "protocol.delta").value_or("?"), std::string("0.01"));
  QCOMPARE(yaml_scalar(kYaml, "protocol.kind").value_or("?"), std::string("B"));
  QCOMPARE(yaml_scalar(kYaml, "protocol.u_star").value_or("?"), std::string("[0, 1]"));
  // A '#' inside quotes is part of the value, not a comment.
  QCOMPARE(yaml_scalar(kYaml, "weak_source.path").value_or("?"), std::string("a # b.bin"));
  // Same leaf name under another parent is another key.
  QCOMPARE(yaml_scalar(kYaml, "weak_source.kind").value_or("?"), std::string("iid"));
  QVERIFY(!yaml_scalar(kYaml, "protocol").has_value());  // a mapping, not a scalar
  QVERIFY(!yaml_scalar(kYaml, "protocol.mu1").has_value());
}

void GuiLogicTest::yamlSetKeepsCommentsAndLayout() {
  const std::string out = yaml_set_scalar(kYaml, "protocol.delta", "0.02");
  const std::string expected =
      "name: demo\n"
      "protocol:\n"
      "  kind: B      # which protocol\n"
      "  delta: 0.02  # accept iff L_n <= delta\n"
      "  u_star: [0, 1]\n"
      "weak_source:\n"
      "  kind: iid\n"
      "  path: \"a # b.bin\"\n";
  QCOMPARE(out, expected);
  // Only the key asked for changes, not the same leaf name under `protocol`.
  const std::string kind = yaml_set_scalar(kYaml, "weak_source.kind", "file");
  QCOMPARE(yaml_scalar(kind, "weak_source.kind").value_or("?"), std::string("file"));
  QCOMPARE(yaml_scalar(kind, "protocol.kind").value_or("?"), std::string("B"));
  // An empty key gets its value after ": ".
  QCOMPARE(yaml_set_scalar("a:\nb: 1\n", "a", "2"), std::string("a: 2\nb: 1\n"));
}

void GuiLogicTest::yamlAddsMissingKeysAndSections() {
  const std::string with_mu1 = yaml_set_scalar(kYaml, "protocol.mu1", "0.0005");
  // Appended as the last key of `protocol`, with the children's indentation.
  QCOMPARE(
      with_mu1,
      std::string("name: demo\nprotocol:\n  kind: B      # which protocol\n  delta: 0.01  # accept iff L_n <= delta\n"
                  "  u_star: [0, 1]\n  mu1: 0.0005\nweak_source:\n  kind: iid\n  path: \"a # b.bin\"\n"));
  const std::string with_sim = yaml_set_scalar(kYaml, "simulator.visibility", "0.9");
  QCOMPARE(yaml_scalar(with_sim, "simulator.visibility").value_or("?"), std::string("0.9"));
  QCOMPARE(yaml_key_line(with_sim, "simulator"), 9);
  QCOMPARE(yaml_key_line(with_sim, "simulator.visibility"), 10);
  // The original content is untouched.
  QCOMPARE(with_sim.substr(0, std::string(kYaml).size()), std::string(kYaml));
}

void GuiLogicTest::yamlRemovesKey() {
  const std::string out = yaml_remove_key(kYaml, "protocol.delta");
  QVERIFY(!yaml_scalar(out, "protocol.delta").has_value());
  QCOMPARE(yaml_key_line(out, "protocol.u_star"), 4);
  QCOMPARE(yaml_remove_key(kYaml, "protocol.nothing"), std::string(kYaml));
}

void GuiLogicTest::yamlKeyLineMatchesShippedFile() {
  std::ifstream in(std::string(DIRA_SOURCE_CONFIG_DIR) + "/experiments/sim-ks294.yaml");
  std::stringstream s;
  s << in.rdbuf();
  const std::string text = s.str();
  // Independent count: the line that starts with "  mu1:" (the only one in the file).
  int line = 0, found = 0;
  std::istringstream lines(text);
  for (std::string l; std::getline(lines, l);) {
    ++line;
    if (l.rfind("  mu1:", 0) == 0) found = line;
  }
  QVERIFY(found > 0);
  QCOMPARE(yaml_key_line(text, "protocol.mu1"), found);
  QCOMPARE(yaml_scalar(text, "protocol.mu1").value_or("?"), std::string("0.0005"));
}

void GuiLogicTest::plotModelBandsAndThresholds() {
  PlotModel m;
  m.add(snapshot(100, 0.1, 0.002, 0.004));
  m.add(snapshot(200, 0.2, 0.003, 0.001));
  const ChartData bell = m.chart("bell");
  const Curve* band = curve(bell, "confidence band");
  const Curve* value = curve(bell, "L_n");
  const Curve* thr = curve(bell, "threshold δ");
  QVERIFY(band && value && thr);
  QCOMPARE(band->points.size(), std::size_t{2});
  QCOMPARE(band->points[0].y, 0.002 - 0.004);
  QCOMPARE(band->upper[1].y, 0.003 + 0.001);
  QCOMPARE(value->points[1].x, 200.0);
  QCOMPARE(thr->points[0].y, 0.01);
  const ChartData ustar = m.chart("ustar");
  QCOMPARE(curve(ustar, "S_n")->points[1].y, 0.006);
  QCOMPARE(curve(ustar, "threshold μ1")->points[1].y, 0.0005);
  QCOMPARE(m.charts().size(), std::size_t{4});
}

void GuiLogicTest::plotModelThinsKeepingEnds() {
  PlotModel m(4);
  for (std::uint64_t t = 1; t <= 9; ++t) m.add(snapshot(t, static_cast<double>(t), 0, 0));
  // By hand: [1..4] → +5: [1,3,5] → +6: [1,3,5,6] → +7: [1,5,7] → +8: [1,5,7,8] → +9: [1,7,9].
  std::vector<double> xs;
  for (const auto& r : m.rows()) xs.push_back(r.trials);
  QCOMPARE(xs, (std::vector<double>{1, 7, 9}));
}

void GuiLogicTest::plotModelIgnoresOlderSnapshots() {
  PlotModel m;
  m.add(snapshot(500, 1, 0.1, 0));
  m.add(snapshot(400, 2, 0.2, 0));
  m.add(snapshot(500, 3, 0.3, 0));  // same trial count (paused): replaces, does not add
  QCOMPARE(m.rows().size(), std::size_t{1});
  QCOMPARE(m.rows()[0].bell, 0.3);
  QCOMPARE(m.snapshots(), std::size_t{2});
}

void GuiLogicTest::plotModelChannelRatesAreDifferences() {
  PlotModel m;
  auto p = snapshot(10, 1.0, 0, 0);
  p.channel_names = {"A:0", "A:1"};
  p.channel_counts = {10, 20};
  m.add(p);
  p.trials = 20;
  p.elapsed_s = 3.0;
  p.channel_counts = {30, 20};
  m.add(p);
  const ChartData c = m.chart("clicks");
  QCOMPARE(c.curves.size(), std::size_t{2});
  // (30 − 10) / (3 − 1) = 10 clicks/s; the first point is counts / elapsed.
  QCOMPARE(c.curves[0].points[0].y, 10.0);
  QCOMPARE(c.curves[0].points[1].y, 10.0);
  QCOMPARE(c.curves[1].points[0].y, 20.0);
  QCOMPARE(c.curves[1].points[1].y, 0.0);
  QCOMPARE(c.curves[1].points[1].x, 3.0);
  // Once acquisition has ended no rate is plotted (it would read as dead detectors).
  p.stage = "analysing";
  p.elapsed_s = 4.0;
  m.add(p);
  QCOMPARE(m.chart("clicks").curves[0].points.size(), std::size_t{2});
  // …but a run that ended before its first snapshot still shows its mean rate.
  PlotModel quick;
  p.elapsed_s = 2.0;
  p.channel_counts = {30, 20};
  quick.add(p);
  QCOMPARE(quick.chart("clicks").curves[0].points.size(), std::size_t{1});
  QCOMPARE(quick.chart("clicks").curves[0].points[0].y, 15.0);
}

void GuiLogicTest::plotModelAxesShowTheTest() {
  // Issue 13: L_n from 0 with δ in view; S_n from 0 scaled to μ1. Values by hand:
  // L_n = 0.004, δ = 0.01 → top = nice(1.25 × 0.01 = 0.0125) = 0.02;
  // S_n = 0.008, μ1 = 0.0005 → top = nice(1.25 × 0.008 = 0.01) = 0.01.
  PlotModel m;
  auto p = snapshot(1000, 1.0, 0.004, 0.5);  // a wide early band must not set the axis
  m.add(p);
  const ChartData bell = m.chart("bell");
  QCOMPARE(bell.y_min, 0.0);
  QVERIFY(std::abs(bell.y_max - 0.02) < 1e-15);
  const ChartData ustar = m.chart("ustar");
  QCOMPARE(ustar.y_min, 0.0);
  QVERIFY(std::abs(ustar.y_max - 0.01) < 1e-15);
  // An aborting run (L_n well above δ) keeps δ in view at the bottom and L_n below the top.
  PlotModel high;
  high.add(snapshot(1000, 1.0, 0.0384, 0.001));
  QVERIFY(high.chart("bell").y_max >= 0.0384 && high.chart("bell").y_min == 0.0);
}

void GuiLogicTest::plotModelClickRatesInLabUnits() {
  PlotModel m;
  auto p = snapshot(10, 2.0, 0, 0);
  p.channel_names = {"A:0", "A:1"};
  p.channel_counts = {25000, 3000000};  // 12.5 kcps and 1.5 Mcps over 2 s
  m.add(p);
  const ChartData c = m.chart("clicks");
  QCOMPARE(c.y_unit, std::string("Mcps"));  // the largest rate decides the unit
  QCOMPARE(c.curves[1].points[0].y, 1.5);
  QVERIFY(std::abs(c.curves[0].points[0].y - 0.0125) < 1e-15);
  // Equal traces overlap; the legend still names each channel's rate.
  QCOMPARE(c.curves[0].name, std::string("A:0"));
  QCOMPARE(c.curves[0].legend_text(), std::string("A:0 — 12.5 kcps"));
  QCOMPARE(c.curves[1].legend_text(), std::string("A:1 — 1.50 Mcps"));
}

void GuiLogicTest::plotModelSettingFrequencies() {
  PlotModel m;
  auto p = snapshot(4, 1, 0, 0);
  p.setting_labels = {"0,0", "0,1"};
  p.setting_counts = {1, 3};
  p.setting_probability_min = 0.4;
  p.setting_probability_max = 0.6;
  p.setting_probability_ideal = 0.5;
  m.add(p);
  const ChartData c = m.chart("settings");
  const Curve* obs = curve(c, "observed");
  QVERIFY(obs);
  QCOMPARE(obs->points[0].y, 0.25);
  QCOMPARE(obs->points[1].y, 0.75);
  const Curve* band = curve(c, "ε-SV band");
  QVERIFY(band);
  QCOMPARE(band->points[0].y, 0.4);
  QCOMPARE(band->upper[0].y, 0.6);
  QCOMPARE(band->points.back().x, 1.5);  // spans the two bars: −0.5 … 1.5
  QCOMPARE(curve(c, "ideal source")->points[0].y, 0.5);
}

// Protocol A (issue 13): the first chart is E[Z_k] if the boxes were chosen now, against Z_k's
// threshold; the second the probability that the test on Z_k accepts, on a 0–1 axis, drawn only
// where a snapshot has one (a replayed run's statistics rows do not).
void GuiLogicTest::protocolAChartsShowTheDecisionStatistic() {
  PlotModel m;
  auto p = snapshot(100, 1, 0.002, 0.001);
  p.protocol = 'A';
  p.live.has_ustar = false;
  p.live.bell_threshold = 0.004;
  p.live.accept_probability = 0.8;
  m.add(p);
  auto q = snapshot(200, 2, 0.003, 0.001);
  q.protocol = 'A';
  q.live.has_ustar = false;
  q.live.bell_threshold = 0.004;
  q.live.accept_probability = -1;  // unknown (a replayed row)
  m.add(q);
  const auto charts = m.charts();
  QCOMPARE(charts[1].id, std::string("zk"));
  const Curve* pa = curve(charts[1], "Pr[accept]");
  QVERIFY(pa);
  QCOMPARE(pa->points.size(), std::size_t{1});
  QCOMPARE(pa->points[0].y, 0.8);
  QCOMPARE(charts[1].y_min, 0.0);
  QCOMPARE(charts[1].y_max, 1.0);
  const Curve* z = curve(charts[0], "E[Z_k]");
  QVERIFY(z);
  QCOMPARE(z->points[1].y, 0.003);
  QCOMPARE(curve(charts[0], "threshold")->points[0].y, 0.004);
  QVERIFY(charts[0].title.find("Z_k") != std::string::npos);
}

// Protocol C (issue 11): the first chart is the certified min-entropy against the target fixed
// before the run, the second the PEF's mean log2-gain per trial; values are what the snapshot says.
void GuiLogicTest::protocolCChartsShowMinEntropyAgainstTarget() {
  PlotModel m;
  auto p = snapshot(1000, 1, 0, 0);
  p.protocol = 'C';
  p.live.has_ustar = false;
  p.protocol_c = dira::protocol::ProtocolCStats{};
  p.protocol_c->certified_min_entropy = 120.5;
  p.protocol_c->target = 1782;
  p.protocol_c->mean_log2_gain = 4.6e-4;
  m.add(p);
  const auto charts = m.charts();
  QCOMPARE(charts[0].id, std::string("entropy"));
  QCOMPARE(charts[1].id, std::string("gain"));
  QCOMPARE(curve(charts[0], "certified min-entropy")->points[0].y, 120.5);
  QCOMPARE(curve(charts[0], "target")->points[0].y, 1782.0);
  QCOMPARE(curve(charts[1], "mean log2 F")->points[0].y, 4.6e-4);
  QVERIFY(!curve(charts[0], "L_n"));
}

void GuiLogicTest::csvExport() {
  PlotModel m;
  auto p = snapshot(100, 0.5, 0.25, 0.125);
  p.setting_labels = {"0,0", "0,1"};
  p.setting_counts = {1, 3};
  p.channel_names = {"A:0 (ch 1)"};
  p.channel_counts = {50};
  m.add(p);
  QCOMPARE(m.time_series_csv(),
           std::string("elapsed_s,trials,bell,bell_half_width,bell_threshold,ustar,ustar_half_width,ustar_threshold\n"
                       "0.5,100,0.25,0.125,0.01,0.5,0.125,0.0005\n"));
  QCOMPARE(m.settings_csv(),
           std::string("index,label,count,frequency,probability_min,probability_max,probability_ideal\n"
                       "0,\"0,0\",1,0.25,0,0,0\n1,\"0,1\",3,0.75,0,0,0\n"));
  QCOMPARE(m.channels_csv(), std::string("elapsed_s,A:0 (ch 1) clicks/s\n0.5,100\n"));
}

void GuiLogicTest::svgExportIsWellFormed() {
  PlotModel m;
  for (std::uint64_t t = 1; t <= 5; ++t)
    m.add(snapshot(t * 100, static_cast<double>(t), 0.001 * static_cast<double>(t), 0.002));
  const std::string svg = chart_svg(m.chart("bell"));
  QXmlStreamReader xml(QByteArray::fromStdString(svg));
  int polylines = 0, polygons = 0;
  QString polyline_points;
  while (!xml.atEnd()) {
    xml.readNext();
    if (xml.isStartElement() && xml.name() == QLatin1String("polyline")) {
      ++polylines;
      if (polyline_points.isEmpty()) polyline_points = xml.attributes().value("points").toString();
    }
    if (xml.isStartElement() && xml.name() == QLatin1String("polygon")) ++polygons;
  }
  QVERIFY2(!xml.hasError(), qPrintable(xml.errorString()));
  QCOMPARE(polygons, 1);   // the confidence band
  QCOMPARE(polylines, 2);  // L_n and the threshold
  QCOMPARE(polyline_points.trimmed().split(' ').size(), 5);
  QVERIFY(svg.find("Bell statistic") != std::string::npos);
}

void GuiLogicTest::niceTicks() {
  QCOMPARE(nice_ticks(0, 1, 5), (std::vector<double>{0, 0.2, 0.4, 0.6000000000000001, 0.8, 1}));
  const auto t = nice_ticks(-0.013, 0.013, 6);
  // raw step 0.0043 → 0.005: −0.01, −0.005, 0, 0.005, 0.01
  QCOMPARE(t.size(), std::size_t{5});
  QCOMPARE(t[2], 0.0);
  QVERIFY(std::abs(t[0] + 0.01) < 1e-15);
  QVERIFY(nice_ticks(1, 1).empty());
}

static nlohmann::json abort_report() {
  return nlohmann::json::parse(R"({
    "state": "completed", "decision": "abort", "certified_bits": 0, "trials_recorded": 200000,
    "device_independent": true, "run_directory": "/runs/sim-ks294-noisy-1",
    "analysis": {"reasons": ["Bell test failed: L_n = 0.0384 is not <= 0.01"],
      "certification": "aborted: nothing certified",
      "decision_record": {"trials_used": 200000, "tests": [
        {"name": "Bell test", "passed": false, "relation": "<=", "source": "seed 001, eq. 39", "statistic": "L_n",
         "threshold": 0.01, "value": 0.0384},
        {"name": "u* frequency test", "passed": true, "relation": ">=", "source": "seed 001, eq. 44",
         "statistic": "S_n", "threshold": 0.0005, "value": 0.00087}]}}})");
}

void GuiLogicTest::decisionAbort() {
  const auto s = summarize_report(abort_report());
  QCOMPARE(static_cast<int>(s.kind), static_cast<int>(DecisionSummary::Kind::abort));
  QCOMPARE(s.headline, std::string("ABORT — Bell test failed: L_n = 0.0384 is not <= 0.01"));
  QCOMPARE(s.numbers.size(), std::size_t{3});
  QCOMPARE(s.numbers[0], std::string("Bell test: L_n = 0.0384 ≤ 0.01  ✘ failed  (seed 001, eq. 39)"));
  QCOMPARE(s.numbers[1], std::string("u* frequency test: S_n = 0.00087 ≥ 0.0005  ✔ passed  (seed 001, eq. 44)"));
  QCOMPARE(s.numbers[2], std::string("trials used: 200000 of 200000 recorded"));
  QVERIFY(s.output_path.empty());
  const std::string html = decision_html(s);
  QVERIFY(html.find("certified output: 0 bits") != std::string::npos);
  QVERIFY(html.find("L_n = 0.0384 is not &lt;= 0.01") != std::string::npos);  // escaped
  QVERIFY(decision_colour(s.kind) != decision_colour(DecisionSummary::Kind::accept));
}

void GuiLogicTest::decisionAcceptWithOutput() {
  auto j = abort_report();
  j["decision"] = "accept";
  j["analysis"]["reasons"] = nlohmann::json::array();
  j["certified_bits"] = 64;
  j["output_file"] = "output.bin";
  const auto s = summarize_report(j);
  QCOMPARE(static_cast<int>(s.kind), static_cast<int>(DecisionSummary::Kind::accept));
  QCOMPARE(s.headline, std::string("ACCEPT"));
  QCOMPARE(s.output_path, std::string("/runs/sim-ks294-noisy-1/output.bin"));
  QVERIFY(decision_html(s).find("64 bits</b> written to /runs/sim-ks294-noisy-1/output.bin") != std::string::npos);
}

void GuiLogicTest::decisionAcceptedNoBits() {
  // Issue 13: green only for an accepted run that certified bits; "accepted, 0 bits" is neutral.
  auto j = abort_report();
  j["decision"] = "accept";
  j["analysis"]["reasons"] = nlohmann::json::array();
  j["certified_bits"] = 0;
  const auto s = summarize_report(j);
  QCOMPARE(static_cast<int>(s.kind), static_cast<int>(DecisionSummary::Kind::accepted_no_bits));
  QCOMPARE(s.headline, std::string("ACCEPTED — 0 bits certified"));
  QVERIFY(decision_colour(s.kind) != decision_colour(DecisionSummary::Kind::accept));
  QCOMPARE(decision_colour(s.kind), decision_colour(DecisionSummary::Kind::none));
  QVERIFY(decision_html(s).find("certified output: 0 bits") != std::string::npos);
}

void GuiLogicTest::decisionHardwareFault() {
  nlohmann::json j{{"state", "hardware-fault"},
                   {"decision", "incomplete"},
                   {"fault", "sim: device failure after 5000 trials"},
                   {"device_independent", false}};
  const auto s = summarize_report(j);
  QCOMPARE(static_cast<int>(s.kind), static_cast<int>(DecisionSummary::Kind::hardware_fault));
  QCOMPARE(s.headline, std::string("HARDWARE FAULT — INCOMPLETE"));
  QCOMPARE(s.reasons.front(), std::string("sim: device failure after 5000 trials"));
  QCOMPARE(s.reasons.back(), std::string("fair-sampling mode: NOT device-independent"));
}

void GuiLogicTest::decisionInterrupted() {
  // A run stopped before the protocol's n is never "accept" (issue 13): the verdict is
  // incomplete and the statistics over the recorded trials are labelled as such.
  nlohmann::json j{{"state", "interrupted"},
                   {"decision", "incomplete"},
                   {"decision_over_recorded_trials", "accept"},
                   {"decision_note",
                    "incomplete: the run ended (interrupted) after 1000 of the protocol's 200000 "
                    "trials and certifies nothing; the statistics over the trials recorded say accept"}};
  const auto s = summarize_report(j);
  QCOMPARE(static_cast<int>(s.kind), static_cast<int>(DecisionSummary::Kind::interrupted));
  QCOMPARE(s.headline, std::string("STOPPED BY THE OPERATOR — INCOMPLETE — statistics over the trials recorded: "
                                   "accept (certifies nothing)"));
  QCOMPARE(s.reasons.size(), std::size_t{1});
  QVERIFY(decision_colour(s.kind) != decision_colour(DecisionSummary::Kind::accept));
  // Nothing to read from: no banner content, but no crash either.
  QCOMPARE(static_cast<int>(summarize_report(nlohmann::json(nullptr)).kind),
           static_cast<int>(DecisionSummary::Kind::none));
}

void GuiLogicTest::decisionStorageFullAndPlan() {
  nlohmann::json j{{"state", "storage-full"},
                   {"decision", "incomplete"},
                   {"decision_over_recorded_trials", "accept"},
                   {"fault", "stopped before the disk (or file-size limit) was full: 200703 trials recorded"},
                   {"certified_bits", 0},
                   {"what_would_certify", {{"verdict", "One certified bit needs about 10^13.15 trials"}}}};
  const auto s = summarize_report(j);
  QCOMPARE(static_cast<int>(s.kind), static_cast<int>(DecisionSummary::Kind::incomplete));
  QCOMPARE(s.headline, std::string("STOPPED: DISK FULL — INCOMPLETE — statistics over the trials recorded: accept "
                                   "(certifies nothing)"));
  QCOMPARE(s.reasons.front(),
           std::string("stopped before the disk (or file-size limit) was full: 200703 trials recorded"));
  QCOMPARE(s.what_would_certify, std::string("One certified bit needs about 10^13.15 trials"));
  QVERIFY(decision_html(s).find("what would certify (dira plan):</i> One certified bit needs about 10^13.15 trials") !=
          std::string::npos);
}

QTEST_APPLESS_MAIN(GuiLogicTest)
namespace {
// Three stations as the coordinator could see them: one current, one that came back and is
// resending, one silent past two heartbeats (docs/stations.md's fault cases).
std::vector<dira::station::StationHealth> three_stations() {
  using namespace dira::station;
  StationHealth a;
  a.name = "alice";
  a.link = LinkState::connected;
  a.heartbeat_age_s = 0.05;
  a.tag_rate = 2.5e6;
  a.tags = 10'000'000;
  a.backlog_tags = 1000;
  a.clock_offset_ps = 0;
  StationHealth b = a;
  b.name = "bob";
  b.clock_offset_ps = 1'000'000'000;  // +1 ms, the offset tests/station runs with
  b.backfill = Backfill::backfilling;
  b.backfill_blocks_left = 12;
  b.backfills = 1;
  StationHealth c = a;
  c.name = "charlie";
  c.link = LinkState::lost;
  c.heartbeat_age_s = 0.9;
  c.tag_rate = 0;
  c.clock_offset_ps = -350'000;  // −350 ns
  c.backfill = Backfill::complete;
  c.backfills = 2;
  return {a, b, c};
}
}  // namespace

// Issue 14: the station table's text and levels, derived by hand from the health values.
void GuiLogicTest::stationRowsInLabUnits() {
  using dira::gui::StationRow;
  const auto rows = dira::gui::station_rows(three_stations(), 0.2);
  QCOMPARE(rows.size(), std::size_t{3});
  QCOMPARE(rows[0].name, std::string("alice"));
  QCOMPARE(rows[0].link, std::string("connected"));
  QCOMPARE(rows[0].tag_rate, std::string("2.50 M tags/s"));
  QCOMPARE(rows[0].backlog, std::string("1,000 tags"));
  QCOMPARE(rows[0].clock_offset, std::string("0 ps"));
  QCOMPARE(rows[0].backfill, std::string("—"));
  QVERIFY(rows[0].level == StationRow::Level::ok);  // backlog 1,000 < one second (2.5 M) of tags
  QCOMPARE(rows[1].clock_offset, std::string("+1.000 ms"));
  QCOMPARE(rows[1].backfill, std::string("backfilling, 12 blocks to come"));
  QVERIFY(rows[1].level == StationRow::Level::attention);
  QCOMPARE(rows[2].link, std::string("lost"));
  QCOMPARE(rows[2].clock_offset, std::string("−350.0 ns"));
  QCOMPARE(rows[2].backfill, std::string("caught up (2 backfills)"));
  QVERIFY(rows[2].level == StationRow::Level::lost);
  QVERIFY(!rows[2].why.empty());
  QVERIFY(rows[2].heartbeat.find("ago") != std::string::npos);
  // A connected station silent for more than one heartbeat needs attention; never heard: waiting.
  auto late = three_stations();
  late[0].heartbeat_age_s = 0.3;
  late[0].backlog_tags = 0;
  QVERIFY(dira::gui::station_rows(late, 0.2)[0].level == StationRow::Level::attention);
  late[0].link = dira::station::LinkState::waiting;
  late[0].heartbeat_age_s = -1;
  QCOMPARE(dira::gui::station_rows(late, 0.2)[0].heartbeat, std::string("never heard"));
}

#include "test_gui_logic.moc"
