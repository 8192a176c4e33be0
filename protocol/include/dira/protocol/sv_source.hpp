#pragma once
/// @file sv_source.hpp
/// Weak random sources and the ledger that accounts for every bit drawn from them.

#include <cstdint>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace dira::protocol {

/// A Santha–Vazirani source: every bit has ½−ε ≤ P(bit = 0 | all earlier bits) ≤ ½+ε
/// (seed 000 eq. 1). Implementations: sim/ (i.i.d. biased, adversarial), app (files).
class SvSource {
 public:
  virtual ~SvSource() = default;
  /// The next bit. Throws SourceExhausted when a finite source runs out.
  virtual bool next_bit() = 0;
  /// The next `count` ≤ 64 bits, first drawn in the most significant place: exactly the bits
  /// `count` calls of next_bit() would give, so a seeded source yields the same sequence
  /// whichever way it is read. `*taken` counts the bits consumed so far, so a caller
  /// catching an exception (SourceExhausted) knows how many were used. Sources override
  /// this to avoid one virtual call per bit (settings take ~14 bits per trial at 10^7 trials/s).
  /// A source that runs out part-way throws SourceExhausted with `bits_taken` holding the bits
  /// it took (this default does; an override that can run out must too), so a caller reading
  /// many bits at once still knows what they were (BitLedger::draw_run).
  virtual std::uint64_t next_bits(unsigned count, unsigned* taken);
  /// ε the source is declared (or configured) to satisfy, when known.
  virtual std::optional<double> declared_epsilon() const { return std::nullopt; }
  /// Bits this source can still hand out, when that is known in advance (a finite file);
  /// nullopt for endless or unknown sources (a generator, a device, a command).
  virtual std::optional<std::uint64_t> bits_available() const { return std::nullopt; }
  /// One line for reports, e.g. "sim iid ε=0.01 seed=7".
  virtual std::string describe() const = 0;
};

/// A finite source ran out of bits.
class SourceExhausted : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
  /// Set by SvSource::next_bits when it ran out part-way: the *taken bits it had read, the first
  /// in the most significant of the low *taken places.
  std::uint64_t bits_taken = 0;
};

/// Bits held in memory (e.g. read from a file by the app layer), used in order.
class BufferSvSource final : public SvSource {
 public:
  /// `bits` in the order they are to be used; `label` names where they came from.
  BufferSvSource(std::vector<bool> bits, std::string label, std::optional<double> epsilon = std::nullopt);
  /// Bytes, most significant bit of each byte first.
  static BufferSvSource from_bytes(const std::vector<std::uint8_t>& bytes, std::string label,
                                   std::optional<double> epsilon = std::nullopt);
  bool next_bit() override;
  std::optional<double> declared_epsilon() const override { return epsilon_; }
  std::string describe() const override { return label_; }
  std::size_t remaining() const { return bits_.size() - next_; }

 private:
  std::vector<bool> bits_;
  std::size_t next_ = 0;
  std::string label_;
  std::optional<double> epsilon_;
};

/// What a weak-source bit was consumed for (docs/architecture.md: "Every weak-source bit is accounted for").
/// `observed_setting`: hardware-chosen settings — the weak source drives the modulators
/// directly and dira reads the bits back from the tagger's setting echo (docs/experiment-yaml.md);
/// their positions count the hardware's stream, not the stream dira draws from.
/// `skipped`: drawn and never used — bits passed over so that the extractor's bits start at a
/// position fixed before the run (BitLedger::skip_to), whatever the settings' look-ahead drew.
enum class BitPurpose { setting, box_choice, extractor, observed_setting, skipped };
const char* to_string(BitPurpose purpose);

/// A run of consecutive bits drawn for one purpose. Consecutive draws for the same purpose
/// are merged, so the ledger stays small for 10^8 trials.
struct LedgerEntry {
  BitPurpose purpose = BitPurpose::setting;
  std::uint64_t first_bit = 0;  ///< position in the source's stream (0-based)
  std::uint64_t bit_count = 0;
  std::uint64_t first_item = 0;  ///< first trial / device / output block the bits served
  std::uint64_t last_item = 0;
};

/// Thrown on an accounting violation (e.g. extractor bits requested before the device
/// outputs they are combined with are fixed).
class LedgerViolation : public std::logic_error {
 public:
  using std::logic_error::logic_error;
};

/// The only way protocol code draws weak-source bits. Each bit is drawn once, recorded
/// with its purpose and the item it served, and never handed out again.
class BitLedger {
 public:
  explicit BitLedger(SvSource& source) : source_(&source) {}

  /// Draws `count` ≤ 64 bits for `purpose`, serving `item`; first bit drawn is the most
  /// significant bit of the result.
  std::uint64_t draw(BitPurpose purpose, unsigned count, std::uint64_t item) {
    // Hot path (setting bits, ~14 per trial): extend the open entry in place.
    if (purpose == BitPurpose::setting && count <= 64 && !entries_.empty()) {
      LedgerEntry& last = entries_.back();
      if (last.purpose == purpose && last.first_bit + last.bit_count == position_ && item >= last.last_item) {
        unsigned taken = 0;
        std::uint64_t v = 0;
        try {
          v = source_->next_bits(count, &taken);
        } catch (...) {
          last.bit_count += taken;
          position_ += taken;
          if (taken) last.last_item = item;
          throw;
        }
        last.bit_count += count;
        last.last_item = item;
        position_ += count;
        return v;
      }
    }
    return draw_checked(purpose, count, item);
  }

  /// Draws `count` bits (any number) for `purpose` into `words` (⌈count/64⌉ of them), 64 a
  /// word, the first drawn in the most significant place of words[0]; a last partial word is
  /// filled from the top, its low bits zero. For a rule that turns a run of bits into several
  /// items and learns which item a bit served only by reading the bits before it (the batch
  /// setting rule): the run serves items first_item … last_item_of(count), the callback reading
  /// `words` to tell which item the run's last bit served. The ledger then stands exactly as if
  /// each item's bits had been drawn by draw() for that item in turn. When the source runs out
  /// (SourceExhausted), the `taken` bits it gave are in `words`, recorded as serving items
  /// first_item … last_item_of(taken), and the exception is rethrown. (After any other
  /// exception from the source the values of the last word's taken bits are unknown: they are
  /// recorded as zeros for last_item_of, and the run fails anyway.)
  void draw_run(BitPurpose purpose, std::uint64_t count, std::uint64_t first_item, std::uint64_t* words,
                const std::function<std::uint64_t(std::uint64_t bits)>& last_item_of);

  /// Records `count` setting bits the hardware's weak source chose for `item` (read from the
  /// setting echo), as purpose observed_setting, numbered in the hardware's own stream.
  void observe(std::uint64_t count, std::uint64_t item) {
    if (!entries_.empty()) {
      LedgerEntry& last = entries_.back();
      if (last.purpose == BitPurpose::observed_setting && last.first_bit + last.bit_count == observed_ &&
          item >= last.last_item) {
        last.bit_count += count;
        last.last_item = item;
        observed_ += count;
        return;
      }
    }
    entries_.push_back(LedgerEntry{BitPurpose::observed_setting, observed_, count, item, item});
    observed_ += count;
  }
  /// Bits observed on the setting echo (hardware-chosen settings).
  std::uint64_t bits_observed() const { return observed_; }

  /// Declares that the device outputs of every trial so far are final. Extractor bits
  /// can only be drawn after this (seed 001, Protocol I: the extractor's second source
  /// must be independent of the device outputs given the adversary).
  void fix_device_outputs(std::uint64_t trials) {
    outputs_fixed_ = true;
    fixed_trials_ = trials;
  }
  bool device_outputs_fixed() const { return outputs_fixed_; }
  std::uint64_t fixed_trials() const { return fixed_trials_; }

  /// Draws extractor input bits; throws LedgerViolation unless outputs are fixed.
  std::vector<bool> draw_extractor_bits(std::size_t count, std::uint64_t block);

  /// Draws and discards bits up to stream position `position` (purpose skipped), so what is
  /// drawn next starts there. Nothing when the ledger is already at or past it; returns the
  /// number of bits skipped. Used so the extractor's bits start at a position fixed before the
  /// run, not wherever the settings' look-ahead stopped (Protocol C stopping early: a run is then
  /// reproducible from its seeds). Discarding bits of an SV source leaves every later bit's
  /// conditional bias within ε, so nothing the security statements assume changes.
  std::uint64_t skip_to(std::uint64_t position);

  const std::vector<LedgerEntry>& entries() const { return entries_; }
  std::uint64_t bits_drawn() const { return position_; }
  std::uint64_t bits_drawn(BitPurpose purpose) const;
  const SvSource& source() const { return *source_; }

 private:
  std::uint64_t draw_checked(BitPurpose purpose, unsigned count, std::uint64_t item);
  void record(BitPurpose purpose, std::uint64_t count, std::uint64_t item) { record(purpose, count, item, item); }
  void record(BitPurpose purpose, std::uint64_t count, std::uint64_t first_item, std::uint64_t last_item);
  SvSource* source_;
  std::vector<LedgerEntry> entries_;
  std::uint64_t position_ = 0;
  std::uint64_t observed_ = 0;
  bool outputs_fixed_ = false;
  std::uint64_t fixed_trials_ = 0;
};

}  // namespace dira::protocol
