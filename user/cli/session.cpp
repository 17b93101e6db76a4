#include "cli/session.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "fdwatch_abi.h"
#include "probe/decoder.h"

namespace fdw {

Result<std::unique_ptr<Session>> Session::open(const SessionOptions& o, Aggregator& agg) {
  std::unique_ptr<Session> s(new Session(o, agg));
  ProbeOptions po;
  po.all = o.all;
  po.follow_children = o.follow_children;
  po.ring_bytes = o.ring_bytes;
  po.stacks = o.stacks;
  po.stack_bytes = o.stack_bytes;
  auto p = Probe::open(po);
  if (!p) return p.error();
  s->probe_ = std::move(p.value());
  for (auto& name : s->probe_->skipped())
    if (name == "io_uring_submit_req" || name == "io_uring_complete") s->uring_untraced_ = true;
  if (o.stacks) s->warm_symbolizer();
  return s;
}

// The first lookup in a module loads its symbols, line tables and, for libc
// with its debug package, megabytes of DWARF: tens of milliseconds during
// which nobody drains the ring buffer.  Paying that now, on fdwatch's own
// libc (the Symbolizer shares modules across processes by build-id), keeps
// it out of the first stacks of the traced processes.
void Session::warm_symbolizer() {
  if (sym_) return;
  sym_ = std::make_unique<Symbolizer>();
  const uint32_t self = uint32_t(getpid());
  (void)sym_->symbolize(self, {reinterpret_cast<uint64_t>(&::socket),
                               reinterpret_cast<uint64_t>(static_cast<int (*)(const char*, int, ...)>(&::open)),
                               reinterpret_cast<uint64_t>(&::openat)});
  sym_->forget(self);
}

void Session::emit(Event e) {
  if (sink_) sink_(e);
  agg_.apply(e);
  if (e.type == EvType::Exit) drop_stacks(e.pid, true);
}

// Comm, uid, parent and limit of a process seen for the first time.
void Session::first_sight(uint32_t pid, uint64_t ts) {
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
  auto snap = read_fd_table(pid, ts, &sockets_);
  if (!snap) return;  // gone meanwhile: its exit event will say so
  if (drop_cloexec)
    std::erase_if(snap.value().fds, [](const SeedFd& f) { return f.cloexec; });
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
    for (uint32_t pid : list_pids())
      if (pid != self) seed(pid, t0_, false);
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

void Session::on_record(const void* data, size_t len) {
  static const bool trace = getenv("FDWATCH_TRACE_EVENTS") != nullptr;
  // Stack records come before the window checks: the mappings they describe
  // outlive the moment they were sent.
  if (on_stack_record(data, len)) return;
  std::string err;
  auto ev = decode_record(data, len, &err);
  if (!ev) {
    ++decode_errors_;
    if (trace) fprintf(stderr, "decode error: %s\n", err.c_str());
    return;
  }
  if (trace)
    fprintf(stderr, "ev %s %s pid=%u fd=%d fd2=%d err=%d kind=%s target=%s ts=%llu t0=%llu\n",
            std::string(evtype_name(ev->type)).c_str(), std::string(sys_name(ev->sys)).c_str(),
            ev->pid, ev->fd, ev->fd2, ev->err, std::string(kind_name(ev->kind)).c_str(),
            ev->target.c_str(), (unsigned long long)ev->ts_ns, (unsigned long long)t0_);
  // The old image's mappings and frames mean nothing after exec.
  if (ev->type == EvType::Exec) drop_stacks(ev->pid, false);
  if (ev->ts_ns < t0_) return;  // before the window: already in the /proc seed
  if (auto it = resync_ts_.find(ev->pid); it != resync_ts_.end() && ev->ts_ns < it->second) return;
  if (!agg_.knows(ev->pid) && ev->type != EvType::Exit && ev->type != EvType::Fork)
    first_sight(ev->pid, ev->ts_ns);
  enrich(*ev);
  if ((ev->type == EvType::Open || ev->type == EvType::Dup) && !ev->err)
    attach_stack(*ev, record_stack_id(data, len));
  // Without the io_uring tracepoints a ring can open and close fds unseen:
  // its owner is inexact, so tick() re-reads it from /proc.
  bool uring = uring_untraced_ && ev->type == EvType::Open && ev->sys == FDW_SYS_IO_URING_SETUP &&
               !ev->err;
  uint32_t pid = ev->pid;
  uint64_t ts = ev->ts_ns;
  emit(std::move(*ev));
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

void Session::tick() {
  uint64_t now = monotonic_ns();
  ProbeStats st = probe_->stats();
  agg_.set_lost_events(st.drops);
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
  // written before /proc showed it dead, so drain once before inventing one
  // (which would lose the exit code, and make a ghost of later records).
  if (!opts_.all) {
    bool drained = false;
    for (uint32_t pid : watched_) {
      if (drained || !agg_.knows(pid) || agg_.exited(pid) || process_exists(pid)) continue;
      Probe::RecordFn fn = [this](const void* d, size_t n) { on_record(d, n); };
      (void)probe_->poll(0, fn);
      drained = true;
    }
    for (uint32_t pid : watched_) {
      if (!agg_.knows(pid) || agg_.exited(pid)) continue;
      // prctl(PR_SET_NAME) renames are not events: refresh the few we watch
      std::string comm = read_comm(pid);
      if (!comm.empty() && comm != agg_.comm(pid)) {
        Event c;
        c.type = EvType::Comm;
        c.ts_ns = now;
        c.pid = pid;
        c.comm = comm;
        c.value = -1;
        emit(c);
      }
      if (!process_exists(pid)) {
        Event x;
        x.type = EvType::Exit;
        x.ts_ns = now;
        x.pid = pid;
        emit(x);
      }
    }
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

bool runtime_module(const std::string& m) {
  static const char* const kRuntime[] = {"libc.so",      "libc-",    "ld-linux",  "ld-",
                                         "[vdso]",       "libpthread", "libstdc++", "libgcc_s",
                                         "libdl.so",     "librt.so"};
  for (const char* p : kRuntime)
    if (m.rfind(p, 0) == 0) return true;
  return false;
}

namespace {

// GCC's clone suffixes ("open_config.constprop.0", "f(int) [clone .isra.0]")
// name an optimisation, not a function the user wrote.
std::string plain_function(std::string f) {
  if (auto c = f.find(" [clone "); c != std::string::npos) f.erase(c);
  size_t cut = std::string::npos;
  for (const char* sfx : {".constprop.", ".isra.", ".part.", ".cold", ".lto_priv.", ".localalias"})
    if (auto p = f.find(sfx); p != std::string::npos && p > 0) cut = std::min(cut, p);
  if (cut != std::string::npos) f.erase(cut);
  return f;
}

std::string frame_text(const Frame& f) {
  Frame s = f;
  s.function = plain_function(std::move(s.function));
  if (auto slash = s.file.rfind('/'); slash != std::string::npos) s.file.erase(0, slash + 1);
  return s.text();
}

}  // namespace

std::vector<std::string> stack_texts(const std::vector<Frame>& frames) {
  std::vector<std::string> out;
  out.reserve(frames.size());
  for (const Frame& f : frames) out.push_back(frame_text(f));
  return out;
}

std::string stack_site(const std::vector<Frame>& frames) {
  for (const Frame& f : frames)
    if (!f.module.empty() && !runtime_module(f.module)) return frame_text(f);
  for (const Frame& f : frames)
    if (!f.function.empty()) return frame_text(f);
  return "";
}

Result<void> Session::set_stacks(uint32_t pid, bool on) {
  stack_state_.insert(pid);
  if (on) warm_symbolizer();
  return probe_->set_stacks(pid, on);
}

StackStats Session::stack_stats() const {
  ProbeStats p = probe_->stats();
  StackStats s;
  s.captured = p.ustacks;
  s.lost = p.ustack_lost;
  s.unwound = stacks_unwound_;
  s.unpaired = stacks_unpaired_;
  s.reused = stacks_reused_;
  return s;
}

// USTACK and UMAP records: true when the record was one of them.
bool Session::on_stack_record(const void* data, size_t len) {
  uint16_t type = record_type(data, len);
  if (type != FDW_EV_USTACK && type != FDW_EV_UMAP) return false;
  std::string err;
  uint32_t tgid;
  std::memcpy(&tgid, static_cast<const char*>(data) + offsetof(fdw_event, tgid), sizeof tgid);
  stack_state_.insert(tgid);
  if (type == FDW_EV_UMAP) {
    if (auto m = decode_umap(data, len, &err))
      add_umap(std::move(*m));
    else
      ++decode_errors_;
  } else if (auto u = view_ustack(data, len, &err)) {
    pending_.insert_or_assign(u->tid, Pending{u->pid, u->key, resolve(*u)});
  } else {
    ++decode_errors_;
  }
  return true;
}

namespace {

// Where each return address of `frames` sits in the copied stack (searched
// upward, 8-byte aligned, in frame order); false when one is not found.
bool return_slots(const StackSample& s, const std::vector<Frame>& frames,
                  std::vector<std::pair<uint32_t, uint64_t>>* slots) {
  size_t off = 0;
  uint64_t prev = frames.empty() ? 0 : frames[0].ip;
  for (size_t i = 1; i < frames.size(); ++i) {
    if (frames[i].ip == prev) continue;  // inlined frames share their caller's address
    prev = frames[i].ip;
    bool found = false;
    for (; off + 8 <= s.stack.size(); off += 8) {
      uint64_t w;
      std::memcpy(&w, s.stack.data() + off, 8);
      if (w == prev) {
        slots->emplace_back(uint32_t(off), prev);
        off += 8;
        found = true;
        break;
      }
    }
    if (!found) return false;
  }
  return true;
}

bool slots_match(const UStackView& u, const std::vector<std::pair<uint32_t, uint64_t>>& slots) {
  for (auto [off, val] : slots) {
    uint64_t w;
    if (off + 8 > u.stack_len) return false;
    std::memcpy(&w, u.stack + off, 8);
    if (w != val) return false;
  }
  return true;
}

}  // namespace

// Mappings normally only add up (ld.so loading libraries one by one); code
// mapped where other code was (dlclose, then dlopen) replaces the old.
void Session::add_umap(UMap m) {
  Maps& mp = maps_[m.pid];
  auto it = mp.all.lower_bound(m.start);
  if (it != mp.all.begin() && std::prev(it)->second.end > m.start) --it;
  while (it != mp.all.end() && it->second.start < m.end) {
    it = mp.all.erase(it);
    mp.rebuild = true;
  }
  mp.fresh += m.maps_line();
  mp.all.emplace(m.start, std::move(m));
}

std::shared_ptr<const Session::Resolved> Session::resolve(const UStackView& u) {
  if (!sym_) sym_ = std::make_unique<Symbolizer>();
  if (auto m = maps_.find(u.pid); m != maps_.end() && (m->second.rebuild || !m->second.fresh.empty())) {
    Maps& mp = m->second;
    if (mp.rebuild) {
      sym_->forget(u.pid);
      std::string all;
      for (auto& [start, um] : mp.all) all += um.maps_line();
      sym_->add_maps(u.pid, all);
    } else {
      sym_->add_maps(u.pid, mp.fresh);
    }
    mp.fresh.clear();
    mp.rebuild = false;
    memo_.erase(u.pid);  // more code known: earlier results may be partial
  }
  auto& memo = memo_[u.pid];
  // rbp counts only as a frame pointer (into the copied stack); otherwise it
  // is a general register whose value says nothing about the frames.
  const uint64_t sp = u.regs.r[kRegSp], bp = u.regs.r[6];
  const MemoKey mk{u.regs.r[kRegIp], sp, bp >= sp && bp - sp < u.stack_len ? bp - sp : ~0ull};
  if (auto m = memo.find(mk); m != memo.end() && slots_match(u, m->second.slots)) {
    ++stacks_reused_;
    return m->second.res;
  }
  StackSample s;
  s.pid = u.pid;
  s.tid = u.tid;
  s.regs = u.regs;
  s.stack.assign(u.stack, u.stack + u.stack_len);
  std::vector<Frame> frames = sym_->unwind(s, opts_.max_frames);
  if (frames.empty()) return nullptr;
  auto res = std::make_shared<Resolved>();
  res->stack = stack_texts(frames);
  res->site = stack_site(frames);
  Memo m;
  if (return_slots(s, frames, &m.slots)) {
    if (memo.size() >= 4096) memo.clear();
    m.res = res;
    memo.insert_or_assign(mk, std::move(m));
  }
  return res;
}

void Session::attach_stack(Event& e, int32_t key) {
  if (key < 0) return;
  auto it = pending_.find(e.tid);
  if (it == pending_.end() || it->second.key != key || it->second.pid != e.pid) {
    ++stacks_unpaired_;
    return;
  }
  if (const auto& res = it->second.res) {
    e.stack = res->stack;
    e.site = res->site;
    ++stacks_unwound_;
  }
  pending_.erase(it);
}

void Session::drop_stacks(uint32_t pid, bool exited) {
  if (sym_) sym_->forget(pid);
  maps_.erase(pid);
  memo_.erase(pid);
  for (auto it = pending_.begin(); it != pending_.end();)
    it = it->second.pid == pid ? pending_.erase(it) : std::next(it);
  // Only pids known to have kernel state: -a sees many exits a second.
  if (exited && stack_state_.erase(pid)) probe_->forget_stacks(pid);
}

}  // namespace fdw
