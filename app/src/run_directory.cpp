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
  posix_spawn_file_actions_addopen(&fa, 1, log.c_str(), O_WRONLY | O_APPEND | O_CREAT, 0644);
  posix_spawn_file_actions_adddup2(&fa, 1, 2);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID);
  const std::string script =
      "read -r _; sleep 0.3; command -v h5clear >/dev/null || exit 0; "
      "h5clear -s \"$1\" && echo \"watchdog: dira ended without closing $1; h5clear -s applied\"";
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

RunDirectory::RunDirectory(const std::filesystem::path& parent, const std::string& name, const std::string& config_text)
    : start_(std::chrono::steady_clock::now()) {
  std::error_code ec;
  std::filesystem::create_directories(parent, ec);
  if (ec) throw RunFileError("cannot create output directory " + parent.string() + ": " + ec.message());
  const std::string base = (name.empty() ? "run" : name) + "-" + utc_stamp();
  dir_ = parent / base;
  for (int k = 2; std::filesystem::exists(dir_); ++k) dir_ = parent / (base + "-" + std::to_string(k));
  if (!std::filesystem::create_directory(dir_, ec) || ec)
    throw RunFileError("cannot create run directory " + dir_.string() + " (not writable?)");
  log_.open(dir_ / "dira.log");
  if (!log_) throw RunFileError("cannot write " + (dir_ / "dira.log").string());
  std::ofstream cy(dir_ / "config.yaml");
  cy << config_text;
}

void RunDirectory::log(const std::string& line) {
  const double t = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  log_ << std::fixed << std::setprecision(3) << t << " " << line << std::endl;
}

void RunDirectory::write_private(const std::string& name, const std::string& bytes) const {
  const mode_t old = ::umask(077);
  std::ofstream f(dir_ / name, std::ios::binary);
  ::umask(old);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!f.flush()) throw RunFileError("cannot write " + (dir_ / name).string());
}

}  // namespace dira::app
