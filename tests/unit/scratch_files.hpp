#pragma once
// Small file helpers shared by the tests that run whole experiments: a fresh scratch directory
// per test and process, a file's bytes, and bit k of a byte string read most significant bit
// first (the order weak-source files and sv_bits.bin use, docs/run-file.md).
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace dira::test {

/// An empty directory under the system's temporary directory, unique to `prefix`, `name` and
/// this process.
inline std::filesystem::path scratch_directory(const std::string& prefix, const std::string& name) {
  auto d =
      std::filesystem::temp_directory_path() / ("dira-test-" + prefix + "-" + name + "-" + std::to_string(::getpid()));
  std::filesystem::remove_all(d);
  std::filesystem::create_directories(d);
  return d;
}

inline std::string read_all(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream os;
  os << in.rdbuf();
  return os.str();
}

/// Bit k of `bytes`, most significant bit of each byte first.
inline bool bit_of(const std::string& bytes, std::uint64_t k) {
  return ((static_cast<unsigned char>(bytes[static_cast<std::size_t>(k / 8)]) >> (7 - k % 8)) & 1u) != 0;
}

}  // namespace dira::test
