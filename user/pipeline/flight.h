// The flight recorder (`fdwatch record --ring W --trigger ...`): keeps the last
// W of events in memory and, when a process hits EMFILE or crosses a share of
// its RLIMIT_NOFILE, writes a self-contained postmortem bundle:
//   DIR/fdwatch-<pid>-<UTC time>/{events.jsonl, report.txt, report.json, report.html}
// Self-contained: events that fall out of the window feed a second Aggregator,
// whose state at the window start becomes the bundle's first (Snapshot) events.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/aggregator.h"
#include "core/event.h"
#include "log/event_log.h"
#include "util/result.h"

namespace fdw {

struct FlightOptions {
  std::string dir;                   // bundles go under here
  uint64_t window_ns = 600'000'000'000ull;
  size_t max_events = 500'000;       // memory bound besides time
  bool on_emfile = false;
  std::optional<double> pct;         // trigger at open_fds >= pct% of the soft limit
  uint64_t min_gap_ns = 60'000'000'000ull;  // per process and trigger kind
  LogHeader header;                  // copied into every bundle (start times replaced)
};

// "10m", "90s", "1h", "250ms", "30" (seconds); nullopt if malformed or <= 0.
std::optional<uint64_t> parse_window(const std::string& s);
// "emfile" or "pct:N" (0 < N <= 100) into o; false if malformed.
bool parse_trigger(const std::string& s, FlightOptions& o);

class FlightRecorder {
 public:
  explicit FlightRecorder(FlightOptions o);

  // Every event, in order, before `live` (the session's aggregator) applies it.
  void on_event(const Event& e, const Aggregator& live);
  // Writes the bundles triggered since the last call: a path or an error each.
  std::vector<Result<std::string>> write_pending();

  // The bundle's events for `pid`: its state at the window start as
  // Snapshot/Comm/Limit events, then its events in the window.
  std::vector<Event> bundle_events(uint32_t pid) const;
  size_t window_size() const { return window_.size(); }
  uint64_t window_start_ns() const;

 private:
  struct Pending {
    uint32_t pid;
    std::string kind;  // "emfile" | "pct"
    uint64_t ts;
  };
  // A call stack of the window, held once however many events share it.
  struct Stack {
    std::vector<std::string> frames;
    std::string site;
  };
  // An event of the window; its stack and site are in `stack`.
  struct Windowed {
    Event e;
    std::shared_ptr<const Stack> stack;
  };
  std::shared_ptr<const Stack> intern(std::vector<std::string>&& frames, std::string&& site);
  Event restored(const Windowed& w) const;
  void trigger(uint32_t pid, const std::string& kind, uint64_t ts);
  void evict(uint64_t newest);
  Result<std::string> write_bundle(const Pending& p);

  FlightOptions o_;
  std::deque<Windowed> window_;
  std::unordered_map<std::string, std::weak_ptr<const Stack>> stacks_;  // by frames and site
  size_t stacks_pruned_at_ = 0;  // stacks_.size() after the last sweep of dead entries
  Aggregator old_;  // everything that fell out of the window
  uint64_t old_tick_ = 0;
  uint64_t last_evicted_ts_ = 0;
  std::map<uint32_t, uint64_t> limits_;  // soft RLIMIT_NOFILE per pid
  std::map<std::pair<uint32_t, std::string>, uint64_t> last_fired_;
  std::vector<Pending> pending_;
};

}  // namespace fdw
