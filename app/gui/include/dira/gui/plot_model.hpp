#pragma once
/// @file plot_model.hpp
/// What the GUI's four live plots show, as plain data built from owned session snapshots
/// (app::Progress) or from a finished run's statistics time series. No Qt: the chart widgets,
/// the SVG/CSV export and the tests all read the same ChartData.

#include "dira/app/run_file.hpp"
#include "dira/app/session.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace dira::gui {

struct Point {
  double x = 0, y = 0;
};

/// One drawn element of a chart.
struct Curve {
  enum class Style { line, scatter, band };
  std::string name;
  Style style = Style::line;
  std::vector<Point> points;  ///< for a band: the lower edge
  std::vector<Point> upper;   ///< for a band: the upper edge (same x as `points`)
  std::uint32_t rgb = 0x1f77b4;
  /// What the legend shows when it differs from the stable `name` (e.g. "A:0 — 12.5 kcps"):
  /// views rebuild only when names change, and update legends every frame.
  std::string legend;
  const std::string& legend_text() const { return legend.empty() ? name : legend; }
};

struct ChartData {
  std::string id;  ///< "bell", "ustar", "clicks", "settings": file names of exports
  std::string title, x_label, y_label;
  std::vector<Curve> curves;
  /// The x range the chart will need ([0, planned trials], the histogram's bins) when known
  /// (x_max > x_min): views fix their axis to it instead of re-laying it out every snapshot.
  double x_min = 0, x_max = 0;
  /// The y range that shows the test (y_max > y_min): from 0 with the threshold in view and the
  /// statistic below the top, rounded up to 1, 2 or 5 × 10^k so it changes rarely. A confidence
  /// band wider than that early in a run is clipped rather than squashing the test flat.
  double y_min = 0, y_max = 0;
  /// The y axis' unit when values were scaled for reading (clicks: "kcps" …); empty otherwise.
  std::string y_unit;
  /// Number of points over all curves (bands count their lower edge).
  std::size_t point_count() const;
};

/// Accumulates snapshots into bounded time series (a replayed run is fed as the snapshots it
/// would have produced, see history.hpp). Each series keeps at most `max_points`
/// points: when full, every other point is dropped (the newest always kept), so a run of
/// hours costs the same to redraw as a run of seconds.
class PlotModel {
 public:
  explicit PlotModel(std::size_t max_points = 2000);

  /// Clears everything (a new run or a replay).
  void reset();
  /// Adds one snapshot. Snapshots with fewer trials than the last one are ignored.
  void add(const app::Progress& p);
  /// The four charts: Bell statistic (A: E[Z_k] if the boxes were chosen now), u* frequency (B) or
  /// Pr[the test on Z_k accepts] if they were chosen now (A),
  /// click rates per channel, setting frequencies against the weak source's band.
  std::vector<ChartData> charts() const;
  ChartData chart(const std::string& id) const;

  /// Every series as CSV (one row per snapshot; the histograms as their latest values).
  std::string time_series_csv() const;
  std::string settings_csv() const;
  std::string channels_csv() const;

  bool protocol_a() const { return protocol_a_; }
  std::size_t snapshots() const { return snapshots_; }
  const app::Progress& last() const { return last_; }

  struct Row {
    double elapsed_s = 0;
    double trials = 0;
    double bell = 0, bell_half_width = 0, bell_threshold = 0;
    double ustar = 0, ustar_half_width = 0, ustar_threshold = 0;
    double min_entropy = 0, min_entropy_target = 0, log2_gain = 0;  ///< Protocol C
    double accept_probability = -1;  ///< Protocol A: Pr[accept] if the boxes were chosen now (−1: unknown)
  };
  const std::vector<Row>& rows() const { return rows_; }

 private:
  template <class T>
  void thin(std::vector<T>& v);

  std::size_t max_points_;
  std::vector<Row> rows_;
  bool protocol_a_ = false, has_ustar_ = false, protocol_c_ = false;
  std::size_t snapshots_ = 0;
  app::Progress last_;
  std::vector<std::string> channel_names_;
  // Rates between consecutive snapshots (clicks per second), one series per channel.
  std::vector<double> channel_time_;
  std::vector<std::vector<double>> channel_rate_;
  std::vector<std::uint64_t> prev_counts_;
  double prev_elapsed_ = 0;
};

/// Minimal SVG rendering of a chart (axes, ticks, curves, legend), for export without QtSvg.
std::string chart_svg(const ChartData& chart, int width = 800, int height = 500);

/// Tick positions for an axis from `lo` to `hi`: 1, 2 or 5 × 10^k steps, about `target` ticks.
std::vector<double> nice_ticks(double lo, double hi, int target = 6);

}  // namespace dira::gui
