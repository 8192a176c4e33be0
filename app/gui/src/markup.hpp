#pragma once
// Escaping text for Qt rich text (the decision banner) and for SVG export: one function,
// valid in HTML/XML text and in double-quoted attribute values.

#include <string>

namespace dira::gui {

inline std::string escape_markup(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  for (const char c : s) {
    switch (c) {
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '&':
        out += "&amp;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

}  // namespace dira::gui
