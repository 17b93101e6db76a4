// The one live loop of watch, record, top and the exporter:
//   open (BPF load) -> start (seed from /proc, `-- CMD`) -> poll / tick until a
//   stop rule -> drain -> final tick.
// Each command passes only what differs: a callback per tick (a status line, a
// flush, a publish), one after every poll (flight-recorder bundles), or, for
// top, one step per frame.  Nothing here prints.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/aggregator.h"
#include "pipeline/session.h"
#include "pipeline/traced_command.h"
#include "util/result.h"

namespace fdw {

struct LiveOptions {
  SessionOptions session;
  std::vector<std::string> command;  // `-- CMD`: started traced from its first syscall
  double duration_s = 0;             // stop after this long; 0 = no limit
  double interval_s = 1;             // between ticks
  // Stop once every watched process has exited (never true system-wide).
  bool stop_when_targets_exit = true;
  // A stop signal during the BPF load (seconds, uninterruptible) ends the
  // process at once, since nothing has been written yet.  Off for record,
  // whose staged log file must be removed on the way out.
  bool exit_on_signal_while_loading = true;
  // Notes for the user found while tracing (Session::set_note_sink).
  std::function<void(const std::string&)> on_note;
};

// After a stop signal, `-- CMD` gets this long to exit before the loop ends
// (its last records are then in the report).
constexpr uint64_t kCommandGraceNs = 3'000'000'000ull;

class LiveDriver {
 public:
  // Called with the monotonic time; an Error ends the loop (run returns it).
  using Callback = std::function<Result<void>(uint64_t now_ns)>;

  // Loads the BPF side; the aggregator receives every event from start() on.
  static Result<std::unique_ptr<LiveDriver>> open(const LiveOptions& o, Aggregator& agg);

  // Seeds the targets from /proc (the window starts) and starts `-- CMD`.
  Result<void> start();
  // The loop: ticks every interval_s (the session's tick, then on_tick),
  // after_poll after every poll, until --duration, every target exited, or
  // a stop signal (with kCommandGraceNs for `-- CMD`).
  Result<void> run(const Callback& on_tick, const Callback& after_poll = {});
  // One frame of top: polls until wait_s have passed, a stop signal, or
  // wake() (a key), then ticks once.
  Result<void> step(double wait_s, const std::function<bool()>& wake = {});
  // Drains what the ring buffer still holds (unless `drain` is false) and
  // ticks a last time, so rates include the tail.
  void finish(bool drain = true);

  Session& session() { return *session_; }
  // The pid of `-- CMD`, or -1.
  pid_t command_pid() const { return command_.pid; }
  // With `-- CMD`: its exit status (128 + signal when killed or when fdwatch
  // was stopped first); otherwise `rc`.
  int exit_status(int rc) const;

 private:
  LiveDriver(const LiveOptions& o) : opts_(o) {}
  bool stop_rule_met(uint64_t now);

  LiveOptions opts_;
  std::unique_ptr<Session> session_;
  TracedCommand command_;
  uint64_t start_ns_ = 0;
  uint64_t stop_at_ = 0;  // -- CMD: end of the grace period after a stop signal
};

}  // namespace fdw
