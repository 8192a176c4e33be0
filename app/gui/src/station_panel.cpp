#include "dira/gui/station_panel.hpp"

#include <QBrush>
#include <QColor>
#include <QHeaderView>

namespace dira::gui {

StationPanel::StationPanel(QWidget* parent) : QTableWidget(parent) {
  setObjectName("stationTable");
  const auto& columns = station_columns();
  setColumnCount(static_cast<int>(columns.size()));
  QStringList titles;
  for (const auto& c : columns) titles << QString::fromStdString(c);
  setHorizontalHeaderLabels(titles);
  verticalHeader()->setVisible(false);
  horizontalHeader()->setSectionResizeMode(QHeaderView::ResizeToContents);
  horizontalHeader()->setStretchLastSection(true);
  setEditTriggers(QAbstractItemView::NoEditTriggers);
  setSelectionMode(QAbstractItemView::NoSelection);
  setToolTip(tr("Stations of this run, as the coordinator sees them (docs/stations.md, \"Station health\")"));
}

void StationPanel::show_rows(const std::vector<StationRow>& rows) {
  setRowCount(static_cast<int>(rows.size()));
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const StationRow& r = rows[i];
    const std::string* cells[] = {&r.name,    &r.link,         &r.heartbeat, &r.tag_rate,
                                  &r.backlog, &r.clock_offset, &r.backfill};
    // Lost red, attention amber, ok unmarked: the same colours as the decision banner's states.
    const QColor background = r.level == StationRow::Level::lost        ? QColor(0xf8, 0xd7, 0xda)
                              : r.level == StationRow::Level::attention ? QColor(0xff, 0xf3, 0xcd)
                                                                        : QColor();
    for (int c = 0; c < static_cast<int>(std::size(cells)); ++c) {
      auto* item = this->item(static_cast<int>(i), c);
      if (!item) {
        item = new QTableWidgetItem;
        setItem(static_cast<int>(i), c, item);
      }
      item->setText(QString::fromStdString(*cells[c]));
      item->setToolTip(QString::fromStdString(r.why));
      item->setBackground(background.isValid() ? QBrush(background) : QBrush());
    }
  }
}

}  // namespace dira::gui
