#pragma once
/// @file entropy_sources.hpp
/// Weak-source bits from outside dira: a file or pipe, Linux /dev/hwrng, an external command.
/// All three read a byte stream and hand out its bits most significant first; ε is what the
/// configuration declares (a physical source's bias bound is the lab's claim, not dira's).

#include "dira/hal/device.hpp"
#include "dira/hal/registry.hpp"

#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace dira::drivers {

/// Reads bytes from a file descriptor (file, FIFO, character device or a child's stdout).
class ByteStreamEntropySource : public hal::EntropySource {
 public:
  enum class Kind { file, hwrng, command };
  /// Opens `target` (a path, or a shell command for Kind::command). Throws hal::HardwareFault
  /// with the reason (errno text) when it cannot be opened or started.
  ByteStreamEntropySource(Kind kind, std::string target, std::optional<double> epsilon);
  ~ByteStreamEntropySource() override;
  ByteStreamEntropySource(const ByteStreamEntropySource&) = delete;
  ByteStreamEntropySource& operator=(const ByteStreamEntropySource&) = delete;

  bool next_bit() override;
  std::optional<double> declared_epsilon() const override { return epsilon_; }
  std::string describe() const override;

  std::string driver() const override;
  std::string identity() const override { return target_; }
  const std::vector<hal::Capability>& capabilities() const override;
  void set(const std::string& key, const hal::SettingValue& value) override;
  hal::SettingValue get(const std::string& key) const override;

  std::uint64_t bytes_read() const { return bytes_read_; }

 private:
  void refill();
  Kind kind_;
  std::string target_;
  std::optional<double> epsilon_;
  int fd_ = -1;
  FILE* pipe_ = nullptr;
  std::vector<std::uint8_t> buffer_;
  std::size_t pos_ = 0, len_ = 0;
  int bit_ = 8;
  std::uint8_t byte_ = 0;
  std::uint64_t bytes_read_ = 0;
};

/// Registers "file", "hwrng" and "command" entropy-source drivers.
void register_entropy(hal::DriverRegistry& registry);

}  // namespace dira::drivers
