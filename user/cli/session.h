// A tracing session: the live pipeline shared by watch, top and record.
//   Probe (ring buffer) -> decode -> enrich (/proc) -> sink + Aggregator
// It seeds processes from /proc, turns kernel drop counters into Lost events
// and re-syncs the affected processes from /proc.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/aggregator.h"
#include "core/event.h"
#include "probe/decoder.h"
#include "probe/probe.h"
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
};

struct StackStats {
  uint64_t captured = 0;   // USTACK records submitted by the kernel side
  uint64_t lost = 0;       // USTACK/UMAP records lost (ring buffer full)
  uint64_t unwound = 0;    // fd events that got a non-empty stack
  uint64_t unpaired = 0;   // fd events whose USTACK record never arrived
  uint64_t reused = 0;     // of `unwound`, taken from an identical earlier sample
};

// Symbolized frames as Event::stack/site want them: file paths shortened to
// their basename; the site is the innermost frame outside the C/C++ runtime
// (libc, ld.so, vDSO, libpthread, libstdc++, libgcc_s), else the innermost
// named frame, else "".
std::vector<std::string> stack_texts(const std::vector<Frame>& frames);
std::string stack_site(const std::vector<Frame>& frames);
bool runtime_module(const std::string& module);

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

  // Drains the ring buffer once (waits up to poll_ms for the first record).
  Result<void> poll();
  // Per interval: lost-event accounting, resync, liveness, aggregator tick.
  void tick();

  // True when every watched process has exited (never in system-wide mode).
  bool all_exited() const;
  uint64_t decode_errors() const { return decode_errors_; }
  ProbeStats stats() const { return probe_->stats(); }
  StackStats stack_stats() const;
  const std::vector<std::string>& skipped_syscalls() const { return probe_->skipped(); }

 private:
  // A USTACK record, unwound and symbolized as soon as it arrives (its stack
  // bytes are only valid in the ring buffer) and kept for its fd event.
  struct Resolved {
    std::vector<std::string> stack;
    std::string site;
  };

  Session(const SessionOptions& o, Aggregator& agg) : opts_(o), agg_(agg) {}
  void emit(Event e);
  void on_record(const void* data, size_t len);
  void enrich(Event& e);
  void first_sight(uint32_t pid, uint64_t ts);
  void identify(uint64_t now);
  void seed(uint32_t pid, uint64_t ts, bool resync, bool drop_cloexec = false);
  // Call stacks: side-channel records, pairing, unwinding, per-process cleanup.
  void warm_symbolizer();
  bool on_stack_record(const void* data, size_t len);
  std::shared_ptr<const Resolved> resolve(const UStackView& u);
  void attach_stack(Event& e, int32_t key);
  void drop_stacks(uint32_t pid, bool exited);

  SessionOptions opts_;
  Aggregator& agg_;
  std::unique_ptr<Probe> probe_;
  Sink sink_;
  SocketTable sockets_;
  uint64_t t0_ = 0;
  bool started_ = false;
  uint64_t decode_errors_ = 0;
  std::set<uint32_t> watched_;            // -p targets and followed children
  std::set<uint32_t> unidentified_;       // cgroup/ns_pid to read at the next tick
  std::map<uint32_t, uint64_t> resync_ts_;  // drop older events of a re-synced pid
  bool uring_untraced_ = false;  // no io_uring tracepoints: io_uring users are inexact
  std::unique_ptr<Symbolizer> sym_;               // made at the first stack
  struct Pending {
    uint32_t pid = 0;
    int32_t key = -1;
    std::shared_ptr<const Resolved> res;  // null: nothing could be unwound
  };
  std::unordered_map<uint32_t, Pending> pending_;  // tid -> its last USTACK
  // The UMAP records of a process image, as sym_ should know them.
  struct Maps {
    std::map<uint64_t, UMap> all;  // by start address; a newer overlapping one replaces
    std::string fresh;             // maps lines sym_ has not been given yet
    bool rebuild = false;          // something was replaced: give sym_ `all` anew
  };
  std::unordered_map<uint32_t, Maps> maps_;  // by pid
  void add_umap(UMap m);
  uint64_t stacks_unwound_ = 0, stacks_unpaired_ = 0, stacks_reused_ = 0;
  std::set<uint32_t> stack_state_;  // pids with per-process stack state in the kernel

  // Unwinding memo.  A loop that leaks from one place gives samples with the
  // same ip, sp and frame pointer and the same return addresses in the same
  // stack slots; those unwind alike, so the texts are reused once the slots
  // match.
  struct MemoKey {
    uint64_t ip, sp, fp_off;  // fp_off: rbp - sp, or ~0 when rbp is not in the copy
    bool operator==(const MemoKey&) const = default;
  };
  struct MemoHash {
    size_t operator()(const MemoKey& k) const {
      return std::hash<uint64_t>()(k.ip * 0x9e3779b97f4a7c15ull ^ k.sp ^ (k.fp_off << 17));
    }
  };
  struct Memo {
    std::vector<std::pair<uint32_t, uint64_t>> slots;  // (offset from sp, return address)
    std::shared_ptr<const Resolved> res;
  };
  std::unordered_map<uint32_t, std::unordered_map<MemoKey, Memo, MemoHash>> memo_;  // by pid
};

}  // namespace fdw
