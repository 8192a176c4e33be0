#include "run_directory.hpp"

#include "dira/app/run_file.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <iomanip>
#include <sstream>

namespace dira::app {

namespace {
std::string utc_stamp() {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  std::ostringstream os;
  os << std::put_time(&tm, "%Y%m%dT%H%M%SZ");
  return os.str();
}

std::string megabytes(double b) {
  std::ostringstream os;
  os << std::fixed << std::setprecision(1) << b / 1e6 << " MB";
  return os.str();
}
}  // namespace

double room_for_run_file(const std::filesystem::path& dir, const std::filesystem::path& file) {
  double room = 1e300;
  struct statvfs vfs {};
  if (::statvfs(dir.c_str(), &vfs) == 0) room = static_cast<double>(vfs.f_bavail) * static_cast<double>(vfs.f_frsize);
  struct rlimit rl {};
  if (::getrlimit(RLIMIT_FSIZE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY) {
    std::error_code ec;
    const auto size = std::filesystem::file_size(file, ec);
    room = std::min(room, static_cast<double>(rl.rlim_cur) - static_cast<double>(ec ? 0 : size));
  }
  return room;
}

std::string check_storage_before_run(const std::filesystem::path& parent, double bytes_needed,
                                     std::uint64_t planned_trials) {
  const double free_bytes = room_for_run_file(parent, parent / ".dira-no-such-file");
  if (free_bytes >= 1e300) return {};
  if (free_bytes < 16e6)
    throw RunFileError("only " + megabytes(free_bytes) + " free in " + parent.string() +
                       ": dira run needs at least 16 MB to start");
  if (free_bytes < bytes_needed)
    return "the run may need " + megabytes(bytes_needed) + " for " + std::to_string(planned_trials) +
           " trials but only " + megabytes(free_bytes) + " is free in " + parent.string() +
           "; it will stop cleanly (status storage-full) before the disk is full";
  return {};
}

CrashFlagWatchdog::CrashFlagWatchdog(const std::filesystem::path& h5, const std::filesystem::path& log) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return;
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, fds[0], 0);
  posix_spawn_file_actions_addopen(&fa, 1, log.c_str(), O_WRONLY | O_APPEND | O_CREAT, 0600);
  posix_spawn_file_actions_adddup2(&fa, 1, 2);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID);
  const std::string script =
      "read -r _; sleep 0.3; command -v h5clear >/dev/null || exit 0; "
      "if h5clear -s \"$1\" 2>/dev/null; then echo \"watchdog: dira ended without closing $1; h5clear -s applied\"; "
      // A write cut short by a full disk can leave the file ending before the space HDF5 had
      // allotted ("truncated file"): --increment records the end as it is, so readers open it.
      "elif h5clear -s --increment \"$1\"; then echo \"watchdog: dira ended without closing $1, which ends before "
      "the space HDF5 had allotted (a write failed); h5clear -s --increment applied\"; fi";
  const std::string file = h5.string();
  const char* argv[] = {"sh", "-c", script.c_str(), "dira-watchdog", file.c_str(), nullptr};
  pid_t pid = -1;
  if (posix_spawn(&pid, "/bin/sh", &fa, &attr, const_cast<char* const*>(argv), ::environ) != 0) pid = -1;
  pid_ = pid;
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  ::close(fds[0]);
  if (pid_ > 0)
    write_end_ = fds[1];
  else
    ::close(fds[1]);
}

void CrashFlagWatchdog::fire() {
  if (pid_ <= 0) return;
  ::close(write_end_);
  write_end_ = -1;
  int st = 0;
  while (::waitpid(pid_, &st, 0) < 0 && errno == EINTR) {
  }
  pid_ = -1;
}

void CrashFlagWatchdog::disarm() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  int st = 0;
  while (::waitpid(pid_, &st, 0) < 0 && errno == EINTR) {
  }
  pid_ = -1;
  ::close(write_end_);
  write_end_ = -1;
}

void check_run_name(const std::string& name) {
  const auto allowed = [](char ch) {
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '-' || ch == '_' ||
           ch == '.' || ch == '+';
  };
  std::string why;
  if (name.size() > 100)
    why = "it is " + std::to_string(name.size()) + " characters long (at most 100)";
  else if (!name.empty() && name.front() == '.')
    why = "it starts with '.'";
  else
    for (char ch : name)
      if (!allowed(ch)) {
        why = ch == '/' ? "it contains '/'" : "it contains the byte 0x" + [&] {
          std::ostringstream os;
          os << std::hex << std::setw(2) << std::setfill('0') << static_cast<unsigned>(static_cast<unsigned char>(ch));
          return os.str();
        }();
        break;
      }
  if (why.empty()) return;
  std::string shown = name.size() > 40 ? name.substr(0, 40) + "…" : name;
  for (char& ch : shown)
    if (static_cast<unsigned char>(ch) < 0x20) ch = '?';
  throw RunFileError("experiment name '" + shown + "' cannot name a run directory: " + why +
                     "; the name must be 1-100 letters, digits, '-', '_', '.' or '+', not starting with '.' "
                     "(the run directory is always created directly under --out)");
}

namespace {
std::string errno_text() {
  return std::strerror(errno);
}

void write_all(int fd, const char* p, std::size_t n, const std::filesystem::path& path) {
  while (n > 0) {
    const ssize_t w = ::write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) throw RunFileError("cannot write " + path.string() + ": " + (w < 0 ? errno_text() : "no progress"));
    p += w;
    n -= static_cast<std::size_t>(w);
  }
}

int create_private(const std::filesystem::path& path) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) {
    const int e = errno;
    throw RunFileError("cannot create " + path.string() + ": " + std::strerror(e) +
                       (e == EEXIST ? " (a file or symlink is already there; dira never writes through one)" : ""));
  }
  ::fchmod(fd, 0600);  // whatever the umask
  return fd;
}

void fsync_directory(const std::filesystem::path& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  ::fsync(fd);
  ::close(fd);
}
}  // namespace

void write_private_file(const std::filesystem::path& path, const std::string& bytes) {
  const int fd = create_private(path);
  try {
    write_all(fd, bytes.data(), bytes.size(), path);
    if (::fsync(fd) != 0) throw RunFileError("cannot write " + path.string() + ": " + errno_text());
  } catch (...) {
    ::close(fd);
    throw;
  }
  if (::close(fd) != 0) throw RunFileError("cannot write " + path.string() + ": " + errno_text());
}

void write_file_atomically(const std::filesystem::path& path, const std::string& bytes) {
  std::filesystem::path tmp = path;
  tmp += ".tmp";
  ::unlink(tmp.c_str());  // a leftover of an earlier attempt (the directory is private)
  try {
    write_private_file(tmp, bytes);
  } catch (...) {
    ::unlink(tmp.c_str());
    throw;
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const std::string e = errno_text();
    ::unlink(tmp.c_str());
    throw RunFileError("cannot rename " + tmp.string() + " to " + path.string() + ": " + e);
  }
  fsync_directory(path.parent_path().empty() ? std::filesystem::path(".") : path.parent_path());
}

SvBitsFile::SvBitsFile(const std::filesystem::path& path) : fd_(create_private(path)), path_(path) {}

SvBitsFile::~SvBitsFile() {
  if (fd_ < 0) return;
  try {
    write_pending();
  } catch (...) {
  }
  ::close(fd_);
}

void SvBitsFile::append_bit(bool bit) {
  const unsigned at = static_cast<unsigned>(bits_ % 8);
  if (at == 0) pending_.push_back('\0');
  if (bit) pending_.back() = static_cast<char>(static_cast<unsigned char>(pending_.back()) | (0x80u >> at));
  ++bits_;
  if (pending_.size() >= 4096) write_pending();
}

void SvBitsFile::append(std::uint64_t value, unsigned count) {
  for (unsigned i = count; i-- > 0;) append_bit((value >> i) & 1u);
  write_pending();
}

void SvBitsFile::write_pending() {
  if (pending_.empty() || fd_ < 0) return;
  // pwrite at the first byte not yet complete in the file: the partial last byte is rewritten
  // when more bits arrive.
  const char* p = pending_.data();
  std::size_t n = pending_.size();
  auto off = static_cast<off_t>(bytes_written_);
  while (n > 0) {
    const ssize_t w = ::pwrite(fd_, p, n, off);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) throw RunFileError("cannot write " + path_.string() + ": " + (w < 0 ? errno_text() : "no progress"));
    p += w;
    n -= static_cast<std::size_t>(w);
    off += w;
  }
  const std::size_t whole = bits_ % 8 == 0 ? pending_.size() : pending_.size() - 1;
  bytes_written_ += whole;
  pending_.erase(0, whole);
}

void SvBitsFile::sync() {
  write_pending();
  if (fd_ >= 0 && ::fsync(fd_) != 0) throw RunFileError("cannot write " + path_.string() + ": " + errno_text());
}

RunDirectory::RunDirectory(const std::filesystem::path& parent, const std::string& name, const std::string& config_text)
    : start_(std::chrono::steady_clock::now()) {
  check_run_name(name);
  std::error_code ec;
  std::filesystem::create_directories(parent, ec);
  if (ec) throw RunFileError("cannot create output directory " + parent.string() + ": " + ec.message());
  const std::string base = (name.empty() ? "run" : name) + "-" + utc_stamp();
  dir_ = parent / base;
  // mkdir fails on anything already there (a directory, a file, a symlink): try the next name.
  for (int k = 2;; ++k) {
    if (::mkdir(dir_.c_str(), 0700) == 0) break;
    if (errno != EEXIST || k > 1000)
      throw RunFileError("cannot create run directory " + dir_.string() + ": " + errno_text());
    dir_ = parent / (base + "-" + std::to_string(k));
  }
  ::chmod(dir_.c_str(), 0700);  // whatever the umask; every file in it is created 0600 by its writer
  try {
    write_private_file(dir_ / "config.yaml", config_text);
    ::close(create_private(dir_ / "dira.log"));
    log_.open(dir_ / "dira.log", std::ios::app);
    if (!log_) throw RunFileError("cannot write " + (dir_ / "dira.log").string());
  } catch (...) {
    // A directory without its config is no run: remove what was made (e.g. ulimit -f below the
    // config's size), so the error is the only trace.
    log_.close();
    std::filesystem::remove_all(dir_, ec);
    throw;
  }
}

void RunDirectory::log(const std::string& line) {
  const double t = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  log_ << std::fixed << std::setprecision(3) << t << " " << line << std::endl;
}

void RunDirectory::write_private(const std::string& name, const std::string& bytes) const {
  write_private_file(dir_ / name, bytes);
}

bool RunDirectory::write_report(const std::string& json_text) {
  try {
    write_file_atomically(dir_ / "report.json", json_text);
    return true;
  } catch (const RunFileError& e) {
    log(std::string("cannot write report.json: ") + e.what() +
        "; the report is in run.h5 (report_json) if it could be written, and on stdout with --json");
    try {
      ::close(create_private(dir_ / kReportUnwrittenFile));
    } catch (const RunFileError& marker) {
      log(std::string("cannot record that report.json is missing: ") + marker.what());
    }
    return false;
  }
}

}  // namespace dira::app
