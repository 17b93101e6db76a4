// The kernel side as a whole: what loading it costs the verifier, and how it
// loads on a kernel without the optional features (faked with
// ProbeOptions::without).
#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "common/require_root.h"
#include "fdwatch_abi.h"
#include "probe/decoder.h"
#include "probe/probe.h"
#include "probe/syscalls.h"

using namespace fdw;

namespace {

// Total instructions the verifier may walk for the whole object.  Counts are
// deterministic per kernel (6.18: about 161k in 71 programs, loaded and
// attached in ~0.4 s); a change that puts a path walk or an unbounded branch
// fan-out back into the handlers multiplies it.
constexpr uint64_t kVerifiedInsnsBudget = 165'000;

std::unique_ptr<Probe> open_probe(ProbeOptions o) {
  o.self_tgid = 0xffffffffu;  // trace ourselves
  auto p = Probe::open(o);
  EXPECT_TRUE(p) << p.error().message;
  return p ? std::move(p.value()) : nullptr;
}

bool loaded(const Probe& p, const std::string& name) {
  auto progs = p.programs();
  return std::any_of(progs.begin(), progs.end(), [&](auto& q) { return q.name == name; });
}

}  // namespace

TEST(KernelSide, VerifiedInstructionsWithinBudget) {
  FDW_REQUIRE_ROOT();
  ProbeOptions o;
  o.stacks = true;
  auto p = open_probe(o);
  ASSERT_TRUE(p);
  auto progs = p->programs();
  uint64_t total = 0;
  for (auto& q : progs) total += q.verified_insns;
  ASSERT_GT(total, 0u) << "this kernel does not report verified_insns (5.16+)";
  std::sort(progs.begin(), progs.end(), [](auto& a, auto& b) { return a.verified_insns > b.verified_insns; });
  for (size_t i = 0; i < 5 && i < progs.size(); ++i)
    printf("  %-24s %u\n", progs[i].name.c_str(), progs[i].verified_insns);
  printf("  total %llu in %zu programs\n", (unsigned long long)total, progs.size());
  EXPECT_LE(total, kVerifiedInsnsBudget);
}

// Every handler is installed at its syscall's number: one without a number
// would never run.
TEST(KernelSide, EveryHandlerHasASyscallNumber) {
  FDW_REQUIRE_ROOT();
  auto p = open_probe({});
  ASSERT_TRUE(p);
  int handlers = 0;
  for (auto& q : p->programs()) {
    if (q.name.rfind("sys_", 0) != 0 && q.name.rfind("all_", 0) != 0) continue;
    ++handlers;
    EXPECT_GE(syscall_nr(q.name.substr(4)), 0) << q.name;
  }
  EXPECT_GE(handlers, 50);
}

// Without bpf_iter_task_vma and usable io_uring tracepoints (6.1's case for
// the first) the programs that need them stay unloaded, they are reported
// missing, and everything else is traced as before.
TEST(KernelSide, LoadsWithoutOptionalFeatures) {
  FDW_REQUIRE_ROOT();
  ProbeOptions o;
  o.stacks = true;
  o.without = {"bpf_iter_task_vma", "io_uring_tracepoints"};
  auto p = open_probe(o);
  ASSERT_TRUE(p);
  EXPECT_FALSE(p->has("bpf_iter_task_vma"));
  EXPECT_FALSE(p->has("io_uring_tracepoints"));
  EXPECT_FALSE(loaded(*p, "stage_umap"));
  EXPECT_FALSE(loaded(*p, "uring_submit"));
  EXPECT_TRUE(loaded(*p, "stage_ustack"));
  ASSERT_TRUE(p->add_target(uint32_t(getpid())));

  int fd = int(syscall(SYS_memfd_create, "fallback-test", 0));
  ASSERT_GE(fd, 0);
  char truth[256] = {};
  ASSERT_GT(readlink(("/proc/self/fd/" + std::to_string(fd)).c_str(), truth, sizeof truth - 1), 0);
  std::vector<Event> seen;
  int umaps = 0, ustacks = 0;
  Probe::RecordFn fn = [&](const void* d, size_t n) {
    uint16_t type = static_cast<const uint16_t*>(d)[8];  // fdw_event.type at byte 16
    umaps += type == FDW_EV_UMAP;
    ustacks += type == FDW_EV_USTACK;
    if (auto ev = decode_event(d, n); ev && ev->pid == uint32_t(getpid())) seen.push_back(*ev);
  };
  ASSERT_TRUE(p->poll(0, fn));
  close(fd);
  int memfds = 0;
  for (auto& e : seen)
    if (e.sys == FDW_SYS_MEMFD_CREATE && e.fd == fd) {
      ++memfds;
      EXPECT_EQ(e.kind, Kind::Memfd);
      EXPECT_EQ(e.target, truth);
    }
  EXPECT_EQ(memfds, 1);
  EXPECT_EQ(umaps, 0);  // userspace reads /proc/PID/maps instead
  EXPECT_GE(ustacks, 1);
}

// What Linux 5.10 lacks (bpf_get_current_task_btf, bpf_task_pt_regs,
// bpf_snprintf, bpf_loop; bpf_iter_task_vma and usable io_uring tracepoints
// too): the probe-read and bounded-loop versions load instead, and the
// records are the same: the arguments (O_CLOEXEC), the files at the fds, a
// namespace fd's name as /proc spells it, call stacks, and closes.
TEST(KernelSide, LoadsWithWhatLinux510Lacks) {
  FDW_REQUIRE_ROOT();
  ProbeOptions o;
  o.stacks = true;
  o.without = {"bpf_get_current_task_btf", "bpf_task_pt_regs", "bpf_snprintf", "bpf_loop",
               "bpf_iter_task_vma", "io_uring_tracepoints"};
  auto p = open_probe(o);
  ASSERT_TRUE(p);
  for (auto& f : o.without) EXPECT_FALSE(p->has(f)) << f;
  EXPECT_TRUE(loaded(*p, "stage_pystack_loop"));
  EXPECT_FALSE(loaded(*p, "stage_pystack"));
  uint64_t total = 0;
  for (auto& q : p->programs()) {
    total += q.verified_insns;
    if (q.name == "stage_pystack_loop") printf("  stage_pystack_loop %u\n", q.verified_insns);
  }
  printf("  total %llu (the verifier of this kernel)\n", (unsigned long long)total);
  ASSERT_TRUE(p->add_target(uint32_t(getpid())));

  int ns = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
  int memfd = int(syscall(SYS_memfd_create, "fallback-510", 0));
  ASSERT_GE(ns, 0);
  ASSERT_GE(memfd, 0);
  auto link = [](int fd) {
    char b[256] = {};
    EXPECT_GT(readlink(("/proc/self/fd/" + std::to_string(fd)).c_str(), b, sizeof b - 1), 0);
    return std::string(b);
  };
  std::vector<Event> seen;
  int ustacks = 0;
  Probe::RecordFn fn = [&](const void* d, size_t n) {
    ustacks += static_cast<const uint16_t*>(d)[8] == FDW_EV_USTACK;  // fdw_event.type at byte 16
    if (auto ev = decode_event(d, n); ev && ev->pid == uint32_t(getpid())) seen.push_back(*ev);
  };
  ASSERT_TRUE(p->poll(0, fn));
  int opens = 0, memfds = 0;
  for (auto& e : seen) {
    if (e.sys == FDW_SYS_OPENAT && e.fd == ns) {
      ++opens;
      EXPECT_TRUE(e.cloexec);
      EXPECT_EQ(e.target, link(ns));
    }
    if (e.sys == FDW_SYS_MEMFD_CREATE && e.fd == memfd) {
      ++memfds;
      EXPECT_FALSE(e.cloexec);
      EXPECT_EQ(e.kind, Kind::Memfd);
      EXPECT_EQ(e.target, link(memfd));
    }
  }
  EXPECT_EQ(opens, 1);
  EXPECT_EQ(memfds, 1);
  EXPECT_GE(ustacks, 2);
  close(ns);
  close(memfd);
  seen.clear();
  ASSERT_TRUE(p->poll(0, fn));
  int closes = 0;
  for (auto& e : seen) closes += e.type == EvType::Close && e.err == 0 && (e.fd == ns || e.fd == memfd);
  EXPECT_EQ(closes, 2);
}

// A kernel older than a helper the object calls rejects it by number only;
// the load error names it.
TEST(KernelSide, LoadErrorNamesAMissingHelper) {
  EXPECT_EQ(name_unknown_helper("invalid func unknown#158"),
            "this kernel has no BPF helper bpf_get_current_task_btf (#158)");
  EXPECT_EQ(name_unknown_helper("invalid func unknown#175"),
            "this kernel has no BPF helper bpf_task_pt_regs (#175)");
  EXPECT_EQ(name_unknown_helper("invalid func unknown#181"), "this kernel has no BPF helper bpf_loop (#181)");
  EXPECT_EQ(name_unknown_helper("R1 invalid mem access 'scalar'"), "R1 invalid mem access 'scalar'");
}
