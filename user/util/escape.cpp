#include "util/escape.h"

#include "util/utf8.h"

namespace fdw {

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
    const Utf8Char u = decode_utf8(s, i);
    const uint32_t cp = u.cp;
    const size_t len = u.len;
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
