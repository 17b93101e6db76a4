// Suspects: a process's still-open fds (for an exited one, those open at its
// exit) grouped by creating call site and kind, one group per leak.  Fds
// without a site (open before attach, or opened without a stack) join the
// call-site group whose targets they match, else form groups by kind and
// target.  Each group gets its targets summarized, its growth, a verdict
// and, when leaking, a hint.  Pure.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "core/snapshot.h"

namespace fdw {

// A group's growth: the robust slope (fds/s) of its open count over the
// window, and whether the samples span enough of it to mean something.
struct SiteGrowthRate {
  double per_s = 0;
  bool known = true;
};

struct SuspectContext {
  // The growth of (site, kind).  A group seen only briefly grows by thousands
  // per second from one fd: unknown, it is leaking only when it also holds
  // `min_burst` fds or more.
  std::function<SiteGrowthRate(const std::string& site, Kind kind)> growth;
  uint64_t min_burst = 5;
  double min_growth_per_s = 0.05;  // below this a group did not grow
  bool limit_failures = false;     // the process failed with EMFILE/ENFILE
  uint64_t open_total = 0;         // fds the process had open (at exit: open_at_exit)
};

// fds[i] was created at sites[i] ("" unknown; a seeded fd's site is never
// known).  Every fd is in exactly one group.  A group all open before attach
// has no growth (it was not seen growing).  Leaking groups first, then most
// fds first, then oldest first.
std::vector<Suspect> build_suspects(const std::vector<FdView>& fds, const std::vector<std::string>& sites,
                                    const SuspectContext& c);

// Distinct targets with their counts -> pattern, the top three, distinct.
TargetSummary summarize_targets(std::vector<std::pair<std::string, uint64_t>> counts);

// One target: itself; several: their common prefix and suffix around a '*'
// ("/var/log/app/segment_*.log", "tcp ->10.0.0.*:80").
std::string target_pattern(const std::vector<std::string>& targets);

}  // namespace fdw
