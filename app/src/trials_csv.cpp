#include "dira/app/trials_csv.hpp"

#include <charconv>
#include <fstream>
#include <string>
#include <vector>

namespace dira::app {

namespace {
std::vector<std::string_view> split(std::string_view line) {
  std::vector<std::string_view> f;
  std::size_t start = 0;
  for (std::size_t i = 0; i <= line.size(); ++i)
    if (i == line.size() || line[i] == ',') {
      std::string_view v = line.substr(start, i - start);
      while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
      while (!v.empty() && (v.back() == ' ' || v.back() == '\t' || v.back() == '\r')) v.remove_suffix(1);
      f.push_back(v);
      start = i + 1;
    }
  return f;
}
/// Bytes of a user's file as they may appear in a message: printable ASCII kept, anything else
/// as \xNN (a binary file is never echoed raw to the terminal), at most 40 bytes.
std::string shown(std::string_view s) {
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (std::size_t i = 0; i < s.size() && i < 40; ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c < 0x7f) {
      out.push_back(static_cast<char>(c));
    } else {
      out += "\\x";
      out.push_back(hex[c >> 4]);
      out.push_back(hex[c & 15]);
    }
  }
  if (s.size() > 40) out += "…";
  return out;
}

/// getline with a bound: false at the end of the stream; throws (through `too_long`) on a
/// line longer than kMaxTrialsCsvLine.
template <class TooLong>
bool bounded_getline(std::istream& in, std::string& line, TooLong&& too_long) {
  line.clear();
  std::streambuf* sb = in.rdbuf();
  if (!sb) return false;
  for (;;) {
    const int ch = sb->sbumpc();
    if (ch == std::char_traits<char>::eof()) return !line.empty();
    if (ch == '\n') return true;
    if (line.size() >= kMaxTrialsCsvLine) too_long();
    line.push_back(static_cast<char>(ch));
  }
}
}  // namespace

TrialsCsvInfo for_each_trial_csv(const std::filesystem::path& path, const protocol::Scenario& sc,
                                 const std::function<void(const protocol::Trial&)>& sink) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ConfigError({ConfigIssue{path.string(), 0, 0, "", "cannot read file"}});
  return for_each_trial_csv(in, path.string(), sc, sink);
}

std::vector<std::uint8_t> read_sv_bits_file(const std::filesystem::path& path, std::uint64_t max_bytes) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ConfigError({ConfigIssue{path.string(), 0, 0, "", "cannot read file"}});
  std::vector<std::uint8_t> bytes;
  std::vector<char> buf(1 << 16);
  while (in) {
    in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    const auto got = static_cast<std::size_t>(in.gcount());
    if (bytes.size() + got > max_bytes)
      throw ConfigError(
          {ConfigIssue{path.string(), 0, 0, "",
                       "more than " + std::to_string(max_bytes) +
                           " bytes of weak-source bits (a device such as /dev/zero, or not a bit file)"}});
    bytes.insert(bytes.end(), buf.data(), buf.data() + got);
  }
  if (in.bad()) throw ConfigError({ConfigIssue{path.string(), 0, 0, "", "read error"}});
  return bytes;
}

TrialsCsvInfo for_each_trial_csv(std::istream& in, const std::string& file, const protocol::Scenario& sc,
                                 const std::function<void(const protocol::Trial&)>& sink) {
  auto fail = [&](std::uint64_t line, int column, const std::string& key, const std::string& msg) {
    throw ConfigError(
        {ConfigIssue{file, static_cast<int>(std::min<std::uint64_t>(line, INT32_MAX)), column, key, msg}});
  };
  const int n = sc.parties();
  if (n > protocol::kMaxParties) fail(0, 0, "", "at most 4 parties per trial");

  std::string line;
  std::uint64_t lineno = 0;
  auto too_long = [&] {
    fail(lineno + 1, 0, "", "line longer than " + std::to_string(kMaxTrialsCsvLine) + " bytes: not a trial CSV file");
  };
  // Header.
  while (bounded_getline(in, line, too_long)) {
    ++lineno;
    if (!line.empty() && line != "\r" && line[0] != '#') break;
  }
  if (lineno == 0 || line.empty() || line[0] == '#')
    fail(lineno, 0, "", "empty file: no header line (expected trial,u0,…,x0,…)");
  std::vector<std::string> expected{"trial"};
  for (int p = 0; p < n; ++p) expected.push_back("u" + std::to_string(p));
  for (int p = 0; p < n; ++p) expected.push_back("x" + std::to_string(p));
  const auto header = split(line);
  TrialsCsvInfo info;
  std::vector<int> col(expected.size(), -1);
  int device_col = -1;
  for (std::size_t i = 0; i < header.size(); ++i) {
    bool known = false;
    for (std::size_t k = 0; k < expected.size(); ++k)
      if (header[i] == expected[k]) {
        if (col[k] >= 0) fail(lineno, static_cast<int>(i) + 1, shown(header[i]), "duplicate column");
        col[k] = static_cast<int>(i);
        known = true;
      }
    if (header[i] == "device") {
      device_col = static_cast<int>(i);
      known = true;
    }
    if (!known)
      fail(lineno, static_cast<int>(i) + 1, shown(header[i]),
           "unknown column (expected trial, u0..u" + std::to_string(n - 1) + ", x0..x" + std::to_string(n - 1) +
               ", optional device)");
  }
  for (std::size_t k = 0; k < expected.size(); ++k)
    if (col[k] < 0) fail(lineno, 0, expected[k], "missing column in the header");
  info.has_device_column = device_col >= 0;

  std::uint64_t last_trial = 0;
  bool first = true;
  protocol::Trial t;
  while (bounded_getline(in, line, too_long)) {
    ++lineno;
    if (line.empty() || line == "\r" || line[0] == '#') continue;
    const auto f = split(line);
    if (f.size() != header.size())
      fail(lineno, static_cast<int>(std::min(f.size(), header.size())) + 1, "",
           "has " + std::to_string(f.size()) + " fields; the header has " + std::to_string(header.size()));
    auto number = [&](int c, const std::string& name, std::uint64_t limit) {
      std::uint64_t v = 0;
      const auto s = f[static_cast<std::size_t>(c)];
      const auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
      if (ec != std::errc() || ptr != s.data() + s.size())
        fail(lineno, c + 1, name, "not a non-negative integer: '" + shown(s) + "'");
      if (v >= limit)
        fail(lineno, c + 1, name, std::to_string(v) + " out of range (0.." + std::to_string(limit - 1) + ")");
      return v;
    };
    t = protocol::Trial{};
    t.index = number(col[0], "trial", UINT64_MAX);
    if (!first && t.index <= last_trial)
      fail(lineno, col[0] + 1, "trial", "trial numbers must increase (previous " + std::to_string(last_trial) + ")");
    first = false;
    last_trial = t.index;
    for (int p = 0; p < n; ++p) {
      t.u[static_cast<std::size_t>(p)] = static_cast<std::uint8_t>(number(
          col[static_cast<std::size_t>(1 + p)], "u" + std::to_string(p), static_cast<std::uint64_t>(sc.settings(p))));
      t.x[static_cast<std::size_t>(p)] =
          static_cast<std::uint8_t>(number(col[static_cast<std::size_t>(1 + n + p)], "x" + std::to_string(p),
                                           static_cast<std::uint64_t>(sc.outcomes(p))));
    }
    if (device_col >= 0) t.device = static_cast<std::uint32_t>(number(device_col, "device", UINT32_MAX));
    sink(t);
    ++info.rows;
  }
  return info;
}

}  // namespace dira::app
