#include "dira/drivers/entropy/entropy_sources.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <sstream>

namespace dira::drivers {

namespace {
const char* kind_name(ByteStreamEntropySource::Kind k) {
  switch (k) {
    case ByteStreamEntropySource::Kind::file:
      return "file";
    case ByteStreamEntropySource::Kind::hwrng:
      return "hwrng";
    case ByteStreamEntropySource::Kind::command:
      return "command";
  }
  return "?";
}

std::vector<hal::Capability> make_capabilities(ByteStreamEntropySource::Kind k) {
  // The target is given when the device is created (YAML); changing it later means creating a new device.
  const bool command = k == ByteStreamEntropySource::Kind::command;
  return {hal::text_setting(command ? "command" : "path", k == ByteStreamEntropySource::Kind::hwrng ? "/dev/hwrng" : "",
                            command ? "shell command whose stdout supplies the bits"
                                    : "file, FIFO or character device supplying the bits"),
          hal::real_setting("epsilon", "", 0, 0.5, 0.0,
                            "SV parameter the source is declared to satisfy (the lab's claim)")};
}
}  // namespace

ByteStreamEntropySource::ByteStreamEntropySource(Kind kind, std::string target, std::optional<double> epsilon)
    : kind_(kind), target_(std::move(target)), epsilon_(epsilon), buffer_(65536) {
  if (kind_ == Kind::hwrng && target_.empty()) target_ = "/dev/hwrng";
  if (kind_ == Kind::command) {
    if (target_.empty()) throw hal::HardwareFault("entropy command: no command given");
    start_command();
  } else {
    fd_ = ::open(target_.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd_ < 0) {
      std::string msg = std::string(kind_name(kind_)) + " entropy source '" + target_ + "': " + std::strerror(errno);
      if (kind_ == Kind::hwrng) msg += " (is a hardware RNG present? see /sys/class/misc/hw_random/rng_available)";
      throw hal::HardwareFault(msg);
    }
    // A directory opens for reading but every read fails with EISDIR: say so now, in words.
    struct stat st {};
    if (::fstat(fd_, &st) == 0 && S_ISREG(st.st_mode) && kind_ == Kind::file)
      file_bytes_ = static_cast<std::uint64_t>(st.st_size);
    if (::fstat(fd_, &st) == 0 && S_ISDIR(st.st_mode)) {
      ::close(fd_);
      fd_ = -1;
      throw hal::HardwareFault(std::string(kind_name(kind_)) + " entropy source '" + target_ +
                               "' is a directory, not a file, FIFO or device");
    }
  }
}

std::optional<std::uint64_t> ByteStreamEntropySource::bits_available() const {
  if (!file_bytes_) return std::nullopt;
  // Bytes read into the buffer are not all handed out yet: what remains is the file's bits
  // minus those already given (whole bytes read, less the bytes still buffered, less the bits
  // of the current byte already taken).
  const std::uint64_t given_bits = (bytes_read_ - (len_ - pos_)) * 8 - static_cast<std::uint64_t>(8 - bit_);
  const std::uint64_t total = *file_bytes_ * 8;
  return total > given_bits ? total - given_bits : 0;
}

void ByteStreamEntropySource::start_command() {
  // fork + exec instead of popen: the child gets its own process group, so the destructor can
  // end a command that never stops writing or never exits (popen's pclose would wait forever).
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0)
    throw hal::HardwareFault("entropy command '" + target_ + "': pipe: " + std::strerror(errno));
  const pid_t pid = ::fork();
  if (pid < 0) {
    const int err = errno;
    ::close(fds[0]);
    ::close(fds[1]);
    throw hal::HardwareFault("entropy command '" + target_ + "' could not be started: " + std::strerror(err));
  }
  if (pid == 0) {
    ::setpgid(0, 0);
    ::dup2(fds[1], STDOUT_FILENO);  // dup2 clears O_CLOEXEC on the copy
    const char* argv[] = {"/bin/sh", "-c", target_.c_str(), nullptr};
    ::execv("/bin/sh", const_cast<char* const*>(argv));
    ::_exit(127);
  }
  ::setpgid(pid, pid);  // also in the parent: no race with the kill in the destructor
  ::close(fds[1]);
  fd_ = fds[0];
  child_ = pid;
}

ByteStreamEntropySource::~ByteStreamEntropySource() {
  if (fd_ >= 0) ::close(fd_);
  if (child_ > 0) {
    // The command may still be running (an endless generator): end its whole process group.
    // A command that already finished is only reaped.
    // SIGTERM first; a command that ignores it for a second gets SIGKILL.
    ::kill(-child_, SIGTERM);
    int status = 0;
    for (int i = 0; i < 100; ++i) {
      const pid_t r = ::waitpid(child_, &status, WNOHANG);
      if (r == child_ || (r < 0 && errno != EINTR)) return;
      ::usleep(10000);
    }
    ::kill(-child_, SIGKILL);
    while (::waitpid(child_, &status, 0) < 0 && errno == EINTR) {
    }
  }
}

void ByteStreamEntropySource::refill() {
  for (;;) {
    const ssize_t n = ::read(fd_, buffer_.data(), buffer_.size());
    if (n > 0) {
      pos_ = 0;
      len_ = static_cast<std::size_t>(n);
      bytes_read_ += static_cast<std::uint64_t>(n);
      return;
    }
    // The bits of a finite source ran out: SourceExhausted (a source that ran dry, which the
    // session reports as such), with how far it got, never a generic error.
    if (n == 0)
      throw protocol::SourceExhausted(describe() + ": end of stream after " + std::to_string(bytes_read_) + " bytes (" +
                                      std::to_string(8 * bytes_read_) + " bits)");
    if (errno == EINTR) continue;
    throw hal::HardwareFault(describe() + ": read failed: " + std::strerror(errno));
  }
}

bool ByteStreamEntropySource::next_bit() {
  if (bit_ == 8) {
    if (pos_ == len_) refill();
    byte_ = buffer_[pos_++];
    bit_ = 0;
  }
  return ((byte_ >> (7 - bit_++)) & 1u) != 0;
}

std::string ByteStreamEntropySource::describe() const {
  std::ostringstream os;
  os << kind_name(kind_) << " '" << target_ << "'";
  if (epsilon_) os << ", declared ε = " << *epsilon_;
  return os.str();
}

std::string ByteStreamEntropySource::driver() const {
  return kind_name(kind_);
}

const std::vector<hal::Capability>& ByteStreamEntropySource::capabilities() const {
  static const auto f = make_capabilities(Kind::file), h = make_capabilities(Kind::hwrng),
                    c = make_capabilities(Kind::command);
  return kind_ == Kind::file ? f : kind_ == Kind::hwrng ? h : c;
}

void ByteStreamEntropySource::set(const std::string& key, const hal::SettingValue& value) {
  if (key == "epsilon") {
    const auto& caps = capabilities();
    if (auto msg = hal::check_value(caps[1], value); !msg.empty()) throw std::invalid_argument("epsilon: " + msg);
    epsilon_ = std::holds_alternative<double>(value) ? std::get<double>(value)
                                                     : static_cast<double>(std::get<std::int64_t>(value));
    return;
  }
  throw std::invalid_argument("entropy source: '" + key + "' cannot be set");
}

hal::SettingValue ByteStreamEntropySource::get(const std::string& key) const {
  if (key == "epsilon") return epsilon_.value_or(0.0);
  if (key == "path" || key == "command") return target_;
  throw std::invalid_argument("entropy source: no setting '" + key + "'");
}

void register_entropy(hal::DriverRegistry& registry) {
  for (auto kind : {ByteStreamEntropySource::Kind::file, ByteStreamEntropySource::Kind::hwrng,
                    ByteStreamEntropySource::Kind::command}) {
    hal::DriverInfo d;
    d.name = kind_name(kind);
    d.kind = hal::DeviceKind::entropy_source;
    d.description = kind == ByteStreamEntropySource::Kind::file ? "weak-source bits from a file or pipe (MSB first)"
                    : kind == ByteStreamEntropySource::Kind::hwrng
                        ? "weak-source bits from the Linux hardware RNG (/dev/hwrng)"
                        : "weak-source bits from an external command's stdout";
    d.capabilities = make_capabilities(kind);
    d.create = [kind](const std::map<std::string, hal::SettingValue>& s) -> std::unique_ptr<hal::Device> {
      std::string target;
      for (const char* k : {"path", "command"})
        if (auto it = s.find(k); it != s.end() && std::holds_alternative<std::string>(it->second))
          target = std::get<std::string>(it->second);
      std::optional<double> eps;
      if (auto it = s.find("epsilon"); it != s.end())
        eps = std::holds_alternative<double>(it->second) ? std::get<double>(it->second)
                                                         : static_cast<double>(std::get<std::int64_t>(it->second));
      return std::make_unique<ByteStreamEntropySource>(kind, target, eps);
    };
    if (kind == ByteStreamEntropySource::Kind::hwrng)
      d.scan = [] {
        std::vector<hal::FoundDevice> found;
        struct stat st {};
        if (::stat("/dev/hwrng", &st) == 0) found.push_back({"hwrng", "/dev/hwrng", "Linux hardware RNG"});
        return found;
      };
    registry.add(std::move(d));
  }
}

}  // namespace dira::drivers
