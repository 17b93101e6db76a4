// The event log: JSON Lines, schema "fdwatch.events.v1" (docs/event-log.md).
// `fdwatch record` writes it with LogWriter; `fdwatch report` replays it with
// LogReader through the same aggregator as live tracing, so a log must carry
// every field of fdw::Event and reading must give back exactly what was written.
//
// Nothing here throws: failures are values (LogStatus, LogError).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/event.h"

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

// Success, or one line saying what failed (no "fdwatch:" prefix; the caller
// adds its own context).
struct [[nodiscard]] LogStatus {
  std::string error;  // empty on success
  bool ok() const { return error.empty(); }
  explicit operator bool() const { return ok(); }
};

// A closing record as read back.
struct LogEnd {
  uint64_t line = 0;          // where it was
  uint64_t ts_ns = 0;
  uint64_t events = 0;        // events in its file
  uint64_t events_total = 0;  // events in all the files of the recording so far
  std::optional<uint64_t> lost;
  bool rotated = false;       // the file ended by rotation; the recording went on
};

// One problem found while reading; `line` is 1-based (the header is line 1).
struct LogError {
  uint64_t line = 0;
  std::string message;  // starts with "line N: "
};

// --- one event <-> one JSON object ------------------------------------------

// Appends the event as one JSON line (with '\n').  This is the format's single
// definition: event_to_json parses its output.  Fields at their Event defaults
// are omitted; strings that are not valid UTF-8 are written as {"hex":"..."}.
// The call stack is written inline ("stack", "site"), as logs before the
// stack table had it; LogWriter writes "stack_id" instead.
void append_event_line(std::string& out, const Event& ev);
void append_header_line(std::string& out, const LogHeader& h);

nlohmann::json event_to_json(const Event& ev);
nlohmann::json header_to_json(const LogHeader& h);

// nullopt (with *err set, when err is given) if `j` is not a valid v1 event:
// unknown type, missing type/ts/pid, a field of the wrong type or out of range,
// an unknown errno name.  Unknown fields are ignored; an unknown kind name reads
// as Kind::Other and an unknown syscall name as 0, so newer logs stay readable.
std::optional<Event> event_from_json(const nlohmann::json& j, std::string* err);

// Reads the header fields; wrong-typed fields are reported in *err (first
// problem only) and left at their defaults.  Fails only on a missing or wrong
// schema.
std::optional<LogHeader> header_from_json(const nlohmann::json& j, std::string* err);

// errno <-> name ("EMFILE"); names of unknown numbers are "".

// --- writer -------------------------------------------------------------------

struct LogWriterOptions {
  std::optional<bool> zstd;     // default: path ends in ".zst"
  uint64_t max_size_bytes = 0;  // rotate when a file reaches this size on disk; 0 = never
  int keep_files = 5;           // rotated files kept: FILE.1 (newest) .. FILE.keep_files
  int zstd_level = 3;
};

struct LogWriterStats {
  uint64_t events = 0;         // events written, all files
  uint64_t bytes = 0;          // bytes written to disk, all files (compressed size for zstd)
  uint64_t json_bytes = 0;     // uncompressed JSON bytes, all files
  uint64_t rotations = 0;
  uint64_t frames = 0;         // frame records written, all files
  uint64_t stacks = 0;         // stack records written, all files
};

// Buffered (one write(2) per ~64 KiB), optionally zstd-compressed, rotating.
// After an error the writer stays failed: every later call returns that error.
class LogWriter {
 public:
  LogWriter();
  ~LogWriter();  // close()s a published log, ignoring errors; removes an unpublished one
  LogWriter(LogWriter&&) noexcept;
  LogWriter& operator=(LogWriter&&) noexcept;
  LogWriter(const LogWriter&) = delete;
  LogWriter& operator=(const LogWriter&) = delete;

  // Starts a new file for `path` (util/private_file.h: mode 0600, staged next
  // to it, a symlink or special file at `path` refused).  Nothing appears at
  // `path` until publish() or close(); a writer destroyed before either
  // removes its file, so a failed start never harms an existing log.
  LogStatus open(const std::string& path, const LogWriterOptions& opts = {});
  // Moves the file into place at `path` (replacing what was there); from now
  // on a reader of `path` sees the log as it is written, rotated files too.
  LogStatus publish();
  // Must come first; remembered and repeated at the top of each rotated file.
  LogStatus write_header(const LogHeader& h);
  // An event whose line would exceed kMaxLogLineBytes is refused (the writer
  // stays usable); any other error is sticky.  Its call stack goes into the
  // file's stack table (kFrameType, kStackType), the event refers to it.
  LogStatus write(const Event& ev);
  // The closing record (kEndType) of a clean stop: the events written and
  // `lost`, the events the session could not see.  Last before close().
  LogStatus write_end(uint64_t ts_ns, uint64_t lost);
  // Hands buffered data to the kernel; for zstd also ends the current block so
  // a reader of the live file can decode everything written so far.
  LogStatus flush();
  // Finishes the zstd frame, publishes and closes the file.  Idempotent.
  // After an error a published file stays as far as it was written.
  LogStatus close();

  bool is_open() const;
  const std::string& path() const;
  LogWriterStats stats() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// --- reader -------------------------------------------------------------------

struct LogReaderOptions {
  // Longest line accepted; longer lines are reported and skipped.
  size_t max_line_bytes = kMaxLogLineBytes;
  size_t max_errors_kept = 1000;  // errors() keeps the first ones; errors_total() counts all
};

// Streams a log (plain or zstd, detected by magic bytes 28 B5 2F FD whatever the
// file name) in memory bounded by the line cap and the file's stack table.  Problems are collected in errors() and the
// reader carries on with the next line; only an unusable header (open fails),
// corrupt zstd data or a read error end the stream early.
class LogReader {
 public:
  LogReader();
  ~LogReader();
  LogReader(LogReader&&) noexcept;
  LogReader& operator=(LogReader&&) noexcept;
  LogReader(const LogReader&) = delete;
  LogReader& operator=(const LogReader&) = delete;

  // Opens the file and reads line 1.  Fails if the file cannot be read or line 1
  // is not an fdwatch.events.v1 header ("line 1: not an fdwatch event log (...)",
  // also recorded in errors()).
  LogStatus open(const std::string& path, const LogReaderOptions& opts = {});
  const LogHeader& header() const;
  // Next valid event; false at the end of the stream (or after a fatal error).
  bool next(Event& ev);

  const std::vector<LogError>& errors() const;
  uint64_t errors_total() const;
  uint64_t lines() const;            // lines read so far, header included
  uint64_t events() const;           // events returned by next()
  uint64_t skipped_unknown() const;  // well-formed lines of an unknown type
  uint64_t stacks_defined() const;   // stack records accepted, all files
  // The closing record, when it is the last record read so far (the stream
  // is complete once next() has returned false); nullopt: the log was cut
  // (killed recorder, full disk) or is still being written.
  const std::optional<LogEnd>& end() const;
  bool compressed() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace fdw
