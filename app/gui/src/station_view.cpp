#include "dira/gui/station_view.hpp"

#include "dira/app/lab_units.hpp"

#include <cmath>
#include <cstdlib>

namespace dira::gui {

namespace lu = app::lab_units;

const std::vector<std::string>& station_columns() {
  static const std::vector<std::string> c{"station", "link",         "heartbeat", "tag rate",
                                          "backlog", "clock offset", "backfill"};
  return c;
}

std::string clock_offset_text(std::int64_t ps) {
  if (ps == 0) return "0 ps";
  const char* sign = ps > 0 ? "+" : "−";
  const double a = std::abs(static_cast<double>(ps));
  // Four significant digits in the largest unit that keeps the number ≥ 1: offsets of
  // ±1 ms (docs/stations.md's test) read as "+1.000 ms", not as 10^9 ps.
  struct Unit {
    double ps;
    const char* name;
  };
  static const Unit units[] = {{1e12, "s"}, {1e9, "ms"}, {1e6, "µs"}, {1e3, "ns"}, {1, "ps"}};
  for (const Unit& u : units)
    if (a >= u.ps || u.ps == 1) return sign + lu::significant(a / u.ps, 4) + " " + u.name;
  return {};
}

std::vector<StationRow> station_rows(const std::vector<station::StationHealth>& stations, double heartbeat_s) {
  std::vector<StationRow> rows;
  for (const auto& h : stations) {
    StationRow r;
    r.name = h.name;
    r.link = station::to_string(h.link);
    r.heartbeat = h.heartbeat_age_s < 0 ? "never heard" : lu::duration(h.heartbeat_age_s) + " ago";
    r.tag_rate = lu::significant(h.tag_rate / (h.tag_rate >= 1e6   ? 1e6
                                               : h.tag_rate >= 1e3 ? 1e3
                                                                   : 1),
                                 3) +
                 (h.tag_rate >= 1e6   ? " M"
                  : h.tag_rate >= 1e3 ? " k"
                                      : "") +
                 " tags/s";
    r.backlog = lu::count(static_cast<double>(h.backlog_tags), "tag");
    r.clock_offset = clock_offset_text(h.clock_offset_ps);
    switch (h.backfill) {
      case station::Backfill::none:
        r.backfill = "—";
        break;
      case station::Backfill::backfilling:
        r.backfill = "backfilling, " + lu::count(static_cast<double>(h.backfill_blocks_left), "block") + " to come";
        break;
      case station::Backfill::complete:
        r.backfill = "caught up (" + lu::count(static_cast<double>(h.backfills), "backfill") + ")";
        break;
    }
    if (h.link == station::LinkState::lost) {
      r.level = StationRow::Level::lost;
      r.why =
          "silent for more than two heartbeats: the run ends as a hardware fault if it stays away "
          "longer than the experiment allows; its data stays in its own file";
    } else if (h.link == station::LinkState::waiting) {
      r.level = StationRow::Level::attention;
      r.why = "listed in the experiment, has not connected yet";
    } else if (h.backfill == station::Backfill::backfilling) {
      r.level = StationRow::Level::attention;
      r.why = "came back after a drop and is resending what it recorded meanwhile";
    } else if (h.link == station::LinkState::connected && h.heartbeat_age_s > heartbeat_s) {
      r.level = StationRow::Level::attention;
      r.why = "no word for more than one heartbeat";
    } else if (h.link == station::LinkState::connected && h.tag_rate > 0 &&
               static_cast<double>(h.backlog_tags) > h.tag_rate) {
      r.level = StationRow::Level::attention;
      r.why = "more than a second of its tags is still waiting at the station";
    }
    rows.push_back(std::move(r));
  }
  return rows;
}

}  // namespace dira::gui
