// Reads an event log (log/event_log.h), plain or zstd, in memory bounded by
// the line cap and the file's stack table.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/event.h"
#include "log/event_log.h"
#include "util/result.h"

namespace fdw {

struct LogReaderOptions {
  // Longest line accepted; longer lines are reported and skipped.
  size_t max_line_bytes = kMaxLogLineBytes;
  size_t max_problems_kept = 1000;  // problems() keeps the first ones; problems_total() counts all
};

// A line that cannot be used (malformed JSON, a bad field, a dangling stack
// reference, a cut last line) is a LogProblem: it is listed under its line
// number and reading goes on with the next line.  Lines of an unknown type
// are skipped and counted (newer logs stay readable).  Only an unusable
// header (open fails), corrupt zstd data or a read error end the stream early.
class LogReader {
 public:
  LogReader();
  ~LogReader();
  LogReader(LogReader&&) noexcept;
  LogReader& operator=(LogReader&&) noexcept;
  LogReader(const LogReader&) = delete;
  LogReader& operator=(const LogReader&) = delete;

  // Opens the file and reads line 1.  An Error if the file cannot be read or
  // line 1 is not an fdwatch.events.v1 header ("line 1: not an fdwatch event
  // log (...)", then also the one problem listed).
  Result<void> open(const std::string& path, const LogReaderOptions& opts = {});
  const LogHeader& header() const;
  // The next valid event; nullopt at the end of the stream.  An Error when
  // the stream stopped early (read error, corrupt zstd data): it is also the
  // last problem listed, and the events before it are good.
  Result<std::optional<Event>> next();

  const std::vector<LogProblem>& problems() const;
  uint64_t problems_total() const;
  uint64_t lines() const;            // lines read so far, header included
  uint64_t events() const;           // events returned by next()
  uint64_t skipped_unknown() const;  // well-formed lines of an unknown type
  uint64_t stacks_defined() const;   // stack records accepted, all files
  // The closing record, when it is the last record read so far (the stream
  // is complete once next() has returned nullopt); nullopt: the log was cut
  // (killed recorder, full disk) or is still being written.
  const std::optional<LogEnd>& end() const;
  bool compressed() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace fdw
