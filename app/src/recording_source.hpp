#pragma once
/// @file recording_source.hpp
/// The run's weak source as the ledger reads it (part of the session): hands out the source's
/// bits and, once recording is on (after the settings), appends the bits drawn for box choice
/// and the extractor to sv_bits.bin (0600) as they are drawn, so `dira analyze` can replay them
/// even after a kill (issue 12).

#include "run_directory.hpp"

#include "dira/protocol/sv_source.hpp"

#include <optional>
#include <string>
#include <vector>

namespace dira::app {

class RecordingSource final : public protocol::SvSource {
 public:
  RecordingSource(protocol::SvSource& inner, SvBitsFile& file) : inner_(&inner), file_(&file) {}
  bool next_bit() override {
    const bool b = inner_->next_bit();
    if (record_) file_->append_bit(b);
    return b;
  }
  std::uint64_t next_bits(unsigned count, unsigned* taken) override {
    const std::uint64_t v = inner_->next_bits(count, taken);
    if (record_) file_->append(v, count);
    return v;
  }
  std::optional<double> declared_epsilon() const override { return inner_->declared_epsilon(); }
  std::optional<std::uint64_t> bits_available() const override { return inner_->bits_available(); }
  std::string describe() const override { return inner_->describe(); }
  void start_recording() { record_ = true; }
  /// Everything recorded so far to the kernel and disk (fsync). Throws RunFileError.
  void sync() { file_->sync(); }

 private:
  protocol::SvSource* inner_;
  SvBitsFile* file_;
  bool record_ = false;
};

}  // namespace dira::app
