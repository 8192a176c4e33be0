#include "dira/conf/document.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <map>
#include <utility>

namespace dira::conf {

namespace {

[[noreturn]] void refuse(const std::string& file, const std::string& message) {
  throw ConfigError({ConfigIssue{file, 0, 0, "", message}});
}

std::string mebibytes(std::size_t n) {
  return n % (std::size_t{1} << 20) == 0 ? std::to_string(n >> 20) + " MiB" : std::to_string(n) + " bytes";
}

/// A file descriptor closed on every path out.
struct Fd {
  int fd;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

}  // namespace

std::string read_config_file(const std::filesystem::path& path, std::size_t max_bytes) {
  const std::string file = path.string();
  Fd f{::open(path.c_str(), O_RDONLY | O_CLOEXEC)};
  if (f.fd < 0) refuse(file, std::string("cannot open: ") + std::strerror(errno));
  struct stat st {};
  if (::fstat(f.fd, &st) != 0) refuse(file, std::string("cannot read: ") + std::strerror(errno));
  if (S_ISDIR(st.st_mode)) refuse(file, std::string("is a directory, not a YAML file (") + std::strerror(EISDIR) + ")");
  // A regular file's size is known before reading; anything else (a device, a pipe) is read
  // up to the bound and refused past it.
  if (S_ISREG(st.st_mode) && static_cast<std::uint64_t>(st.st_size) > max_bytes)
    refuse(file, "is " + std::to_string(st.st_size) + " bytes; a configuration file may have at most " +
                     mebibytes(max_bytes));
  std::string out;
  char buf[65536];
  for (;;) {
    const ssize_t n = ::read(f.fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      refuse(file, std::string("cannot read: ") + std::strerror(errno));
    }
    if (n == 0) break;
    const auto len = static_cast<std::size_t>(n);
    if (const void* nul = std::memchr(buf, '\0', len))
      refuse(file, "is a binary file (a NUL byte at offset " +
                       std::to_string(out.size() + static_cast<std::size_t>(static_cast<const char*>(nul) - buf)) +
                       "), not YAML text");
    if (out.size() + len > max_bytes)
      refuse(file,
             "is larger than the " + mebibytes(max_bytes) + " a configuration file may have (read stopped there)");
    out.append(buf, len);
  }
  if (out.empty()) refuse(file, "is empty: expected a YAML document");
  return out;
}

namespace {

constexpr int kMaxDepth = 200;              // deeper nesting is no configuration of ours
constexpr std::size_t kMaxNodes = 1000000;  // bounds alias expansion ("billion laughs")

std::string join(const std::string& a, const std::string& b) {
  return a.empty() ? b : a + "." + b;
}

void add(std::vector<ConfigIssue>& issues, const std::string& file, const YAML::Node& at, std::string key,
         std::string message) {
  ConfigIssue i{file, 0, 0, std::move(key), std::move(message)};
  if (at.Mark().line >= 0) {
    i.line = at.Mark().line + 1;
    i.column = at.Mark().column + 1;
  }
  issues.push_back(std::move(i));
}

}  // namespace

YAML::Node parse_document(std::string_view text, const std::string& file, std::vector<ConfigIssue>& issues) {
  if (const auto nul = text.find('\0'); nul != std::string_view::npos)
    throw ConfigError(
        {ConfigIssue{file, 0, 0, "", "is binary (a NUL byte at offset " + std::to_string(nul) + "), not YAML text"}});
  if (text.size() > kMaxConfigBytes)
    throw ConfigError({ConfigIssue{file, 0, 0, "", "is larger than " + mebibytes(kMaxConfigBytes)}});
  YAML::Node doc;
  try {
    doc = YAML::Load(std::string(text));
  } catch (const YAML::Exception& e) {
    throw ConfigError({ConfigIssue{file, e.mark.is_null() ? 0 : e.mark.line + 1,
                                   e.mark.is_null() ? 0 : e.mark.column + 1, "", "YAML syntax error: " + e.msg}});
  }
  // yaml-cpp 0.7 keeps both entries of a duplicated key and answers lookups with the first: the
  // second value would be ignored without a word. Walk every map once (iteratively: a deep
  // document must not exhaust the stack) and refuse duplicates and non-scalar keys.
  struct Item {
    YAML::Node node;
    std::string path;
    int depth;
  };
  std::vector<Item> todo{{doc, "", 0}};
  std::size_t visited = 0;
  while (!todo.empty()) {
    Item it = std::move(todo.back());
    todo.pop_back();
    if (++visited > kMaxNodes) {
      add(issues, file, doc, "", "more than " + std::to_string(kMaxNodes) + " nodes (aliases expanding?)");
      break;
    }
    if (it.depth > kMaxDepth) {
      add(issues, file, it.node, it.path, "nested deeper than " + std::to_string(kMaxDepth) + " levels");
      continue;
    }
    if (it.node.IsSequence()) {
      for (std::size_t i = 0; i < it.node.size(); ++i)
        todo.push_back({it.node[i], it.path + "[" + std::to_string(i) + "]", it.depth + 1});
    } else if (it.node.IsMap()) {
      std::map<std::string, YAML::Mark> seen;
      for (const auto& kv : it.node) {
        if (!kv.first.IsScalar()) {
          add(issues, file, kv.first, it.path.empty() ? "(key)" : it.path,
              "expected a plain key, found a " + std::string(kv.first.IsSequence() ? "sequence" : "mapping") +
                  " (a complex key)");
          continue;
        }
        const std::string& k = kv.first.Scalar();
        const auto [pos, fresh] = seen.emplace(k, kv.first.Mark());
        if (!fresh) {
          add(issues, file, kv.first, join(it.path, k),
              "duplicate key (first at line " + std::to_string(pos->second.line + 1) + ":" +
                  std::to_string(pos->second.column + 1) + "); YAML readers would silently keep only one");
          continue;
        }
        todo.push_back({kv.second, join(it.path, k), it.depth + 1});
      }
    }
  }
  return doc;
}

std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diag = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}

std::string nearest(std::string_view word, const std::vector<std::string>& candidates) {
  auto lower = [](std::string_view s) {
    std::string o(s);
    for (auto& ch : o) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    return o;
  };
  const std::string w = lower(word);
  std::string best;
  std::size_t best_d = std::max<std::size_t>(2, word.size() / 3) + 1;
  for (const auto& c : candidates) {
    // Case alone (Protocol vs protocol) counts as the nearest possible miss.
    const std::size_t d = lower(c) == w ? 0 : edit_distance(word, c);
    if (d < best_d) {
      best_d = d;
      best = c;
    }
  }
  return best;
}

}  // namespace dira::conf
