#pragma once
/// @file chart_panel.hpp
/// A Qt Charts view that shows one ChartData. Series objects are reused between updates
/// (one replace() per curve), so a redraw costs one pass over at most PlotModel's point cap.

#include "dira/gui/plot_model.hpp"

#include <QChartView>

namespace dira::gui {

class ChartPanel : public QChartView {
  Q_OBJECT
 public:
  explicit ChartPanel(QWidget* parent = nullptr);
  void show_data(const ChartData& data);
  const ChartData& data() const { return data_; }
  /// Points held by the chart's series (what is drawn), for tests and diagnostics.
  int drawn_points() const;

 private:
  ChartData data_;
  // Axis ranges currently shown; changed only when the data leaves them or uses little of
  // them, because every axis change re-lays out the labels (the dominant redraw cost).
  double x_lo_ = 0, x_hi_ = 0, y_lo_ = 0, y_hi_ = 0;
  std::vector<std::pair<std::string, Curve::Style>> layout_;
};

}  // namespace dira::gui
