#pragma once
/// @file document.hpp
/// Reading a configuration file and parsing it as one YAML document, refusing what yaml-cpp
/// accepts silently (duplicate keys, complex keys) and what would exhaust memory (unbounded
/// input such as /dev/zero) before any value is read.

#include "dira/conf/issue.hpp"

#include <yaml-cpp/yaml.h>

#include <cstddef>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace dira::conf {

/// Largest configuration file dira reads (the shipped ones are a few kB).
inline constexpr std::size_t kMaxConfigBytes = std::size_t{16} << 20;

/// The bytes of a configuration file, at most `max_bytes`. Throws ConfigError naming the file
/// and saying exactly what is wrong, with the OS's reason where there is one: cannot be opened,
/// a directory, empty, binary (a NUL byte), or larger than `max_bytes` (read stops there, so a
/// device like /dev/zero costs at most `max_bytes` of memory).
std::string read_config_file(const std::filesystem::path& path, std::size_t max_bytes = kMaxConfigBytes);

/// Parses `text` (from `file`) as one YAML document. A syntax error or binary text throws
/// ConfigError at once (nothing else can be read); duplicate keys, complex (non-scalar) keys,
/// and nesting or alias expansion beyond sane limits are appended to `issues` with their
/// position, and the caller goes on reading the rest so one run reports every problem.
YAML::Node parse_document(std::string_view text, const std::string& file, std::vector<ConfigIssue>& issues);

/// Levenshtein distance (insertions, deletions, substitutions), for "did you mean".
std::size_t edit_distance(std::string_view a, std::string_view b);

/// The candidate nearest to `word` if it is near enough to be a likely misspelling (distance
/// ≤ max(2, |word|/3), or equal ignoring case); empty otherwise.
std::string nearest(std::string_view word, const std::vector<std::string>& candidates);

}  // namespace dira::conf
