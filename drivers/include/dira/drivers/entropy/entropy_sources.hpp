#pragma once
/// @file entropy_sources.hpp
/// Weak-source bits from outside dira: a file or pipe, Linux /dev/hwrng, an external command.
/// All three read a byte stream and hand out its bits most significant first; ε is what the
/// configuration declares (a physical source's bias bound is the lab's claim, not dira's).

#include "dira/hal/device.hpp"
#include "dira/hal/registry.hpp"

#include <sys/types.h>

#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace dira::drivers {

/// Reads bytes from a file descriptor (file, FIFO, character device or a child's stdout) through
/// one fixed 64 KiB buffer: memory stays bounded whatever the source (/dev/zero, an endless
/// FIFO or command). When a finite source ends, next_bit() throws protocol::SourceExhausted
/// naming the bytes read.
class ByteStreamEntropySource : public hal::EntropySource {
 public:
  enum class Kind { file, hwrng, command };
  /// Opens `target` (a path, or a shell command for Kind::command, run as `/bin/sh -c` in its own
  /// process group, which the destructor ends). Throws hal::HardwareFault with the reason (errno
  /// text, or "is a directory") when it cannot be opened or started. Opening a FIFO blocks until
  /// a writer opens it, as open(2) does.
  ByteStreamEntropySource(Kind kind, std::string target, std::optional<double> epsilon);
  ~ByteStreamEntropySource() override;
  ByteStreamEntropySource(const ByteStreamEntropySource&) = delete;
  ByteStreamEntropySource& operator=(const ByteStreamEntropySource&) = delete;

  bool next_bit() override;
  std::optional<double> declared_epsilon() const override { return epsilon_; }
  /// A regular file: the bits not yet handed out (its size was read when it was opened). Pipes,
  /// devices and commands: unknown.
  std::optional<std::uint64_t> bits_available() const override;
  std::string describe() const override;

  std::string driver() const override;
  std::string identity() const override { return target_; }
  const std::vector<hal::Capability>& capabilities() const override;
  void set(const std::string& key, const hal::SettingValue& value) override;
  hal::SettingValue get(const std::string& key) const override;

  std::uint64_t bytes_read() const { return bytes_read_; }
  /// Bytes the read buffer holds (fixed: the bound on what the source keeps in memory).
  std::size_t buffer_capacity() const { return buffer_.size(); }

 private:
  void refill();
  void start_command();
  Kind kind_;
  std::string target_;
  std::optional<double> epsilon_;
  int fd_ = -1;
  pid_t child_ = -1;  // Kind::command: the shell, leader of its own process group
  std::vector<std::uint8_t> buffer_;
  std::size_t pos_ = 0, len_ = 0;
  int bit_ = 8;
  std::uint8_t byte_ = 0;
  std::uint64_t bytes_read_ = 0;
  std::optional<std::uint64_t> file_bytes_;  ///< size of a regular file at open
};

/// Registers "file", "hwrng" and "command" entropy-source drivers.
void register_entropy(hal::DriverRegistry& registry);

}  // namespace dira::drivers
