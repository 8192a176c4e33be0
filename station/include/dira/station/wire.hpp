#pragma once
/// @file wire.hpp
/// The station ↔ coordinator wire format, versions 1–3 (docs/wire.md). Every ZeroMQ message is
/// one frame: a 32-byte header and a payload. Control frames carry JSON; data frames carry
/// tag blocks (16 bytes per tag, the hal::Tag layout, little-endian) or settings blocks (one
/// byte per trial). Every frame has a per-link sequence number and a CRC (CRC-32C from version 3) over header and
/// payload, so a frame that was altered, lost or replayed on the link is rejected and reported
/// instead of becoming part of a trial. (CurveZMQ already authenticates every message; the
/// checksum also covers the local station file, which has no such protection, and the
/// sequence catches a peer that restarted without saying so.)
///
/// Pure encoding and decoding: no I/O, no threads. decode() never trusts the input: it is the
/// target of tests/fuzz/fuzz_station_wire.cpp.

#include "dira/hal/tag.hpp"

#include <cstddef>
#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace dira::station {

/// CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320, initial value and final XOR
/// 0xFFFFFFFF: the checksum of zlib, PNG and Ethernet). `crc` continues a previous value.
std::uint32_t crc32(std::span<const std::uint8_t> bytes, std::uint32_t crc = 0);
/// CRC-32C (Castagnoli: reflected polynomial 0x82F63B78, initial value and final XOR
/// 0xFFFFFFFF: the checksum of iSCSI, ext4 and SCTP), computed with SSE 4.2's crc32 instruction
/// when the processor has it. The frame checksum of wire version 3.
std::uint32_t crc32c(std::span<const std::uint8_t> bytes, std::uint32_t crc = 0);
/// The frame checksum of a frame of this version: CRC-32C from version 3, CRC-32 before.
std::uint32_t frame_checksum(std::uint8_t version, std::span<const std::uint8_t> bytes, std::uint32_t crc = 0);

/// A frame that is not a valid frame of versions 1–3 (bad magic, version, kind, length, checksum,
/// or a payload that does not fit its kind). The message says which.
class WireError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

inline constexpr std::uint32_t kWireMagic = 0x41524944;  // "DIRA" as little-endian bytes
/// Version written (docs/wire.md): 3 = version 2 with the CRC-32C checksum (2 = version 1
/// plus packed tag frames, kind 4). Version 1 and 2 frames (older stations, older records) are
/// still read.
inline constexpr std::uint8_t kWireVersion = 3;
inline constexpr std::uint8_t kOldestWireVersion = 1;
inline constexpr std::size_t kHeaderBytes = 32;
/// The largest payload a receiver accepts (a tag block of 1 Mi tags): bounds memory on a
/// hostile or broken peer.
inline constexpr std::uint32_t kMaxPayload = 16u << 20;

enum class FrameKind : std::uint8_t {
  control = 1,   ///< payload: UTF-8 JSON object with "type" (docs/wire.md, "Control messages")
  tags = 2,      ///< payload: tags; `position` = index of the first tag in the station's stream
  settings = 3,  ///< payload: [party byte][one setting byte per trial]; `position` = first trial
  /// Version 2: tags packed (docs/wire.md, "Packed tags": delta-coded times, one byte for a
  /// plain detection's channel); `position` as for tags.
  packed_tags = 4,
};
/// Kinds 2 and 4 both carry a block of the station's tag stream.
inline bool carries_tags(FrameKind k) {
  return k == FrameKind::tags || k == FrameKind::packed_tags;
}
/// The most bytes one tag takes packed (extended form: header, 8 bytes of fields, a 10-byte varint).
inline constexpr std::size_t kMaxPackedTagBytes = 19;
const char* to_string(FrameKind k);

/// A decoded frame. Tag payloads are copied out into `tags`; the others into `text`/`settings`.
struct Frame {
  std::uint8_t version = kWireVersion;
  FrameKind kind = FrameKind::control;
  std::uint64_t sequence = 0;  ///< per link and direction: 0, 1, 2, … (docs/wire.md, "Sequence")
  std::uint64_t position = 0;  ///< tags: stream index of the first tag; settings: first trial
  std::string text;            ///< control: the JSON text
  hal::TagBlock tags;          ///< tags
  int party = 0;               ///< settings: whose settings
  std::vector<std::uint8_t> settings;
};

/// Header layout (little-endian): magic u32 | version u8 | kind u8 | reserved u16 (0) |
/// sequence u64 | position u64 | payload length u32 | crc32 u32 (over the header with this
/// field zero, then the payload).
std::vector<std::uint8_t> encode_control(std::uint64_t sequence, std::string_view json);
std::vector<std::uint8_t> encode_tags(std::uint64_t sequence, std::uint64_t first_tag, std::span<const hal::Tag> tags);
std::vector<std::uint8_t> encode_settings(std::uint64_t sequence, std::uint64_t first_trial, int party,
                                          std::span<const std::uint8_t> settings);
/// Encodes into `out` (resized; its capacity is reused, so a sender that keeps one buffer does
/// not allocate per block).
void encode_tags_into(std::vector<std::uint8_t>& out, std::uint64_t sequence, std::uint64_t first_tag,
                      std::span<const hal::Tag> tags);
/// The same block as a packed tag frame (kind 4; what stations send and record). Throws
/// WireError when the packed payload would exceed kMaxPayload (at most
/// kMaxPayload / kMaxPackedTagBytes tags always fit).
void encode_packed_tags_into(std::vector<std::uint8_t>& out, std::uint64_t sequence, std::uint64_t first_tag,
                             std::span<const hal::Tag> tags);
std::vector<std::uint8_t> encode_packed_tags(std::uint64_t sequence, std::uint64_t first_tag,
                                             std::span<const hal::Tag> tags);
/// A decoded frame encoded again, in its own version and kind (a version-1 frame stays
/// version 1): the format has one encoding per frame, so this gives back the bytes decoded.
std::vector<std::uint8_t> encode(const Frame& frame);

/// Decodes and verifies one frame; throws WireError naming what is wrong. Tag types outside
/// hal::TagType are rejected (a flipped bit that the checksum missed must not become a tag).
/// A packed frame's tag count is checked against the tags its bytes hold before room is made
/// for them: a forged count is refused having allocated nothing (docs/wire.md, "Bounds on what
/// a peer can make us allocate"). The same holds for decode_tags_into.
Frame decode(std::span<const std::uint8_t> bytes);
/// Decodes a tag frame (kind 2 or 4) into `out` (appended), returning the frame's position; the hot path of
/// the coordinator (no Frame, no extra copy). Throws WireError, also for a non-tag frame.
std::uint64_t decode_tags_into(std::span<const std::uint8_t> bytes, std::uint64_t& sequence, hal::TagBlock& out);
/// A tag frame (kind 2 or 4) read a chunk at a time: the coordinator's hub verifies a frame
/// (header, checksum, tag count) when it arrives, and the merge decodes it later straight into
/// its own buffers (SyncMerger::push_frame), so a block's tags never exist whole as 16-byte tags
/// in between (bench/README.md, "Stations"). The frame's bytes must outlive the reader.
class TagFrameReader {
 public:
  /// Verifies the frame's header and checksum (`checksum_verified`: a reader made before, on
  /// these same bytes, did; only the header's fields are read again) and reads its tag count.
  /// Throws WireError for a frame that is not a valid tag frame.
  explicit TagFrameReader(std::span<const std::uint8_t> frame, bool checksum_verified = false);
  FrameKind kind() const { return kind_; }
  std::uint64_t sequence() const { return sequence_; }
  std::uint64_t position() const { return position_; }
  /// Tags in the frame (from its header or packed count; not yet decoded). A packed count is
  /// the peer's claim, checked only against 2 bytes a tag until read() meets the tags: make
  /// room for tags as read() returns them, never for this count at once.
  std::uint32_t tags() const { return tags_; }
  /// Decodes up to `max` further tags into `out` and returns how many (0 once every tag is
  /// read). Throws WireError for a payload that does not decode (docs/wire.md: every refusal
  /// of decode()); the tags of the failing call are then not valid.
  std::size_t read(hal::Tag* out, std::size_t max);

 private:
  FrameKind kind_ = FrameKind::tags;
  std::uint64_t sequence_ = 0, position_ = 0;
  std::uint32_t tags_ = 0, read_ = 0;
  const std::uint8_t* p_ = nullptr;  // kind 2: the payload; kind 4: the next packed tag
  const std::uint8_t* end_ = nullptr;
  std::uint64_t prev_ = 0;  // kind 4: the previous tag's time
};

/// The kind of a frame whose header is at least structurally present, without verifying it.
FrameKind peek_kind(std::span<const std::uint8_t> bytes);

/// Checks sequence numbers of one direction of one link: the next frame must carry exactly
/// the next number. A gap (lost frame) or a repeat (replayed frame) is a WireError.
class SequenceCheck {
 public:
  void accept(std::uint64_t sequence);
  std::uint64_t expected() const { return next_; }
  void reset(std::uint64_t next = 0) { next_ = next; }

 private:
  std::uint64_t next_ = 0;
};

}  // namespace dira::station
