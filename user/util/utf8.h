// UTF-8 as RFC 3629 defines it (no overlong forms, no surrogates, nothing
// above U+10FFFF): exactly what the JSON parser accepts.  The one validator of
// the project; the event log, the HTML report and text escaping use it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace fdw {

// One character of a UTF-8 string.
struct Utf8Char {
  uint32_t cp = 0;  // the code point
  size_t len = 0;   // bytes it takes; 0: s[i] does not start a valid sequence
};

// The character starting at s[i] (i < s.size()).
Utf8Char decode_utf8(std::string_view s, size_t i);

bool valid_utf8(std::string_view s);

// The largest n <= `at` that does not split a UTF-8 sequence of the valid
// UTF-8 string s (for cutting escaped text to a width).
size_t utf8_boundary(std::string_view s, size_t at);

}  // namespace fdw
