#pragma once
/// @file station_view.hpp
/// What the GUI's station table shows (issue 14): one row per station of a coordinated run —
/// link state, heartbeat age, tag rate, backlog, clock offset, backfill — as text in the units a
/// lab reads, with a level that colours the row. Qt-free, like plot_model.hpp, so the tests read
/// exactly what the table shows. The values come from station::StationHealth
/// (station/include/dira/station/health.hpp, carried by every app::Progress snapshot).

#include "dira/station/health.hpp"

#include <string>
#include <vector>

namespace dira::gui {

struct StationRow {
  /// ok: connected (or ended) and current; attention: waiting, backfilling or behind (a backlog of
  /// more than a second of its tags, or no word for more than one heartbeat); lost: declared lost
  /// (silent for more than two heartbeats) — the run ends as a hardware fault if it stays away.
  enum class Level { ok, attention, lost };
  std::string name, link, heartbeat, tag_rate, backlog, clock_offset, backfill;
  Level level = Level::ok;
  std::string why;  ///< for the tooltip: what made the level (empty when ok)
};

/// Column titles, in the order of StationRow's text fields.
const std::vector<std::string>& station_columns();

/// One row per station, in station order. `heartbeat_s` is the experiment's heartbeat interval
/// (docs/stations.md), which says when a silence is worth attention.
std::vector<StationRow> station_rows(const std::vector<station::StationHealth>& stations, double heartbeat_s = 0.2);

/// A clock offset in picoseconds as a person reads it: "+1.000 ms", "−350 ns", "0 ps".
std::string clock_offset_text(std::int64_t picoseconds);

}  // namespace dira::gui
