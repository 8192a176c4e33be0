#pragma once
// Little-endian loads and stores (PTU files are little-endian whatever the host).

#include <bit>
#include <cstdint>
#include <cstring>

namespace dira::drivers::picoquant::detail {

inline std::uint32_t load_le32(const unsigned char* p) {
  return static_cast<std::uint32_t>(p[0]) | static_cast<std::uint32_t>(p[1]) << 8 |
         static_cast<std::uint32_t>(p[2]) << 16 | static_cast<std::uint32_t>(p[3]) << 24;
}
inline std::uint64_t load_le64(const unsigned char* p) {
  return static_cast<std::uint64_t>(load_le32(p)) | static_cast<std::uint64_t>(load_le32(p + 4)) << 32;
}
inline void store_le32(unsigned char* p, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<unsigned char>(v >> (8 * i));
}
inline void store_le64(unsigned char* p, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<unsigned char>(v >> (8 * i));
}

/// n little-endian words from bytes (a plain copy on little-endian hosts).
inline void load_le32_array(std::uint32_t* dst, const unsigned char* src, std::size_t n) {
  if constexpr (std::endian::native == std::endian::little) {
    if (n != 0) std::memcpy(dst, src, 4 * n);  // dst may be null when n is 0
  } else {
    for (std::size_t i = 0; i < n; ++i) dst[i] = load_le32(src + 4 * i);
  }
}

}  // namespace dira::drivers::picoquant::detail
