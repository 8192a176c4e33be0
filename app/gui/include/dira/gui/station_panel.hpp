#pragma once
/// @file station_panel.hpp
/// The station table of a coordinated run (issue 14): one row per station, coloured by its
/// level (station_view.hpp decides the text and the level; this only draws them).

#include "dira/gui/station_view.hpp"

#include <QTableWidget>

namespace dira::gui {

class StationPanel : public QTableWidget {
 public:
  explicit StationPanel(QWidget* parent = nullptr);
  void show_rows(const std::vector<StationRow>& rows);
};

}  // namespace dira::gui
