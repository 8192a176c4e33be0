// Wire format version 1 (docs/wire.md).
#include "dira/station/wire.hpp"

#include <array>
#include <bit>
#include <cstring>

namespace dira::station {

namespace {

// Slicing-by-8 tables for the reflected CRC-32: table[0] is the classic byte table, table[k][b]
// is the CRC of byte b followed by k zero bytes, so eight bytes are folded per step (a tag
// stream of 320 MB/s per station must not be limited by its checksum).
struct CrcTables {
  std::array<std::array<std::uint32_t, 256>, 8> t{};
  CrcTables() {
    for (std::uint32_t b = 0; b < 256; ++b) {
      std::uint32_t c = b;
      for (int k = 0; k < 8; ++k) c = (c & 1u) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      t[0][b] = c;
    }
    for (std::size_t k = 1; k < 8; ++k)
      for (std::uint32_t b = 0; b < 256; ++b) t[k][b] = (t[k - 1][b] >> 8) ^ t[0][t[k - 1][b] & 0xFFu];
  }
};
const CrcTables& tables() {
  static const CrcTables tables;
  return tables;
}

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

void write_header(std::uint8_t* h, FrameKind kind, std::uint64_t sequence, std::uint64_t position,
                  std::uint32_t length) {
  put<std::uint32_t>(h, kWireMagic);
  h[4] = kWireVersion;
  h[5] = static_cast<std::uint8_t>(kind);
  put<std::uint16_t>(h + 6, 0);
  put<std::uint64_t>(h + 8, sequence);
  put<std::uint64_t>(h + 16, position);
  put<std::uint32_t>(h + 24, length);
  put<std::uint32_t>(h + kCrcOffset, 0);
}

void seal(std::vector<std::uint8_t>& f) {
  const std::uint32_t c = crc32(f);
  put<std::uint32_t>(f.data() + kCrcOffset, c);
}

struct Header {
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
  if (h[4] != kWireVersion)
    throw WireError("wire version " + std::to_string(h[4]) + " is not supported (this dira speaks version " +
                    std::to_string(kWireVersion) + ")");
  const std::uint8_t kind = h[5];
  if (kind < 1 || kind > 3) throw WireError("unknown frame kind " + std::to_string(kind));
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
  std::uint32_t c = crc32(std::span<const std::uint8_t>(zeroed, kHeaderBytes));
  c = crc32(bytes.subspan(kHeaderBytes), c);
  if (c != get<std::uint32_t>(h + kCrcOffset)) throw WireError("checksum mismatch: the frame was altered");
  return Header{static_cast<FrameKind>(kind), get<std::uint64_t>(h + 8), get<std::uint64_t>(h + 16),
                bytes.subspan(kHeaderBytes)};
}

void check_tags(const hal::Tag* t, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i)
    if (static_cast<std::uint8_t>(t[i].type) > static_cast<std::uint8_t>(hal::TagType::time_mark))
      throw WireError("tag " + std::to_string(i) + " has unknown type " +
                      std::to_string(static_cast<unsigned>(t[i].type)));
}

}  // namespace

std::uint32_t crc32(std::span<const std::uint8_t> bytes, std::uint32_t crc) {
  const auto& t = tables().t;
  std::uint32_t c = ~crc;
  const std::uint8_t* p = bytes.data();
  std::size_t n = bytes.size();
  while (n >= 8) {
    const std::uint32_t lo = get<std::uint32_t>(p) ^ c;
    const std::uint32_t hi = get<std::uint32_t>(p + 4);
    c = t[7][lo & 0xFF] ^ t[6][(lo >> 8) & 0xFF] ^ t[5][(lo >> 16) & 0xFF] ^ t[4][lo >> 24] ^ t[3][hi & 0xFF] ^
        t[2][(hi >> 8) & 0xFF] ^ t[1][(hi >> 16) & 0xFF] ^ t[0][hi >> 24];
    p += 8;
    n -= 8;
  }
  while (n-- > 0) c = t[0][(c ^ *p++) & 0xFFu] ^ (c >> 8);
  return ~c;
}

const char* to_string(FrameKind k) {
  switch (k) {
    case FrameKind::control:
      return "control";
    case FrameKind::tags:
      return "tags";
    case FrameKind::settings:
      return "settings";
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
  f.kind = h.kind;
  f.sequence = h.sequence;
  f.position = h.position;
  switch (h.kind) {
    case FrameKind::control:
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
  if (h.kind != FrameKind::tags) throw WireError(std::string("expected a tag frame, got ") + to_string(h.kind));
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

FrameKind peek_kind(std::span<const std::uint8_t> bytes) {
  if (bytes.size() < kHeaderBytes) throw WireError("frame shorter than its header");
  const std::uint8_t kind = bytes[5];
  if (kind < 1 || kind > 3) throw WireError("unknown frame kind " + std::to_string(kind));
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
