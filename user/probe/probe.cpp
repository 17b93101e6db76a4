#include "probe/probe.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/capability.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <thread>
#include <vector>

#include "fdwatch.skel.h"
#include "fdwatch_abi.h"
#include "probe/libbpf_log.h"

namespace fdw {

namespace {

bool exists(const std::string& p) {
  struct stat st;
  return stat(p.c_str(), &st) == 0;
}

bool has_cap(int cap) {
  __user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2] = {};
  if (syscall(SYS_capget, &hdr, data) != 0) return false;
  return data[cap / 32].effective & (1u << (cap % 32));
}

// "cannot load the BPF programs: <strerror> (verifier: <why>)" and the
// pointer to doctor; FDWATCH_DEBUG=1 prints the whole log.
Error load_error(int e) {
  std::string why = verifier_reason(libbpf_log_text());
  std::string msg = "cannot load the BPF programs: " + std::string(std::strerror(e));
  if (!why.empty()) msg += " (verifier: " + why + ")";
  return Error{msg, "run 'fdwatch doctor'; FDWATCH_DEBUG=1 prints the whole verifier log", e, 1};
}

}  // namespace

Result<void> check_privileges() {
  if (geteuid() == 0) return {};
  constexpr int kCapPerfmon = 38, kCapBpf = 39;
  if (has_cap(kCapBpf) && has_cap(kCapPerfmon) && has_cap(CAP_DAC_READ_SEARCH)) return {};
  return Error{"tracing needs root (or CAP_BPF, CAP_PERFMON and CAP_DAC_READ_SEARCH)",
               "run it with sudo", EPERM, 1};
}

Result<void> check_btf(const std::string& path) {
  if (exists(path)) return {};
  return Error{"this kernel has no BTF (" + path + " is missing)",
               "fdwatch needs a kernel built with CONFIG_DEBUG_INFO_BTF=y (most distribution "
               "kernels since 2021 are)",
               ENOENT, 1};
}

std::string tracefs_dir() {
  if (exists("/sys/kernel/tracing/events")) return "/sys/kernel/tracing";
  if (exists("/sys/kernel/debug/tracing/events")) return "/sys/kernel/debug/tracing";
  return "";
}

Result<void> ensure_tracefs() {
  if (!tracefs_dir().empty()) return {};
  if (mount("tracefs", "/sys/kernel/tracing", "tracefs", 0, nullptr) != 0) {
    int e = errno;
    return Error::from_errno("cannot mount tracefs at /sys/kernel/tracing", e,
                             "mount it yourself: mount -t tracefs tracefs /sys/kernel/tracing");
  }
  if (tracefs_dir().empty())
    return Error{"tracefs mounted at /sys/kernel/tracing but has no events/",
                 "is CONFIG_FTRACE_SYSCALLS enabled in this kernel?", ENOENT, 1};
  return {};
}

Result<std::unique_ptr<Probe>> Probe::open(const ProbeOptions& o) {
  if (auto r = check_privileges(); !r) return r.error();
  if (auto r = check_btf(); !r) return r.error();
  if (auto r = ensure_tracefs(); !r) return r.error();
  libbpf_log_begin();

  std::unique_ptr<Probe> p(new Probe());
  p->skel_ = fdwatch_bpf__open();
  if (!p->skel_) return Error::from_errno("cannot open the BPF object", errno, "run 'fdwatch doctor'");
  auto* ro = p->skel_->rodata;
  ro->targ_all = o.all;
  ro->follow_children = o.follow_children;
  ro->self_tgid = o.self_tgid ? o.self_tgid : uint32_t(getpid());
  ro->wake_bytes = o.wake_bytes;
  if (o.ring_bytes) {
    if (int err = bpf_map__set_max_entries(p->skel_->maps.events, uint32_t(o.ring_bytes)); err)
      return Error::from_errno("cannot size the ring buffer to " + std::to_string(o.ring_bytes) + " bytes", -err);
  }
  ro->stacks_default = o.stacks;
  if (o.stack_bytes > FDW_USTACK_MAX)
    return Error{"stack size " + std::to_string(o.stack_bytes) + " is above the maximum " +
                     std::to_string(FDW_USTACK_MAX),
                 "", EINVAL, 1};
  ro->stack_bytes = o.stack_bytes;

  // A syscall this kernel lacks is skipped (reported once), never fatal.
  const std::string events = o.tracefs_events.empty() ? tracefs_dir() + "/events/" : o.tracefs_events + "/";
  bpf_program* prog;
  bpf_object__for_each_program(prog, p->skel_->obj) {
    const char* sec = bpf_program__section_name(prog);
    std::string s = sec ? sec : "";
    if (s.rfind("tp/", 0) != 0) continue;
    std::string tp = s.substr(3);  // "syscalls/sys_enter_openat"
    if (exists(events + tp)) continue;
    bpf_program__set_autoload(prog, false);
    auto slash = tp.rfind('/');
    std::string name = tp.substr(slash + 1);
    for (const char* pre : {"sys_enter_", "sys_exit_"})
      if (name.rfind(pre, 0) == 0) name = name.substr(strlen(pre));
    if (std::find(p->skipped_.begin(), p->skipped_.end(), name) == p->skipped_.end())
      p->skipped_.push_back(name);
  }

  if (int err = fdwatch_bpf__load(p->skel_); err)
    return load_error(-err);
  if (int err = fdwatch_bpf__attach(p->skel_); err)
    return Error::from_errno("cannot attach the tracepoints", -err,
                             "run 'fdwatch doctor' (is tracefs mounted at /sys/kernel/tracing?)");
  p->rb_ = ring_buffer__new(bpf_map__fd(p->skel_->maps.events), &Probe::on_record, p.get(), nullptr);
  if (!p->rb_) return Error::from_errno("cannot open the ring buffer", errno);
  return p;
}

Probe::~Probe() {
  if (rb_) ring_buffer__free(rb_);
  if (!skel_) return;
  // Detaching a tracepoint waits for an RCU-tasks grace period (~50-100 ms);
  // one after the other that is seconds for ~100 programs.  Concurrent
  // waiters share grace periods, so the links are destroyed in parallel.
  std::vector<bpf_link**> links;
  const bpf_object_skeleton* sk = skel_->skeleton;
  for (int i = 0; sk && i < sk->prog_cnt; ++i) {
    auto* ps = reinterpret_cast<const bpf_prog_skeleton*>(
        reinterpret_cast<const char*>(sk->progs) + size_t(i) * size_t(sk->prog_skel_sz));
    if (ps->link && *ps->link) links.push_back(ps->link);
  }
  std::vector<std::thread> workers;
  const size_t kWorkers = 64;
  for (size_t w = 0; w < kWorkers && w < links.size(); ++w)
    workers.emplace_back([&links, w, kWorkers] {
      for (size_t i = w; i < links.size(); i += kWorkers) {
        bpf_link__destroy(*links[i]);
        *links[i] = nullptr;
      }
    });
  for (auto& t : workers) t.join();
  fdwatch_bpf__destroy(skel_);
}

int Probe::on_record(void* ctx, void* data, size_t len) {
  auto* self = static_cast<Probe*>(ctx);
  if (self->fn_) (*self->fn_)(data, len);
  return 0;
}

Result<void> Probe::add_target(uint32_t tgid) {
  uint8_t one = 1;
  if (bpf_map_update_elem(bpf_map__fd(skel_->maps.targets), &tgid, &one, BPF_ANY) != 0)
    return Error::from_errno("cannot add pid " + std::to_string(tgid) + " to the targets", errno);
  return {};
}

void Probe::remove_target(uint32_t tgid) {
  bpf_map_delete_elem(bpf_map__fd(skel_->maps.targets), &tgid);
}

Result<void> Probe::set_stacks(uint32_t tgid, bool on) {
  uint8_t v = on ? 1 : 0;
  if (bpf_map_update_elem(bpf_map__fd(skel_->maps.stack_pids), &tgid, &v, BPF_ANY) != 0)
    return Error::from_errno("cannot switch stacks for pid " + std::to_string(tgid), errno);
  return {};
}

void Probe::forget_stacks(uint32_t tgid) {
  bpf_map_delete_elem(bpf_map__fd(skel_->maps.stack_pids), &tgid);
  bpf_map_delete_elem(bpf_map__fd(skel_->maps.umap_state), &tgid);
}

Result<int> Probe::poll(int timeout_ms, const RecordFn& fn) {
  fn_ = &fn;
  // Records are submitted without wakeups (batched), so epoll only fires past
  // the fill threshold: the timeout is the normal wakeup, and the ring is
  // consumed after it either way.
  int n = ring_buffer__poll(rb_, timeout_ms);
  if (n >= 0 || n == -EINTR) {
    int m = ring_buffer__consume(rb_);
    n = m < 0 ? m : (n > 0 ? n : 0) + m;
  }
  fn_ = nullptr;
  if (n == -EINTR) return 0;
  if (n < 0) return Error::from_errno("reading the ring buffer", -n);
  return n;
}

ProbeStats Probe::stats() const {
  ProbeStats s;
  int ncpu = libbpf_num_possible_cpus();
  if (ncpu <= 0) return s;
  std::vector<uint64_t> vals(size_t(ncpu), 0);
  auto sum = [&](uint32_t idx) {
    uint64_t t = 0;
    if (bpf_map_lookup_elem(bpf_map__fd(skel_->maps.stats), &idx, vals.data()) == 0)
      for (uint64_t v : vals) t += v;
    return t;
  };
  s.events = sum(FDW_STAT_EVENTS);
  s.drops = sum(FDW_STAT_DROPS);
  s.no_enter = sum(FDW_STAT_NO_ENTER);
  s.forks = sum(FDW_STAT_FORKS);
  s.ustacks = sum(FDW_STAT_USTACKS);
  s.ustack_lost = sum(FDW_STAT_USTACK_LOST);
  return s;
}

std::vector<std::pair<uint32_t, uint64_t>> Probe::take_lost() {
  std::vector<std::pair<uint32_t, uint64_t>> out;
  int fd = bpf_map__fd(skel_->maps.lost_by_tgid);
  uint32_t key, next;
  uint32_t* prev = nullptr;
  std::vector<uint32_t> keys;
  while (bpf_map_get_next_key(fd, prev, &next) == 0) {
    keys.push_back(next);
    key = next;
    prev = &key;
  }
  for (uint32_t k : keys) {
    uint64_t v = 0;
    if (bpf_map_lookup_elem(fd, &k, &v) == 0 && v) out.emplace_back(k, v);
    bpf_map_delete_elem(fd, &k);
  }
  return out;
}

}  // namespace fdw
