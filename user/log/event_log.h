// The event log: JSON Lines, schema "fdwatch.events.v1" (docs/event-log.md).
// `fdwatch record` writes it with LogWriter (log/writer.h); `fdwatch report`
// replays it with LogReader (log/reader.h) through the same aggregator as live
// tracing, so a log must carry every field of fdw::Event and reading must give
// back exactly what was written.  log/codec.h is the format's one definition.
//
// Nothing here throws: failures are values (Result, LogProblem).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "util/result.h"

namespace fdw {

inline constexpr std::string_view kEventLogSchema = "fdwatch.events.v1";
// Longest line a reader accepts by default, so the longest a writer writes.
// A snapshot of a process with ~300k open fds is about this long.
inline constexpr size_t kMaxLogLineBytes = 16u << 20;
// Type of the closing record a writer ends each file with on a clean stop (or
// rotation): {"type":"end","ts":T,"pid":0,"events":N,"events_total":M,
// "lost":L,"rotated":true}.  It is not an Event; readers report it apart.
inline constexpr std::string_view kEndType = "end";
// Types of the call-stack table records, which are not Events either.  A
// writer defines each frame text and each (stack, site) once per file:
//   {"type":"frame","id":F,"text":"main (leaker.c:8)"}
//   {"type":"stack","id":S,"frames":[F0,F1,...],"site":F}   (innermost first; "site" absent: none)
// before the first event that refers to it with "stack_id":S.  A reader
// fills Event::stack and Event::site from them; a repeated header (rotated
// files concatenated) starts a new table.
inline constexpr std::string_view kFrameType = "frame";
inline constexpr std::string_view kStackType = "stack";

// First line of every log file (and of every rotated file).
struct LogHeader {
  std::string schema = std::string(kEventLogSchema);
  std::string host, kernel, version;
  int64_t boot_time_unix_ns = 0;   // wall clock at boot: unix_ns = boot + ts
  int64_t start_time_unix_ns = 0;  // wall clock when recording started
  uint64_t start_mono_ns = 0;      // CLOCK_MONOTONIC at the same moment
  std::vector<std::string> argv;   // the recording command line
  nlohmann::json extra;            // free-form; omitted from the file when null
};

// A failure of the log code: a message, no hint, exit status 1.
inline Error log_error(std::string message) { return Error{std::move(message), "", 0, 1}; }

// A closing record as read back.
struct LogEnd {
  uint64_t line = 0;          // where it was
  uint64_t ts_ns = 0;
  uint64_t events = 0;        // events in its file
  uint64_t events_total = 0;  // events in all the files of the recording so far
  std::optional<uint64_t> lost;
  bool rotated = false;       // the file ended by rotation; the recording went on
};

// One problem found while reading a log; `line` is 1-based (the header is
// line 1).  The reader skips what the problem spoils and carries on.
struct LogProblem {
  uint64_t line = 0;
  std::string message;  // starts with "line N: "
};

}  // namespace fdw
