#include "dira/gui/plot_model.hpp"

#include "markup.hpp"

#include "dira/app/lab_units.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>

namespace dira::gui {

namespace {

// Colours chosen to stay distinguishable in print and for common colour-vision deficiencies.
constexpr std::uint32_t kPalette[] = {0x1f77b4, 0xff7f0e, 0x2ca02c, 0xd62728, 0x9467bd, 0x8c564b,
                                      0xe377c2, 0x7f7f7f, 0xbcbd22, 0x17becf, 0x393b79, 0xad494a};
constexpr std::uint32_t kBand = 0xaec7e8;
constexpr std::uint32_t kThreshold = 0xd62728;

std::string num(double v) {
  char b[32];
  std::snprintf(b, sizeof b, "%.10g", v);
  return b;
}

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string out = "\"";
  for (const char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

// The smallest of 1, 2, 5 × 10^k that is ≥ v (v > 0): axis tops that change only by steps.
double nice_ceiling(double v) {
  if (!(v > 0) || !std::isfinite(v)) return 1;
  const double p = std::pow(10.0, std::floor(std::log10(v)));
  for (double m : {1.0, 2.0, 5.0, 10.0})
    if (m * p >= v * (1 - 1e-12)) return m * p;
  return 10 * p;
}

std::string hex(std::uint32_t rgb) {
  char b[8];
  std::snprintf(b, sizeof b, "#%06x", rgb & 0xffffffu);
  return b;
}

}  // namespace

std::size_t ChartData::point_count() const {
  std::size_t n = 0;
  for (const auto& c : curves) n += c.points.size();
  return n;
}

PlotModel::PlotModel(std::size_t max_points) : max_points_(std::max<std::size_t>(max_points, 4)) {}

void PlotModel::reset() {
  rows_.clear();
  protocol_a_ = has_ustar_ = protocol_c_ = false;
  snapshots_ = 0;
  last_ = {};
  channel_names_.clear();
  channel_time_.clear();
  channel_rate_.clear();
  prev_counts_.clear();
  prev_elapsed_ = 0;
}

template <class T>
void PlotModel::thin(std::vector<T>& v) {
  if (v.size() <= max_points_) return;
  // Keep even positions and the newest point: halving keeps the shape while the cost of a
  // redraw stays bounded whatever the run length.
  std::vector<T> out;
  out.reserve(v.size() / 2 + 1);
  for (std::size_t i = 0; i < v.size(); i += 2) out.push_back(v[i]);
  if ((v.size() - 1) % 2 != 0) out.push_back(v.back());
  v.swap(out);
}

void PlotModel::add(const app::Progress& p) {
  if (snapshots_ > 0 && p.trials < last_.trials) return;
  ++snapshots_;
  protocol_a_ = p.protocol == 'A';
  protocol_c_ = p.protocol_c.has_value();
  has_ustar_ = p.live.has_ustar;
  Row r;
  r.elapsed_s = p.elapsed_s;
  r.trials = static_cast<double>(p.trials);
  r.bell = p.live.bell_mean;
  r.bell_half_width = p.live.bell_half_width;
  r.bell_threshold = p.live.bell_threshold;
  r.ustar = p.live.ustar_mean;
  r.ustar_half_width = p.live.ustar_half_width;
  r.ustar_threshold = p.live.ustar_threshold;
  if (p.protocol_c) {
    r.min_entropy = p.protocol_c->certified_min_entropy;
    r.min_entropy_target = p.protocol_c->target;
    r.log2_gain = p.protocol_c->mean_log2_gain;
  }
  r.accept_probability = p.live.accept_probability;
  // Several snapshots at one trial count (paused, analysing) add nothing to a plot over trials.
  if (!rows_.empty() && rows_.back().trials == r.trials)
    rows_.back() = r;
  else
    rows_.push_back(r);
  thin(rows_);

  if (!p.channel_counts.empty() && p.channel_counts.size() == p.channel_names.size()) {
    if (channel_names_ != p.channel_names) {
      channel_names_ = p.channel_names;
      channel_time_.clear();
      channel_rate_.assign(channel_names_.size(), {});
      prev_counts_.assign(channel_names_.size(), 0);
      prev_elapsed_ = 0;
    }
    const double dt = p.elapsed_s - prev_elapsed_;
    // After acquisition (analysing, done) no tags arrive: a rate then would read as a dead
    // detector. A pause is shown as it is (zero rate). A run over before its first snapshot
    // still gets one point: its mean rate.
    const bool acquiring = p.stage.empty() || p.stage == "acquiring" || p.stage == "paused";
    if (dt > 0 && (acquiring || channel_time_.empty())) {
      channel_time_.push_back(p.elapsed_s);
      for (std::size_t i = 0; i < channel_names_.size(); ++i) {
        const auto d = p.channel_counts[i] >= prev_counts_[i] ? p.channel_counts[i] - prev_counts_[i] : 0;
        channel_rate_[i].push_back(static_cast<double>(d) / dt);
        thin(channel_rate_[i]);
      }
      thin(channel_time_);
      prev_counts_ = p.channel_counts;
      prev_elapsed_ = p.elapsed_s;
    }
  }
  last_ = p;
}

std::vector<ChartData> PlotModel::charts() const {
  if (protocol_c_) return {chart("entropy"), chart("gain"), chart("clicks"), chart("settings")};
  return {chart("bell"), chart(protocol_a_ ? "zk" : "ustar"), chart("clicks"), chart("settings")};
}

ChartData PlotModel::chart(const std::string& id) const {
  ChartData c;
  c.id = id;
  if (id != "clicks" && id != "settings") c.x_max = static_cast<double>(last_.planned);
  auto band = [&](const char* name, auto lower, auto upper) {
    Curve b{name, Curve::Style::band, {}, {}, kBand, {}};
    for (const auto& r : rows_) {
      b.points.push_back({r.trials, lower(r)});
      b.upper.push_back({r.trials, upper(r)});
    }
    return b;
  };
  auto line = [&](const std::string& name, std::uint32_t rgb, auto value) {
    Curve l{name, Curve::Style::line, {}, {}, rgb, {}};
    for (const auto& r : rows_) l.points.push_back({r.trials, value(r)});
    return l;
  };
  if (id == "entropy") {
    // Protocol C: the certified smooth min-entropy (log2 T − log2(1/ε_est))/β against the target
    // fixed before the run; the run passes (and, run until certified, stops) where they meet.
    c.title = "Certified min-entropy vs trials (pass iff ≥ target)";
    c.x_label = "trials";
    c.y_label = "bits";
    if (rows_.empty()) return c;
    c.curves.push_back(line("certified min-entropy", kPalette[0], [](const Row& r) { return r.min_entropy; }));
    c.curves.push_back(line("target", kThreshold, [](const Row& r) { return r.min_entropy_target; }));
    return c;
  }
  if (id == "gain") {
    c.title = "PEF log2-gain per trial (mean of log2 F; > 0 certifies)";
    c.x_label = "trials";
    c.y_label = "log2 F per trial";
    if (rows_.empty()) return c;
    c.curves.push_back(line("mean log2 F", kPalette[2], [](const Row& r) { return r.log2_gain; }));
    c.curves.push_back(line("zero", kThreshold, [](const Row&) { return 0.0; }));
    return c;
  }
  if (id == "bell") {
    c.x_label = "trials";
    if (protocol_a_) {
      // Live, the boxes Z_k is taken over are not chosen yet (their choice bits are drawn only after
      // every output is fixed, seed 000 Fig. 2 step 2); what exists is Z_k's distribution if they
      // were chosen now. Its expectation, (1/k) Σ_j (violations_j / n_j), is drawn against the
      // threshold Z_k is compared with (protocol_a.cpp, live()).
      c.title = "Z_k if the boxes were chosen now: E[Z_k] vs trials (accept iff Z_k ≤ threshold)";
      c.y_label = "E[Z_k]";
    } else {
      c.title = "Bell statistic L_n vs trials (accept iff L_n ≤ δ)";
      c.y_label = "L_n";
    }
    if (rows_.empty()) return c;
    c.curves.push_back(band(
        "confidence band", [](const Row& r) { return r.bell - r.bell_half_width; },
        [](const Row& r) { return r.bell + r.bell_half_width; }));
    c.curves.push_back(line(protocol_a_ ? "E[Z_k]" : "L_n", kPalette[0], [](const Row& r) { return r.bell; }));
    c.curves.push_back(
        line(protocol_a_ ? "threshold" : "threshold δ", kThreshold, [](const Row& r) { return r.bell_threshold; }));
    // From 0, so the distance to the threshold reads as it is; the threshold always in view.
    double top = rows_.back().bell_threshold;
    for (const auto& r : rows_) top = std::max(top, r.bell);
    c.y_min = 0;
    c.y_max = nice_ceiling(1.25 * top);
  } else if (id == "ustar") {
    c.title = "u* frequency S_n vs trials (accept iff S_n ≥ μ1)";
    c.x_label = "trials";
    c.y_label = "S_n";
    if (rows_.empty() || !has_ustar_) return c;
    c.curves.push_back(band(
        "confidence band", [](const Row& r) { return r.ustar - r.ustar_half_width; },
        [](const Row& r) { return r.ustar + r.ustar_half_width; }));
    c.curves.push_back(line("S_n", kPalette[2], [](const Row& r) { return r.ustar; }));
    c.curves.push_back(line("threshold μ1", kThreshold, [](const Row& r) { return r.ustar_threshold; }));
    // Scaled to μ1: from 0 to a little above max(μ1, S_n), so S_n against μ1 is what one sees.
    double top = rows_.back().ustar_threshold;
    for (const auto& r : rows_) top = std::max(top, r.ustar);
    c.y_min = 0;
    c.y_max = nice_ceiling(1.25 * top);
  } else if (id == "zk") {
    // The decision itself: the probability that the test on the chosen boxes accepts,
    // Pr[k·Z_k ≤ ⌊k·threshold⌋], if the boxes were chosen now (an exact Poisson-binomial sum over
    // the devices' runs so far, protocol_a.cpp, live()). Axis 0–1: a probability.
    c.title = "Pr[accept] if the boxes were chosen now (the test on Z_k)";
    c.x_label = "trials";
    c.y_label = "Pr[Z_k ≤ threshold]";
    if (rows_.empty()) return c;
    // A replayed run's statistics rows hold no such probability: only snapshots that have one.
    Curve pa{"Pr[accept]", Curve::Style::line, {}, {}, kPalette[2], {}};
    for (const auto& r : rows_)
      if (r.accept_probability >= 0) pa.points.push_back({r.trials, r.accept_probability});
    c.curves.push_back(std::move(pa));
    c.curves.push_back(line("one half", kThreshold, [](const Row&) { return 0.5; }));
    c.y_min = 0;
    c.y_max = 1;
  } else if (id == "clicks") {
    // Rates in the unit a lab reads (cps, kcps, Mcps), and each channel's latest rate in its
    // legend entry: channels with equal rates draw on top of each other, the legend still
    // tells them apart.
    c.title = "Click rates per detector channel";
    c.x_label = "elapsed (s)";
    double peak = 0;
    for (const auto& rate : channel_rate_)
      for (double v : rate) peak = std::max(peak, v);
    const double scale = peak >= 1e6 ? 1e-6 : peak >= 1e3 ? 1e-3 : 1;
    c.y_unit = scale == 1e-6 ? "Mcps" : scale == 1e-3 ? "kcps" : "cps";
    c.y_label = "click rate (" + c.y_unit + ")";
    for (std::size_t i = 0; i < channel_names_.size(); ++i) {
      const auto& rate = channel_rate_[i];
      const std::string latest = rate.empty() ? "" : " — " + app::lab_units::click_rate(rate.back());
      Curve l{channel_names_[i], Curve::Style::line, {}, {}, kPalette[i % std::size(kPalette)], {}};
      l.legend = channel_names_[i] + latest;
      // Rates and times are thinned in step, but guard against a length mismatch anyway.
      const std::size_t n = std::min(rate.size(), channel_time_.size());
      for (std::size_t j = 0; j < n; ++j) l.points.push_back({channel_time_[j], rate[j] * scale});
      c.curves.push_back(std::move(l));
    }
  } else if (id == "settings") {
    c.title = "Joint setting frequencies vs what the weak source allows";
    c.x_label = "joint setting index";
    c.y_label = "frequency";
    const auto& p = last_;
    std::uint64_t total = 0;
    for (auto n : p.setting_counts) total += n;
    if (total == 0) return c;
    Curve obs{"observed", Curve::Style::scatter, {}, {}, kPalette[0], {}};
    for (std::size_t i = 0; i < p.setting_counts.size(); ++i)
      obs.points.push_back(
          {static_cast<double>(i), static_cast<double>(p.setting_counts[i]) / static_cast<double>(total)});
    const double x0 = -0.5, x1 = static_cast<double>(p.setting_counts.size()) - 0.5;
    c.x_min = x0;
    c.x_max = x1;
    if (p.setting_probability_max > 0) {
      Curve b{"ε-SV band",
              Curve::Style::band,
              {{x0, p.setting_probability_min}, {x1, p.setting_probability_min}},
              {{x0, p.setting_probability_max}, {x1, p.setting_probability_max}},
              kBand,
              {}};
      c.curves.push_back(std::move(b));
    }
    if (p.setting_probability_ideal > 0)
      c.curves.push_back({"ideal source",
                          Curve::Style::line,
                          {{x0, p.setting_probability_ideal}, {x1, p.setting_probability_ideal}},
                          {},
                          kPalette[2],
                          {}});
    c.curves.push_back(std::move(obs));
  }
  return c;
}

std::string PlotModel::time_series_csv() const {
  std::ostringstream o;
  o << "elapsed_s,trials,bell,bell_half_width,bell_threshold,ustar,ustar_half_width,ustar_threshold\n";
  for (const auto& r : rows_)
    o << num(r.elapsed_s) << ',' << num(r.trials) << ',' << num(r.bell) << ',' << num(r.bell_half_width) << ','
      << num(r.bell_threshold) << ',' << (has_ustar_ ? num(r.ustar) : "") << ','
      << (has_ustar_ ? num(r.ustar_half_width) : "") << ',' << (has_ustar_ ? num(r.ustar_threshold) : "") << '\n';
  return o.str();
}

std::string PlotModel::settings_csv() const {
  std::ostringstream o;
  o << "index,label,count,frequency,probability_min,probability_max,probability_ideal\n";
  const auto& p = last_;
  std::uint64_t total = 0;
  for (auto n : p.setting_counts) total += n;
  for (std::size_t i = 0; i < p.setting_counts.size(); ++i) {
    const std::string label = i < p.setting_labels.size() ? p.setting_labels[i] : "";
    o << i << ',' << csv_field(label) << ',' << p.setting_counts[i] << ','
      << num(total ? static_cast<double>(p.setting_counts[i]) / static_cast<double>(total) : 0) << ','
      << num(p.setting_probability_min) << ',' << num(p.setting_probability_max) << ','
      << num(p.setting_probability_ideal) << '\n';
  }
  return o.str();
}

std::string PlotModel::channels_csv() const {
  std::ostringstream o;
  o << "elapsed_s";
  for (const auto& n : channel_names_) o << ',' << csv_field(n + " clicks/s");
  o << '\n';
  for (std::size_t j = 0; j < channel_time_.size(); ++j) {
    o << num(channel_time_[j]);
    for (const auto& r : channel_rate_) o << ',' << (j < r.size() ? num(r[j]) : "");
    o << '\n';
  }
  return o.str();
}

std::vector<double> nice_ticks(double lo, double hi, int target) {
  std::vector<double> t;
  if (!(hi > lo) || !std::isfinite(lo) || !std::isfinite(hi) || target < 1) return t;
  const double raw = (hi - lo) / target;
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  double step = mag;
  for (const double m : {1.0, 2.0, 5.0, 10.0})
    if (m * mag >= raw) {
      step = m * mag;
      break;
    }
  for (double v = std::ceil(lo / step) * step; v <= hi + step * 1e-9; v += step)
    t.push_back(std::abs(v) < step * 1e-9 ? 0.0 : v);
  return t;
}

std::string chart_svg(const ChartData& chart, int width, int height) {
  double x0 = 1e300, x1 = -1e300, y0 = 1e300, y1 = -1e300;
  for (const auto& c : chart.curves) {
    for (const auto* pts : {&c.points, &c.upper})
      for (const auto& p : *pts) {
        if (!std::isfinite(p.x) || !std::isfinite(p.y)) continue;
        x0 = std::min(x0, p.x);
        x1 = std::max(x1, p.x);
        y0 = std::min(y0, p.y);
        y1 = std::max(y1, p.y);
      }
  }
  if (x0 > x1) x0 = 0, x1 = 1, y0 = 0, y1 = 1;
  if (x1 == x0) x1 = x0 + 1;
  if (y1 == y0) y0 -= 0.5, y1 += 0.5;
  const double pad = 0.05 * (y1 - y0);
  y0 -= pad;
  y1 += pad;
  const double left = 80, right = width - 170.0, top = 40, bottom = height - 50.0;
  auto sx = [&](double x) { return left + (x - x0) / (x1 - x0) * (right - left); };
  auto sy = [&](double y) { return bottom - (y - y0) / (y1 - y0) * (bottom - top); };
  std::ostringstream o;
  o << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << width << "\" height=\"" << height
    << "\" font-family=\"sans-serif\" font-size=\"12\">\n";
  o << "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
  o << "<text x=\"" << width / 2 << "\" y=\"22\" text-anchor=\"middle\" font-size=\"14\">" << escape_markup(chart.title)
    << "</text>\n";
  o << "<rect x=\"" << left << "\" y=\"" << top << "\" width=\"" << right - left << "\" height=\"" << bottom - top
    << "\" fill=\"none\" stroke=\"#444\"/>\n";
  for (double t : nice_ticks(x0, x1))
    o << "<line x1=\"" << sx(t) << "\" y1=\"" << bottom << "\" x2=\"" << sx(t) << "\" y2=\"" << bottom + 5
      << "\" stroke=\"#444\"/><text x=\"" << sx(t) << "\" y=\"" << bottom + 18 << "\" text-anchor=\"middle\">" << num(t)
      << "</text>\n";
  for (double t : nice_ticks(y0, y1))
    o << "<line x1=\"" << left - 5 << "\" y1=\"" << sy(t) << "\" x2=\"" << left << "\" y2=\"" << sy(t)
      << "\" stroke=\"#444\"/><text x=\"" << left - 8 << "\" y=\"" << sy(t) + 4 << "\" text-anchor=\"end\">" << num(t)
      << "</text>\n";
  o << "<text x=\"" << (left + right) / 2 << "\" y=\"" << height - 12 << "\" text-anchor=\"middle\">"
    << escape_markup(chart.x_label) << "</text>\n";
  o << "<text transform=\"translate(16," << (top + bottom) / 2 << ") rotate(-90)\" text-anchor=\"middle\">"
    << escape_markup(chart.y_label) << "</text>\n";
  int legend = 0;
  for (const auto& c : chart.curves) {
    if (c.points.empty()) continue;
    const std::string col = hex(c.rgb);
    o << "<g><title>" << escape_markup(c.name) << "</title>";
    if (c.style == Curve::Style::band) {
      o << "<polygon fill=\"" << col << "\" fill-opacity=\"0.5\" stroke=\"none\" points=\"";
      for (const auto& p : c.points) o << sx(p.x) << ',' << sy(p.y) << ' ';
      for (auto it = c.upper.rbegin(); it != c.upper.rend(); ++it) o << sx(it->x) << ',' << sy(it->y) << ' ';
      o << "\"/>";
    } else if (c.style == Curve::Style::line) {
      o << "<polyline fill=\"none\" stroke=\"" << col << "\" stroke-width=\"1.5\" points=\"";
      for (const auto& p : c.points) o << sx(p.x) << ',' << sy(p.y) << ' ';
      o << "\"/>";
    } else {
      for (const auto& p : c.points)
        o << "<circle cx=\"" << sx(p.x) << "\" cy=\"" << sy(p.y) << "\" r=\"2.5\" fill=\"" << col << "\"/>";
    }
    o << "</g>\n";
    const double ly = top + 10 + 18 * legend++;
    o << "<rect x=\"" << right + 12 << "\" y=\"" << ly - 8 << "\" width=\"14\" height=\"10\" fill=\"" << col
      << "\"/><text x=\"" << right + 32 << "\" y=\"" << ly + 1 << "\">" << escape_markup(c.legend_text())
      << "</text>\n";
  }
  o << "</svg>\n";
  return o.str();
}

}  // namespace dira::gui
