#pragma once
/// @file recording_source.hpp
/// The run's weak source as the ledger reads it (part of the session): hands out the source's
/// bits and, once recording is on (after the settings), keeps a copy of the bits drawn for box
/// choice and the extractor, written to sv_bits.bin (0600) so `dira analyze` can replay them.

#include "dira/protocol/sv_source.hpp"

#include <optional>
#include <string>
#include <vector>

namespace dira::app {

class RecordingSource final : public protocol::SvSource {
 public:
  explicit RecordingSource(protocol::SvSource& inner) : inner_(&inner) {}
  bool next_bit() override {
    const bool b = inner_->next_bit();
    if (record_) bits_.push_back(b);
    return b;
  }
  std::uint64_t next_bits(unsigned count, unsigned* taken) override {
    const std::uint64_t v = inner_->next_bits(count, taken);
    if (record_)
      for (unsigned i = count; i-- > 0;) bits_.push_back((v >> i) & 1u);
    return v;
  }
  std::optional<double> declared_epsilon() const override { return inner_->declared_epsilon(); }
  std::string describe() const override { return inner_->describe(); }
  void start_recording() { record_ = true; }
  const std::vector<bool>& recorded() const { return bits_; }

 private:
  protocol::SvSource* inner_;
  bool record_ = false;
  std::vector<bool> bits_;
};

/// Bits packed most significant bit first (the order of sv_bits.bin, docs/run-file.md).
std::string pack_bits(const std::vector<bool>& bits);

}  // namespace dira::app
