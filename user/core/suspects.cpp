#include "core/suspects.h"

#include <algorithm>
#include <map>
#include <tuple>

#include "core/classify.h"
#include "core/hints.h"

namespace fdw {

std::string target_pattern(const std::vector<std::string>& targets) {
  if (targets.empty()) return "";
  const std::string& first = targets[0];
  size_t pre = first.size(), minlen = first.size();
  for (const std::string& t : targets) {
    size_t i = 0;
    while (i < pre && i < t.size() && t[i] == first[i]) ++i;
    pre = i;
    minlen = std::min(minlen, t.size());
  }
  if (targets.size() == 1 || std::all_of(targets.begin(), targets.end(),
                                         [&](const std::string& t) { return t == first; }))
    return first;
  // The suffix may not overlap the prefix in the shortest target.
  size_t suf = minlen - std::min(pre, minlen);
  for (const std::string& t : targets) {
    size_t i = 0;
    while (i < suf && t[t.size() - 1 - i] == first[first.size() - 1 - i]) ++i;
    suf = i;
  }
  return first.substr(0, pre) + "*" + first.substr(first.size() - suf);
}

TargetSummary summarize_targets(std::vector<std::pair<std::string, uint64_t>> counts) {
  TargetSummary s;
  s.distinct = counts.size();
  std::vector<std::string> names;
  names.reserve(counts.size());
  for (auto& [t, n] : counts) names.push_back(t);
  s.pattern = target_pattern(names);
  std::stable_sort(counts.begin(), counts.end(), [](auto& a, auto& b) { return a.second > b.second; });
  if (counts.size() > 3) counts.resize(3);
  s.examples = std::move(counts);
  return s;
}

namespace {

struct Group {
  Suspect s;
  std::vector<std::pair<std::string, uint64_t>> targets;  // in first-seen order
  std::map<std::string, size_t> index;                     // target -> position in `targets`
  const std::vector<std::string>* stack = nullptr;         // of its first fd with one
  std::string pattern;                                     // of its own targets (call-site groups)

  void add(double age_s, const std::string& gt, uint64_t n, const std::vector<std::string>* st) {
    if (!stack && st && !st->empty()) stack = st;
    s.count += n;
    s.oldest_age_s = std::max(s.oldest_age_s, age_s);
    auto [it, fresh] = index.emplace(gt, targets.size());
    if (fresh) targets.emplace_back(gt, 0);
    targets[it->second].second += n;
  }
};

// The fds of one kind and target without a call site of their own: open
// before attach, or opened without a stack.
struct Unattributed {
  Kind kind = Kind::Other;
  uint64_t before_attach = 0, no_stack = 0;
  double oldest_age_s = 0;
  const std::vector<std::string>* stack = nullptr;
};

// `target` matches a call-site group's own targets: one of them, or its
// pattern when the '*' stands for part of the last path component
// ("/var/log/app/segment_*.log"), not for a directory or a whole endpoint.
bool matches(const Group& g, const std::string& target) {
  if (g.index.count(target)) return true;
  size_t star = g.pattern.find('*');
  if (star == std::string::npos || g.pattern.find('/', star) != std::string::npos) return false;
  std::string_view pre(g.pattern.data(), star), suf(g.pattern.data() + star + 1);
  if (pre.empty() || pre.back() == '/' || pre.find('/') == std::string_view::npos) return false;
  return target.size() >= pre.size() + suf.size() && target.compare(0, pre.size(), pre) == 0 &&
         target.compare(target.size() - suf.size(), suf.size(), suf) == 0;
}

}  // namespace

std::vector<Suspect> build_suspects(const std::vector<FdView>& fds, const std::vector<std::string>& sites,
                                    const SuspectContext& c) {
  std::map<std::pair<std::string, int>, Group> groups;             // (site, kind): fds of a known site
  std::map<std::pair<int, std::string>, Unattributed> loose;       // (kind, target): the others
  for (size_t i = 0; i < fds.size(); ++i) {
    const FdView& f = fds[i];
    std::string gt = group_target(f.kind, f.target);
    if (!f.seeded && !sites[i].empty()) {
      Group& g = groups[{sites[i], int(f.kind)}];
      g.s.kind = f.kind;
      g.s.site = sites[i];
      g.add(f.age_s, gt, 1, &f.stack.get());
      continue;
    }
    Unattributed& u = loose[{int(f.kind), gt}];
    u.kind = f.kind;
    ++(f.seeded ? u.before_attach : u.no_stack);
    u.oldest_age_s = std::max(u.oldest_age_s, f.age_s);
    if (!u.stack && !f.stack.empty()) u.stack = &f.stack.get();
  }
  for (auto& [key, g] : groups) {
    std::vector<std::string> names;
    for (auto& [t, n] : g.targets) names.push_back(t);
    g.pattern = target_pattern(names);
  }
  // Fds without a site join the biggest call-site group of their kind whose
  // targets they match (one leak, part of it opened before we looked);
  // the rest are groups of their own, by kind and target.
  std::map<std::pair<int, std::string>, Group> own;
  for (auto& [key, u] : loose) {
    const std::string& gt = key.second;
    Group* best = nullptr;
    for (auto& [gk, g] : groups)
      if (g.s.kind == u.kind && matches(g, gt) && (!best || g.s.count > best->s.count)) best = &g;
    Group& g = best ? *best : own[key];
    g.s.kind = u.kind;
    g.add(u.oldest_age_s, gt, u.before_attach + u.no_stack, u.stack);
    g.s.before_attach += u.before_attach;
    if (best) g.s.unattributed += u.before_attach + u.no_stack;
  }
  std::vector<Suspect> out;
  auto finish = [&](Group& g) {
    Suspect& s = g.s;
    s.targets = summarize_targets(std::move(g.targets));
    s.target = s.targets.examples.empty() ? "" : s.targets.examples[0].first;
    // A group all open before attach was not seen growing.
    bool seen = s.before_attach < s.count;
    SiteGrowthRate rate = c.growth && seen ? c.growth(s.site, s.kind) : SiteGrowthRate{};
    s.growth_per_s = rate.per_s;
    bool grew = rate.per_s >= c.min_growth_per_s && (rate.known || s.count >= c.min_burst);
    s.leaking = grew || (c.limit_failures && 2 * s.count > c.open_total);
    if (s.leaking && g.stack) s.hint = suspect_hint(s.kind, *g.stack, s.site);
    out.push_back(std::move(s));
  };
  for (auto& [key, g] : groups) finish(g);
  for (auto& [key, g] : own) finish(g);
  std::stable_sort(out.begin(), out.end(), [](const Suspect& a, const Suspect& b) {
    if (a.leaking != b.leaking) return a.leaking;
    return a.count != b.count ? a.count > b.count : a.oldest_age_s > b.oldest_age_s;
  });
  return out;
}

}  // namespace fdw
