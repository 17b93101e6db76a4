#include "probe/features.h"

#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <fstream>
#include <memory>

#include "sys/host.h"

namespace fdw {

namespace {

struct BtfDeleter {
  void operator()(btf* b) const { btf__free(b); }
};
using BtfPtr = std::unique_ptr<btf, BtfDeleter>;

// "struct io_kiocb *", "u64", "void *": a parameter type as C spells it.
std::string type_name(const btf* b, uint32_t id) {
  std::string stars;
  for (int depth = 0; depth < 8; ++depth) {
    const btf_type* t = btf__type_by_id(b, id);
    if (!t) return "?";
    switch (btf_kind(t)) {
      case BTF_KIND_PTR:
        stars += "*";
        id = t->type;
        continue;
      case BTF_KIND_CONST: case BTF_KIND_VOLATILE: case BTF_KIND_RESTRICT: case BTF_KIND_TYPE_TAG:
        id = t->type;
        continue;
      default: {
        std::string n = id == 0 ? "void" : btf__name_by_offset(b, t->name_off);
        if (btf_kind(t) == BTF_KIND_STRUCT) n = "struct " + n;
        return stars.empty() ? n : n + " " + stars;
      }
    }
  }
  return "?";
}

std::vector<std::string> raw_tp_args(const btf* b, const std::string& tp) {
  std::vector<std::string> out;
  if (!b) return out;
  int id = btf__find_by_name_kind(b, ("btf_trace_" + tp).c_str(), BTF_KIND_TYPEDEF);
  if (id <= 0) return out;
  const btf_type* t = btf__type_by_id(b, uint32_t(id));        // typedef -> pointer
  if (t) t = btf__type_by_id(b, t->type);                      // pointer -> func proto
  if (t && btf_is_ptr(t)) t = btf__type_by_id(b, t->type);
  if (!t || !btf_is_func_proto(t)) return out;
  const btf_param* p = btf_params(t);
  for (int i = 1; i < btf_vlen(t); ++i)  // params[0] is the probe's data pointer
    out.push_back(type_name(b, p[i].type));
  return out;
}

bool cgroup2_mounted() {
  std::ifstream in("/proc/self/mounts");
  std::string dev, dir, type;
  while (in >> dev >> dir >> type) {
    if (type == "cgroup2") return true;
    in.ignore(4096, '\n');
  }
  return false;
}

// Whether the kernel has BPF helper `name` ("loop" for bpf_loop): its
// BPF_FUNC_ value in the kernel's enum bpf_func_id.
bool has_helper(const btf* b, const std::string& name) {
  int id = b ? btf__find_by_name_kind(b, "bpf_func_id", BTF_KIND_ENUM) : -1;
  const btf_type* t = id > 0 ? btf__type_by_id(b, uint32_t(id)) : nullptr;
  if (!t) return false;
  const std::string want = "BPF_FUNC_" + name;
  const struct btf_enum* e = btf_enum(t);
  for (int i = 0; i < btf_vlen(t); ++i)
    if (want == btf__name_by_offset(b, e[i].name_off)) return true;
  return false;
}

KernelFeature cgroup_feature() {
  KernelFeature f{"cgroup_v2", cgroup2_mounted(), "--cgroup filtering and per-process cgroup/container labels",
                  "--cgroup is refused"};
  f.unmounted = !f.present && kernel_has_filesystem("cgroup2");
  return f;
}

// The helpers of kernels after 5.10 that fdwatch uses where present; each
// has a probe-read (or bounded-loop) version, chosen at load.
struct HelperFeature {
  const char* helper;  // its BPF_FUNC_ name
  const char* gates;
  const char* without;
};

constexpr HelperFeature kHelpers[] = {
    {"get_current_task_btf", "fd tables and task fields read with plain loads, since 5.11",
     "fd tables and task fields are read with probe reads: same records, more nanoseconds per call"},
    {"task_pt_regs", "syscall arguments and user registers read with plain loads, since 5.15",
     "syscall arguments and user registers are read with a probe read: same records, more nanoseconds "
     "per call"},
    {"snprintf", "namespace fds named like /proc does by the kernel's formatter, since 5.13",
     "fdwatch's own BPF code spells namespace fds the same way"},
    {"loop", "Python frame walks verified once per load, since 5.17",
     "Python frames are walked in bounded loops: same frames, a longer verification at start"},
};

}  // namespace

std::string kernel_release() {
  utsname u{};
  return uname(&u) == 0 ? u.release : "";
}

UringShape uring_shape(const btf* b) {
  auto submit = raw_tp_args(b, "io_uring_submit_req");
  auto complete = raw_tp_args(b, "io_uring_complete");
  if (submit != std::vector<std::string>{"struct io_kiocb *"}) return UringShape::None;
  if (complete.size() == 3 && complete[2] == "struct io_uring_cqe *") return UringShape::Cqe;
  if (complete.size() >= 5 && complete[3] == "int") return UringShape::Fields;
  return UringShape::None;
}

std::vector<KernelFeature> probe_kernel_features(UringShape* uring) {
  BtfPtr vm(btf__load_vmlinux_btf());
  const btf* b = vm.get();
  const UringShape shape = uring_shape(b);
  if (uring) *uring = shape;
  std::vector<KernelFeature> f;
  f.push_back({"bpf_iter_task_vma",
               b && btf__find_by_name_kind(b, "bpf_iter_task_vma_new", BTF_KIND_FUNC) > 0,
               "mappings for call stacks read in the kernel",
               "mappings are read from /proc, so a process that exits before fdwatch reads them "
               "gets no call sites"});
  f.push_back({"io_uring_tracepoints", shape != UringShape::None,
               "fds opened and closed through io_uring",
               "io_uring users are marked inexact and re-read from /proc"});
  f.push_back(cgroup_feature());
  for (const HelperFeature& h : kHelpers)
    f.push_back({std::string("bpf_") + h.helper, has_helper(b, h.helper), h.gates, h.without});
  return f;
}

std::string absence(const KernelFeature& f) {
  if (f.unmounted) return "this host has not mounted " + f.name + " (the kernel has it)";
  return "kernel " + kernel_release() + " has no " + f.name;
}

}  // namespace fdw
