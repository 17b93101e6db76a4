#include "pipeline/session.h"

#include <unistd.h>

#include <cstdio>
#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <string_view>
#include <variant>

#include "core/container.h"
#include "fdwatch_abi.h"
#include "probe/decoder.h"

namespace fdw {

namespace {

// The python3* files in the directories of $PATH and the usual ones: the
// interpreters traced programs most likely run.
std::vector<std::string> python_on_path() {
  std::string dirs = "/usr/bin:/usr/local/bin";
  if (const char* p = getenv("PATH")) dirs = dirs + ":" + p;
  std::vector<std::string> out;
  for (size_t at = 0; at <= dirs.size();) {
    size_t c = std::min(dirs.find(':', at), dirs.size());
    std::string d = dirs.substr(at, c - at);
    at = c + 1;
    if (d.empty() || d[0] != '/') continue;
    std::error_code ec;
    for (auto it = std::filesystem::directory_iterator(d, ec); !ec && it != std::filesystem::directory_iterator();
         it.increment(ec))
      if (it->path().filename().string().rfind("python3", 0) == 0) out.push_back(it->path().string());
  }
  return out;
}

}  // namespace

Result<std::unique_ptr<Session>> Session::open(const SessionOptions& o, Aggregator& agg) {
  std::unique_ptr<Session> s(new Session(o, agg));
  ProbeOptions po;
  po.all = o.all;
  po.follow_children = o.follow_children;
  po.ring_bytes = o.ring_bytes;
  po.stacks = o.stacks;
  po.stack_bytes = o.stack_bytes;
  po.cgroup = o.cgroup;
  // FDWATCH_WITHOUT=feature,...: act as a kernel without them (fallback tests).
  if (const char* w = getenv("FDWATCH_WITHOUT"))
    for (std::string_view v(w); !v.empty();) {
      size_t c = v.find(',');
      po.without.emplace_back(v.substr(0, c));
      v = c == std::string_view::npos ? std::string_view() : v.substr(c + 1);
    }
  if (o.stacks) s->stacks_.warm();  // beside the BPF load, which takes longer
  auto p = Probe::open(po);
  if (!p) return p.error();
  s->probe_ = std::move(p.value());
  s->uring_untraced_ = !s->probe_->has("io_uring_tracepoints");
  KernelInfo k{kernel_release(), {}};
  for (auto& f : s->probe_->features())
    if (!f.present) k.missing.push_back(f.name);
  agg.set_kernel(std::move(k));
  s->stacks_.set_maps_from_proc(!s->probe_->has("bpf_iter_task_vma"));
  s->stacks_.set_kernel_memo(true);
  s->stacks_.preload_python(python_on_path());
  s->apply_python();
  return s;
}

std::vector<std::string> Session::kernel_notes() const {
  std::vector<std::string> out;
  for (auto& f : probe_->features())
    if (!f.present) out.push_back(absence(f) + "; " + f.without);
  return out;
}

void Session::emit(Event e) {
  if (sink_) sink_(e);
  agg_.apply(e);
  if (e.type == EvType::Exit) {
    drop_stacks(e.pid, true);
    starts_.erase(e.pid);
  }
}

bool Session::reused(uint32_t pid) const {
  auto it = starts_.find(pid);
  if (it == starts_.end()) return false;
  auto now = read_start_time(pid);
  return now && *now != it->second;
}

// The exit of a process whose exit record never came (exit code unknown).
void Session::invent_exit(uint32_t pid, uint64_t ts) {
  Event x;
  x.type = EvType::Exit;
  x.ts_ns = ts;
  x.pid = pid;
  emit(x);
}

// Comm, uid, parent and limit of a process seen for the first time.
void Session::first_sight(uint32_t pid, uint64_t ts) {
  if (auto st = read_start_time(pid)) starts_[pid] = *st;
  Event c;
  c.type = EvType::Comm;
  c.ts_ns = ts;
  c.pid = pid;
  c.comm = read_comm(pid);
  auto uid = read_uid(pid);
  c.value = uid ? int64_t(*uid) : -1;
  c.child = read_ppid(pid).value_or(0);
  c.cgroup = read_cgroup(pid);
  c.ns_pid = read_ns_pid(pid);
  emit(c);
  if (auto lim = read_nofile_limit(pid)) {
    Event l;
    l.type = EvType::Limit;
    l.ts_ns = ts;
    l.pid = pid;
    l.value = int64_t(*lim);
    emit(l);
  }
}

void Session::seed(uint32_t pid, uint64_t ts, bool resync, bool drop_cloexec) {
  // A re-read must not merge a newcomer with the pid into the old table: the
  // old one is gone; system-wide, the newcomer is a process of its own.
  if (resync && reused(pid)) {
    invent_exit(pid, ts);
    if (!opts_.all) return;
    resync = false;
  }
  auto snap = read_fd_table(pid, ts, &sockets_);
  if (!snap) return;  // gone meanwhile: its exit event will say so
  if (drop_cloexec) {
    std::erase_if(snap.value().fds, [](const SeedFd& f) { return f.cloexec; });
    snap.value().flags |= kSnapshotInherited;
  }
  if (resync) resync_ts_[pid] = ts;
  emit(std::move(snap.value()));
  if (!resync) first_sight(pid, ts);
}

Result<void> Session::start() {
  for (uint32_t pid : opts_.pids)
    if (!process_exists(pid)) return Error{"no such process: " + std::to_string(pid), "", ESRCH, 1};
  for (uint32_t pid : opts_.pids) {
    if (auto r = probe_->add_target(pid); !r) return r;
    watched_.insert(pid);
  }
  // Window start: events from before are reflected in what /proc shows now.
  t0_ = monotonic_ns();
  agg_.set_window_start(t0_);
  started_ = true;
  if (opts_.all) {
    sockets_.invalidate();
    uint32_t self = uint32_t(getpid());
    for (uint32_t pid : list_pids()) {
      if (pid == self) continue;
      // the kernel filters by cgroup; what fdwatch starts with, the same way
      if (!opts_.cgroup_path.empty() && !cgroup_within(read_cgroup(pid), opts_.cgroup_path)) continue;
      seed(pid, t0_, false);
    }
  } else {
    for (uint32_t pid : opts_.pids) seed(pid, t0_, false);
  }
  return {};
}

Result<void> Session::add_target(uint32_t pid, bool about_to_exec) {
  if (auto r = probe_->add_target(pid); !r) return r;
  watched_.insert(pid);
  seed(pid, monotonic_ns(), false, about_to_exec);
  return {};
}

void Session::enrich(Event& e) {
  if (e.type == EvType::Fork) {
    if (opts_.follow_children) watched_.insert(e.child);
    unidentified_.insert(e.child);
    return;
  }
  // Container runtimes move a process into its cgroup between fork and exec.
  if (e.type == EvType::Exec) unidentified_.insert(e.pid);
  if (e.type != EvType::Open && e.type != EvType::Dup) return;
  if (e.err || e.fd < 0) return;
  // Relative or missing paths: what the fd now points to, if still open.
  auto resolve = [&](Kind k, int fd, std::string& target) {
    if ((k == Kind::File || k == Kind::Dir || k == Kind::Fifo) &&
        (target.empty() || target[0] != '/')) {
      std::string link = read_fd_link(e.pid, fd);
      if (!link.empty()) target = link;
    }
  };
  resolve(e.kind, e.fd, e.target);
  if (e.fd2 >= 0 && e.type == EvType::Open) resolve(e.kind2, e.fd2, e.target2);
}

namespace {

template <class... F>
struct Overloaded : F... {
  using F::operator()...;
};
template <class... F>
Overloaded(F...) -> Overloaded<F...>;

void trace_event(const Event& e, uint64_t t0) {
  fprintf(stderr, "ev %s %s pid=%u fd=%d fd2=%d err=%d kind=%s target=%s ts=%llu t0=%llu\n",
          std::string(evtype_name(e.type)).c_str(), std::string(sys_name(e.sys)).c_str(), e.pid, e.fd, e.fd2,
          e.err, std::string(kind_name(e.kind)).c_str(), e.target.c_str(), (unsigned long long)e.ts_ns,
          (unsigned long long)t0);
}

}  // namespace

void Session::on_record(const void* data, size_t len) {
  static const bool trace = getenv("FDWATCH_TRACE_EVENTS") != nullptr;
  auto rec = decode(data, len);
  if (!rec) {
    // Not deliverable: counted with the lost events (tick), and the process
    // its header names, if any, is re-read from /proc.
    ++decode_errors_;
    if (trace) fprintf(stderr, "decode error: %s\n", rec.error().message.c_str());
    if (uint32_t pid = record_tgid(data, len)) {
      Event l;
      l.type = EvType::Lost;
      l.ts_ns = monotonic_ns();
      l.pid = pid;
      emit(l);
    }
    return;
  }
  // Stack records come before the window checks: the mappings they describe
  // outlive the moment they were sent.
  std::visit(Overloaded{
                 [&](EventRecord& r) {
                   if (trace) trace_event(r.event, t0_);
                   on_event(r);
                 },
                 [&](UStackView& u) { stacks_.on_ustack(u); },
                 [&](PyStack& p) { stacks_.on_pystack(p); },
                 [&](UMap& m) { stacks_.on_umap(std::move(m)); },
                 [&](PyCode& c) { stacks_.on_pycode(c); },
             },
             rec.value());
  if (!std::holds_alternative<EventRecord>(rec.value())) {
    apply_python();
    apply_memo();
  }
}

void Session::on_event(EventRecord& r) {
  Event& ev = r.event;
  // The old image's mappings and frames mean nothing after exec.
  if (ev.type == EvType::Exec) drop_stacks(ev.pid, false);
  if (ev.ts_ns < t0_) return;  // before the window: already in the /proc seed
  if (auto it = resync_ts_.find(ev.pid); it != resync_ts_.end() && ev.ts_ns < it->second) return;
  if (!agg_.knows(ev.pid) && ev.type != EvType::Exit && ev.type != EvType::Fork) first_sight(ev.pid, ev.ts_ns);
  enrich(ev);
  if ((ev.type == EvType::Open || ev.type == EvType::Dup) && !ev.err) stacks_.attach(ev, r.stack_id, r.stack_memo);
  // Without the io_uring tracepoints a ring can open and close fds unseen:
  // its owner is inexact, so tick() re-reads it from /proc.
  bool uring = uring_untraced_ && ev.type == EvType::Open && ev.sys == FDW_SYS_IO_URING_SETUP && !ev.err;
  uint32_t pid = ev.pid;
  uint64_t ts = ev.ts_ns;
  emit(std::move(ev));
  if (uring) {
    Event l;
    l.type = EvType::Lost;
    l.ts_ns = ts;
    l.pid = pid;
    emit(l);
  }
}

Result<void> Session::poll() {
  Probe::RecordFn fn = [this](const void* d, size_t n) { on_record(d, n); };
  auto r = probe_->poll(opts_.poll_ms, fn);
  if (!r) return r.error();
  return {};
}

Result<void> Session::drain() {
  Probe::RecordFn fn = [this](const void* d, size_t n) { on_record(d, n); };
  // bounded: a process that keeps writing cannot hold the stop off
  for (int i = 0; i < 64; ++i) {
    auto r = probe_->poll(0, fn);
    if (!r) return r.error();
    if (*r == 0) break;
  }
  return {};
}

void Session::tick() {
  uint64_t now = monotonic_ns();
  ProbeStats st = probe_->stats();
  agg_.set_lost_events(st.drops + decode_errors_);
  // Processes whose events were lost are marked and re-read from /proc.
  for (auto [pid, n] : probe_->take_lost()) {
    Event l;
    l.type = EvType::Lost;
    l.ts_ns = now;
    l.pid = pid;
    l.value = int64_t(n);
    emit(l);
  }
  identify(now);
  for (uint32_t pid : agg_.inexact_live_pids())
    if (!resync_ts_.count(pid) || resync_ts_[pid] + 1'000'000'000ull < now) seed(pid, now, true);
  // A watched process that died before its pid reached the kernel's target
  // set leaves no exit event: notice it here.  Its exit record, if any, was
  // written before /proc showed it dead, so the ring is drained after /proc
  // was read and before an exit is invented (an invented exit loses the exit
  // code, and makes a ghost of the process's records still in the ring: in a
  // fork storm, children die while /proc is being read).
  if (!opts_.all) {
    std::vector<uint32_t> gone;
    for (uint32_t pid : watched_)
      if (agg_.knows(pid) && !agg_.exited(pid) && (!process_exists(pid) || reused(pid))) gone.push_back(pid);
    if (!gone.empty()) {
      Probe::RecordFn fn = [this](const void* d, size_t n) { on_record(d, n); };
      (void)probe_->poll(0, fn);
    }
    for (uint32_t pid : gone)
      if (!agg_.exited(pid)) invent_exit(pid, now);
  }
  agg_.tick(now);
}

// Forked or exec'd since the last tick: cgroup and ns_pid, read once per
// tick so that short-lived processes (fork storms) cost nothing.
void Session::identify(uint64_t now) {
  for (uint32_t pid : unidentified_) {
    if (!agg_.knows(pid) || agg_.exited(pid)) continue;
    Event c;
    c.type = EvType::Comm;
    c.ts_ns = now;
    c.pid = pid;
    c.value = -1;
    c.cgroup = read_cgroup(pid);
    c.ns_pid = read_ns_pid(pid);
    if (!c.cgroup.empty() || c.ns_pid) emit(std::move(c));
  }
  unidentified_.clear();
}

bool Session::all_exited() const {
  if (opts_.all || watched_.empty()) return false;
  for (uint32_t pid : watched_)
    if (!agg_.exited(pid)) return false;
  return true;
}

// ---- call stacks ---------------------------------------------------------

Result<void> Session::set_stacks(uint32_t pid, bool on) {
  stacks_.note_kernel_state(pid);
  if (on) stacks_.warm();
  return probe_->set_stacks(pid, on);
}

StackStats Session::stack_stats() const {
  ProbeStats p = probe_->stats();
  StackStats s;
  s.captured = p.ustacks;
  s.lost = p.ustack_lost;
  s.unwound = stacks_.unwound();
  s.unpaired = stacks_.unpaired();
  s.reused = stacks_.reused();
  return s;
}

std::string Session::stack_note() const {
  StackStats st = stack_stats();
  if (!st.lost && !st.unpaired) return "";
  return std::to_string(st.lost) + " call-stack records lost (ring buffer full); " + std::to_string(st.unpaired) +
         " fds have no call site";
}

void Session::drop_stacks(uint32_t pid, bool exited) {
  if (stacks_.drop(pid, exited)) probe_->forget_stacks(pid);
  apply_python();
  apply_memo();
}

void Session::apply_memo() {
  auto u = stacks_.take_memo();
  for (const fdw_memo_key& k : u.drop) probe_->forget_memo(k);
  for (auto& [k, v] : u.put) probe_->add_memo(k, v);
}

// CPython processes the StackResolver found (or lost) go to the kernel side;
// its notes (an interpreter version without a layout) are said once, now.
void Session::note(std::string n) {
  if (note_sink_)
    note_sink_(n);
  else
    notes_.push_back(std::move(n));
}

void Session::set_note_sink(std::function<void(const std::string&)> n) {
  note_sink_ = std::move(n);
  for (auto& held : std::exchange(notes_, {})) note_sink_(held);
}

void Session::apply_python() {
  auto u = stacks_.take_python();
  if (u.empty()) return;
  for (auto& [bin, py] : u.bins)
    if (auto r = probe_->add_python_bin(bin, py); !r) note(r.error().message);
  for (auto& [pid, py] : u.add)
    if (auto r = probe_->set_python(pid, py); !r) note(r.error().message);
  for (uint32_t pid : u.remove) probe_->forget_python(pid);
  for (auto& n : u.notes) note(n);
}

}  // namespace fdw
