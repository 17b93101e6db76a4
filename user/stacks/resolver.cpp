#include "stacks/resolver.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <utility>
#include <fstream>
#include <sstream>

#include "fdwatch_abi.h"
#include "stacks/sites.h"

namespace fdw {

// The first lookup in a module loads its symbols, line tables and, for libc
// with its debug package, megabytes of DWARF: tens of milliseconds during
// which nobody drains the ring buffer.
void StackResolver::warm() {
  if (sym_ || warming_.valid()) return;
  warming_ = std::async(std::launch::async, [] {
    auto sym = std::make_unique<Symbolizer>();
    const uint32_t self = uint32_t(getpid());
    (void)sym->symbolize(self, {reinterpret_cast<uint64_t>(&::socket),
                                reinterpret_cast<uint64_t>(static_cast<int (*)(const char*, int, ...)>(&::open)),
                                reinterpret_cast<uint64_t>(&::openat)});
    sym->forget(self);
    return sym;
  });
}

Symbolizer& StackResolver::symbolizer() {
  if (warming_.valid()) sym_ = warming_.get();
  if (!sym_) sym_ = std::make_unique<Symbolizer>();
  return *sym_;
}

// Kernels without bpf_iter_task_vma send no UMAP records: the mappings are
// read from /proc at a process's first stack (again after exec, which drops
// them), while it still runs.
void StackResolver::maps_from_proc(uint32_t pid) {
  if (!maps_from_proc_ || maps_.count(pid)) return;
  std::ifstream in("/proc/" + std::to_string(pid) + "/maps");
  std::ostringstream text;
  text << in.rdbuf();
  maps_[pid].fresh = text.str();  // "" when it is gone: no call sites then
  std::istringstream lines(maps_[pid].fresh);
  for (std::string l; std::getline(lines, l);) {
    unsigned long long start, end, off;
    char perms[8];
    int path_at = 0;
    if (sscanf(l.c_str(), "%llx-%llx %7s %llx %*s %*s %n", &start, &end, perms, &off, &path_at) >= 4 &&
        path_at > 0 && l[size_t(path_at)] == '/')
      note_mapping(pid, l.substr(size_t(path_at)), start, off);
  }
}

// A CPython interpreter among the mappings: the kernel side is told where
// its runtime state is (once per process image).
void StackResolver::note_mapping(uint32_t pid, const std::string& path, uint64_t start, uint64_t pgoff) {
  if (auto bin = python_.interpreter(path)) python_updates_.bins.push_back(*bin);
  if (auto py = python_.on_mapping(pid, path, start, pgoff)) {
    python_updates_.add.emplace_back(pid, *py);
    forget_in_kernel(pid);  // interpreter frames differ per call
  }
  for (auto& n : python_.take_notes()) python_updates_.notes.push_back(std::move(n));
}

void StackResolver::preload_python(const std::vector<std::string>& paths) {
  for (const std::string& p : paths)
    if (auto bin = python_.interpreter(p)) python_updates_.bins.push_back(*bin);
}

StackResolver::PythonUpdates StackResolver::take_python() { return std::exchange(python_updates_, {}); }

// The Python frames join their thread's pending USTACK (same key).
void StackResolver::on_pystack(const PyStack& ps) {
  kernel_state_.insert(ps.pid);
  auto it = pending_.find(ps.tid);
  if (it == pending_.end() || it->second.key != ps.key || it->second.pid != ps.pid) return;
  it->second.py = python_.resolve(ps.pid, ps.frames.data(), ps.frames.size());
}

void StackResolver::on_umap(UMap m) {
  kernel_state_.insert(m.pid);
  note_mapping(m.pid, m.path, m.start, m.pgoff);
  add_umap(std::move(m));
}

void StackResolver::on_pycode(const PyCode& c) {
  kernel_state_.insert(c.pid);
  python_.on_code(c);
}

void StackResolver::on_ustack(const UStackView& u) {
  kernel_state_.insert(u.pid);
  maps_from_proc(u.pid);
  pending_.insert_or_assign(u.tid, Pending{u.pid, u.key, resolve(u), {}});
}

namespace {

// Where each return address of `frames` sits in the copied stack (searched
// upward, 8-byte aligned, in frame order: the offsets ascend, as the
// kernel's memo check expects); false when one is not found.
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
void StackResolver::add_umap(UMap m) {
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

// Gives sym_ the mappings of pid it does not know yet.
void StackResolver::sync_maps(uint32_t pid) {
  auto m = maps_.find(pid);
  if (m == maps_.end() || (!m->second.rebuild && m->second.fresh.empty())) return;
  Maps& mp = m->second;
  if (mp.rebuild) {
    sym_->forget(pid);
    std::string all;
    for (auto& [start, um] : mp.all) all += um.maps_line();
    sym_->add_maps(pid, all);
  } else {
    sym_->add_maps(pid, mp.fresh);
  }
  mp.fresh.clear();
  mp.rebuild = false;
  memo_.erase(pid);  // more code known: earlier results may be partial
  forget_in_kernel(pid);
}

std::shared_ptr<const StackResolver::Resolved> StackResolver::resolve(const UStackView& u) {
  symbolizer();
  sync_maps(u.pid);
  auto& memo = memo_[u.pid];
  // rbp counts only as a frame pointer (into the copied stack); otherwise it
  // is a general register whose value says nothing about the frames.
  const uint64_t sp = u.regs.r[kRegSp], bp = u.regs.r[6];
  const MemoKey mk{u.regs.r[kRegIp], sp, bp >= sp && bp - sp < u.stack_len ? bp - sp : ~0ull};
  if (auto m = memo.find(mk); m != memo.end() && slots_match(u, m->second.slots)) {
    ++reused_;
    return m->second.res;
  }
  StackSample s = u.sample();
  std::vector<Frame> frames = sym_->unwind(s, max_frames_);
  if (frames.empty()) return nullptr;
  auto res = std::make_shared<Resolved>();
  res->stack = stack_texts(frames);
  res->site = stack_site(frames);
  if (!python_.eval_function(u.pid).empty()) res->frames = frames;  // a copy: the memo's slots need them
  Memo m;
  if (return_slots(s, frames, &m.slots)) {
    if (memo.size() >= 4096) memo.clear();
    // (a copy cut short at an unreadable page is one the kernel would cut alike)
    if (python_.eval_function(u.pid).empty()) remember_in_kernel(u.pid, mk, m.slots, res);
    m.res = res;
    memo.insert_or_assign(mk, std::move(m));
  }
  return res;
}

// Ids are never reused while their process lives: a record still in the
// ring buffer may carry one whose entry was replaced meanwhile.
void StackResolver::remember_in_kernel(uint32_t pid, const MemoKey& mk, const Slots& slots,
                                       std::shared_ptr<const Resolved> res) {
  if (!kernel_memo_on_ || slots.size() > FDW_MEMO_SLOTS || kmemo_.size() >= FDW_MEMO_MAX) return;
  fdw_memo_key k{};
  k.tgid = pid;
  k.ip = mk.ip;
  k.sp = mk.sp;
  k.fp_off = mk.fp_off;
  fdw_memo v{};
  v.id = next_memo_id_;
  next_memo_id_ = next_memo_id_ == INT32_MAX ? 1 : next_memo_id_ + 1;
  v.n = uint32_t(slots.size());
  for (size_t i = 0; i < slots.size(); ++i) {
    v.off[i] = slots[i].first;
    v.ret[i] = slots[i].second;
  }
  kmemo_.insert_or_assign(v.id, std::move(res));
  KernelKeys& kk = kmemo_by_pid_[pid];
  kk.keys.push_back(k);
  kk.ids.push_back(v.id);
  memo_updates_.put.emplace_back(k, v);
}

void StackResolver::forget_in_kernel(uint32_t pid) {
  auto it = kmemo_by_pid_.find(pid);
  if (it == kmemo_by_pid_.end()) return;
  for (const fdw_memo_key& k : it->second.keys) memo_updates_.drop.push_back(k);
  for (int32_t id : it->second.ids) kmemo_.erase(id);
  kmemo_by_pid_.erase(it);
}

void StackResolver::attach(Event& e, int32_t key, bool memo) {
  if (key < 0) return;
  if (memo) {
    auto it = kmemo_.find(key);
    if (it == kmemo_.end()) {
      ++unpaired_;
      return;
    }
    e.stack = it->second->stack;
    e.site = it->second->site;
    ++unwound_;
    ++reused_;
    return;
  }
  auto it = pending_.find(e.tid);
  if (it == pending_.end() || it->second.key != key || it->second.pid != e.pid) {
    ++unpaired_;
    return;
  }
  const auto& res = it->second.res;
  if (!it->second.py.empty()) {
    static const std::vector<Frame> none;
    auto all = merge_python(res ? res->frames : none, it->second.py, python_.eval_function(e.pid));
    e.stack = stack_texts(all);
    if (e.stack.size() > max_frames_) e.stack.resize(max_frames_);
    e.site = stack_site(all);
    ++unwound_;
  } else if (res) {
    e.stack = res->stack;
    e.site = res->site;
    ++unwound_;
  }
  pending_.erase(it);
}

bool StackResolver::drop(uint32_t pid, bool exited) {
  if (sym_ || warming_.valid()) symbolizer().forget(pid);
  maps_.erase(pid);
  memo_.erase(pid);
  forget_in_kernel(pid);
  if (python_.forget(pid)) python_updates_.remove.push_back(pid);
  for (auto it = pending_.begin(); it != pending_.end();)
    it = it->second.pid == pid ? pending_.erase(it) : std::next(it);
  // Only pids known to have kernel state: -a sees many exits a second.
  return exited && kernel_state_.erase(pid);
}

}  // namespace fdw
