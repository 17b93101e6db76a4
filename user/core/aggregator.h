// The aggregator: events in, state out.  Pure: no syscalls, no clock reads —
// time comes only from event timestamps and tick()/snapshot() arguments, so
// live tracing, log replay and unit tests drive the very same code.
//
// Per process it keeps the live fd table (seeded by Snapshot events, then
// maintained by every fd-lifecycle event), window counts, failures by errno,
// the soft RLIMIT_NOFILE and a robust growth estimate.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/container.h"
#include "core/event.h"
#include "core/intern.h"
#include "core/rate.h"
#include "core/snapshot.h"
#include "core/suspects.h"

namespace fdw {

struct AggOptions {
  // Exited processes are dropped this long after their exit (top); a
  // negative value keeps them for the final report (watch, replay).
  double exited_ttl_s = -1;
  // Growth slope below this (fds/s) does not count as growing (no ETA).
  double min_growth_per_s = 0.05;
  // A process's net rate is known once its samples span this long and are
  // at least this many (ticks and changes); before that it is unknown.
  double min_rate_window_s = 2.0;
  size_t min_rate_samples = 4;
  // Exited processes keep the fds they left open and their sites' growth,
  // for the report; without, only their counters stay (the exporter).
  bool exit_detail = true;
};

struct SnapshotOptions {
  bool with_fds = true;        // fill ProcView::fds / leaked_at_exit
  bool only_exited_or_open = false;
  std::optional<uint32_t> pid; // only this process
};

// One open fd.  Text and the stack are shared with the entries that name the
// same ones (interned by the aggregator): a leak of thousands of fds from one
// site holds one copy of its site, stack and, usually, target.
struct FdEntry {
  Kind kind = Kind::Other;
  bool cloexec = false;
  bool seeded = false;     // open before the window (from /proc)
  bool inherited = false;  // came from the parent at fork
  uint64_t opened_ns = 0;
  Text target;
  Text site;               // innermost application frame, "" if unknown
  Frames stack;            // creating call stack
};

using FdTable = std::map<int, FdEntry>;

class Aggregator {
 public:
  explicit Aggregator(AggOptions opts = {});

  // The window starts here; events before it are not counted.
  void set_window_start(uint64_t ts_ns);
  uint64_t window_start() const { return start_ns_; }

  void apply(const Event& e);
  // Periodic bookkeeping at `now`: per-interval rates, growth samples, expiry.
  void tick(uint64_t now_ns);
  void set_lost_events(uint64_t total) { lost_events_ = total; }
  uint64_t lost_events() const { return lost_events_; }
  void set_kernel(KernelInfo k) { kernel_ = std::move(k); }

  Snapshot snapshot(uint64_t now_ns, const SnapshotOptions& o = {}) const;

  // Introspection for the enricher/CLI (no copies).
  bool knows(uint32_t pid) const { return procs_.count(pid) != 0; }
  bool exited(uint32_t pid) const;
  bool inexact(uint32_t pid) const;
  std::string comm(uint32_t pid) const;
  const FdTable* table(uint32_t pid) const;
  size_t process_count() const { return procs_.size(); }
  std::vector<uint32_t> inexact_live_pids() const;

 private:
  struct Proc {
    uint32_t pid = 0;
    uint32_t ppid = 0;
    uint32_t uid = UINT32_MAX;
    std::string comm;
    std::string cgroup;
    ContainerRef container;  // parsed from cgroup
    uint32_t ns_pid = 0;
    std::shared_ptr<FdTable> table = std::make_shared<FdTable>();
    uint64_t opened = 0, closed = 0;
    std::map<int, uint64_t> failed;  // errno -> count
    std::map<uint16_t, uint64_t> calls;  // Event::sys -> traced calls (ok or failed)
    std::optional<uint64_t> rlimit;
    bool exited = false, inexact = false;
    std::string inexact_reason;  // the first cause, a kInexact* name
    std::optional<int> exit_code;
    uint64_t first_ns = 0, exit_ns = 0;
    uint64_t open_at_exit = 0;
    std::vector<std::pair<int, FdEntry>> leaked_at_exit;
    SlopeEstimator growth;
    uint64_t tick_opened = 0, tick_closed = 0;  // counts at the previous tick
    double open_per_s = 0, close_per_s = 0;
    // Per (call site, kind) of fds opened in the window (site "": without a
    // stack): how many are open and the robust slope of that count, kept
    // after exit for the verdict of the fds open at exit.  Quiet stretches
    // are filled with one sample per bucket, so a burst long ago does not
    // outweigh the flat time since.  A table shared with another process
    // (CLONE_FILES) counts only this one's changes.
    struct SiteGrowth {
      int64_t open = 0;
      SlopeEstimator growth;
      uint64_t last_ns = 0;  // time of the last sample
      bool sampled = false;
      int64_t last = 0;      // value of the last sample
    };
    std::map<std::pair<std::string, int>, SiteGrowth> sites;
  };

  // One handler per event type; apply() only dispatches.
  void on_snapshot(const Event& e);
  void on_comm(const Event& e);
  void on_limit(const Event& e);
  void on_lost(const Event& e);
  void on_fork(const Event& e);
  void on_exec(const Event& e);
  void on_exit(const Event& e);
  // Calls on a process's fd table go through on_call, which counts them.
  using FdChange = void (Aggregator::*)(Proc& p, const Event& e);
  void on_call(const Event& e, FdChange change);
  void on_open(Proc& p, const Event& e);
  void on_dup(Proc& p, const Event& e);
  void on_close(Proc& p, const Event& e);
  void on_close_range(Proc& p, const Event& e);
  void on_cloexec(Proc& p, const Event& e);
  void on_sockaddr(Proc& p, const Event& e);
  static void count_failure(Proc& p, int err);
  FdEntry seed_entry(const Event& e, const SeedFd& s, bool resync);
  static void inherit(Proc& c, const Proc& parent, bool shared_files);
  bool shared_with_live(const Proc& p) const;

  Proc& proc(uint32_t pid, uint64_t ts);
  static void mark_inexact(Proc& p, std::string_view reason);
  Proc& fresh_proc(uint32_t pid, uint64_t ts);
  FdEntry new_entry(const Event& e, Kind kind, const std::string& target);
  void add_fd(Proc& p, int fd, FdEntry entry, uint64_t ts);
  void remove_fd(Proc& p, int fd, uint64_t ts);
  FdTable::iterator erase_fd(Proc& p, FdTable::iterator it, uint64_t ts);
  void site_count(Proc& p, const FdEntry& en, int delta, uint64_t ts);
  void recount_sites(Proc& p, uint64_t ts);
  void sample_sites(Proc& p, uint64_t ts);
  static void sample_site(Proc::SiteGrowth& g, uint64_t ts);
  void unshare(Proc& p);
  void sample(Proc& p, uint64_t ts);
  ProcView view(const Proc& p, uint64_t now_ns, const SnapshotOptions& o) const;
  SuspectContext suspect_context(const Proc& p, uint64_t open_total) const;

  AggOptions opts_;
  uint64_t start_ns_ = 0;
  bool started_ = false;
  uint64_t lost_events_ = 0;
  KernelInfo kernel_;
  uint64_t events_ = 0;
  uint64_t last_tick_ns_ = 0, tick_events_ = 0;
  double events_per_s_ = 0;
  std::unordered_map<uint32_t, Proc> procs_;
  TextPool texts_;    // targets and sites of fd entries
  StackPool stacks_;  // their call stacks
};

}  // namespace fdw
