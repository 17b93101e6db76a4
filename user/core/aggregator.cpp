#include "core/aggregator.h"

#include <algorithm>
#include <cerrno>

#include "core/classify.h"
#include "core/exit_leaks.h"
#include "core/suspects.h"

namespace fdw {

namespace {
double secs(uint64_t a, uint64_t b) { return a > b ? double(a - b) / 1e9 : 0.0; }

// Kernel-internal restart codes (ERESTARTSYS..ERESTART_RESTARTBLOCK) seen at
// sys_exit when a signal interrupts a call: the call is restarted or becomes
// EINTR in userspace; either way it is not a failure to create an fd.
bool interrupted(int err) { return err >= 512 && err <= 516; }
}  // namespace

Aggregator::Aggregator(AggOptions opts) : opts_(opts) {}

void Aggregator::set_window_start(uint64_t ts_ns) {
  start_ns_ = ts_ns;
  last_tick_ns_ = ts_ns;
  started_ = true;
}

bool Aggregator::exited(uint32_t pid) const {
  auto it = procs_.find(pid);
  return it != procs_.end() && it->second.exited;
}

bool Aggregator::inexact(uint32_t pid) const {
  auto it = procs_.find(pid);
  return it != procs_.end() && it->second.inexact;
}

std::string Aggregator::comm(uint32_t pid) const {
  auto it = procs_.find(pid);
  return it == procs_.end() ? std::string() : it->second.comm;
}

const FdTable* Aggregator::table(uint32_t pid) const {
  auto it = procs_.find(pid);
  return it == procs_.end() || it->second.exited ? nullptr : it->second.table.get();
}

std::vector<uint32_t> Aggregator::inexact_live_pids() const {
  std::vector<uint32_t> out;
  for (auto& [pid, p] : procs_)
    if (p.inexact && !p.exited) out.push_back(pid);
  std::sort(out.begin(), out.end());
  return out;
}

void Aggregator::mark_inexact(Proc& p, std::string_view reason) {
  if (!p.inexact) p.inexact_reason = std::string(reason);
  p.inexact = true;
}

Aggregator::Proc& Aggregator::fresh_proc(uint32_t pid, uint64_t ts) {
  Proc& p = procs_[pid];
  p = Proc{};
  p.pid = pid;
  p.first_ns = ts;
  return p;
}

// The state of a live pid; a pid seen again after its exit is a new process
// (pid reuse) that we did not see being born, so its table is unknown.
Aggregator::Proc& Aggregator::proc(uint32_t pid, uint64_t ts) {
  auto it = procs_.find(pid);
  if (it != procs_.end() && !it->second.exited) return it->second;
  Proc& p = fresh_proc(pid, ts);
  mark_inexact(p, kInexactUnseenStart);
  return p;
}

void Aggregator::unshare(Proc& p) {
  if (p.table.use_count() > 1) p.table = std::make_shared<FdTable>(*p.table);
}

// The entry of an fd the event created, its text and stack interned.
FdEntry Aggregator::new_entry(const Event& e, Kind kind, const std::string& target) {
  FdEntry en;
  en.kind = kind;
  en.cloexec = e.cloexec;
  en.target = texts_.get(target);
  en.site = texts_.get(e.site);
  en.stack = stacks_.get(e.stack);
  return en;
}

void Aggregator::add_fd(Proc& p, int fd, FdEntry entry, uint64_t ts) {
  entry.opened_ns = ts;
  // An fd we thought open: a close we missed, or the seeding race.
  if (auto it = p.table->find(fd); it != p.table->end()) site_count(p, it->second, -1, ts);
  site_count(p, entry, +1, ts);
  p.table->insert_or_assign(fd, std::move(entry));
  ++p.opened;
}

void Aggregator::remove_fd(Proc& p, int fd, uint64_t ts) {
  if (auto it = p.table->find(fd); it != p.table->end()) erase_fd(p, it, ts);
  ++p.closed;
}

// Every removal from a table goes through here, so the site counts follow.
FdTable::iterator Aggregator::erase_fd(Proc& p, FdTable::iterator it, uint64_t ts) {
  site_count(p, it->second, -1, ts);
  return p.table->erase(it);
}

void Aggregator::site_count(Proc& p, const FdEntry& en, int delta, uint64_t ts) {
  if (en.seeded) return;
  auto& g = p.sites[{en.site, int(en.kind)}];
  g.open += delta;
  sample_site(g, ts);
}

void Aggregator::sample_site(Proc::SiteGrowth& g, uint64_t ts) {
  if (g.sampled && ts > g.last_ns) {
    const uint64_t b = g.growth.bucket_ns();
    const uint64_t gaps = std::min<uint64_t>((ts - g.last_ns) / b, 2 * 96);
    for (uint64_t k = 1; k < gaps; ++k) g.growth.add(g.last_ns + k * b, double(g.last));
  }
  g.growth.add(ts, double(g.open));
  g.last_ns = std::max(g.last_ns, ts);
  g.last = g.open;
  g.sampled = true;
}

// After the table was replaced (seeding, fork): count it anew.
void Aggregator::recount_sites(Proc& p, uint64_t ts) {
  for (auto& [key, g] : p.sites) g.open = 0;
  for (auto& [fd, en] : *p.table)
    if (!en.seeded) ++p.sites[{en.site, int(en.kind)}].open;
  sample_sites(p, ts);
}

void Aggregator::sample_sites(Proc& p, uint64_t ts) {
  for (auto& [key, g] : p.sites) sample_site(g, ts);
}

void Aggregator::sample(Proc& p, uint64_t ts) { p.growth.add(ts, double(p.table->size())); }

void Aggregator::apply(const Event& e) {
  if (!started_) set_window_start(e.ts_ns);
  ++events_;
  ++tick_events_;
  switch (e.type) {
    case EvType::Snapshot: return on_snapshot(e);
    case EvType::Comm: return on_comm(e);
    case EvType::Limit: return on_limit(e);
    case EvType::Lost: return on_lost(e);
    case EvType::Fork: return on_fork(e);
    case EvType::Exec: return on_exec(e);
    case EvType::Exit: return on_exit(e);
    case EvType::Open: return on_call(e, &Aggregator::on_open);
    case EvType::Dup: return on_call(e, &Aggregator::on_dup);
    case EvType::Close: return on_call(e, &Aggregator::on_close);
    case EvType::CloseRange: return on_call(e, &Aggregator::on_close_range);
    case EvType::Cloexec: return on_call(e, &Aggregator::on_cloexec);
    case EvType::SockAddr: return on_call(e, &Aggregator::on_sockaddr);
    case EvType::Call: break;
  }
  on_call(e, nullptr);  // counted, nothing else
}

// pid's fd table as /proc listed it: a new process's, or a re-sync of a live
// one, which keeps what it knew of fds that are still the same (age, stack,
// opened in the window): only what /proc contradicts changes.
void Aggregator::on_snapshot(const Event& e) {
  auto it = procs_.find(e.pid);
  bool resync = it != procs_.end() && !it->second.exited;
  Proc& p = resync ? it->second : fresh_proc(e.pid, e.ts_ns);
  unshare(p);
  FdTable old;
  old.swap(*p.table);
  for (const SeedFd& s : e.fds) {
    if (auto o = old.find(s.fd);
        resync && o != old.end() && o->second.kind == s.kind && o->second.target == s.target) {
      FdEntry en = std::move(o->second);
      en.cloexec = s.cloexec;
      (*p.table)[s.fd] = std::move(en);
    } else {
      (*p.table)[s.fd] = seed_entry(e, s, resync);
    }
  }
  if (!e.comm.empty()) p.comm = e.comm;
  recount_sites(p, e.ts_ns);
  if (e.flags & kSnapshotLinksUnreadable) mark_inexact(p, kInexactLinksUnreadable);
  sample(p, e.ts_ns);
}

// The entry of an fd /proc listed (open before we saw it).
FdEntry Aggregator::seed_entry(const Event& e, const SeedFd& s, bool resync) {
  FdEntry en;
  en.kind = s.kind;
  en.target = texts_.get(s.target);
  en.cloexec = s.cloexec;
  en.seeded = true;
  en.inherited = e.flags & kSnapshotInherited;
  en.opened_ns = resync ? e.ts_ns : start_ns_;
  return en;
}

void Aggregator::on_comm(const Event& e) {
  Proc& p = proc(e.pid, e.ts_ns);
  if (!e.comm.empty()) p.comm = e.comm;
  if (!e.cgroup.empty() && e.cgroup != p.cgroup) {
    p.cgroup = e.cgroup;
    p.container = container_of(p.cgroup);
  }
  if (e.ns_pid) p.ns_pid = e.ns_pid;
  if (e.value >= 0) p.uid = uint32_t(e.value);
  if (e.child) p.ppid = e.child;
}

void Aggregator::on_limit(const Event& e) {
  Proc& p = proc(e.pid, e.ts_ns);
  if (e.value >= 0) p.rlimit = uint64_t(e.value);
}

void Aggregator::on_lost(const Event& e) {
  if (e.pid == 0) {
    for (auto& [pid, p] : procs_) mark_inexact(p, kInexactLostEvents);
  } else if (auto it = procs_.find(e.pid); it != procs_.end()) {
    mark_inexact(it->second, kInexactLostEvents);
  }
}

void Aggregator::on_fork(const Event& e) {
  auto pit = procs_.find(e.pid);
  Proc& c = fresh_proc(e.child, e.ts_ns);
  c.ppid = e.pid;
  c.comm = e.comm;
  if (pit == procs_.end() || pit->second.exited) {
    mark_inexact(c, kInexactUnseenStart);  // parent unknown: the inherited table is unknown
  } else {
    inherit(c, pit->second, e.shared_files);
  }
  recount_sites(c, e.ts_ns);
  sample(c, e.ts_ns);
}

// What a forked child c takes from its parent: identity, limit, and the fd
// table (the same one under CLONE_FILES, else a copy of inherited entries).
void Aggregator::inherit(Proc& c, const Proc& parent, bool shared_files) {
  if (c.comm.empty()) c.comm = parent.comm;
  c.rlimit = parent.rlimit;
  c.uid = parent.uid;
  c.cgroup = parent.cgroup;  // a child starts in its parent's cgroup
  c.container = parent.container;
  c.inexact = parent.inexact;
  c.inexact_reason = parent.inexact_reason;
  if (shared_files) {
    c.table = parent.table;
  } else {
    c.table = std::make_shared<FdTable>(*parent.table);
    for (auto& [fd, en] : *c.table) en.inherited = true;
  }
}

void Aggregator::on_exec(const Event& e) {
  Proc& p = proc(e.pid, e.ts_ns);
  unshare(p);
  for (auto it = p.table->begin(); it != p.table->end();) {
    if (it->second.cloexec) {
      it = erase_fd(p, it, e.ts_ns);
      ++p.closed;
    } else {
      ++it;
    }
  }
  if (!e.comm.empty()) p.comm = e.comm;
  sample(p, e.ts_ns);
}

void Aggregator::on_exit(const Event& e) {
  auto it = procs_.find(e.pid);
  if (it == procs_.end() || it->second.exited) return;
  Proc& p = it->second;
  p.exited = true;
  p.exit_ns = e.ts_ns;
  p.exit_code = int(e.value);
  if (!e.comm.empty()) p.comm = e.comm;  // the name it had at the end (prctl renames)
  p.open_at_exit = p.table->size();
  p.leaked_at_exit.clear();
  // A table shared with a live process (CLONE_FILES) is not released by
  // this exit: its fds stay open there, so this process leaked none.
  if (!shared_with_live(p) && opts_.exit_detail)
    for (auto& [fd, en] : *p.table)
      if (!en.inherited) p.leaked_at_exit.emplace_back(fd, en);
  sample_sites(p, e.ts_ns);
  sample(p, e.ts_ns);
  p.table = std::make_shared<FdTable>();
  if (!opts_.exit_detail) {
    p.sites.clear();
    p.growth = SlopeEstimator();
  }
}

bool Aggregator::shared_with_live(const Proc& p) const {
  if (p.table.use_count() <= 1) return false;
  for (auto& [pid, o] : procs_)
    if (pid != p.pid && !o.exited && o.table == p.table) return true;
  return false;
}

// A traced call on pid's fd table: counted, ok or failed, then applied by
// `change` (none: counted only), then the table's size is sampled.  A restart
// code is not a return to the program: the kernel runs the call again
// (counted when it returns) or turns it into EINTR for a signal handler.
void Aggregator::on_call(const Event& e, FdChange change) {
  Proc& p = proc(e.pid, e.ts_ns);
  if (e.sys && !interrupted(e.err)) ++p.calls[e.sys];
  if (change) (this->*change)(p, e);
  sample(p, e.ts_ns);
}

// A failed fd-creating call, by errno (a restart code is no failure).
void Aggregator::count_failure(Proc& p, int err) {
  if (!interrupted(err)) ++p.failed[err];
}

void Aggregator::on_open(Proc& p, const Event& e) {
  if (e.err) return count_failure(p, e.err);
  if (e.fd >= 0) add_fd(p, e.fd, new_entry(e, e.kind, e.target), e.ts_ns);
  if (e.fd2 >= 0) add_fd(p, e.fd2, new_entry(e, e.kind2, e.target2), e.ts_ns);
}

void Aggregator::on_dup(Proc& p, const Event& e) {
  if (e.err) return count_failure(p, e.err);
  if (e.fd < 0 || e.fd == e.fd2) return;  // dup2(fd, fd) changes nothing
  FdEntry en = new_entry(e, e.kind, e.target);
  // The kernel described the new fd as it is now; without that (older
  // records, failed reads) it is whatever the old fd was.
  if (auto old = p.table->find(e.fd2); old != p.table->end() && e.target.empty()) {
    en.kind = old->second.kind;
    en.target = old->second.target;
  }
  // dup2/dup3 onto an open fd closes it first.  dup and F_DUPFD* only
  // take free numbers: an entry there was closed by another thread whose
  // close record has not arrived yet (see on_close).
  if (auto it = p.table->find(e.fd); it != p.table->end()) {
    if (e.sys == kSysDup2 || e.sys == kSysDup3) remove_fd(p, e.fd, e.ts_ns);
    else erase_fd(p, it, e.ts_ns);
  }
  add_fd(p, e.fd, std::move(en), e.ts_ns);
}

void Aggregator::on_close(Proc& p, const Event& e) {
  // Only EBADF means nothing was closed; EINTR/EIO still release the fd.
  if (e.err == EBADF) return;
  // Records are written when calls return, so with threads a close can
  // arrive after another thread reused its fd number.  The kernel flags a
  // close whose number was taken again by the time it returned: the entry
  // is then either that new fd (keep it) or ours, which the new fd's
  // record is about to replace (keeping it is right too).  io_uring
  // closes carry their submission time in value instead: an entry opened
  // after that is the new fd, not ours.
  auto it = p.table->find(e.fd);
  bool reused = it != p.table->end() &&
                ((e.flags & kCloseFdReused) ||
                 (e.value > 0 && !it->second.seeded && it->second.opened_ns > uint64_t(e.value)));
  if (it != p.table->end() && !reused) {
    remove_fd(p, e.fd, e.ts_ns);
  } else if (!e.err) {
    ++p.closed;
  }
}

void Aggregator::on_close_range(Proc& p, const Event& e) {
  if (e.err) return;  // EINVAL and the like: nothing was closed
  uint32_t lo = uint32_t(e.fd), hi = uint32_t(std::min<int64_t>(e.value, INT32_MAX));
  if (e.flags & kCloseRangeUnshare) unshare(p);
  auto it = p.table->lower_bound(int(lo));
  while (it != p.table->end() && uint32_t(it->first) <= hi) {
    if (e.flags & kCloseRangeCloexec) {
      it->second.cloexec = true;
      ++it;
    } else {
      it = erase_fd(p, it, e.ts_ns);
      ++p.closed;
    }
  }
}

void Aggregator::on_cloexec(Proc& p, const Event& e) {
  if (e.err) return;
  if (auto it = p.table->find(e.fd); it != p.table->end()) it->second.cloexec = e.value != 0;
}

void Aggregator::on_sockaddr(Proc& p, const Event& e) {
  if (e.err && e.err != EINPROGRESS) return;  // the socket is as it was
  if (auto it = p.table->find(e.fd); it != p.table->end() && !e.target.empty()) {
    if (it->second.kind != Kind::Socket) {
      site_count(p, it->second, -1, e.ts_ns);
      it->second.kind = Kind::Socket;
      site_count(p, it->second, +1, e.ts_ns);
    }
    it->second.target = texts_.get(e.target);
  }
}

void Aggregator::tick(uint64_t now_ns) {
  double dt = secs(now_ns, last_tick_ns_);
  if (dt > 0) {
    events_per_s_ = tick_events_ / dt;
    tick_events_ = 0;
  }
  for (auto it = procs_.begin(); it != procs_.end();) {
    Proc& p = it->second;
    if (p.exited && opts_.exited_ttl_s >= 0 && secs(now_ns, p.exit_ns) > opts_.exited_ttl_s) {
      it = procs_.erase(it);
      continue;
    }
    if (dt > 0) {
      p.open_per_s = (p.opened - p.tick_opened) / dt;
      p.close_per_s = (p.closed - p.tick_closed) / dt;
    }
    p.tick_opened = p.opened;
    p.tick_closed = p.closed;
    if (!p.exited) {
      sample(p, now_ns);
      sample_sites(p, now_ns);
    }
    ++it;
  }
  texts_.sweep();  // what only closed fds and dropped processes named
  stacks_.sweep();
  last_tick_ns_ = now_ns;
}

namespace {

FdView fd_view(int fd, const FdEntry& en, uint64_t now_ns) {
  FdView v;
  v.fd = fd;
  v.kind = en.kind;
  v.target = en.target;
  v.age_s = secs(now_ns, en.opened_ns);
  v.seeded = en.seeded;
  v.cloexec = en.cloexec;
  v.stack = en.stack;
  v.site = en.site;
  return v;
}

void sort_oldest_first(std::vector<FdView>& v) {
  std::stable_sort(v.begin(), v.end(), [](const FdView& a, const FdView& b) {
    return a.age_s != b.age_s ? a.age_s > b.age_s : a.fd < b.fd;
  });
}

}  // namespace

SuspectContext Aggregator::suspect_context(const Proc& p, uint64_t open_total) const {
  SuspectContext c;
  c.growth = [this, &p](const std::string& site, Kind k) {
    auto it = p.sites.find({site, int(k)});
    if (it == p.sites.end()) return SiteGrowthRate{};
    const SlopeEstimator& g = it->second.growth;
    const uint64_t window_ns = uint64_t(opts_.min_rate_window_s * 1e9);
    return SiteGrowthRate{g.slope_per_s(), g.rate_per_s(window_ns, opts_.min_rate_samples).has_value()};
  };
  c.min_growth_per_s = opts_.min_growth_per_s;
  c.limit_failures = p.failed.count(EMFILE) || p.failed.count(ENFILE);
  c.open_total = open_total;
  return c;
}

ProcView Aggregator::view(const Proc& p, uint64_t now_ns, const SnapshotOptions& o) const {
  ProcView v;
  v.pid = p.pid;
  v.ppid = p.ppid;
  v.comm = p.comm;
  v.uid = p.uid;
  v.cgroup = p.cgroup;
  v.container = p.container.id;
  v.pod_uid = p.container.pod_uid;
  v.ns_pid = p.ns_pid;
  v.exited = p.exited;
  v.inexact = p.inexact;
  v.inexact_reason = p.inexact_reason;
  v.opened = p.opened;
  v.closed = p.closed;
  for (auto& [err, n] : p.failed) v.failed[errno_name(err)] += n;
  for (auto& [sys, n] : p.calls) v.syscalls[std::string(sys_name(sys))] += n;
  v.rlimit_nofile = p.rlimit;
  v.open_per_s = p.open_per_s;
  v.close_per_s = p.close_per_s;
  v.first_seen_s = secs(p.first_ns, start_ns_);
  v.leak_rate_per_s = p.growth.rate_per_s(uint64_t(opts_.min_rate_window_s * 1e9), opts_.min_rate_samples);
  v.exit_code = p.exit_code;
  std::vector<std::string> sites;
  if (p.exited) {
    v.exited_at_s = secs(p.exit_ns, start_ns_);
    v.open_fds = 0;
    v.open_at_exit = p.open_at_exit;
    for (auto& [fd, en] : p.leaked_at_exit) {
      v.leaked_at_exit.push_back(fd_view(fd, en, p.exit_ns));
      sites.push_back(en.site);
    }
    v.suspects = build_suspects(v.leaked_at_exit, sites, suspect_context(p, p.open_at_exit));
    auto why = ordinary_at_exit(v.leaked_at_exit);
    for (size_t i = 0; i < why.size(); ++i) v.leaked_at_exit[i].ordinary = why[i];
    sort_oldest_first(v.leaked_at_exit);
    if (!o.with_fds) v.leaked_at_exit.clear();
  } else {
    v.open_fds = p.table->size();
    std::vector<FdView> fds;
    fds.reserve(p.table->size());
    for (auto& [fd, en] : *p.table) {
      fds.push_back(fd_view(fd, en, now_ns));
      sites.push_back(en.site);
      v.by_kind[std::string(kind_name(en.kind))]++;
      v.oldest_age_s = std::max(v.oldest_age_s, fds.back().age_s);
    }
    v.suspects = build_suspects(fds, sites, suspect_context(p, v.open_fds));
    if (o.with_fds) {
      sort_oldest_first(fds);
      v.fds = std::move(fds);
    }
    if (p.rlimit && v.leak_rate_per_s.value_or(0) >= opts_.min_growth_per_s) {
      double room = double(*p.rlimit) - double(v.open_fds);
      v.time_to_limit_s = room <= 0 ? 0.0 : room / *v.leak_rate_per_s;
    }
  }
  return v;
}

Snapshot Aggregator::snapshot(uint64_t now_ns, const SnapshotOptions& o) const {
  Snapshot s;
  s.now_ns = now_ns;
  s.start_ns = start_ns_;
  s.elapsed_s = secs(now_ns, start_ns_);
  s.lost_events = lost_events_;
  s.kernel = kernel_;
  s.events = events_;
  s.events_per_s = events_per_s_;
  for (auto& [pid, p] : procs_) {
    if (o.pid && *o.pid != pid) continue;
    s.processes.push_back(view(p, now_ns, o));
  }
  std::sort(s.processes.begin(), s.processes.end(),
            [](const ProcView& a, const ProcView& b) { return a.pid < b.pid; });
  return s;
}

}  // namespace fdw
