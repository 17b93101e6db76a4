#include "util/escape.h"

namespace fdw {

size_t utf8_sequence(std::string_view s, size_t i, uint32_t* cp) {
  auto p = reinterpret_cast<const unsigned char*>(s.data());
  unsigned c = p[i];
  if (c < 0x80) return *cp = c, 1;
  size_t len;
  uint32_t v, min;
  if ((c & 0xE0) == 0xC0) len = 2, v = c & 0x1F, min = 0x80;
  else if ((c & 0xF0) == 0xE0) len = 3, v = c & 0x0F, min = 0x800;
  else if ((c & 0xF8) == 0xF0) len = 4, v = c & 0x07, min = 0x10000;
  else return 0;
  if (s.size() - i < len) return 0;
  for (size_t k = 1; k < len; ++k) {
    if ((p[i + k] & 0xC0) != 0x80) return 0;
    v = (v << 6) | (p[i + k] & 0x3F);
  }
  if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) return 0;
  return *cp = v, len;
}

size_t utf8_boundary(std::string_view s, size_t at) {
  if (at >= s.size()) return s.size();
  while (at > 0 && (static_cast<unsigned char>(s[at]) & 0xC0) == 0x80) --at;
  return at;
}

namespace {

// Code points shown as their bytes' escapes although they are valid UTF-8.
bool escaped_code_point(uint32_t cp) {
  return cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp <= 0x9f) || (cp >= 0x2028 && cp <= 0x202e) ||
         (cp >= 0x2066 && cp <= 0x2069);
}

void append_byte_escape(std::string& out, unsigned char c) {
  static constexpr char kHex[] = "0123456789abcdef";
  switch (c) {
    case '\n': out += "\\n"; return;
    case '\r': out += "\\r"; return;
    case '\t': out += "\\t"; return;
    default: out += {'\\', 'x', kHex[c >> 4], kHex[c & 15]};
  }
}

// all: escape_text's rule; otherwise only bytes outside valid UTF-8.
std::string escape(std::string_view s, bool all) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    uint32_t cp = 0;
    const size_t len = utf8_sequence(s, i, &cp);
    if (len == 0) {
      append_byte_escape(out, static_cast<unsigned char>(s[i++]));
      continue;
    }
    if (!all || (cp != '\\' && !escaped_code_point(cp))) out.append(s, i, len);
    else if (cp == '\\') out += "\\\\";
    else
      for (size_t k = 0; k < len; ++k) append_byte_escape(out, static_cast<unsigned char>(s[i + k]));
    i += len;
  }
  return out;
}

}  // namespace

std::string escape_text(std::string_view s) { return escape(s, true); }

std::string escape_invalid_utf8(std::string_view s) { return escape(s, false); }

}  // namespace fdw
