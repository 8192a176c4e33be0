// Wire format versions 1 and 2 (docs/wire.md).
#include "dira/station/wire.hpp"

#include <algorithm>
#include <array>
#include <bit>
#include <cstring>

#if defined(__x86_64__)
#include <nmmintrin.h>
#endif

namespace dira::station {

namespace {

// Slicing-by-8 tables for a reflected 32-bit CRC: table[0] is the classic byte table,
// table[k][b] is the CRC of byte b followed by k zero bytes, so eight bytes are folded per step.
struct CrcTables {
  std::array<std::array<std::uint32_t, 256>, 8> t{};
  explicit CrcTables(std::uint32_t reflected_polynomial) {
    for (std::uint32_t b = 0; b < 256; ++b) {
      std::uint32_t c = b;
      for (int k = 0; k < 8; ++k) c = (c & 1u) ? reflected_polynomial ^ (c >> 1) : c >> 1;
      t[0][b] = c;
    }
    for (std::size_t k = 1; k < 8; ++k)
      for (std::uint32_t b = 0; b < 256; ++b) t[k][b] = (t[k - 1][b] >> 8) ^ t[0][t[k - 1][b] & 0xFFu];
  }
};
const CrcTables& ieee_tables() {
  static const CrcTables tables(0xEDB88320u);
  return tables;
}
const CrcTables& castagnoli_tables() {
  static const CrcTables tables(0x82F63B78u);
  return tables;
}

// The register update without the initial and final inversion.
std::uint32_t crc_sliced(const CrcTables& tables, std::uint32_t c, const std::uint8_t* p, std::size_t n) {
  const auto& t = tables.t;
  while (n >= 8) {
    std::uint32_t lo, hi;
    std::memcpy(&lo, p, 4);
    std::memcpy(&hi, p + 4, 4);
    lo ^= c;
    c = t[7][lo & 0xFF] ^ t[6][(lo >> 8) & 0xFF] ^ t[5][(lo >> 16) & 0xFF] ^ t[4][lo >> 24] ^ t[3][hi & 0xFF] ^
        t[2][(hi >> 8) & 0xFF] ^ t[1][(hi >> 16) & 0xFF] ^ t[0][hi >> 24];
    p += 8;
    n -= 8;
  }
  while (n-- > 0) c = t[0][(c ^ *p++) & 0xFFu] ^ (c >> 8);
  return c;
}

#if defined(__x86_64__)
// CRC-32C is the polynomial of SSE 4.2's crc32 instruction: eight bytes per instruction (about
// 9.6 GB/s on one core in one chain, four times the table; 23 GB/s in three lanes), which is
// why wire version 3 chose it.
//
// Three lanes at once: the crc32 instruction takes 3 cycles but starts one every cycle, so one
// dependent chain used a third of it. A stretch of 3·kLane bytes is split in three; the lanes
// run side by side, each from register 0 except the first, and are joined by linearity: the
// register after A‖B is shift_|B|(register after A) xor (register from 0 over B), where
// shift_n — n zero bytes fed to the register — is linear in the register's 32 bits, so a
// 4×256 table of it (built once, with the instruction itself) applies it in four lookups.
constexpr std::size_t kLane = 4096;
struct LaneShift {
  std::array<std::array<std::uint32_t, 256>, 4> t{};
};
__attribute__((target("sse4.2"))) std::uint32_t crc32c_serial(std::uint32_t c, const std::uint8_t* p, std::size_t n) {
  std::uint64_t c64 = c;
  while (n >= 8) {
    std::uint64_t v;
    std::memcpy(&v, p, 8);
    c64 = _mm_crc32_u64(c64, v);
    p += 8;
    n -= 8;
  }
  c = static_cast<std::uint32_t>(c64);
  while (n-- > 0) c = _mm_crc32_u8(c, *p++);
  return c;
}
const LaneShift& lane_shift() {
  static const LaneShift s = [] {
    LaneShift ls;
    const std::vector<std::uint8_t> zeros(kLane, 0);
    std::uint32_t basis[32];
    for (int b = 0; b < 32; ++b) basis[b] = crc32c_serial(1u << b, zeros.data(), kLane);
    for (int k = 0; k < 4; ++k)
      for (std::uint32_t v = 0; v < 256; ++v) {
        std::uint32_t r = 0;
        for (int b = 0; b < 8; ++b)
          if (v & (1u << b)) r ^= basis[8 * k + b];
        ls.t[static_cast<std::size_t>(k)][v] = r;
      }
    return ls;
  }();
  return s;
}
inline std::uint32_t shift_lane(const LaneShift& s, std::uint32_t c) {
  return s.t[0][c & 0xFF] ^ s.t[1][(c >> 8) & 0xFF] ^ s.t[2][(c >> 16) & 0xFF] ^ s.t[3][c >> 24];
}
bool has_sse42() {
  static const bool yes = __builtin_cpu_supports("sse4.2");
  return yes;
}
__attribute__((target("sse4.2"))) std::uint32_t crc32c_sse42(std::uint32_t c, const std::uint8_t* p, std::size_t n) {
  if (n >= 3 * kLane) {
    const LaneShift& s = lane_shift();
    do {
      std::uint64_t a = c, b = 0, d = 0;
      for (std::size_t i = 0; i < kLane; i += 8) {
        std::uint64_t x, y, z;
        std::memcpy(&x, p + i, 8);
        std::memcpy(&y, p + kLane + i, 8);
        std::memcpy(&z, p + 2 * kLane + i, 8);
        a = _mm_crc32_u64(a, x);
        b = _mm_crc32_u64(b, y);
        d = _mm_crc32_u64(d, z);
      }
      c = shift_lane(s, shift_lane(s, static_cast<std::uint32_t>(a)) ^ static_cast<std::uint32_t>(b)) ^
          static_cast<std::uint32_t>(d);
      p += 3 * kLane;
      n -= 3 * kLane;
    } while (n >= 3 * kLane);
  }
  return crc32c_serial(c, p, n);
}
#endif

static_assert(std::endian::native == std::endian::little,
              "the wire format is little-endian and tags are copied as they lie in memory");

template <class T>
void put(std::uint8_t* p, T v) {
  std::memcpy(p, &v, sizeof v);
}
template <class T>
T get(const std::uint8_t* p) {
  T v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

constexpr std::size_t kCrcOffset = 28;

void write_header(std::uint8_t* h, FrameKind kind, std::uint64_t sequence, std::uint64_t position, std::uint32_t length,
                  std::uint8_t version = kWireVersion) {
  put<std::uint32_t>(h, kWireMagic);
  h[4] = version;
  h[5] = static_cast<std::uint8_t>(kind);
  put<std::uint16_t>(h + 6, 0);
  put<std::uint64_t>(h + 8, sequence);
  put<std::uint64_t>(h + 16, position);
  put<std::uint32_t>(h + 24, length);
  put<std::uint32_t>(h + kCrcOffset, 0);
}

void seal(std::vector<std::uint8_t>& f) {
  const std::uint32_t c = frame_checksum(f[4], f);
  put<std::uint32_t>(f.data() + kCrcOffset, c);
}

struct Header {
  std::uint8_t version;
  FrameKind kind;
  std::uint64_t sequence;
  std::uint64_t position;
  std::span<const std::uint8_t> payload;
};

Header verify(std::span<const std::uint8_t> bytes) {
  if (bytes.size() < kHeaderBytes)
    throw WireError("frame of " + std::to_string(bytes.size()) + " bytes is shorter than the 32-byte header");
  const std::uint8_t* h = bytes.data();
  if (get<std::uint32_t>(h) != kWireMagic) throw WireError("not a dira frame (bad magic)");
  if (h[4] < kOldestWireVersion || h[4] > kWireVersion)
    throw WireError("wire version " + std::to_string(h[4]) + " is not supported (this dira speaks versions " +
                    std::to_string(kOldestWireVersion) + " to " + std::to_string(kWireVersion) + ")");
  const std::uint8_t kind = h[5];
  if (kind < 1 || kind > (h[4] >= 2 ? 4 : 3))
    throw WireError("unknown frame kind " + std::to_string(kind) + " in a version " + std::to_string(h[4]) + " frame");
  if (get<std::uint16_t>(h + 6) != 0) throw WireError("reserved header bytes are not zero");
  const std::uint32_t length = get<std::uint32_t>(h + 24);
  if (length > kMaxPayload)
    throw WireError("payload of " + std::to_string(length) + " bytes exceeds the limit of " +
                    std::to_string(kMaxPayload));
  if (bytes.size() != kHeaderBytes + length)
    throw WireError("frame length " + std::to_string(bytes.size()) + " does not match its header (" +
                    std::to_string(kHeaderBytes + length) + ")");
  // The checksum covers the header with its own field zero, then the payload.
  std::uint8_t zeroed[kHeaderBytes];
  std::memcpy(zeroed, h, kHeaderBytes);
  put<std::uint32_t>(zeroed + kCrcOffset, 0);
  std::uint32_t c = frame_checksum(h[4], std::span<const std::uint8_t>(zeroed, kHeaderBytes));
  c = frame_checksum(h[4], bytes.subspan(kHeaderBytes), c);
  if (c != get<std::uint32_t>(h + kCrcOffset)) throw WireError("checksum mismatch: the frame was altered");
  return Header{h[4], static_cast<FrameKind>(kind), get<std::uint64_t>(h + 8), get<std::uint64_t>(h + 16),
                bytes.subspan(kHeaderBytes)};
}

void check_tags(const hal::Tag* t, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i)
    if (static_cast<std::uint8_t>(t[i].type) > static_cast<std::uint8_t>(hal::TagType::time_mark))
      throw WireError("tag " + std::to_string(i) + " has unknown type " +
                      std::to_string(static_cast<unsigned>(t[i].type)));
}

// ---- packed tags (version 2, kind 4; docs/wire.md, "Packed tags") ----------------------------
// Per tag: a header byte, then the time as a zigzag LEB128 varint of its difference from the
// previous tag's time (the first tag's from 0; differences wrap modulo 2^64). Header 0x00–0x7F:
// a time tag (type 0, reserved 0, missed 0) on channel = the header byte — the common case, 1
// byte. Header 0x80: any other tag; type u8, reserved u8, missed u16, channel i32 follow raw
// before the varint. Exactly one encoding per block: the short form whenever it fits, minimal
// varints (a multi-byte varint never ends in 0x00; the tenth byte is 0 or 1).

constexpr std::uint8_t kExtended = 0x80;

inline bool short_form(const hal::Tag& t) {
  return t.type == hal::TagType::time_tag && t.reserved == 0 && t.missed == 0 && t.channel >= 0 && t.channel < 0x80;
}

inline std::uint8_t* put_varint(std::uint8_t* p, std::uint64_t v) {
  if (v < (1u << 21)) {  // up to three bytes, the common case (a difference below about 1 µs)
    if (v < 0x80) {
      *p = static_cast<std::uint8_t>(v);
      return p + 1;
    }
    if (v < (1u << 14)) {
      p[0] = static_cast<std::uint8_t>(v) | 0x80;
      p[1] = static_cast<std::uint8_t>(v >> 7);
      return p + 2;
    }
    p[0] = static_cast<std::uint8_t>(v) | 0x80;
    p[1] = static_cast<std::uint8_t>(v >> 7) | 0x80;
    p[2] = static_cast<std::uint8_t>(v >> 14);
    return p + 3;
  }
  while (v >= 0x80) {
    *p++ = static_cast<std::uint8_t>(v) | 0x80;
    v >>= 7;
  }
  *p++ = static_cast<std::uint8_t>(v);
  return p;
}

std::size_t pack(std::uint8_t* out, std::span<const hal::Tag> tags) {
  std::uint8_t* p = out;
  std::uint64_t prev = 0;
  for (const hal::Tag& t : tags) {
    // The short form's test on the tag's first 8 bytes at once: type 0, reserved 0, missed 0
    // and a channel in 0…127 (little-endian: the channel is the high half).
    std::uint64_t head;
    std::memcpy(&head, &t, sizeof head);
    if (head < (std::uint64_t{0x80} << 32) && (head & 0xFFFFFFFFu) == 0) {
      *p++ = static_cast<std::uint8_t>(head >> 32);
    } else {
      *p++ = kExtended;
      *p++ = static_cast<std::uint8_t>(t.type);
      *p++ = t.reserved;
      put<std::uint16_t>(p, t.missed);
      put<std::int32_t>(p + 2, t.channel);
      p += 6;
    }
    const std::uint64_t time = static_cast<std::uint64_t>(t.time_ps);
    const std::uint64_t d = time - prev;  // wraps: exact modulo 2^64
    prev = time;
    // zigzag: small differences of either sign are small numbers
    p = put_varint(p, (d << 1) ^ (0 - (d >> 63)));
  }
  return static_cast<std::size_t>(p - out);
}

// Decodes packed tags [i, limit) of a payload into `t`. `p` walks the payload, `prev` is the
// previous tag's time. Two loops: while at least kMaxPackedTagBytes remain, no tag can run past
// the end, so the common shapes (short header, varint of up to 3 bytes) are read without
// per-byte bounds checks; the last few tags go through the checked loop. Both refuse exactly
// what docs/wire.md refuses, with the same messages.
struct PackedCursor {
  const std::uint8_t* p;
  const std::uint8_t* end;
  std::uint64_t prev = 0;
  std::uint32_t i = 0;
  std::uint32_t n = 0;
};

[[noreturn]] void bad_header(std::uint32_t i, std::uint8_t h) {
  throw WireError("tag " + std::to_string(i) + " has header byte " + std::to_string(h));
}
[[noreturn]] void not_minimal(std::uint32_t i) {
  throw WireError("the time of tag " + std::to_string(i) + " is not minimally encoded");
}

// The extended form's fields (8 bytes at p, present); returns the tag's first 8 bytes.
inline void read_extended(const std::uint8_t* p, std::uint32_t i, hal::Tag& t) {
  if (p[0] > static_cast<std::uint8_t>(hal::TagType::time_mark))
    throw WireError("tag " + std::to_string(i) + " has unknown type " + std::to_string(p[0]));
  t.type = static_cast<hal::TagType>(p[0]);
  t.reserved = p[1];
  t.missed = get<std::uint16_t>(p + 2);
  t.channel = get<std::int32_t>(p + 4);
  if (short_form(t)) throw WireError("tag " + std::to_string(i) + " is in the extended form but fits the short one");
}

// The varint at p (bounds checked against end): its value and where it ends. (Returned, not
// advanced through a reference: a pointer whose address escapes is kept in memory, and the
// decode loop's pointer chain then ran through a store and a load per tag.)
struct Varint {
  std::uint64_t value;
  const std::uint8_t* next;
};
Varint read_varint_checked(const std::uint8_t* p, const std::uint8_t* end, std::uint32_t i) {
  std::uint64_t z = 0;
  for (unsigned shift = 0;; shift += 7) {
    if (p >= end) throw WireError("packed tag payload ends inside the time of tag " + std::to_string(i));
    const std::uint8_t b = *p++;
    if (shift == 63 && b > 1) throw WireError("the time of tag " + std::to_string(i) + " overflows 64 bits");
    z |= static_cast<std::uint64_t>(b & 0x7F) << shift;
    if (!(b & 0x80)) {
      if (b == 0 && shift > 0) not_minimal(i);
      return {z, p};
    }
    if (shift == 63) throw WireError("the time of tag " + std::to_string(i) + " overflows 64 bits");
  }
}

std::size_t unpack_some(PackedCursor& c, hal::Tag* t, std::size_t max) {
  const std::uint32_t limit = static_cast<std::uint32_t>(std::min<std::uint64_t>(c.n, c.i + max));
  const std::uint32_t first = c.i;
  const std::uint8_t* p = c.p;
  const std::uint8_t* const end = c.end;
  std::uint64_t prev = c.prev;
  std::uint32_t i = c.i;
  // Fast loop: a whole tag (≤ kMaxPackedTagBytes) fits before `end`.
  for (; i < limit && end - p >= static_cast<std::ptrdiff_t>(kMaxPackedTagBytes); ++i, ++t) {
    const std::uint8_t h = *p++;
    if (h < kExtended) {
      // type time_tag (0), reserved 0, missed 0, channel h: the tag's first 8 bytes in one store
      put<std::uint64_t>(reinterpret_cast<std::uint8_t*>(t), static_cast<std::uint64_t>(h) << 32);
    } else {
      if (h != kExtended) bad_header(i, h);
      read_extended(p, i, *t);
      p += 8;
    }
    std::uint64_t z;
    const std::uint8_t b0 = p[0];
    if (b0 < 0x80) {
      z = b0;
      p += 1;
    } else if (const std::uint8_t b1 = p[1]; b1 < 0x80) {
      if (b1 == 0) not_minimal(i);
      z = (b0 & 0x7Fu) | (static_cast<std::uint64_t>(b1) << 7);
      p += 2;
    } else if (const std::uint8_t b2 = p[2]; b2 < 0x80) {
      if (b2 == 0) not_minimal(i);
      z = (b0 & 0x7Fu) | (static_cast<std::uint64_t>(b1 & 0x7Fu) << 7) | (static_cast<std::uint64_t>(b2) << 14);
      p += 3;
    } else {
      const Varint v = read_varint_checked(p, end, i);
      z = v.value;
      p = v.next;
    }
    prev += (z >> 1) ^ (0 - (z & 1));  // zigzag back to the difference (modulo 2^64)
    t->time_ps = static_cast<std::int64_t>(prev);
  }
  // Checked loop: the payload's last tags.
  for (; i < limit; ++i, ++t) {
    if (p >= end) throw WireError("packed tag payload ends inside tag " + std::to_string(i));
    const std::uint8_t h = *p++;
    if (h < kExtended) {
      put<std::uint64_t>(reinterpret_cast<std::uint8_t*>(t), static_cast<std::uint64_t>(h) << 32);
    } else {
      if (h != kExtended) bad_header(i, h);
      if (end - p < 8) throw WireError("packed tag payload ends inside tag " + std::to_string(i));
      read_extended(p, i, *t);
      p += 8;
    }
    const Varint v = read_varint_checked(p, end, i);
    p = v.next;
    const std::uint64_t z = v.value;
    prev += (z >> 1) ^ (0 - (z & 1));
    t->time_ps = static_cast<std::int64_t>(prev);
  }
  c.p = p;
  c.prev = prev;
  c.i = i;
  if (c.i == c.n && c.p != c.end) throw WireError(std::to_string(c.end - c.p) + " bytes after the last packed tag");
  return i - first;
}

// The tag count of a packed payload, checked against what the payload can hold.
std::uint32_t packed_count(std::span<const std::uint8_t> in) {
  if (in.size() < 4) throw WireError("packed tag payload without its tag count");
  const std::uint32_t n = get<std::uint32_t>(in.data());
  // Every tag takes at least 2 bytes: bounds what a forged count can make us allocate.
  if (n > (in.size() - 4) / 2)
    throw WireError("packed tag payload claims " + std::to_string(n) + " tags in " + std::to_string(in.size()) +
                    " bytes");
  return n;
}

// Whether the payload after the count [p, end) holds exactly n packed tags, judged by their
// shape alone: header byte, the extended form's 8 bytes, a varint of at most 10 bytes; nothing is
// written. The count is an authenticated peer's claim, and the byte bound of packed_count lets a
// 16 MiB payload claim 8 Mi tags — 128 MiB decoded. Room for the tags is made only once their
// bytes are seen to hold them, so a forged count costs no allocation at all (a frame of the
// right shape can still break a rule the decoder checks — a type, a minimal varint — but then
// its count is what its bytes hold, and room for it is at most 8 times the payload).
bool holds_packed_tags(const std::uint8_t* p, const std::uint8_t* const end, std::uint32_t n) {
  for (std::uint32_t i = 0; i < n; ++i) {
    if (p >= end) return false;
    const std::uint8_t h = *p++;
    if (h >= kExtended) {
      if (h != kExtended || end - p < 8) return false;
      p += 8;
    }
    const std::uint8_t* const varint_end = p + std::min<std::ptrdiff_t>(end - p, 10);
    while (p < varint_end && (*p & 0x80)) ++p;
    if (p == varint_end) return false;  // the payload or the varint's 10 bytes end inside it
    ++p;
  }
  return p == end;
}

// Refuses a payload whose shape does not hold its count, with the decoder's own reason (the
// first rule the payload breaks, docs/wire.md): decoded into a buffer on the stack and dropped.
[[noreturn]] void refuse_packed(PackedCursor c) {
  hal::Tag scratch[256];
  while (c.i < c.n) unpack_some(c, scratch, std::size(scratch));
  // Only a count of 0 gets here (n > 0: unpack_some threw, at the latest after the last tag).
  throw WireError(std::to_string(c.end - c.p) + " bytes after the last packed tag");
}

void unpack(std::span<const std::uint8_t> in, hal::TagBlock& out) {
  PackedCursor c{in.data() + 4, in.data() + in.size(), 0, 0, packed_count(in)};
  const std::size_t old = out.size();
  if (out.capacity() < old + c.n) {
    // Room for the count is made only once the payload is seen to hold that many tags
    // (holds_packed_tags). A buffer that has the room already (a caller reusing it per block)
    // needs no walk: decoding into it allocates nothing, and a count the tags do not fill is
    // found by the decode itself. The walk is a second pass, serial from tag to tag: run on
    // every block it took BM_StationEncodeDecodePackedTags (encode, checksum, decode) from 4.6
    // to 6.9 ns a tag under load, so it runs only when the room must grow.
    if (!holds_packed_tags(c.p, c.end, c.n)) refuse_packed(c);
    out.reserve(std::max<std::size_t>(old + c.n, 2 * out.capacity()));
  }
  try {
    // Room is made (and zero-filled by resize) a chunk at a time, so the chunk is still in the
    // cache when the tags are written into it: zero-filling the whole block first streamed a
    // megabyte through memory twice (bench/README.md, "Stations").
    constexpr std::size_t kChunk = 4096;
    while (c.i < c.n) {
      const std::size_t at = out.size();
      out.resize(std::min<std::size_t>(old + c.n, at + kChunk));
      unpack_some(c, out.data() + at, out.size() - at);
    }
    if (c.n == 0 && c.p != c.end) throw WireError(std::to_string(c.end - c.p) + " bytes after the last packed tag");
  } catch (...) {
    out.resize(old);
    throw;
  }
}

}  // namespace

std::uint32_t crc32(std::span<const std::uint8_t> bytes, std::uint32_t crc) {
  return ~crc_sliced(ieee_tables(), ~crc, bytes.data(), bytes.size());
}

std::uint32_t crc32c(std::span<const std::uint8_t> bytes, std::uint32_t crc) {
#if defined(__x86_64__)
  if (has_sse42()) return ~crc32c_sse42(~crc, bytes.data(), bytes.size());
#endif
  return ~crc_sliced(castagnoli_tables(), ~crc, bytes.data(), bytes.size());
}

std::uint32_t frame_checksum(std::uint8_t version, std::span<const std::uint8_t> bytes, std::uint32_t crc) {
  return version >= 3 ? crc32c(bytes, crc) : crc32(bytes, crc);
}

const char* to_string(FrameKind k) {
  switch (k) {
    case FrameKind::control:
      return "control";
    case FrameKind::tags:
      return "tags";
    case FrameKind::settings:
      return "settings";
    case FrameKind::packed_tags:
      return "packed tags";
  }
  return "?";
}

std::vector<std::uint8_t> encode_control(std::uint64_t sequence, std::string_view json) {
  if (json.size() > kMaxPayload) throw WireError("control message too long");
  std::vector<std::uint8_t> f(kHeaderBytes + json.size());
  write_header(f.data(), FrameKind::control, sequence, 0, static_cast<std::uint32_t>(json.size()));
  if (!json.empty()) std::memcpy(f.data() + kHeaderBytes, json.data(), json.size());
  seal(f);
  return f;
}

void encode_tags_into(std::vector<std::uint8_t>& f, std::uint64_t sequence, std::uint64_t first_tag,
                      std::span<const hal::Tag> tags) {
  const std::size_t bytes = tags.size() * sizeof(hal::Tag);
  if (bytes > kMaxPayload) throw WireError("tag block of " + std::to_string(tags.size()) + " tags is too large");
  f.resize(kHeaderBytes + bytes);
  write_header(f.data(), FrameKind::tags, sequence, first_tag, static_cast<std::uint32_t>(bytes));
  if (bytes) std::memcpy(f.data() + kHeaderBytes, tags.data(), bytes);
  seal(f);
}

void encode_packed_tags_into(std::vector<std::uint8_t>& f, std::uint64_t sequence, std::uint64_t first_tag,
                             std::span<const hal::Tag> tags) {
  if (tags.size() > (kMaxPayload - 4) / 2)
    throw WireError("tag block of " + std::to_string(tags.size()) + " tags is too large");
  // Packed into a buffer sized for the worst case (kMaxPackedTagBytes a tag), kept per thread
  // and grown only, then copied to `f` at its size: sizing `f` itself for the worst case
  // zero-filled 19 bytes a tag, nearly five times what the block takes (bench/README.md).
  thread_local std::vector<std::uint8_t> worst_case;
  if (worst_case.size() < tags.size() * kMaxPackedTagBytes) worst_case.resize(tags.size() * kMaxPackedTagBytes);
  const std::size_t packed = pack(worst_case.data(), tags);
  const std::size_t bytes = 4 + packed;
  if (bytes > kMaxPayload) throw WireError("tag block of " + std::to_string(tags.size()) + " tags is too large packed");
  f.resize(kHeaderBytes + bytes);  // zero-fills only what `f` grows by
  put<std::uint32_t>(f.data() + kHeaderBytes, static_cast<std::uint32_t>(tags.size()));
  if (packed) std::memcpy(f.data() + kHeaderBytes + 4, worst_case.data(), packed);
  write_header(f.data(), FrameKind::packed_tags, sequence, first_tag, static_cast<std::uint32_t>(bytes));
  seal(f);
}

std::vector<std::uint8_t> encode_packed_tags(std::uint64_t sequence, std::uint64_t first_tag,
                                             std::span<const hal::Tag> tags) {
  std::vector<std::uint8_t> f;
  encode_packed_tags_into(f, sequence, first_tag, tags);
  return f;
}

std::vector<std::uint8_t> encode(const Frame& fr) {
  std::vector<std::uint8_t> f;
  switch (fr.kind) {
    case FrameKind::control:
      f = encode_control(fr.sequence, fr.text);
      break;
    case FrameKind::tags:
      encode_tags_into(f, fr.sequence, fr.position, fr.tags);
      break;
    case FrameKind::packed_tags:
      encode_packed_tags_into(f, fr.sequence, fr.position, fr.tags);
      break;
    case FrameKind::settings:
      f = encode_settings(fr.sequence, fr.position, fr.party, fr.settings);
      break;
  }
  if (fr.version != kWireVersion) {  // the same frame in the older version's header
    f[4] = fr.version;
    put<std::uint32_t>(f.data() + kCrcOffset, 0);
    seal(f);
  }
  return f;
}

std::vector<std::uint8_t> encode_tags(std::uint64_t sequence, std::uint64_t first_tag, std::span<const hal::Tag> tags) {
  std::vector<std::uint8_t> f;
  encode_tags_into(f, sequence, first_tag, tags);
  return f;
}

std::vector<std::uint8_t> encode_settings(std::uint64_t sequence, std::uint64_t first_trial, int party,
                                          std::span<const std::uint8_t> settings) {
  if (party < 0 || party > 255) throw WireError("party " + std::to_string(party) + " does not fit the wire format");
  if (settings.size() + 1 > kMaxPayload) throw WireError("settings block too large");
  std::vector<std::uint8_t> f(kHeaderBytes + 1 + settings.size());
  write_header(f.data(), FrameKind::settings, sequence, first_trial, static_cast<std::uint32_t>(settings.size() + 1));
  f[kHeaderBytes] = static_cast<std::uint8_t>(party);
  if (!settings.empty()) std::memcpy(f.data() + kHeaderBytes + 1, settings.data(), settings.size());
  seal(f);
  return f;
}

Frame decode(std::span<const std::uint8_t> bytes) {
  const Header h = verify(bytes);
  Frame f;
  f.version = h.version;
  f.kind = h.kind;
  f.sequence = h.sequence;
  f.position = h.position;
  switch (h.kind) {
    case FrameKind::control:
      // A control frame has no stream position (docs/wire.md): anything but 0 is a forgery or a bug.
      if (h.position != 0) throw WireError("control frame with position " + std::to_string(h.position) + ", not 0");
      f.text.assign(reinterpret_cast<const char*>(h.payload.data()), h.payload.size());
      break;
    case FrameKind::tags: {
      if (h.payload.size() % sizeof(hal::Tag) != 0)
        throw WireError("tag payload of " + std::to_string(h.payload.size()) + " bytes is not a whole number of tags");
      f.tags.resize(h.payload.size() / sizeof(hal::Tag));
      if (!f.tags.empty()) std::memcpy(f.tags.data(), h.payload.data(), h.payload.size());
      check_tags(f.tags.data(), f.tags.size());
      break;
    }
    case FrameKind::packed_tags:
      unpack(h.payload, f.tags);
      break;
    case FrameKind::settings:
      if (h.payload.empty()) throw WireError("settings frame without its party byte");
      f.party = h.payload[0];
      f.settings.assign(h.payload.begin() + 1, h.payload.end());
      break;
  }
  return f;
}

std::uint64_t decode_tags_into(std::span<const std::uint8_t> bytes, std::uint64_t& sequence, hal::TagBlock& out) {
  const Header h = verify(bytes);
  if (!carries_tags(h.kind)) throw WireError(std::string("expected a tag frame, got ") + to_string(h.kind));
  if (h.kind == FrameKind::packed_tags) {
    unpack(h.payload, out);
    sequence = h.sequence;
    return h.position;
  }
  if (h.payload.size() % sizeof(hal::Tag) != 0)
    throw WireError("tag payload of " + std::to_string(h.payload.size()) + " bytes is not a whole number of tags");
  const std::size_t n = h.payload.size() / sizeof(hal::Tag);
  const std::size_t old = out.size();
  out.resize(old + n);
  if (n) std::memcpy(out.data() + old, h.payload.data(), h.payload.size());
  try {
    check_tags(out.data() + old, n);
  } catch (...) {
    out.resize(old);
    throw;
  }
  sequence = h.sequence;
  return h.position;
}

TagFrameReader::TagFrameReader(std::span<const std::uint8_t> frame, bool checksum_verified) {
  Header h{};
  if (checksum_verified) {  // the header's fields only: the frame passed verify() before
    if (frame.size() < kHeaderBytes) throw WireError("frame shorter than its header");
    const std::uint8_t* b = frame.data();
    h = Header{b[4], static_cast<FrameKind>(b[5]), get<std::uint64_t>(b + 8), get<std::uint64_t>(b + 16),
               frame.subspan(kHeaderBytes)};
  } else {
    h = verify(frame);
  }
  if (!carries_tags(h.kind)) throw WireError(std::string("expected a tag frame, got ") + to_string(h.kind));
  kind_ = h.kind;
  sequence_ = h.sequence;
  position_ = h.position;
  p_ = h.payload.data();
  end_ = h.payload.data() + h.payload.size();
  if (kind_ == FrameKind::packed_tags) {
    tags_ = packed_count(h.payload);
    p_ += 4;
  } else {
    if (h.payload.size() % sizeof(hal::Tag) != 0)
      throw WireError("tag payload of " + std::to_string(h.payload.size()) + " bytes is not a whole number of tags");
    tags_ = static_cast<std::uint32_t>(h.payload.size() / sizeof(hal::Tag));
  }
}

std::size_t TagFrameReader::read(hal::Tag* out, std::size_t max) {
  if (kind_ == FrameKind::packed_tags) {
    PackedCursor c{p_, end_, prev_, read_, tags_};
    const std::size_t n = unpack_some(c, out, max);
    p_ = c.p;
    prev_ = c.prev;
    read_ = c.i;
    return n;
  }
  const std::size_t n = std::min<std::size_t>(max, tags_ - read_);
  if (n) std::memcpy(static_cast<void*>(out), p_ + std::size_t{read_} * sizeof(hal::Tag), n * sizeof(hal::Tag));
  for (std::size_t k = 0; k < n; ++k)
    if (static_cast<std::uint8_t>(out[k].type) > static_cast<std::uint8_t>(hal::TagType::time_mark))
      throw WireError("tag " + std::to_string(read_ + k) + " has unknown type " +
                      std::to_string(static_cast<unsigned>(out[k].type)));
  read_ += static_cast<std::uint32_t>(n);
  return n;
}

FrameKind peek_kind(std::span<const std::uint8_t> bytes) {
  if (bytes.size() < kHeaderBytes) throw WireError("frame shorter than its header");
  const std::uint8_t kind = bytes[5];
  if (kind < 1 || kind > 4) throw WireError("unknown frame kind " + std::to_string(kind));
  return static_cast<FrameKind>(kind);
}

void SequenceCheck::accept(std::uint64_t sequence) {
  if (sequence == next_) {
    ++next_;
    return;
  }
  if (sequence < next_)
    throw WireError("frame " + std::to_string(sequence) + " repeats (expected " + std::to_string(next_) +
                    "): replayed or duplicated");
  throw WireError("frames " + std::to_string(next_) + " to " + std::to_string(sequence - 1) + " are missing");
}

}  // namespace dira::station
