// The one escaping rule for text that a traced process chose (its comm, the
// paths it opens, socket addresses, symbol and file names from its binaries,
// runtime frame names read from its memory, cgroup and container names) on
// its way to a terminal, a text report or a log line.
//
// escape_text keeps printable ASCII and valid UTF-8 as they are and spells
// everything else as backslash escapes, so nothing a process chooses can move
// the cursor, retitle the terminal, recolor it, or start a line that looks
// like fdwatch's own:
//   \\        a backslash (so every escape below reads back one way)
//   \n \r \t  newline, carriage return, tab
//   \xHH      (two lowercase hex digits) every other byte of: a C0 control
//             (0x00-0x1f), DEL (0x7f), a UTF-8 encoded C1 control
//             (U+0080-U+009F, which some terminals obey as ESC sequences:
//             "\xc2\x9b"), a line or paragraph separator or bidirectional
//             override (U+2028-U+202E, U+2066-U+2069: "\xe2\x80\xae"), and
//             any byte that is not part of valid UTF-8 (RFC 3629: no
//             overlongs, no surrogates, nothing above U+10FFFF).
// The result is valid UTF-8 without control characters.  JSON and the event
// log do not use this: they keep the exact bytes (as JSON escapes).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace fdw {

std::string escape_text(std::string_view s);

// Valid UTF-8 as it is (controls too); each byte that is not part of it as
// \xHH.  For formats that carry any UTF-8 but nothing else (Prometheus label
// values, which the exposition escapes further).
std::string escape_invalid_utf8(std::string_view s);

}  // namespace fdw
