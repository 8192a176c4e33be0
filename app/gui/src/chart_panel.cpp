#include "dira/gui/chart_panel.hpp"

#include <QAreaSeries>
#include <QChart>
#include <QLineSeries>
#include <QScatterSeries>
#include <QValueAxis>

#include <algorithm>
#include <cmath>

namespace dira::gui {

namespace {

QList<QPointF> to_qt(const std::vector<Point>& pts) {
  QList<QPointF> out;
  out.reserve(static_cast<qsizetype>(pts.size()));
  for (const auto& p : pts) out.append(QPointF(p.x, p.y));
  return out;
}

QColor colour(std::uint32_t rgb) {
  return QColor(QRgb(rgb));
}

}  // namespace

ChartPanel::ChartPanel(QWidget* parent) : QChartView(parent) {
  auto* c = new QChart;
  c->legend()->setAlignment(Qt::AlignBottom);
  // Room on the right for the last x tick label (e.g. "2e+05"), which Qt Charts centres on
  // the axis end and would otherwise cut.
  c->setMargins(QMargins(4, 4, 28, 4));
  // Animations would keep the GUI thread busy between snapshots.
  c->setAnimationOptions(QChart::NoAnimation);
  setChart(c);
  setMinimumSize(320, 220);
}

void ChartPanel::show_data(const ChartData& d) {
  QChart* c = chart();
  std::vector<std::pair<std::string, Curve::Style>> layout;
  for (const auto& cv : d.curves) layout.emplace_back(cv.name, cv.style);
  if (layout != layout_ || c->axes().isEmpty()) {
    // The set of curves changed (first data, other protocol, new channels): rebuild.
    c->removeAllSeries();
    for (auto* a : c->axes()) {
      c->removeAxis(a);
      delete a;
    }
    auto* ax = new QValueAxis;
    auto* ay = new QValueAxis;
    c->addAxis(ax, Qt::AlignBottom);
    c->addAxis(ay, Qt::AlignLeft);
    for (const auto& cv : d.curves) {
      QAbstractSeries* s = nullptr;
      if (cv.style == Curve::Style::band) {
        auto* area = new QAreaSeries(new QLineSeries, new QLineSeries);
        QColor fill = colour(cv.rgb);
        fill.setAlpha(110);
        area->setBrush(fill);
        area->setPen(Qt::NoPen);
        s = area;
      } else if (cv.style == Curve::Style::scatter) {
        auto* sc = new QScatterSeries;
        sc->setMarkerSize(6);
        sc->setColor(colour(cv.rgb));
        sc->setBorderColor(colour(cv.rgb));
        sc->setPen(Qt::NoPen);
        s = sc;
      } else {
        auto* l = new QLineSeries;
        // A 1-pixel cosmetic pen takes the raster engine's fast line path; wider pens are
        // stroked into polygons (most of the GUI thread's time in profiles).
        QPen pen(colour(cv.rgb), 1);
        pen.setCosmetic(true);
        l->setPen(pen);
        s = l;
      }
      s->setName(QString::fromStdString(cv.name));
      c->addSeries(s);
      s->attachAxis(ax);
      s->attachAxis(ay);
    }
    // Many curves (one per detector channel): a legend column on the right keeps names readable.
    c->legend()->setAlignment(d.curves.size() > 4 ? Qt::AlignRight : Qt::AlignBottom);
    x_lo_ = x_hi_ = y_lo_ = y_hi_ = 0;
    layout_ = layout;
  }
  if (c->title() != QString::fromStdString(d.title)) c->setTitle(QString::fromStdString(d.title));
  const auto series = c->series();
  double x0 = 1e300, x1 = -1e300, y0 = 1e300, y1 = -1e300;
  auto extend = [&](const std::vector<Point>& pts) {
    for (const auto& p : pts) {
      if (!std::isfinite(p.x) || !std::isfinite(p.y)) continue;
      x0 = std::min(x0, p.x);
      x1 = std::max(x1, p.x);
      y0 = std::min(y0, p.y);
      y1 = std::max(y1, p.y);
    }
  };
  for (std::size_t i = 0; i < d.curves.size() && i < static_cast<std::size_t>(series.size()); ++i) {
    const auto& cv = d.curves[i];
    extend(cv.points);
    extend(cv.upper);
    if (auto* area = qobject_cast<QAreaSeries*>(series[static_cast<qsizetype>(i)])) {
      area->lowerSeries()->replace(to_qt(cv.points));
      area->upperSeries()->replace(to_qt(cv.upper));
    } else if (auto* xy = qobject_cast<QXYSeries*>(series[static_cast<qsizetype>(i)])) {
      xy->replace(to_qt(cv.points));
    }
    auto* s = series[static_cast<qsizetype>(i)];
    if (const QString legend = QString::fromStdString(cv.legend_text()); s->name() != legend) s->setName(legend);
  }
  const bool empty = x0 > x1;
  if (empty) x0 = 0, x1 = 1, y0 = 0, y1 = 1;
  if (y1 <= y0) y0 -= 0.5, y1 += 0.5;
  const auto axes_x = c->axes(Qt::Horizontal), axes_y = c->axes(Qt::Vertical);
  if (!axes_x.isEmpty()) {
    auto* ax = static_cast<QValueAxis*>(axes_x.front());
    double lo = x_lo_, hi = x_hi_;
    if (d.x_max > d.x_min) {
      lo = d.x_min;
      hi = d.x_max;
    } else if (x0 < lo || x1 > hi || hi <= lo || (x1 - x0) < 0.25 * (hi - lo)) {
      // Doubling headroom: the axis moves O(log) times over a run, not on every frame.
      lo = x0;
      hi = x0 + std::max(2 * (x1 - x0), 1e-9);
    }
    if (lo != x_lo_ || hi != x_hi_) {
      x_lo_ = lo;
      x_hi_ = hi;
      ax->setRange(lo, hi);
      ax->setLabelFormat(hi >= 1e5 ? "%.3g" : "%g");
      // Fixed ranges (planned trials, histogram bins) are shown exactly.
      if (!(d.x_max > d.x_min)) {
        ax->setTickType(QValueAxis::TicksFixed);
        ax->applyNiceNumbers();
      } else if (const auto t = nice_ticks(lo, hi, 5); t.size() >= 2) {
        // Ticks at round values (0, 20, 40 … bins; 0, 5e6 … trials) inside the exact range.
        ax->setTickType(QValueAxis::TicksDynamic);
        ax->setTickAnchor(0);
        ax->setTickInterval(t[1] - t[0]);
      }
      x_lo_ = ax->min();
      x_hi_ = ax->max();
    }
    if (ax->titleText() != QString::fromStdString(d.x_label)) ax->setTitleText(QString::fromStdString(d.x_label));
  }
  if (!axes_y.isEmpty()) {
    auto* ay = static_cast<QValueAxis*>(axes_y.front());
    double lo = y_lo_, hi = y_hi_;
    if (d.y_max > d.y_min) {
      // The chart says which range shows its test (plot_model.hpp): use it as it is.
      if (d.y_min != y_lo_ || d.y_max != y_hi_) {
        y_lo_ = d.y_min;
        y_hi_ = d.y_max;
        ay->setRange(d.y_min, d.y_max);
        ay->setLabelFormat("%.3g");
        ay->setTickType(QValueAxis::TicksFixed);
        ay->setTickCount(6);
      }
    } else if (y0 < lo || y1 > hi || hi <= lo || (y1 - y0) < 0.4 * (hi - lo)) {
      const double pad = 0.1 * (y1 - y0);
      lo = y0 - pad;
      hi = y1 + pad;
      if (y0 >= 0 && lo < 0) lo = 0;  // rates and frequencies: no negative axis
    }
    if (!(d.y_max > d.y_min) && (lo != y_lo_ || hi != y_hi_)) {
      y_lo_ = lo;
      y_hi_ = hi;
      ay->setRange(lo, hi);
      ay->setLabelFormat("%.3g");
      ay->applyNiceNumbers();
      // applyNiceNumbers widens the range: remember what is shown so the next frame compares to it.
      if (lo == 0 && ay->min() < 0) ay->setMin(0);
      y_lo_ = ay->min();
      y_hi_ = ay->max();
      if (y0 < y_lo_ || y1 > y_hi_) y_lo_ = y_hi_ = 0;
    }
    if (ay->titleText() != QString::fromStdString(d.y_label)) ay->setTitleText(QString::fromStdString(d.y_label));
  }
  data_ = d;
}

int ChartPanel::drawn_points() const {
  int n = 0;
  for (auto* s : chart()->series()) {
    if (auto* area = qobject_cast<QAreaSeries*>(s))
      n += static_cast<int>(area->lowerSeries()->count());
    else if (auto* xy = qobject_cast<QXYSeries*>(s))
      n += static_cast<int>(xy->count());
  }
  return n;
}

}  // namespace dira::gui
