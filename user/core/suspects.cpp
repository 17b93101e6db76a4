#include "core/suspects.h"

#include <algorithm>
#include <map>
#include <tuple>

#include "core/classify.h"
#include "stacks/hints.h"

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
};

}  // namespace

std::vector<Suspect> build_suspects(const std::vector<FdView>& fds, const std::vector<std::string>& sites,
                                    const SuspectContext& c) {
  std::map<std::tuple<std::string, int, std::string>, Group> groups;
  for (size_t i = 0; i < fds.size(); ++i) {
    const FdView& f = fds[i];
    if (f.seeded) continue;  // opened before we watched: no site, not a finding of ours
    std::string gt = group_target(f.kind, f.target);
    Group& g = groups[{sites[i], int(f.kind), sites[i].empty() ? gt : std::string()}];
    g.s.kind = f.kind;
    g.s.site = sites[i];
    ++g.s.count;
    g.s.oldest_age_s = std::max(g.s.oldest_age_s, f.age_s);
    auto [it, fresh] = g.index.emplace(gt, g.targets.size());
    if (fresh) g.targets.emplace_back(gt, 0);
    ++g.targets[it->second].second;
    if (!g.stack && !f.stack.empty()) g.stack = &f.stack.get();
  }
  std::vector<Suspect> out;
  for (auto& [key, g] : groups) {
    Suspect& s = g.s;
    s.targets = summarize_targets(std::move(g.targets));
    s.target = s.targets.examples.empty() ? "" : s.targets.examples[0].first;
    s.growth_per_s = c.growth ? c.growth(s.site, s.kind) : 0;
    s.leaking = s.growth_per_s >= c.min_growth_per_s || (c.limit_failures && 2 * s.count > c.open_total);
    if (s.leaking && g.stack) s.hint = suspect_hint(s.kind, *g.stack, s.site);
    out.push_back(std::move(s));
  }
  std::stable_sort(out.begin(), out.end(), [](const Suspect& a, const Suspect& b) {
    if (a.leaking != b.leaking) return a.leaking;
    return a.count != b.count ? a.count > b.count : a.oldest_age_s > b.oldest_age_s;
  });
  return out;
}

}  // namespace fdw
