#include "core/exit_leaks.h"

#include "core/suspects.h"

#include <algorithm>
#include <map>

namespace fdw {

namespace {

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

// The rules that look at one fd alone.
struct FdRule {
  std::string_view reason;
  bool (*matches)(const FdView& f);
};

constexpr FdRule kFdRules[] = {
    {kOrdinaryStdio, [](const FdView& f) { return f.fd >= 0 && f.fd <= 2; }},
    {kOrdinaryListener, [](const FdView& f) { return f.kind == Kind::Socket && ends_with(f.target, "(listen)"); }},
    {kOrdinaryShellScript, [](const FdView& f) { return f.fd == 255 && f.kind == Kind::File; }},
};

}  // namespace

std::vector<std::string_view> ordinary_at_exit(const std::vector<FdView>& fds) {
  std::vector<std::string_view> why(fds.size());
  for (size_t i = 0; i < fds.size(); ++i)
    for (const FdRule& r : kFdRules)
      if (why[i].empty() && r.matches(fds[i])) why[i] = r.reason;
  // The poller: the first epoll fd left.
  size_t poller = fds.size();
  for (size_t i = 0; i < fds.size() && poller == fds.size(); ++i)
    if (why[i].empty() && fds[i].kind == Kind::Epoll) poller = i;
  if (poller == fds.size()) return why;
  why[poller] = kOrdinaryPoller;
  // Its wakeup: one eventfd, else the one pipe of which both ends are held.
  for (size_t i = 0; i < fds.size(); ++i)
    if (why[i].empty() && fds[i].kind == Kind::Eventfd) {
      why[i] = kOrdinaryPollerWakeup;
      return why;
    }
  std::map<std::string_view, std::vector<size_t>> pipes;  // target (inode) -> fds
  for (size_t i = 0; i < fds.size(); ++i)
    if (why[i].empty() && fds[i].kind == Kind::Pipe) pipes[fds[i].target].push_back(i);
  const std::vector<size_t>* wakeup = nullptr;  // the pair with the lowest fd
  for (auto& [target, ends] : pipes)
    if (ends.size() == 2 && (!wakeup || std::min(fds[ends[0]].fd, fds[ends[1]].fd) <
                                            std::min(fds[(*wakeup)[0]].fd, fds[(*wakeup)[1]].fd)))
      wakeup = &ends;
  if (wakeup)
    for (size_t i : *wakeup) why[i] = kOrdinaryPollerWakeup;
  return why;
}

std::vector<Suspect> exit_leaks(const ProcView& p) {
  std::vector<FdView> fds;
  std::vector<std::string> sites;
  for (const FdView& f : p.leaked_at_exit)
    if (f.ordinary.empty() && !f.seeded) {
      fds.push_back(f);
      sites.push_back(f.site);
    }
  return build_suspects(fds, sites, SuspectContext{});
}

}  // namespace fdw
