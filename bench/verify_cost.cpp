// What loading the kernel side costs: each program's verified instructions
// (bpf_prog_info.verified_insns, deterministic per kernel) and the wall time
// of one Probe::open (load + attach; noisy, so measured here and not in a
// test).  Run as root: build/bench/verify_cost [--stacks]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>

#include "probe/probe.h"

int main(int argc, char** argv) {
  fdw::ProbeOptions o;
  o.stacks = argc > 1 && strcmp(argv[1], "--stacks") == 0;
  auto t0 = std::chrono::steady_clock::now();
  auto p = fdw::Probe::open(o);
  auto t1 = std::chrono::steady_clock::now();
  if (!p) {
    fprintf(stderr, "verify_cost: %s\n", p.error().message.c_str());
    return 1;
  }
  auto progs = p.value()->programs();
  std::sort(progs.begin(), progs.end(), [](auto& a, auto& b) { return a.verified_insns > b.verified_insns; });
  uint64_t total = 0;
  printf("%-24s %14s\n", "program", "verified_insns");
  for (auto& q : progs) {
    printf("%-24s %14u\n", q.name.c_str(), q.verified_insns);
    total += q.verified_insns;
  }
  printf("%-24s %14llu  (%zu programs)\n", "total", (unsigned long long)total, progs.size());
  printf("load+attach: %.0f ms\n", std::chrono::duration<double, std::milli>(t1 - t0).count());
  for (auto& f : p.value()->features())
    printf("feature %-22s %s\n", f.name.c_str(), f.present ? "yes" : "no");
  return 0;
}
