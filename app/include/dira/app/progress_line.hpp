#pragma once
/// @file
/// The one-line live status of a run as printed by `dira run`, fitted to a terminal width.
/// Parts are dropped from the least to the most important until the line fits, so an
/// operator on an 80-column terminal always sees progress, the test statistic against its
/// threshold and where the run is heading.

#include "dira/app/session.hpp"

#include <cstddef>
#include <string>

namespace dira::app {

/// The status line for `p`, at most `columns` display columns wide (UTF-8 code points;
/// the symbols ± ≤ ≥ → count as one column each).
std::string progress_line(const Progress& p, std::size_t columns);

/// Display width of a UTF-8 string in columns (one per code point; dira prints no wide glyphs).
std::size_t display_width(const std::string& s);

}  // namespace dira::app
