// PTU header: preamble, tagged header, required tags (docs/ptu.md §1). Layout from PicoQuant's
// public file-format demos (PicoQuant/PicoQuant-Time-Tagged-File-Format-Demos: doc/apx_tagtypes.html,
// PTU/C/ptudemo.cc, PTU/Python/Read_PTU.py); this is an independent implementation.
#include "dira/drivers/picoquant/ptu.hpp"

#include "ptu_bytes.hpp"

#include <algorithm>
#include <array>
#include <bit>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <istream>

namespace dira::drivers::picoquant {

namespace {

std::string with_offset(std::uint64_t offset, const std::string& message) {
  return "byte offset " + std::to_string(offset) + ": " + message;
}

std::string hex32(std::uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "0x%08llX", static_cast<unsigned long long>(v));
  return buf;
}

/// Printable rendering of raw bytes for messages ("PQTTTR", "GIF89a\x00\x01").
std::string printable(const char* p, std::size_t n) {
  std::string s;
  for (std::size_t i = 0; i < n; ++i) {
    const auto c = static_cast<unsigned char>(p[i]);
    if (c >= 0x20 && c < 0x7F) {
      s += static_cast<char>(c);
    } else {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02X", c);
      s += buf;
    }
  }
  return s;
}

/// Reads exactly n bytes or throws naming where the file ends.
class Input {
 public:
  explicit Input(std::istream& in) : in_(in) {}
  std::uint64_t pos() const { return pos_; }
  void read(void* dst, std::size_t n, const std::string& what) {
    in_.read(static_cast<char*>(dst), static_cast<std::streamsize>(n));
    const auto got = static_cast<std::uint64_t>(in_.gcount());
    if (got != n)
      throw PtuFormatError(pos_ + got, "truncated header: " + what + " needs " + std::to_string(n) +
                                           " bytes from byte " + std::to_string(pos_) + ", the file ends at byte " +
                                           std::to_string(pos_ + got));
    pos_ += n;
  }
  /// Variable-length values are read in chunks, so a corrupt length cannot allocate more than
  /// the file holds.
  std::vector<std::uint8_t> read_bytes(std::uint64_t n, const std::string& what) {
    std::vector<std::uint8_t> out;
    const std::uint64_t start = pos_;
    while (out.size() < n) {
      const std::size_t chunk = static_cast<std::size_t>(std::min<std::uint64_t>(n - out.size(), 1 << 20));
      const std::size_t old = out.size();
      out.resize(old + chunk);
      in_.read(reinterpret_cast<char*>(out.data() + old), static_cast<std::streamsize>(chunk));
      const auto got = static_cast<std::uint64_t>(in_.gcount());
      pos_ += got;
      if (got != chunk)
        throw PtuFormatError(pos_, "truncated header: " + what + " needs " + std::to_string(n) + " bytes from byte " +
                                       std::to_string(start) + ", the file ends at byte " + std::to_string(pos_));
    }
    return out;
  }

 private:
  std::istream& in_;
  std::uint64_t pos_ = 0;
};

void append_utf8(std::string& s, std::uint32_t cp) {
  if (cp < 0x80) {
    s += static_cast<char>(cp);
  } else if (cp < 0x800) {
    s += static_cast<char>(0xC0 | (cp >> 6));
    s += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    s += static_cast<char>(0xE0 | (cp >> 12));
    s += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    s += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    s += static_cast<char>(0xF0 | (cp >> 18));
    s += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    s += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    s += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

/// UTF-16LE up to the first NUL → UTF-8 (unpaired surrogates become U+FFFD).
std::string utf16le_to_utf8(const std::vector<std::uint8_t>& b) {
  std::string s;
  const std::size_t n = b.size() / 2;
  auto unit = [&](std::size_t i) { return static_cast<std::uint32_t>(b[2 * i] | (b[2 * i + 1] << 8)); };
  for (std::size_t i = 0; i < n; ++i) {
    const std::uint32_t u = unit(i);
    if (u == 0) break;
    if (u >= 0xD800 && u < 0xDC00 && i + 1 < n && unit(i + 1) >= 0xDC00 && unit(i + 1) < 0xE000) {
      append_utf8(s, 0x10000 + ((u - 0xD800) << 10) + (unit(i + 1) - 0xDC00));
      ++i;
    } else if (u >= 0xD800 && u < 0xE000) {
      append_utf8(s, 0xFFFD);
    } else {
      append_utf8(s, u);
    }
  }
  return s;
}

/// UTF-8 → UTF-16LE code units (invalid bytes become U+FFFD).
std::vector<std::uint16_t> utf8_to_utf16(const std::string& s) {
  std::vector<std::uint16_t> out;
  std::size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    std::uint32_t cp = 0xFFFD;
    int len = 1;
    if (c < 0x80) {
      cp = c;
    } else if ((c >> 5) == 0x6) {
      len = 2, cp = c & 0x1F;
    } else if ((c >> 4) == 0xE) {
      len = 3, cp = c & 0x0F;
    } else if ((c >> 3) == 0x1E) {
      len = 4, cp = c & 0x07;
    } else {
      len = 0;
    }
    bool ok = len > 0 && i + static_cast<std::size_t>(len) <= s.size();
    for (int k = 1; ok && k < len; ++k) {
      const auto cc = static_cast<unsigned char>(s[i + static_cast<std::size_t>(k)]);
      if ((cc >> 6) != 0x2) ok = false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    if (!ok) {
      cp = 0xFFFD;
      len = 1;
    }
    i += static_cast<std::size_t>(len);
    if (cp >= 0x10000) {
      cp -= 0x10000;
      out.push_back(static_cast<std::uint16_t>(0xD800 + (cp >> 10)));
      out.push_back(static_cast<std::uint16_t>(0xDC00 + (cp & 0x3FF)));
    } else {
      out.push_back(static_cast<std::uint16_t>(cp));
    }
  }
  return out;
}

/// Shortest text that reads back as the same double.
std::string shortest(double v) {
  char buf[64];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, r.ptr);
}

bool known_tag_type(std::uint32_t t) {
  switch (static_cast<HeaderTagType>(t)) {
    case HeaderTagType::empty8:
    case HeaderTagType::bool8:
    case HeaderTagType::int8:
    case HeaderTagType::bitset64:
    case HeaderTagType::color8:
    case HeaderTagType::float8:
    case HeaderTagType::datetime:
    case HeaderTagType::float8_array:
    case HeaderTagType::ansi_string:
    case HeaderTagType::wide_string:
    case HeaderTagType::binary_blob:
      return true;
  }
  return false;
}

bool is_integer_type(HeaderTagType t) {
  return t == HeaderTagType::int8 || t == HeaderTagType::bool8 || t == HeaderTagType::bitset64 ||
         t == HeaderTagType::color8;
}

}  // namespace

PtuFormatError::PtuFormatError(std::uint64_t offset, const std::string& message)
    : std::runtime_error(with_offset(offset, message)), offset_(offset) {}

const std::vector<RecordType>& all_record_types() {
  static const std::vector<RecordType> all{
      RecordType::picoharp_t3,     RecordType::picoharp_t2,     RecordType::hydraharp_v1_t3,
      RecordType::hydraharp_v1_t2, RecordType::hydraharp_v2_t3, RecordType::hydraharp_v2_t2,
      RecordType::timeharp260n_t3, RecordType::timeharp260n_t2, RecordType::timeharp260p_t3,
      RecordType::timeharp260p_t2, RecordType::generic_t3,      RecordType::generic_t2};
  return all;
}

bool is_known_record_type(std::uint64_t code) {
  const auto& all = all_record_types();
  return std::any_of(all.begin(), all.end(), [&](RecordType t) { return static_cast<std::uint64_t>(t) == code; });
}

const char* record_type_name(RecordType type) {
  switch (type) {
    case RecordType::picoharp_t3:
      return "PicoHarp 300 T3";
    case RecordType::picoharp_t2:
      return "PicoHarp 300 T2";
    case RecordType::hydraharp_v1_t3:
      return "HydraHarp V1 T3";
    case RecordType::hydraharp_v1_t2:
      return "HydraHarp V1 T2";
    case RecordType::hydraharp_v2_t3:
      return "HydraHarp V2 T3";
    case RecordType::hydraharp_v2_t2:
      return "HydraHarp V2 T2";
    case RecordType::timeharp260n_t3:
      return "TimeHarp 260 N T3";
    case RecordType::timeharp260n_t2:
      return "TimeHarp 260 N T2";
    case RecordType::timeharp260p_t3:
      return "TimeHarp 260 P T3";
    case RecordType::timeharp260p_t2:
      return "TimeHarp 260 P T2";
    case RecordType::generic_t3:
      return "MultiHarp/generic T3";
    case RecordType::generic_t2:
      return "MultiHarp/generic T2";
  }
  return "unknown";
}

bool is_t2(RecordType type) {
  return ((static_cast<std::uint32_t>(type) >> 8) & 0xFF) == 0x02;
}

bool is_picoharp(RecordType type) {
  return type == RecordType::picoharp_t2 || type == RecordType::picoharp_t3;
}

const char* to_string(HeaderTagType type) {
  switch (type) {
    case HeaderTagType::empty8:
      return "Empty8";
    case HeaderTagType::bool8:
      return "Bool8";
    case HeaderTagType::int8:
      return "Int8";
    case HeaderTagType::bitset64:
      return "BitSet64";
    case HeaderTagType::color8:
      return "Color8";
    case HeaderTagType::float8:
      return "Float8";
    case HeaderTagType::datetime:
      return "TDateTime";
    case HeaderTagType::float8_array:
      return "Float8Array";
    case HeaderTagType::ansi_string:
      return "AnsiString";
    case HeaderTagType::wide_string:
      return "WideString";
    case HeaderTagType::binary_blob:
      return "BinaryBlob";
  }
  return "?";
}

HeaderTag HeaderTag::make_int(std::string ident, std::int64_t v, std::int32_t index) {
  HeaderTag t;
  t.ident = std::move(ident);
  t.index = index;
  t.type = HeaderTagType::int8;
  t.integer = v;
  return t;
}

HeaderTag HeaderTag::make_real(std::string ident, double v, std::int32_t index) {
  HeaderTag t;
  t.ident = std::move(ident);
  t.index = index;
  t.type = HeaderTagType::float8;
  t.real = v;
  return t;
}

HeaderTag HeaderTag::make_string(std::string ident, std::string v, std::int32_t index) {
  HeaderTag t;
  t.ident = std::move(ident);
  t.index = index;
  t.type = HeaderTagType::ansi_string;
  t.text = std::move(v);
  return t;
}

std::string HeaderTag::name() const {
  return index >= 0 ? ident + "(" + std::to_string(index) + ")" : ident;
}

std::string HeaderTag::value_string() const {
  switch (type) {
    case HeaderTagType::empty8:
      return "<empty>";
    case HeaderTagType::bool8:
      return integer ? "true" : "false";
    case HeaderTagType::int8:
      return std::to_string(integer);
    case HeaderTagType::bitset64:
    case HeaderTagType::color8: {
      char buf[24];
      std::snprintf(buf, sizeof buf, "0x%016llX", static_cast<unsigned long long>(integer));
      return buf;
    }
    case HeaderTagType::float8:
      return shortest(real);
    case HeaderTagType::datetime: {
      // TDateTime: days since 1899-12-30 (25569 days before the Unix epoch). Its defined range is
      // 0001-01-01 (-693593) to 9999-12-31 (2958465.99999, Delphi's MinDateTime/MaxDateTime).
      // Outside it the value is no date, and a huge one would overflow the int64 seconds below
      // (UBSan, issue 12: a corrupt tag printed as year 292277026596).
      if (!(real >= -693593.0 && real < 2958466.0)) return "<invalid date: " + shortest(real) + " days>";
      const double secs = (real - 25569.0) * 86400.0;
      const auto t = static_cast<std::int64_t>(std::floor(secs));
      std::int64_t days = t >= 0 ? t / 86400 : (t - 86399) / 86400;
      const std::int64_t sod = t - days * 86400;
      // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
      days += 719468;
      const std::int64_t era = (days >= 0 ? days : days - 146096) / 146097;
      const std::int64_t doe = days - era * 146097;
      const std::int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
      const std::int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
      const std::int64_t mp = (5 * doy + 2) / 153;
      const std::int64_t d = doy - (153 * mp + 2) / 5 + 1;
      const std::int64_t m = mp < 10 ? mp + 3 : mp - 9;
      const std::int64_t y = yoe + era * 400 + (m <= 2 ? 1 : 0);
      char buf[128];
      std::snprintf(buf, sizeof buf, "%04lld-%02lld-%02lldT%02lld:%02lld:%02lldZ", static_cast<long long>(y),
                    static_cast<long long>(m), static_cast<long long>(d), static_cast<long long>(sod / 3600),
                    static_cast<long long>(sod / 60 % 60), static_cast<long long>(sod % 60));
      return buf;
    }
    case HeaderTagType::float8_array: {
      std::string s = "[";
      for (std::size_t i = 0; i < reals.size(); ++i) s += (i ? ", " : "") + shortest(reals[i]);
      return s + "]";
    }
    case HeaderTagType::ansi_string:
    case HeaderTagType::wide_string:
      return text;
    case HeaderTagType::binary_blob:
      return "<" + std::to_string(bytes.size()) + " bytes>";
  }
  return "?";
}

const HeaderTag* PtuHeader::find(std::string_view ident, std::int32_t index) const {
  for (const auto& t : tags)
    if (t.ident == ident && t.index == index) return &t;
  return nullptr;
}

PtuHeader read_header(std::istream& stream, const PtuLimits& limits) {
  Input in(stream);
  std::uint64_t value_bytes = 0;  // variable-length values read so far (bounded by limits.max_header_value_bytes)
  PtuHeader h;
  char magic[8];
  in.read(magic, 8, "the magic (preamble 1)");
  if (std::memcmp(magic, "PQTTTR\0\0", 8) != 0)
    throw PtuFormatError(0, "not a PicoQuant TTTR file: the magic is \"" + printable(magic, 8) +
                                "\", expected \"PQTTTR\" padded with NULs");
  char version[8];
  in.read(version, 8, "the format version (preamble 2)");
  h.version.assign(version, strnlen(version, 8));

  for (;;) {
    const std::uint64_t at = in.pos();
    // Bounded before reading: a file of nothing but tag heads (or a huge stream) must end with an
    // error, not exhaust memory (issue 12).
    if (h.tags.size() >= limits.max_header_tags)
      throw PtuFormatError(at, "more than " + std::to_string(limits.max_header_tags) +
                                   " header tags without Header_End (a real header has a few hundred)");
    std::array<unsigned char, 48> head{};
    in.read(head.data(), head.size(), "the tag head");
    HeaderTag t;
    t.offset = at;
    const char* ident = reinterpret_cast<const char*>(head.data());
    t.ident.assign(ident, strnlen(ident, 32));
    t.index = static_cast<std::int32_t>(detail::load_le32(head.data() + 32));
    const std::uint32_t type = detail::load_le32(head.data() + 36);
    const std::uint64_t value = detail::load_le64(head.data() + 40);
    if (!known_tag_type(type))
      throw PtuFormatError(at + 36, "unknown tag type code " + hex32(type) + " of header tag \"" + t.name() + "\"");
    t.type = static_cast<HeaderTagType>(type);
    switch (t.type) {
      case HeaderTagType::empty8:
        break;
      case HeaderTagType::bool8:
      case HeaderTagType::int8:
      case HeaderTagType::bitset64:
      case HeaderTagType::color8:
        t.integer = static_cast<std::int64_t>(value);
        break;
      case HeaderTagType::float8:
      case HeaderTagType::datetime:
        t.real = std::bit_cast<double>(value);
        break;
      case HeaderTagType::float8_array:
      case HeaderTagType::ansi_string:
      case HeaderTagType::wide_string:
      case HeaderTagType::binary_blob: {
        const auto len = static_cast<std::int64_t>(value);
        const auto max_len = static_cast<std::int64_t>(limits.max_value_bytes);
        if (len < 0 || len > max_len)
          throw PtuFormatError(at + 40, "header tag \"" + t.name() + "\" (" + to_string(t.type) + ") has length " +
                                            std::to_string(len) + " bytes, outside [0, " + std::to_string(max_len) +
                                            "]");
        if (static_cast<std::uint64_t>(len) > limits.max_header_value_bytes - value_bytes)
          throw PtuFormatError(at + 40, "header tag \"" + t.name() + "\" (" + to_string(t.type) + ") of " +
                                            std::to_string(len) + " bytes takes the header's values past " +
                                            std::to_string(limits.max_header_value_bytes) + " bytes in all");
        value_bytes += static_cast<std::uint64_t>(len);
        if (t.type == HeaderTagType::float8_array && len % 8 != 0)
          throw PtuFormatError(at + 40, "header tag \"" + t.name() + "\" (Float8Array) has length " +
                                            std::to_string(len) + ", not a multiple of 8");
        t.integer = len;
        auto bytes = in.read_bytes(static_cast<std::uint64_t>(len), "the value of header tag \"" + t.name() + "\"");
        if (t.type == HeaderTagType::float8_array) {
          t.reals.resize(bytes.size() / 8);
          for (std::size_t i = 0; i < t.reals.size(); ++i)
            t.reals[i] = std::bit_cast<double>(detail::load_le64(bytes.data() + 8 * i));
        } else if (t.type == HeaderTagType::ansi_string) {
          // An empty vector's data() may be null, and strnlen(nullptr, 0) is undefined (UBSan, issue 12).
          if (!bytes.empty()) {
            const auto* p = reinterpret_cast<const char*>(bytes.data());
            t.text.assign(p, strnlen(p, bytes.size()));
          }
        } else if (t.type == HeaderTagType::wide_string) {
          t.text = utf16le_to_utf8(bytes);
        } else {
          t.bytes = std::move(bytes);
        }
        break;
      }
    }
    const bool end = t.ident == "Header_End";
    h.tags.push_back(std::move(t));
    if (end) break;
  }
  h.data_offset = in.pos();

  // What the records need (docs/ptu.md §1).
  const auto need = [&](const char* ident) -> const HeaderTag& {
    const HeaderTag* t = h.find(ident);
    if (!t) throw PtuFormatError(h.data_offset, std::string("the header has no ") + ident + " tag");
    return *t;
  };
  const auto& rt = need("TTResultFormat_TTTRRecType");
  if (!is_integer_type(rt.type))
    throw PtuFormatError(rt.offset + 36,
                         "TTResultFormat_TTTRRecType is a " + std::string(to_string(rt.type)) + ", expected an Int8");
  if (!is_known_record_type(static_cast<std::uint64_t>(rt.integer)))
    throw PtuFormatError(rt.offset + 40, "unknown record type " + hex32(static_cast<std::uint64_t>(rt.integer)) +
                                             " (TTResultFormat_TTTRRecType)");
  h.record_type = static_cast<RecordType>(rt.integer);
  if (const HeaderTag* bits = h.find("TTResultFormat_BitsPerRecord"); bits && bits->integer != 32)
    throw PtuFormatError(bits->offset + 40, "TTResultFormat_BitsPerRecord is " + std::to_string(bits->integer) +
                                                ", the record types read here have 32");
  const auto& n = need("TTResult_NumberOfRecords");
  if (!is_integer_type(n.type) || n.integer < 0)
    throw PtuFormatError(n.offset + 40, "TTResult_NumberOfRecords is not a non-negative Int8");
  h.number_of_records = static_cast<std::uint64_t>(n.integer);
  // Resolutions in seconds; outside [1 fs, 1000 s] no device produced them (and the decoder's
  // fixed-point times would not hold them).
  const auto positive_real = [&](const HeaderTag& t) {
    if (t.type != HeaderTagType::float8 || !(t.real >= 1e-15 && t.real <= 1e3))
      throw PtuFormatError(t.offset + 40, t.ident + " must be a Float8 in [1e-15, 1e3] seconds, found " +
                                              (t.type == HeaderTagType::float8 ? t.value_string() : to_string(t.type)));
    return t.real;
  };
  const HeaderTag& global = need("MeasDesc_GlobalResolution");
  h.global_resolution_s = positive_real(global);
  if (is_t2(h.record_type)) {
    if (const HeaderTag* r = h.find("MeasDesc_Resolution"); r && r->type == HeaderTagType::float8)
      h.resolution_s = r->real;
  } else {
    h.resolution_s = positive_real(need("MeasDesc_Resolution"));
  }
  // The decoder refuses a resolution so coarse that one record's time could pass 2^63 ps; say so
  // here, with the offset, rather than as a bare invalid_argument when the records are read.
  try {
    const RecordDecoder check(h);
  } catch (const std::invalid_argument& e) {
    throw PtuFormatError(global.offset + 40, e.what());
  }
  return h;
}

// ---- writer -----------------------------------------------------------------------------

namespace {

void put_le32(std::ostream& out, std::uint32_t v) {
  unsigned char b[4];
  detail::store_le32(b, v);
  out.write(reinterpret_cast<const char*>(b), 4);
}

void put_le64(std::ostream& out, std::uint64_t v) {
  unsigned char b[8];
  detail::store_le64(b, v);
  out.write(reinterpret_cast<const char*>(b), 8);
}

void put_padded(std::ostream& out, const std::vector<std::uint8_t>& bytes) {
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

/// Pads to a multiple of 8 bytes (apx_tagtypes: tags start on positions divisible by 8).
void pad8(std::vector<std::uint8_t>& b) {
  while (b.size() % 8 != 0) b.push_back(0);
}

void write_tag(std::ostream& out, const HeaderTag& t) {
  if (t.ident.size() >= 32) throw std::invalid_argument("PTU header ident longer than 31 characters: " + t.ident);
  char ident[32] = {};
  std::memcpy(ident, t.ident.data(), t.ident.size());
  out.write(ident, 32);
  put_le32(out, static_cast<std::uint32_t>(t.index));
  put_le32(out, static_cast<std::uint32_t>(t.type));
  std::vector<std::uint8_t> extra;
  switch (t.type) {
    case HeaderTagType::empty8:
      put_le64(out, 0);
      return;
    case HeaderTagType::bool8:
      put_le64(out, t.integer ? 1 : 0);
      return;
    case HeaderTagType::int8:
    case HeaderTagType::bitset64:
    case HeaderTagType::color8:
      put_le64(out, static_cast<std::uint64_t>(t.integer));
      return;
    case HeaderTagType::float8:
    case HeaderTagType::datetime:
      put_le64(out, std::bit_cast<std::uint64_t>(t.real));
      return;
    case HeaderTagType::float8_array:
      extra.resize(8 * t.reals.size());
      for (std::size_t i = 0; i < t.reals.size(); ++i)
        detail::store_le64(&extra[8 * i], std::bit_cast<std::uint64_t>(t.reals[i]));
      break;
    case HeaderTagType::ansi_string:
      extra.assign(t.text.begin(), t.text.end());
      extra.push_back(0);
      pad8(extra);
      break;
    case HeaderTagType::wide_string:
      for (std::uint16_t u : utf8_to_utf16(t.text)) {
        extra.push_back(static_cast<std::uint8_t>(u & 0xFF));
        extra.push_back(static_cast<std::uint8_t>(u >> 8));
      }
      extra.push_back(0);
      extra.push_back(0);
      pad8(extra);
      break;
    case HeaderTagType::binary_blob:
      extra = t.bytes;
      pad8(extra);
      break;
  }
  put_le64(out, extra.size());
  put_padded(out, extra);
}

}  // namespace

void write_header(std::ostream& out, const PtuFileSpec& spec, std::uint64_t records) {
  out.write("PQTTTR\0\0", 8);
  char version[8] = {};
  std::memcpy(version, spec.version.data(), std::min<std::size_t>(spec.version.size(), 7));
  out.write(version, 8);
  const bool t2 = is_t2(spec.record_type);
  std::vector<HeaderTag> tags{
      HeaderTag::make_string("CreatorSW_Name", "dira"),
      HeaderTag::make_int("Measurement_Mode", t2 ? 2 : 3),
      HeaderTag::make_int("TTResultFormat_TTTRRecType", static_cast<std::int64_t>(spec.record_type)),
      HeaderTag::make_int("TTResultFormat_BitsPerRecord", 32),
      HeaderTag::make_real("MeasDesc_GlobalResolution", spec.global_resolution_s),
      HeaderTag::make_real("MeasDesc_Resolution", spec.resolution_s),
      HeaderTag::make_int("TTResult_NumberOfRecords", static_cast<std::int64_t>(records)),
  };
  if (!t2 && spec.global_resolution_s > 0)
    tags.push_back(HeaderTag::make_int("TTResult_SyncRate", std::llround(1.0 / spec.global_resolution_s)));
  for (const auto& t : tags) write_tag(out, t);
  for (const auto& t : spec.extra_tags) write_tag(out, t);
  HeaderTag end;
  end.ident = "Header_End";
  write_tag(out, end);
}

void write_records(std::ostream& out, std::span<const std::uint32_t> records) {
  std::vector<unsigned char> buf;
  constexpr std::size_t kChunk = 1 << 16;
  for (std::size_t i = 0; i < records.size(); i += kChunk) {
    const std::size_t n = std::min(kChunk, records.size() - i);
    buf.resize(4 * n);
    for (std::size_t k = 0; k < n; ++k) detail::store_le32(&buf[4 * k], records[i + k]);
    out.write(reinterpret_cast<const char*>(buf.data()), static_cast<std::streamsize>(buf.size()));
  }
}

void write_ptu(std::ostream& out, const PtuFileSpec& spec, std::span<const PtuEvent> events) {
  const auto records = encode_records(spec.record_type, events);
  write_header(out, spec, records.size());
  write_records(out, records);
}

}  // namespace dira::drivers::picoquant
