#pragma once
/// @file ptu.hpp
/// PicoQuant unified TTTR files (.ptu): the tagged header, the 32-bit T2/T3 records of every
/// published record type, their decoding into hal::Tag and a writer for tests. Layouts and
/// sources: docs/ptu.md. Channel numbering in dira (docs/ptu.md, "Channels"):
///   - 0: sync (T2: the sync input's records; T3: one tag per sync count that has an event),
///   - 1..N: detector inputs, 1-based as PicoQuant's software labels them (PicoHarp: the 4-bit
///     channel field as stored; HydraHarp, TimeHarp 260, MultiHarp: the 6-bit field + 1),
///   - 1000 + m: marker m = 1, 2, … (bit m−1 of a special record's marker bit set).

#include "dira/hal/tag.hpp"

#include <cstdint>
#include <iosfwd>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace dira::drivers::picoquant {

/// A file that no published layout allows (wrong magic, truncated, unknown type, …). The
/// message names the byte offset; offset() returns it.
class PtuFormatError : public std::runtime_error {
 public:
  PtuFormatError(std::uint64_t offset, const std::string& message);
  /// Byte offset in the file where the problem is (0-based).
  std::uint64_t offset() const { return offset_; }

 private:
  std::uint64_t offset_;
};

/// Channel numbers of the tags decoded from PTU records.
inline constexpr int kSyncChannel = 0;
inline constexpr int kMarkerChannelBase = 1000;  ///< marker m (1-based) is channel 1000 + m

/// TTResultFormat_TTTRRecType values (PicoQuant's rt* constants).
enum class RecordType : std::uint32_t {
  picoharp_t3 = 0x00010303,
  picoharp_t2 = 0x00010203,
  hydraharp_v1_t3 = 0x00010304,
  hydraharp_v1_t2 = 0x00010204,
  hydraharp_v2_t3 = 0x01010304,
  hydraharp_v2_t2 = 0x01010204,
  timeharp260n_t3 = 0x00010305,
  timeharp260n_t2 = 0x00010205,
  timeharp260p_t3 = 0x00010306,
  timeharp260p_t2 = 0x00010206,
  generic_t3 = 0x00010307,  ///< MultiHarp and later devices ("generic" records)
  generic_t2 = 0x00010207,
};
/// Every record type this reader decodes, in the order above.
const std::vector<RecordType>& all_record_types();
bool is_known_record_type(std::uint64_t code);
/// "PicoHarp 300 T3", …; "unknown" for other codes.
const char* record_type_name(RecordType type);
bool is_t2(RecordType type);
/// PicoHarp 300 records (4-bit channel) as opposed to the HydraHarp layout (special bit, 6-bit channel).
bool is_picoharp(RecordType type);

/// Tag type codes of the header (TagHead.Typ).
enum class HeaderTagType : std::uint32_t {
  empty8 = 0xFFFF0008,
  bool8 = 0x00000008,
  int8 = 0x10000008,
  bitset64 = 0x11000008,
  color8 = 0x12000008,
  float8 = 0x20000008,
  datetime = 0x21000008,  ///< TDateTime: days since 1899-12-30 as a double
  float8_array = 0x2001FFFF,
  ansi_string = 0x4001FFFF,
  wide_string = 0x4002FFFF,
  binary_blob = 0xFFFFFFFF,
};
const char* to_string(HeaderTagType type);

/// One header entry (TagHead: 32-byte ident, int32 index, uint32 type, 8-byte value, then for
/// strings, arrays and blobs as many bytes as the value says).
struct HeaderTag {
  std::string ident;
  std::int32_t index = -1;  ///< array element index, -1 for a scalar tag
  HeaderTagType type = HeaderTagType::empty8;
  std::int64_t integer = 0;         ///< bool8, int8, bitset64, color8: the value; strings, arrays, blobs: byte length
  double real = 0;                  ///< float8, datetime
  std::string text;                 ///< ansi_string (as stored, trailing NULs removed), wide_string (as UTF-8)
  std::vector<double> reals;        ///< float8_array
  std::vector<std::uint8_t> bytes;  ///< binary_blob
  std::uint64_t offset = 0;         ///< byte offset of the tag head in the file (set by the reader)

  static HeaderTag make_int(std::string ident, std::int64_t v, std::int32_t index = -1);
  static HeaderTag make_real(std::string ident, double v, std::int32_t index = -1);
  static HeaderTag make_string(std::string ident, std::string v, std::int32_t index = -1);
  /// "ident" or "ident(index)".
  std::string name() const;
  /// The value as text (header listings).
  std::string value_string() const;
};

/// The tagged header and what the records need from it.
struct PtuHeader {
  std::string version;  ///< preamble 2, e.g. "1.0.00"
  std::vector<HeaderTag> tags;
  RecordType record_type = RecordType::generic_t2;
  std::uint64_t number_of_records = 0;  ///< TTResult_NumberOfRecords
  double global_resolution_s = 0;       ///< MeasDesc_GlobalResolution: T2 time-tag unit, T3 sync period
  double resolution_s = 0;              ///< MeasDesc_Resolution: T3 dtime unit (T2: as stored, may be 0)
  std::uint64_t data_offset = 0;        ///< byte offset of the first record (after Header_End)

  const HeaderTag* find(std::string_view ident, std::int32_t index = -1) const;
};

/// How much of a header the reader accepts before it refuses the file. Real headers hold a few
/// hundred tags and a few kB of values; the bounds keep a corrupt length field, a file of
/// nothing but tag heads or an endless stream from exhausting memory (issue 12).
struct PtuLimits {
  std::uint64_t max_value_bytes = std::uint64_t{256} << 20;         ///< one string, array or blob
  std::uint64_t max_header_value_bytes = std::uint64_t{256} << 20;  ///< all of them together
  std::size_t max_header_tags = 100000;                             ///< tags before Header_End
};

/// Reads the preamble and the tagged header from `in` (positioned at the file's first byte) up
/// to and including Header_End. Throws PtuFormatError (wrong magic, truncated header, unknown tag
/// type, implausible lengths, a header beyond `limits`, missing or invalid
/// TTResultFormat_TTTRRecType, MeasDesc_GlobalResolution, MeasDesc_Resolution (T3),
/// TTResult_NumberOfRecords, an unknown record type, TTResultFormat_BitsPerRecord other than 32, a
/// resolution so coarse that record times could pass 2^63 ps).
PtuHeader read_header(std::istream& in, const PtuLimits& limits = {});

/// What a decoder has seen so far.
struct DecodeCounts {
  std::uint64_t records = 0;
  std::uint64_t photons = 0;  ///< detector tags (channels 1..N)
  std::uint64_t syncs = 0;    ///< sync tags (T2: sync records; T3: sync counts with events)
  std::uint64_t marker_records = 0;
  std::uint64_t marker_tags = 0;  ///< one per marker bit set
  std::uint64_t overflow_records = 0;
  std::uint64_t overflow_periods = 0;  ///< wrap-arounds the overflow records stand for
};

/// Decodes 32-bit records into tags (docs/ptu.md). Streaming: the overflow accumulator and the
/// last emitted sync are carried from one call to the next.
class RecordDecoder {
 public:
  /// Throws std::invalid_argument for a non-positive (or, in T3, missing) resolution, or one so
  /// coarse that a single record (no overflow) could give a time past 2^63 ps.
  RecordDecoder(RecordType type, double global_resolution_s, double resolution_s);
  explicit RecordDecoder(const PtuHeader& header);

  /// Appends the tags of `records` (values of the little-endian words, in file order) to `out`.
  /// `offset` is the byte offset of records[0] in the file. Throws PtuFormatError naming the
  /// record's offset on a record no published layout allows (PicoHarp T3 channel 0, a reserved
  /// special channel code) or on an overflow record that takes the time past 2^63 ps (times are
  /// int64 ps; docs/ptu.md §10); the tags of the records before it are in `out`.
  void decode(std::span<const std::uint32_t> records, hal::TagBlock& out, std::uint64_t offset = 0);

  const DecodeCounts& counts() const { return counts_; }
  RecordType record_type() const { return type_; }
  /// Time in ps of a raw count (T2: time tag; T3: sync count) and of a T3 dtime.
  std::int64_t global_time_ps(std::uint64_t units) const;
  std::int64_t dtime_ps(std::uint32_t dtime) const;

 private:
  template <int Family>
  void run(std::span<const std::uint32_t> records, hal::TagBlock& out, std::uint64_t offset);

  RecordType type_;
  int family_ = 0;
  bool v1_ = false;
  int shift_ = 32;                   // fixed-point fraction bits of the multipliers below
  std::uint64_t global_fp_ = 0;      // global resolution in ps · 2^shift_
  int dtime_shift_ = 46;             // fraction bits of dtime_fp_ (dtime · dtime_fp_ < 2^63)
  std::uint64_t dtime_fp_ = 0;       // resolution in ps · 2^dtime_shift_
  std::uint64_t overflow_base_ = 0;  // raw units (time tags or sync counts) before the current period
  std::int64_t last_sync_ = -1;      // T3: last sync count emitted as a sync tag
  std::uint64_t max_base_ = 0;       // largest overflow base whose records' times all fit int64 ps
  DecodeCounts counts_;
  std::vector<hal::Tag> scratch_;  // one chunk's tags before they are appended to the output
};

/// An event for the writer, in the file's raw units.
struct PtuEvent {
  enum class Kind : std::uint8_t { photon, sync, marker };
  Kind kind = Kind::photon;
  /// photon: dira channel (PicoHarp T2: 1..14, T3: 1..14; HydraHarp family: 1..64);
  /// marker: the marker bits (1..15; PicoHarp T3: 1..4095); sync: ignored (T2 only).
  int channel = 1;
  std::uint64_t time = 0;   ///< T2: time tag in global-resolution units; T3: sync count
  std::uint32_t dtime = 0;  ///< T3 photons: time since the sync in resolution units
};

/// What the writer puts in the header.
struct PtuFileSpec {
  RecordType record_type = RecordType::generic_t2;
  double global_resolution_s = 1e-12;
  double resolution_s = 1e-12;
  std::string version = "1.0.00";
  std::vector<HeaderTag> extra_tags;  ///< written after the required tags, before Header_End
};

/// Encodes time-ordered events as records of spec.record_type, inserting overflow records
/// (one per period for PicoHarp and HydraHarp V1; one carrying the count for the others).
/// Throws std::invalid_argument for an event the record type cannot hold or out of time order.
std::vector<std::uint32_t> encode_records(RecordType type, std::span<const PtuEvent> events);
/// Writes the preamble and the header announcing `records` records.
void write_header(std::ostream& out, const PtuFileSpec& spec, std::uint64_t records);
/// Writes records as little-endian 32-bit words.
void write_records(std::ostream& out, std::span<const std::uint32_t> records);
/// write_header + encode_records + write_records.
void write_ptu(std::ostream& out, const PtuFileSpec& spec, std::span<const PtuEvent> events);
/// The same to a file; throws std::runtime_error if it cannot be written.
void write_ptu_file(const std::string& path, const PtuFileSpec& spec, std::span<const PtuEvent> events);

}  // namespace dira::drivers::picoquant
