// Optional kernel features fdwatch probes at load time.  Each one that is
// missing swaps in an alternative (another program, a userspace fallback) and
// costs a capability that the feature's `gates` text names; none is fatal.
#pragma once

#include <string>
#include <vector>

namespace fdw {

struct KernelFeature {
  std::string name;   // stable id, as in the report's kernel.missing list
  bool present = false;
  std::string gates;    // what fdwatch does with it
  std::string without;  // what it does instead on a kernel without it
  // Missing only because this host has not mounted it (cgroup2): the
  // kernel has it.
  bool unmounted = false;
};

// Why f is missing, in words: "kernel R has no NAME", or that the host has
// not mounted it.
std::string absence(const KernelFeature& f);


// The kernel release (uname -r).
std::string kernel_release();

// How this kernel's io_uring tracepoints pass what fdwatch reads:
// submit_req(req) with complete(ctx, req, user_data, res, cflags, ...)
// (Fields, up to 6.x) or complete(ctx, req, cqe) (Cqe); None: not usable.
enum class UringShape { None, Fields, Cqe };

// Probes this kernel from its BTF and /proc (no root needed); `uring`, when
// given, gets the io_uring tracepoints' shape.
std::vector<KernelFeature> probe_kernel_features(UringShape* uring = nullptr);

}  // namespace fdw
