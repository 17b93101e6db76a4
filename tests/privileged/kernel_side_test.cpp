// The kernel side as a whole: what loading it costs the verifier, and how it
// loads on a kernel without the optional features (faked with
// ProbeOptions::without).
#include <gtest/gtest.h>

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
    if (q.name.rfind("sys_", 0) != 0) continue;
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
