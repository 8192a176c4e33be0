#pragma once
/// @file yaml_edit.hpp
/// Line-level edits of experiment YAML for the GUI's parameter fields. The file the operator
/// wrote (comments, order, layout) is kept: only the scalar of one key is rewritten, so the
/// text saved and copied into the run directory stays recognisably theirs.

#include <optional>
#include <string>
#include <string_view>

namespace dira::gui {

/// The scalar value of `key_path` ("protocol.mu1") in block-style YAML, without its trailing
/// comment; nullopt when the key is absent or holds a block (nested mapping).
std::optional<std::string> yaml_scalar(std::string_view text, std::string_view key_path);

/// 1-based line of `key_path`, or 0 when the key is absent.
int yaml_key_line(std::string_view text, std::string_view key_path);

/// `text` with the scalar of `key_path` replaced by `value` (already YAML: quote strings that
/// need it), keeping the line's comment. A missing key is added at the end of its parent
/// mapping; missing parents are created at the end of the document.
std::string yaml_set_scalar(std::string_view text, std::string_view key_path, std::string_view value);

/// `text` without the line(s) of `key_path` (a scalar key); unchanged when absent.
std::string yaml_remove_key(std::string_view text, std::string_view key_path);

/// A value as YAML text: numbers and plain words as they are, anything else double-quoted.
std::string yaml_quote(std::string_view value);

}  // namespace dira::gui
