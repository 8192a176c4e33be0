#include "dira/gui/yaml_edit.hpp"

#include <cctype>
#include <vector>

namespace dira::gui {

namespace {

struct KeyLine {
  std::size_t line = 0;  // 0-based
  std::size_t indent = 0;
  std::string path;
  std::size_t value_begin = 0, value_end = 0;  // columns of the scalar (without comment)
};

struct Parsed {
  std::vector<std::string> lines;
  std::vector<KeyLine> keys;
  bool trailing_newline = false;
};

// Only what experiment files use: block mappings of plain keys, flow values, comments.
// Lines that are not "key:" (list items, continuation) belong to the block above them.
Parsed parse(std::string_view text) {
  Parsed p;
  std::size_t start = 0;
  while (start <= text.size()) {
    const auto nl = text.find('\n', start);
    if (nl == std::string_view::npos) {
      if (start < text.size()) p.lines.emplace_back(text.substr(start));
      break;
    }
    p.lines.emplace_back(text.substr(start, nl - start));
    start = nl + 1;
  }
  p.trailing_newline = !text.empty() && text.back() == '\n';
  std::vector<std::pair<std::size_t, std::string>> stack;  // (indent, key)
  for (std::size_t i = 0; i < p.lines.size(); ++i) {
    const std::string& l = p.lines[i];
    std::size_t ind = 0;
    while (ind < l.size() && l[ind] == ' ') ++ind;
    if (ind == l.size() || l[ind] == '#') continue;
    std::size_t k = ind;
    while (k < l.size() && (std::isalnum(static_cast<unsigned char>(l[k])) || l[k] == '_' || l[k] == '-')) ++k;
    if (k == ind || k >= l.size() || l[k] != ':' || (k + 1 < l.size() && l[k + 1] != ' ' && l[k + 1] != '\t')) continue;
    if (l[ind] == '-') continue;  // a list item, not a key
    while (!stack.empty() && stack.back().first >= ind) stack.pop_back();
    KeyLine kl;
    kl.line = i;
    kl.indent = ind;
    for (const auto& s : stack) kl.path += s.second + ".";
    kl.path += l.substr(ind, k - ind);
    stack.emplace_back(ind, l.substr(ind, k - ind));
    std::size_t vb = k + 1;
    while (vb < l.size() && (l[vb] == ' ' || l[vb] == '\t')) ++vb;
    // The comment starts at a '#' preceded by whitespace and outside quotes.
    std::size_t ve = l.size();
    char quote = 0;
    for (std::size_t j = vb; j < l.size(); ++j) {
      const char c = l[j];
      if (quote) {
        if (c == quote) quote = 0;
      } else if (c == '"' || c == '\'') {
        quote = c;
      } else if (c == '#' && (j == vb || l[j - 1] == ' ' || l[j - 1] == '\t')) {
        ve = j;
        break;
      }
    }
    while (ve > vb && (l[ve - 1] == ' ' || l[ve - 1] == '\t')) --ve;
    kl.value_begin = vb;
    kl.value_end = ve;
    p.keys.push_back(kl);
  }
  return p;
}

const KeyLine* find(const Parsed& p, std::string_view path) {
  for (const auto& k : p.keys)
    if (k.path == path) return &k;
  return nullptr;
}

// Last line (0-based) that belongs to the block opened by `k`.
std::size_t block_end(const Parsed& p, const KeyLine& k) {
  std::size_t last = k.line;
  for (const auto& o : p.keys) {
    if (o.line <= k.line) continue;
    if (o.indent <= k.indent) break;
    last = o.line;
  }
  // Non-key content (list items) indented under the block also belongs to it.
  for (std::size_t i = last + 1; i < p.lines.size(); ++i) {
    const std::string& l = p.lines[i];
    std::size_t ind = 0;
    while (ind < l.size() && l[ind] == ' ') ++ind;
    if (ind == l.size() || l[ind] == '#') continue;
    if (ind <= k.indent) break;
    last = i;
  }
  return last;
}

std::string join(const Parsed& p) {
  std::string out;
  for (std::size_t i = 0; i < p.lines.size(); ++i) {
    out += p.lines[i];
    if (i + 1 < p.lines.size() || p.trailing_newline) out += '\n';
  }
  return out;
}

}  // namespace

std::optional<std::string> yaml_scalar(std::string_view text, std::string_view key_path) {
  const Parsed p = parse(text);
  const KeyLine* k = find(p, key_path);
  if (!k || k->value_begin >= k->value_end) return std::nullopt;
  std::string v = p.lines[k->line].substr(k->value_begin, k->value_end - k->value_begin);
  if (v.size() >= 2 && (v.front() == '"' || v.front() == '\'') && v.back() == v.front()) v = v.substr(1, v.size() - 2);
  return v;
}

int yaml_key_line(std::string_view text, std::string_view key_path) {
  const Parsed p = parse(text);
  const KeyLine* k = find(p, key_path);
  return k ? static_cast<int>(k->line) + 1 : 0;
}

std::string yaml_set_scalar(std::string_view text, std::string_view key_path, std::string_view value) {
  Parsed p = parse(text);
  if (const KeyLine* k = find(p, key_path)) {
    std::string& l = p.lines[k->line];
    if (k->value_begin == k->value_end && block_end(p, *k) != k->line) return std::string(text);  // a mapping
    std::string prefix = l.substr(0, k->value_begin);
    std::string rest = l.substr(k->value_end);
    if (!prefix.empty() && prefix.back() == ':') prefix += ' ';
    // A value written into an empty key needs room before its comment.
    if (!rest.empty() && rest.front() == '#') rest = "  " + rest;
    l = prefix + std::string(value) + rest;
    return join(p);
  }
  const auto dot = key_path.rfind('.');
  const std::string parent(dot == std::string_view::npos ? std::string_view{} : key_path.substr(0, dot));
  const std::string leaf(dot == std::string_view::npos ? key_path : key_path.substr(dot + 1));
  if (parent.empty()) {
    p.lines.push_back(leaf + ": " + std::string(value));
    p.trailing_newline = true;
    return join(p);
  }
  const KeyLine* pk = find(p, parent);
  if (!pk) {
    // Create the parent (recursively) as an empty mapping, then add the key under it.
    std::string with_parent = yaml_set_scalar(text, parent, "");
    if (find(parse(with_parent), parent) == nullptr) return std::string(text);
    return yaml_set_scalar(with_parent, key_path, value);
  }
  std::size_t child_indent = pk->indent + 2;
  for (const auto& o : p.keys)
    if (o.line > pk->line && o.indent > pk->indent) {
      child_indent = o.indent;
      break;
    }
  const std::size_t at = block_end(p, *pk) + 1;
  p.lines.insert(p.lines.begin() + static_cast<std::ptrdiff_t>(at),
                 std::string(child_indent, ' ') + leaf + ": " + std::string(value));
  if (at == p.lines.size() - 1) p.trailing_newline = true;
  return join(p);
}

std::string yaml_remove_key(std::string_view text, std::string_view key_path) {
  Parsed p = parse(text);
  const KeyLine* k = find(p, key_path);
  if (!k) return std::string(text);
  const std::size_t first = k->line, last = block_end(p, *k);
  p.lines.erase(p.lines.begin() + static_cast<std::ptrdiff_t>(first),
                p.lines.begin() + static_cast<std::ptrdiff_t>(last + 1));
  return join(p);
}

std::string yaml_quote(std::string_view value) {
  bool plain = !value.empty();
  for (const char c : value)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.' || c == '+' || c == '/'))
      plain = false;
  if (plain) return std::string(value);
  std::string out = "\"";
  for (const char c : value) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

}  // namespace dira::gui
