#include "probe/probe.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <deque>
#include <iterator>
#include <mutex>
#include <vector>

#include "fdwatch.skel.h"
#include "fdwatch_abi.h"
#include "probe/syscalls.h"

namespace fdw {

namespace {

bool exists(const std::string& p) {
  struct stat st;
  return stat(p.c_str(), &st) == 0;
}

// libbpf's messages: all of them on stderr with FDWATCH_DEBUG set; else the
// last lines of its warnings are kept, so that a failed load can say why.
std::mutex g_log_mu;
std::deque<std::string> g_log;

int libbpf_print(enum libbpf_print_level level, const char* fmt, va_list ap) {
  static const bool debug = getenv("FDWATCH_DEBUG") != nullptr;
  if (debug) return vfprintf(stderr, fmt, ap);
  if (level != LIBBPF_WARN) return 0;
  va_list ap2;
  va_copy(ap2, ap);
  int n = vsnprintf(nullptr, 0, fmt, ap2);
  va_end(ap2);
  if (n <= 0) return 0;
  std::string text(size_t(n) + 1, '\0');
  vsnprintf(text.data(), text.size(), fmt, ap);
  text.resize(size_t(n));
  std::lock_guard<std::mutex> lock(g_log_mu);
  size_t start = 0;
  for (size_t nl; (nl = text.find('\n', start)) != std::string::npos; start = nl + 1)
    g_log.push_back(text.substr(start, nl - start));
  if (start < text.size()) g_log.push_back(text.substr(start));
  while (g_log.size() > 200) g_log.pop_front();
  return 0;
}

// The verifier's (or libbpf's) last line that says what went wrong.
std::string load_failure_reason() {
  std::lock_guard<std::mutex> lock(g_log_mu);
  for (auto it = g_log.rbegin(); it != g_log.rend(); ++it) {
    const std::string& l = *it;
    if (l.empty() || l.find("END PROG LOAD LOG") != std::string::npos ||
        l.rfind("processed ", 0) == 0 || l.find("verification time") != std::string::npos ||
        l.find("failed to load") != std::string::npos || l.find("stack depth") != std::string::npos)
      continue;
    return name_unknown_helper(l.rfind("libbpf: ", 0) == 0 ? l.substr(8) : l);
  }
  return "";
}

// The syscall number a handler program serves, and for whom (`handled`):
// sys_NAME the processes traced, all_NAME every process; -1 for programs
// that are no handlers.
int handler_slot(const std::string& prog, uint8_t* handled) {
  for (auto [prefix, h] : {std::pair{"sys_", FDW_HANDLED_TARGETS}, std::pair{"all_", FDW_HANDLED_ALL}}) {
    if (prog.rfind(prefix, 0) != 0) continue;
    *handled = uint8_t(h);
    return syscall_nr(prog.substr(4));
  }
  return -1;
}

bool has_cap(int cap) {
  __user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2] = {};
  if (syscall(SYS_capget, &hdr, data) != 0) return false;
  return data[cap / 32].effective & (1u << (cap % 32));
}

// Programs whose section names a tracepoint ("raw_tp/sys_exit") are attached;
// handlers and stages ("raw_tp") are reached by tail calls.
bool attachable(const bpf_program* prog) {
  const char* sec = bpf_program__section_name(prog);
  return sec && strchr(sec, '/') != nullptr && bpf_program__autoload(prog);
}

}  // namespace

Result<void> check_privileges() {
  if (geteuid() == 0) return {};
  constexpr int kCapPerfmon = 38, kCapBpf = 39;
  if (has_cap(kCapBpf) && has_cap(kCapPerfmon) && has_cap(CAP_DAC_READ_SEARCH)) return {};
  return Error{"tracing needs root (or CAP_BPF, CAP_PERFMON and CAP_DAC_READ_SEARCH)",
               "run it with sudo", EPERM, 1};
}

std::string name_unknown_helper(const std::string& line) {
  // The uapi header's list of helpers in number order; it puts the commas
  // between entries itself up to 6.1 (FN(name),), not after (FN(name, nr)).
#define FDW_HELPER_NAME(name, ...) "bpf_" #name __VA_OPT__(, )
  static const char* const kNames[] = {__BPF_FUNC_MAPPER(FDW_HELPER_NAME)};
#undef FDW_HELPER_NAME
  static const std::string kTag = "unknown#";
  size_t at = line.find(kTag);
  if (at == std::string::npos) return line;
  size_t nr = strtoul(line.c_str() + at + kTag.size(), nullptr, 10);
  std::string name = nr > 0 && nr < std::size(kNames) ? kNames[nr] : "of a newer kernel";
  return "this kernel has no BPF helper " + name + " (#" + std::to_string(nr) + ")";
}

Result<void> check_btf(const std::string& path) {
  if (exists(path)) return {};
  return Error{"this kernel has no BTF (" + path + " is missing)",
               "fdwatch needs a kernel built with CONFIG_DEBUG_INFO_BTF=y (most distribution "
               "kernels since 2021 are)",
               ENOENT, 1};
}

bool Probe::has(const std::string& feature) const {
  for (auto& f : features_)
    if (f.name == feature) return f.present;
  return false;
}

// Rodata, map sizes, and which optional programs this kernel can load.
Result<void> Probe::configure(const ProbeOptions& o) {
  auto* ro = skel_->rodata;
  ro->targ_all = o.all;
  ro->follow_children = o.follow_children;
  ro->targ_cgroup = !o.cgroup.empty();
  ro->self_tgid = o.self_tgid ? o.self_tgid : uint32_t(getpid());
  if (o.ring_bytes) {
    if (int err = bpf_map__set_max_entries(skel_->maps.events, uint32_t(o.ring_bytes)); err)
      return Error::from_errno("cannot size the ring buffer to " + std::to_string(o.ring_bytes) + " bytes", -err);
  }
  ro->wake_bytes = o.wake_bytes ? o.wake_bytes : bpf_map__max_entries(skel_->maps.events) / 8;
  ro->stacks_default = o.stacks;
  if (o.stack_bytes > FDW_USTACK_MAX)
    return Error{"stack size " + std::to_string(o.stack_bytes) + " is above the maximum " +
                     std::to_string(FDW_USTACK_MAX),
                 "", EINVAL, 1};
  ro->stack_bytes = o.stack_bytes;

  UringShape shape = UringShape::None;
  features_ = probe_kernel_features(&shape);
  for (auto& f : features_)
    if (std::find(o.without.begin(), o.without.end(), f.name) != o.without.end()) f.present = false;
  ro->has_task_btf = has("bpf_get_current_task_btf");
  ro->has_task_regs = has("bpf_task_pt_regs");
  ro->has_snprintf = has("bpf_snprintf");
  bpf_program__set_autoload(skel_->progs.stage_pystack, has("bpf_loop"));
  bpf_program__set_autoload(skel_->progs.stage_pystack_loop, !has("bpf_loop"));
  bpf_program* prog;
  bpf_object__for_each_program(prog, skel_->obj) {
    uint8_t handled = FDW_HANDLED_NONE;
    int nr = handler_slot(bpf_program__name(prog), &handled);
    if (nr >= 0 && nr < FDW_NR_MAX) ro->sys_handled[nr] = handled;
  }
  ro->umap_kernel = has("bpf_iter_task_vma");
  bpf_program__set_autoload(skel_->progs.stage_umap, ro->umap_kernel);
  const UringShape uring = has("io_uring_tracepoints") ? shape : UringShape::None;
  bpf_program__set_autoload(skel_->progs.uring_submit, uring != UringShape::None);
  bpf_program__set_autoload(skel_->progs.uring_complete_fields, uring == UringShape::Fields);
  bpf_program__set_autoload(skel_->progs.uring_complete_cqe, uring == UringShape::Cqe);
  return {};
}

// Handlers into sys_progs by syscall number, stages into stages.
Result<void> Probe::fill_dispatch() {
  const int sys_fd = bpf_map__fd(skel_->maps.sys_progs);
  const int stage_fd = bpf_map__fd(skel_->maps.stages);
  bpf_program* prog;
  bpf_object__for_each_program(prog, skel_->obj) {
    if (!bpf_program__autoload(prog) || attachable(prog)) continue;
    std::string name = bpf_program__name(prog);
    uint32_t key;
    int map_fd = sys_fd;
    if (name == "stage_umap") {
      key = FDW_STAGE_UMAP, map_fd = stage_fd;
    } else if (name == "stage_ustack") {
      key = FDW_STAGE_USTACK, map_fd = stage_fd;
    } else if (name == "stage_path") {
      key = FDW_STAGE_PATH, map_fd = stage_fd;
    } else if (name == "stage_pystack" || name == "stage_pystack_loop") {
      key = FDW_STAGE_PYSTACK, map_fd = stage_fd;
    } else {
      uint8_t handled;
      int nr = handler_slot(name, &handled);
      if (nr < 0 || nr >= FDW_NR_MAX)
        return Error{"BPF program " + name + " has no syscall number", "", EINVAL, 1};
      key = uint32_t(nr);
    }
    int fd = bpf_program__fd(prog);
    if (bpf_map_update_elem(map_fd, &key, &fd, BPF_ANY) != 0)
      return Error::from_errno("cannot install BPF program " + name, errno);
  }
  return {};
}

Result<void> Probe::attach() {
  bpf_program* prog;
  bpf_object__for_each_program(prog, skel_->obj) {
    if (!attachable(prog)) continue;
    bpf_link* l = bpf_program__attach(prog);
    if (!l)
      return Error::from_errno(std::string("cannot attach ") + bpf_program__section_name(prog), errno,
                               "run 'fdwatch doctor' to see what this kernel supports");
    links_.push_back(l);
  }
  return {};
}

Result<std::unique_ptr<Probe>> Probe::open(const ProbeOptions& o) {
  if (auto r = check_privileges(); !r) return r.error();
  if (auto r = check_btf(); !r) return r.error();
  libbpf_set_print(libbpf_print);

  std::unique_ptr<Probe> p(new Probe());
  p->skel_ = fdwatch_bpf__open();
  if (!p->skel_) return Error::from_errno("cannot open the BPF object", errno);
  if (auto r = p->configure(o); !r) return r.error();
  if (int err = fdwatch_bpf__load(p->skel_); err) {
    std::string why = load_failure_reason();
    return Error{"cannot load the BPF programs: " + std::string(strerror(-err)) +
                     (why.empty() ? "" : " (" + why + ")"),
                 "run 'fdwatch doctor' to see what this kernel supports; FDWATCH_DEBUG=1 shows "
                 "the verifier's log",
                 -err, 1};
  }
  if (!o.cgroup.empty()) {
    int cg = ::open(o.cgroup.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (cg < 0)
      return Error::from_errno("cannot open cgroup " + o.cgroup, errno,
                               "give a cgroup v2 directory, e.g. /sys/fs/cgroup/system.slice/foo.service");
    uint32_t zero = 0;
    int err = bpf_map_update_elem(bpf_map__fd(p->skel_->maps.cgroup_filter), &zero, &cg, BPF_ANY);
    int e = errno;
    ::close(cg);
    if (err != 0)
      return Error::from_errno("cannot filter on cgroup " + o.cgroup, e, "is it a cgroup v2 directory?");
  }
  if (auto r = p->fill_dispatch(); !r) return r.error();
  if (auto r = p->attach(); !r) return r.error();
  p->rb_ = ring_buffer__new(bpf_map__fd(p->skel_->maps.events), &Probe::on_record, p.get(), nullptr);
  if (!p->rb_) return Error::from_errno("cannot open the ring buffer", errno);
  return p;
}

Probe::~Probe() {
  for (bpf_link* l : links_) bpf_link__destroy(l);
  if (rb_) ring_buffer__free(rb_);
  if (skel_) fdwatch_bpf__destroy(skel_);
}

std::vector<LoadedProgram> Probe::programs() const {
  std::vector<LoadedProgram> out;
  bpf_program* prog;
  bpf_object__for_each_program(prog, skel_->obj) {
    int fd = bpf_program__fd(prog);
    if (fd < 0) continue;
    bpf_prog_info info{};
    uint32_t len = sizeof(info);
    LoadedProgram p{bpf_program__name(prog), 0};
    if (bpf_obj_get_info_by_fd(fd, &info, &len) == 0) p.verified_insns = info.verified_insns;
    out.push_back(std::move(p));
  }
  return out;
}

int Probe::on_record(void* ctx, void* data, size_t len) {
  auto* self = static_cast<Probe*>(ctx);
  if (self->fn_) (*self->fn_)(data, len);
  return 0;
}

Result<void> Probe::add_target(uint32_t tgid) {
  uint8_t one = 1;
  // The kernel side tests first_target, then looks in the map only with
  // targets_more set: each is set before the map entry it stands for.
  if (!first_target_set_) {
    skel_->bss->first_target = tgid;
    first_target_set_ = true;
  } else if (skel_->bss->first_target != tgid) {
    skel_->bss->targets_more = 1;
  }
  if (bpf_map_update_elem(bpf_map__fd(skel_->maps.targets), &tgid, &one, BPF_ANY) != 0)
    return Error::from_errno("cannot add pid " + std::to_string(tgid) + " to the targets", errno);
  return {};
}

Result<void> Probe::set_stacks(uint32_t tgid, bool on) {
  uint8_t v = on ? 1 : 0;
  if (bpf_map_update_elem(bpf_map__fd(skel_->maps.stack_pids), &tgid, &v, BPF_ANY) != 0)
    return Error::from_errno("cannot switch stacks for pid " + std::to_string(tgid), errno);
  skel_->bss->stack_pids_used = 1;
  return {};
}

void Probe::forget_stacks(uint32_t tgid) {
  bpf_map_delete_elem(bpf_map__fd(skel_->maps.stack_pids), &tgid);
  bpf_map_delete_elem(bpf_map__fd(skel_->maps.umap_state), &tgid);
  forget_python(tgid);
}

Result<void> Probe::set_python(uint32_t tgid, const fdw_py_proc& py) {
  if (bpf_map_update_elem(bpf_map__fd(skel_->maps.py_procs), &tgid, &py, BPF_ANY) != 0)
    return Error::from_errno("cannot register pid " + std::to_string(tgid) + " as CPython", errno);
  return {};
}

Result<void> Probe::add_python_bin(const fdw_py_bin& bin, const fdw_py_proc& py) {
  if (bpf_map_update_elem(bpf_map__fd(skel_->maps.py_bins), &bin, &py, BPF_ANY) != 0)
    return Error::from_errno("cannot register a CPython interpreter", errno);
  return {};
}

void Probe::forget_python(uint32_t tgid) { bpf_map_delete_elem(bpf_map__fd(skel_->maps.py_procs), &tgid); }

void Probe::add_memo(const fdw_memo_key& k, const fdw_memo& v) {
  bpf_map_update_elem(bpf_map__fd(skel_->maps.stack_memo), &k, &v, BPF_ANY);
}

void Probe::forget_memo(const fdw_memo_key& k) { bpf_map_delete_elem(bpf_map__fd(skel_->maps.stack_memo), &k); }

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
  s.forks = sum(FDW_STAT_FORKS);
  s.ustacks = sum(FDW_STAT_USTACKS);
  s.ustack_lost = sum(FDW_STAT_USTACK_LOST);
  s.memo_hits = sum(FDW_STAT_MEMO_HITS);
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
