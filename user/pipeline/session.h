// A tracing session: the live pipeline under the live driver (pipeline/live.h).
//   Probe (ring buffer) -> decode -> enrich (/proc) -> sink + Aggregator
// with call-stack records handed to the StackResolver (user/stacks/), which
// fills each new fd's stack and site.
// It seeds processes from /proc, turns kernel drop counters into Lost events
// and re-syncs the affected processes from /proc.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "core/aggregator.h"
#include "core/event.h"
#include "probe/decoder.h"
#include "probe/probe.h"
#include "stacks/resolver.h"
#include "sys/proc.h"
#include "util/result.h"

namespace fdw {

struct SessionOptions {
  std::vector<uint32_t> pids;    // watch these (may be empty with all)
  bool all = false;              // system-wide
  bool follow_children = false;
  int poll_ms = 50;              // ring-buffer poll timeout (batched wakeups)
  uint64_t ring_bytes = 0;       // ring-buffer size; 0 = the probe's default (ProbeOptions)
  // Call stacks of new fds (Event::stack/site) for every traced process;
  // set_stacks() overrides it per process.
  bool stacks = false;
  uint32_t stack_bytes = 8192;   // user stack copied per call (<= FDW_USTACK_MAX)
  size_t max_frames = 32;        // frames kept per stack
  std::string cgroup;            // cgroup v2 dir: trace only processes in it and below (kernel filter)
  std::string cgroup_path;       // the same as /proc/PID/cgroup spells it: -a seeds only those
};


class Session {
 public:
  using Sink = std::function<void(const Event&)>;

  // Loads the probe and makes `agg` the consumer; nothing is seeded yet.
  static Result<std::unique_ptr<Session>> open(const SessionOptions& o, Aggregator& agg);

  // Seeds the targets (or every process) from /proc; the window starts now.
  // A pid that does not exist is an error ("no such process: N").
  Result<void> start();
  // Adds a process after start (e.g. `-- CMD` registers its stopped child).
  // about_to_exec: the process is a forked copy of fdwatch waiting to exec, so
  // its close-on-exec fds (fdwatch's own) are left out of its table: exec
  // takes them away and they are not the command's.
  Result<void> add_target(uint32_t pid, bool about_to_exec = false);

  // Turns call stacks on/off for one process (e.g. top's detail view),
  // overriding SessionOptions::stacks; applies to fds created from now on.
  Result<void> set_stacks(uint32_t pid, bool on);

  // Every event that reaches the aggregator also goes to the sink (recorder).
  void set_sink(Sink s) { sink_ = std::move(s); }
  // Notes for the user, said once each (an interpreter whose frames cannot
  // be read); the ones found before the sink was set are given at once.
  void set_note_sink(std::function<void(const std::string&)> n);

  // Drains the ring buffer once (waits up to poll_ms for the first record).
  Result<void> poll();
  // Consumes what the ring buffer holds now, without waiting (at the stop).
  Result<void> drain();
  // Per interval: lost-event accounting, resync, liveness, aggregator tick.
  void tick();

  // True when every watched process has exited (never in system-wide mode).
  bool all_exited() const;
  uint64_t decode_errors() const { return decode_errors_; }
  ProbeStats stats() const { return probe_->stats(); }
  StackStats stack_stats() const;
  // "N call-stack records lost ...; M fds have no call site", or "" when none were.
  std::string stack_note() const;
  // One line per optional kernel feature this kernel lacks: what is lost.
  std::vector<std::string> kernel_notes() const;

 private:
  Session(const SessionOptions& o, Aggregator& agg) : opts_(o), agg_(agg), stacks_(o.max_frames) {}
  void emit(Event e);
  void on_record(const void* data, size_t len);
  void on_event(EventRecord& r);
  void enrich(Event& e);
  void first_sight(uint32_t pid, uint64_t ts);
  // True when pid now names another process than the one we track (its exit
  // was lost and the pid handed out again).
  bool reused(uint32_t pid) const;
  void invent_exit(uint32_t pid, uint64_t ts);
  void identify(uint64_t now);
  void seed(uint32_t pid, uint64_t ts, bool resync, bool drop_cloexec = false);
  void drop_stacks(uint32_t pid, bool exited);
  void apply_python();
  void note(std::string n);
  // Stack memo entries the StackResolver made (or dropped) go to the kernel side.
  void apply_memo();

  SessionOptions opts_;
  Aggregator& agg_;
  std::unique_ptr<Probe> probe_;
  Sink sink_;
  std::function<void(const std::string&)> note_sink_;
  std::vector<std::string> notes_;  // said before note_sink_ was set
  SocketTable sockets_;
  uint64_t t0_ = 0;
  bool started_ = false;
  uint64_t decode_errors_ = 0;
  std::set<uint32_t> watched_;            // -p targets and followed children
  std::set<uint32_t> unidentified_;       // cgroup/ns_pid to read at the next tick
  std::map<uint32_t, uint64_t> resync_ts_;  // drop older events of a re-synced pid
  std::unordered_map<uint32_t, uint64_t> starts_;  // start time of each tracked live pid
  bool uring_untraced_ = false;  // no io_uring tracepoints: io_uring users are inexact
  StackResolver stacks_;  // call stacks -> Event::stack/site
};

}  // namespace fdw
