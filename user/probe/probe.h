// The only code that knows libbpf: opens, configures, loads and attaches the
// kernel programs, feeds ring-buffer records to a callback, and reads the
// counters.  RAII: destroying the Probe detaches everything and closes every fd.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "fdwatch_abi.h"
#include "probe/features.h"
#include "util/result.h"

struct fdwatch_bpf;
struct ring_buffer;
struct bpf_link;

namespace fdw {

struct ProbeOptions {
  bool all = false;              // system-wide
  bool follow_children = false;  // add children of targets at fork (in the kernel)
  uint32_t self_tgid = 0;        // never traced; 0 = getpid()
  // Wake the reader once this much waits in the ring buffer (it also polls);
  // 0 = an eighth of the ring.  Each wakeup is an IPI the traced task pays for.
  uint64_t wake_bytes = 0;
  // Ring-buffer size in bytes (a power of two, at least the page size);
  // 0 keeps the built-in 16 MiB.  Tests make it tiny to force drops.
  uint64_t ring_bytes = 0;
  // Call stacks (USTACK/UMAP records) for every traced process unless
  // overridden per process by set_stacks().
  bool stacks = false;
  uint32_t stack_bytes = 8192;  // user stack bytes copied per call (FDW_USTACK_DEFAULT), <= FDW_USTACK_MAX
  // A cgroup v2 directory: when set, only processes in it and below are
  // traced (filtered in the kernel, on top of `all` or the targets).
  std::string cgroup;
  // Optional kernel features to act as if missing (KernelFeature::name):
  // tests take the fallbacks of older kernels with them.
  std::vector<std::string> without;
};

// One loaded program and what verifying it cost (bpf_prog_info).
struct LoadedProgram {
  std::string name;
  uint32_t verified_insns = 0;  // 0 on kernels before 5.16, which do not say
};

struct ProbeStats {
  uint64_t events = 0;     // records submitted by the kernel side
  uint64_t drops = 0;      // records lost: ring buffer full
  uint64_t forks = 0;      // children added by --children
  uint64_t ustacks = 0;    // USTACK records submitted
  uint64_t ustack_lost = 0;  // USTACK/UMAP records not sent: ring buffer (nearly) full
  uint64_t memo_hits = 0;    // calls whose stack came from the stack memo
};

class Probe {
 public:
  using RecordFn = std::function<void(const void* data, size_t len)>;

  // Checks privileges and BTF, probes the kernel's optional features, loads
  // and attaches.  Errors carry a hint.
  static Result<std::unique_ptr<Probe>> open(const ProbeOptions& o);
  ~Probe();
  Probe(const Probe&) = delete;
  Probe& operator=(const Probe&) = delete;

  Result<void> add_target(uint32_t tgid);
  // Turns call stacks on or off for one process, overriding ProbeOptions::stacks.
  Result<void> set_stacks(uint32_t tgid, bool on);
  // Drops the override (and the per-process stack state) of a process that is gone.
  void forget_stacks(uint32_t tgid);
  // Has the kernel side read tgid's CPython frames (py.runtime: its _PyRuntime),
  // or stop doing so (exec).
  Result<void> set_python(uint32_t tgid, const fdw_py_proc& py);
  // Has it read the CPython frames of every process running executable `bin`.
  Result<void> add_python_bin(const fdw_py_bin& bin, const fdw_py_proc& py);
  void forget_python(uint32_t tgid);
  // Adds or removes a stack memo entry (fdwatch_abi.h "Stack memo"); a full
  // map just serves fewer calls from it.
  void add_memo(const fdw_memo_key& k, const fdw_memo& v);
  void forget_memo(const fdw_memo_key& k);
  // Consumes available records (waits up to timeout_ms for the first);
  // returns the number consumed or an error.
  Result<int> poll(int timeout_ms, const RecordFn& fn);
  ProbeStats stats() const;
  // Records lost per tgid since the last call (and clears them).
  std::vector<std::pair<uint32_t, uint64_t>> take_lost();
  // The optional kernel features, as probed (and narrowed by `without`).
  const std::vector<KernelFeature>& features() const { return features_; }
  bool has(const std::string& feature) const;
  // Every program this probe loaded.
  std::vector<LoadedProgram> programs() const;

 private:
  Probe() = default;
  Result<void> configure(const ProbeOptions& o);
  Result<void> fill_dispatch();
  Result<void> attach();
  fdwatch_bpf* skel_ = nullptr;
  ring_buffer* rb_ = nullptr;
  std::vector<bpf_link*> links_;
  const RecordFn* fn_ = nullptr;
  std::vector<KernelFeature> features_;
  bool first_target_set_ = false;  // the kernel's first_target fast path is taken
  static int on_record(void* ctx, void* data, size_t len);
};

// Setup steps, exposed for tests and for messages.
Result<void> check_privileges();
Result<void> check_btf(const std::string& path = "/sys/kernel/btf/vmlinux");
// A verifier log line, with a helper its kernel knows only by number
// ("invalid func unknown#158") named in words.
std::string name_unknown_helper(const std::string& verifier_line);

}  // namespace fdw
