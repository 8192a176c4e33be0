// `dira ptu-info FILE [--json]`: what a PicoQuant PTU file holds — header tags, record type,
// counts per channel, markers, overflows, first and last tag time (docs/ptu.md §6). Exit 2 with
// the byte offset when the file is not a valid PTU file.
#include "commands.hpp"

#include "dira/drivers/picoquant/ptu_replay.hpp"

#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdio>
#include <iomanip>
#include <iostream>
#include <memory>

namespace dira::cli {

namespace {

namespace pq = drivers::picoquant;

struct Args {
  std::string file;
  bool json = false;
};

std::string hex_code(std::uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%08X", v);
  return buf;
}

nlohmann::json tag_value(const pq::HeaderTag& t) {
  using T = pq::HeaderTagType;
  switch (t.type) {
    case T::empty8:
      return nullptr;
    case T::bool8:
      return t.integer != 0;
    case T::int8:
      return t.integer;
    case T::bitset64:
    case T::color8:
      return static_cast<std::uint64_t>(t.integer);
    case T::float8:
      return std::isfinite(t.real) ? nlohmann::json(t.real) : nlohmann::json(nullptr);
    case T::datetime:
      return t.value_string();
    case T::float8_array: {
      auto a = nlohmann::json::array();
      for (double v : t.reals) a.push_back(std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr));
      return a;
    }
    case T::ansi_string:
    case T::wide_string:
      return t.text;
    case T::binary_blob:
      return {{"bytes", t.bytes.size()}};
  }
  return nullptr;
}

nlohmann::json to_json(const std::string& file, const pq::PtuSummary& s) {
  const auto& h = s.header;
  const bool t2 = pq::is_t2(h.record_type);
  nlohmann::json counts = nlohmann::json::object(), markers = nlohmann::json::object();
  for (const auto& [ch, n] : s.tags_per_channel) {
    if (ch == pq::kSyncChannel)
      counts["sync"] = n;
    else if (ch > pq::kMarkerChannelBase)
      markers[std::to_string(ch - pq::kMarkerChannelBase)] = n;
    else
      counts[std::to_string(ch)] = n;
  }
  auto tags = nlohmann::json::array();
  for (const auto& t : h.tags)
    tags.push_back({{"ident", t.ident}, {"index", t.index}, {"type", pq::to_string(t.type)}, {"value", tag_value(t)}});
  nlohmann::json j = {
      {"file", file},
      {"format_version", h.version},
      {"record_type", pq::record_type_name(h.record_type)},
      {"record_type_code", hex_code(static_cast<std::uint32_t>(h.record_type))},
      {"mode", t2 ? "T2" : "T3"},
      {"global_resolution_ps", h.global_resolution_s * 1e12},
      {"resolution_ps", h.resolution_s * 1e12},
      {"records", s.counts.records},
      {"photons", s.counts.photons},
      {"syncs", s.counts.syncs},
      {"markers", s.counts.marker_records},
      {"marker_tags", s.counts.marker_tags},
      {"overflows", s.counts.overflow_records},
      {"overflow_periods", s.counts.overflow_periods},
      {"counts_per_channel", counts},
      {"counts_per_marker", markers},
      {"first_time_ps", s.first_time_ps ? nlohmann::json(*s.first_time_ps) : nlohmann::json(nullptr)},
      {"last_time_ps", s.last_time_ps ? nlohmann::json(*s.last_time_ps) : nlohmann::json(nullptr)},
      {"channel_numbering",
       "sync = channel 0 (T2: sync records; T3: one per sync count with an event); detectors 1-based as PicoQuant "
       "software labels them; marker m = channel 1000 + m"},
      {"header_tags", tags},
  };
  return j;
}

void print_text(const std::string& file, const pq::PtuSummary& s) {
  const auto& h = s.header;
  const bool t2 = pq::is_t2(h.record_type);
  std::cout << "file            " << file << "\n"
            << "format version  " << h.version << "\n"
            << "record type     " << pq::record_type_name(h.record_type) << " ("
            << hex_code(static_cast<std::uint32_t>(h.record_type)) << ")\n"
            << std::setprecision(12) << (t2 ? "time-tag unit   " : "sync period     ") << h.global_resolution_s * 1e12
            << " ps\n";
  if (!t2) std::cout << "dtime unit      " << h.resolution_s * 1e12 << " ps\n";
  std::cout << "records         " << s.counts.records << "\n"
            << "photons         " << s.counts.photons << "\n"
            << "syncs           " << s.counts.syncs << (t2 ? "" : " (sync counts with an event)") << "\n"
            << "markers         " << s.counts.marker_records << " records, " << s.counts.marker_tags << " marker tags\n"
            << "overflows       " << s.counts.overflow_records << " records, " << s.counts.overflow_periods
            << " periods\n";
  if (s.first_time_ps) {
    std::cout << "first time      " << *s.first_time_ps << " ps\n"
              << "last time       " << *s.last_time_ps << " ps\n";
  } else {
    std::cout << "first time      -\nlast time       -\n";
  }
  std::cout << "counts per channel (dira numbering: sync 0, detectors 1-based, marker m = 1000 + m)\n";
  for (const auto& [ch, n] : s.tags_per_channel) {
    std::string name = ch == pq::kSyncChannel        ? "sync"
                       : ch > pq::kMarkerChannelBase ? "marker " + std::to_string(ch - pq::kMarkerChannelBase)
                                                     : "channel " + std::to_string(ch);
    std::cout << "  " << std::left << std::setw(12) << name << std::right << n << "\n";
  }
  std::cout << "header tags\n";
  for (const auto& t : h.tags)
    std::cout << "  " << std::left << std::setw(40) << t.name() << std::setw(12) << pq::to_string(t.type) << std::right
              << t.value_string() << "\n";
}

int run(const Args& a) {
  pq::PtuSummary s;
  try {
    s = pq::summarize_file(a.file);
  } catch (const pq::PtuFormatError& e) {
    std::cerr << "dira ptu-info: " << a.file << ": " << e.what() << "\n";
    if (a.json)
      std::cout << nlohmann::json{{"file", a.file}, {"error", e.what()}, {"offset", e.offset()}}.dump(
                       2, ' ', false, nlohmann::json::error_handler_t::replace)
                << "\n";
    return usage_error;
  } catch (const std::runtime_error& e) {  // cannot open
    std::cerr << "dira ptu-info: " << e.what() << "\n";
    return usage_error;
  }
  if (a.json) {
    // Header strings are not always UTF-8 (AnsiString is Windows-1252 in practice): replace.
    std::cout << to_json(a.file, s).dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
  } else {
    print_text(a.file, s);
  }
  return ok;
}

}  // namespace

std::function<int()> register_ptu_info_command(CLI::App& app) {
  auto a = std::make_shared<Args>();
  auto* c = app.add_subcommand("ptu-info", "Header, record type and per-channel counts of a PicoQuant PTU file");
  c->add_option("file", a->file, "PTU file (T2 or T3 records)")->required();
  c->add_flag("--json", a->json, "JSON output");
  return [=]() -> int { return *c ? run(*a) : -1; };
}

}  // namespace dira::cli
