#include "dira/protocol/sv_source.hpp"

#include <algorithm>

namespace dira::protocol {

BufferSvSource::BufferSvSource(std::vector<bool> bits, std::string label, std::optional<double> epsilon)
    : bits_(std::move(bits)), label_(std::move(label)), epsilon_(epsilon) {}

BufferSvSource BufferSvSource::from_bytes(const std::vector<std::uint8_t>& bytes, std::string label,
                                          std::optional<double> epsilon) {
  std::vector<bool> bits;
  bits.reserve(bytes.size() * 8);
  for (std::uint8_t b : bytes)
    for (int i = 7; i >= 0; --i) bits.push_back(((b >> i) & 1) != 0);
  return BufferSvSource(std::move(bits), std::move(label), epsilon);
}

bool BufferSvSource::next_bit() {
  if (next_ >= bits_.size())
    throw SourceExhausted(label_ + ": out of weak-source bits after " + std::to_string(bits_.size()));
  return bits_[next_++];
}

const char* to_string(BitPurpose p) {
  switch (p) {
    case BitPurpose::setting:
      return "setting";
    case BitPurpose::box_choice:
      return "box_choice";
    case BitPurpose::extractor:
      return "extractor";
    case BitPurpose::observed_setting:
      return "observed_setting";
    case BitPurpose::skipped:
      return "skipped";
  }
  return "?";
}

std::uint64_t SvSource::next_bits(unsigned count, unsigned* taken) {
  std::uint64_t v = 0;
  try {
    for (*taken = 0; *taken < count; ++*taken) v = (v << 1) | (next_bit() ? 1u : 0u);
  } catch (SourceExhausted& e) {
    e.bits_taken = v;
    throw;
  }
  return v;
}

void BitLedger::record(BitPurpose purpose, std::uint64_t count, std::uint64_t first_item, std::uint64_t last_item) {
  if (!entries_.empty()) {
    LedgerEntry& last = entries_.back();
    if (last.purpose == purpose && last.first_bit + last.bit_count == position_ && first_item >= last.last_item) {
      last.bit_count += count;
      last.last_item = last_item;
      position_ += count;
      return;
    }
  }
  entries_.push_back(LedgerEntry{purpose, position_, count, first_item, last_item});
  position_ += count;
}

void BitLedger::draw_run(BitPurpose purpose, std::uint64_t count, std::uint64_t first_item, std::uint64_t* words,
                         const std::function<std::uint64_t(std::uint64_t bits)>& last_item_of) {
  if (purpose == BitPurpose::extractor && !outputs_fixed_)
    throw LedgerViolation("extractor bits requested before the device outputs were fixed");
  std::uint64_t done = 0;                                                    // bits in `words`
  const auto put = [words](std::uint64_t at, std::uint64_t v, unsigned n) {  // n bits at bit `at`, a word boundary
    words[at / 64] = n == 64 ? v : (n == 0 ? 0 : v << (64 - n));
  };
  try {
    while (done < count) {
      const auto n = static_cast<unsigned>(std::min<std::uint64_t>(64, count - done));
      unsigned taken = 0;
      try {
        put(done, source_->next_bits(n, &taken), n);
      } catch (const SourceExhausted& e) {
        put(done, e.bits_taken, taken);
        done += taken;
        throw;
      } catch (...) {
        put(done, 0, taken);
        done += taken;
        throw;
      }
      done += n;
    }
  } catch (...) {
    if (done) record(purpose, done, first_item, last_item_of(done));  // bits already taken stay accounted for
    throw;
  }
  if (count) record(purpose, count, first_item, last_item_of(count));
}

std::uint64_t BitLedger::draw_checked(BitPurpose purpose, unsigned count, std::uint64_t item) {
  if (count > 64) throw std::invalid_argument("BitLedger::draw: at most 64 bits at a time");
  if (purpose == BitPurpose::extractor && !outputs_fixed_)
    throw LedgerViolation("extractor bits requested before the device outputs were fixed");
  unsigned taken = 0;
  std::uint64_t v = 0;
  try {
    v = source_->next_bits(count, &taken);
  } catch (...) {
    if (taken) record(purpose, taken, item);  // bits already taken stay accounted for
    throw;
  }
  record(purpose, count, item);
  return v;
}

std::vector<bool> BitLedger::draw_extractor_bits(std::size_t count, std::uint64_t block) {
  if (!outputs_fixed_) throw LedgerViolation("extractor bits requested before the device outputs were fixed");
  std::vector<bool> bits(count);
  std::size_t i = 0;
  try {
    for (; i < count; ++i) bits[i] = source_->next_bit();
  } catch (...) {
    if (i) record(BitPurpose::extractor, i, block);
    throw;
  }
  record(BitPurpose::extractor, count, block);
  return bits;
}

std::uint64_t BitLedger::skip_to(std::uint64_t position) {
  if (position <= position_) return 0;
  const std::uint64_t count = position - position_;
  std::uint64_t done = 0;
  try {
    while (done < count) {
      const auto n = static_cast<unsigned>(std::min<std::uint64_t>(64, count - done));
      unsigned taken = 0;
      try {
        source_->next_bits(n, &taken);
      } catch (...) {
        done += taken;
        throw;
      }
      done += n;
    }
  } catch (...) {
    if (done) record(BitPurpose::skipped, done, 0);
    throw;
  }
  record(BitPurpose::skipped, count, 0);
  return count;
}

std::uint64_t BitLedger::bits_drawn(BitPurpose purpose) const {
  std::uint64_t n = 0;
  for (const auto& e : entries_)
    if (e.purpose == purpose) n += e.bit_count;
  return n;
}

}  // namespace dira::protocol
