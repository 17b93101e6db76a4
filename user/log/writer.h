// Writes an event log (log/event_log.h): buffered, optionally zstd-compressed,
// rotating, with the call-stack table of each file.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "core/event.h"
#include "log/event_log.h"
#include "util/result.h"

namespace fdw {

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

// Buffered (one write(2) per ~64 KiB).  After an error the writer stays
// failed: every later call returns that error.
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
  Result<void> open(const std::string& path, const LogWriterOptions& opts = {});
  // Moves the file into place at `path` (replacing what was there); from now
  // on a reader of `path` sees the log as it is written, rotated files too.
  Result<void> publish();
  // Must come first; remembered and repeated at the top of each rotated file.
  Result<void> write_header(const LogHeader& h);
  // An event whose line would exceed kMaxLogLineBytes is refused (the writer
  // stays usable); any other error is sticky.  Its call stack goes into the
  // file's stack table (kFrameType, kStackType), the event refers to it.
  Result<void> write(const Event& ev);
  // The closing record (kEndType) of a clean stop: the events written and
  // `lost`, the events the session could not see.  Last before close().
  Result<void> write_end(uint64_t ts_ns, uint64_t lost);
  // Hands buffered data to the kernel; for zstd also ends the current block so
  // a reader of the live file can decode everything written so far.
  Result<void> flush();
  // Finishes the zstd frame, publishes and closes the file.  Idempotent.
  // After an error a published file stays as far as it was written.
  Result<void> close();

  const std::string& path() const;
  LogWriterStats stats() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace fdw
