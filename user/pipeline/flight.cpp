#include "pipeline/flight.h"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <ctime>

#include "log/writer.h"
#include "pipeline/replay.h"
#include "util/private_file.h"
#include "views/html_report.h"
#include "views/report.h"

namespace fdw {

std::optional<uint64_t> parse_window(const std::string& s) {
  if (s.empty()) return std::nullopt;
  char* end = nullptr;
  double v = strtod(s.c_str(), &end);
  std::string unit(end);
  double mul = 1;
  if (unit == "" || unit == "s") mul = 1;
  else if (unit == "ms") mul = 1e-3;
  else if (unit == "m") mul = 60;
  else if (unit == "h") mul = 3600;
  else return std::nullopt;
  if (!(v > 0) || end == s.c_str()) return std::nullopt;
  return uint64_t(v * mul * 1e9);
}

bool parse_trigger(const std::string& s, FlightOptions& o) {
  if (s == "emfile") {
    o.on_emfile = true;
    return true;
  }
  if (s.rfind("pct:", 0) != 0) return false;
  char* end = nullptr;
  double v = strtod(s.c_str() + 4, &end);
  if (end == s.c_str() + 4 || *end || !(v > 0 && v <= 100)) return false;
  o.pct = v;
  return true;
}

FlightRecorder::FlightRecorder(FlightOptions o) : o_(std::move(o)), old_(AggOptions{0, 0.05}) {}

uint64_t FlightRecorder::window_start_ns() const {
  return window_.empty() ? last_evicted_ts_ : window_.front().e.ts_ns;
}

// A loop that leaks from one place sends the same stack with every event.
std::shared_ptr<const FlightRecorder::Stack> FlightRecorder::intern(std::vector<std::string>&& frames,
                                                                    std::string&& site) {
  if (frames.empty() && site.empty()) return nullptr;
  std::string key;  // length-prefixed: no two stacks share one, whatever their bytes
  key += std::to_string(site.size()) + ':' + site;
  for (const std::string& f : frames) key += std::to_string(f.size()) + ':' + f;
  if (auto it = stacks_.find(key); it != stacks_.end())
    if (auto live = it->second.lock()) return live;
  auto st = std::make_shared<const Stack>(Stack{std::move(frames), std::move(site)});
  stacks_.insert_or_assign(std::move(key), st);
  if (stacks_.size() > 2 * stacks_pruned_at_ + 1024) {
    std::erase_if(stacks_, [](const auto& kv) { return kv.second.expired(); });
    stacks_pruned_at_ = stacks_.size();
  }
  return st;
}

Event FlightRecorder::restored(const Windowed& w) const {
  Event e = w.e;
  if (w.stack) {
    e.stack = w.stack->frames;
    e.site = w.stack->site;
  }
  return e;
}

void FlightRecorder::evict(uint64_t newest) {
  uint64_t cut = newest > o_.window_ns ? newest - o_.window_ns : 0;
  while (!window_.empty() && (window_.front().e.ts_ns < cut || window_.size() > o_.max_events)) {
    const Event& e = window_.front().e;  // without its stack: only the fd table of old_ is used
    old_.apply(e);
    last_evicted_ts_ = e.ts_ns;
    // exited processes leave the old state once their exit has been seen
    if (e.ts_ns >= old_tick_ + 1'000'000'000ull) {
      old_.tick(e.ts_ns);
      old_tick_ = e.ts_ns;
    }
    window_.pop_front();
  }
}

void FlightRecorder::trigger(uint32_t pid, const std::string& kind, uint64_t ts) {
  auto key = std::make_pair(pid, kind);
  auto it = last_fired_.find(key);
  if (it != last_fired_.end() && ts < it->second + o_.min_gap_ns) return;
  last_fired_[key] = ts;
  pending_.push_back({pid, kind, ts});
}

void FlightRecorder::on_event(const Event& e, const Aggregator& live) {
  Windowed w{e, nullptr};
  w.stack = intern(std::move(w.e.stack), std::move(w.e.site));
  w.e.stack.clear();
  w.e.site.clear();
  window_.push_back(std::move(w));
  if (e.type == EvType::Limit && e.value >= 0) limits_[e.pid] = uint64_t(e.value);
  if (e.type == EvType::Exit) {
    limits_.erase(e.pid);
  } else if (e.type == EvType::Open || e.type == EvType::Dup) {
    if (e.err == EMFILE && o_.on_emfile) trigger(e.pid, "emfile", e.ts_ns);
    auto lim = limits_.find(e.pid);
    if (e.err == 0 && e.fd >= 0 && o_.pct && lim != limits_.end() && lim->second > 0) {
      // `live` has not applied e yet: count the fds it adds
      const FdTable* t = live.table(e.pid);
      uint64_t n = t ? t->size() : 0;
      n += !(t && t->count(e.fd));
      if (e.type == EvType::Open && e.fd2 >= 0) n += !(t && t->count(e.fd2));
      if (double(n) * 100.0 >= *o_.pct * double(lim->second)) trigger(e.pid, "pct", e.ts_ns);
    }
  }
  evict(e.ts_ns);
}

std::vector<Event> FlightRecorder::bundle_events(uint32_t pid) const {
  std::vector<Event> out;
  uint64_t w0 = window_start_ns();
  if (old_.knows(pid) && !old_.exited(pid)) {
    SnapshotOptions so;
    so.pid = pid;
    Snapshot s = old_.snapshot(w0, so);
    for (const ProcView& p : s.processes) {
      Event snap;
      snap.type = EvType::Snapshot;
      snap.ts_ns = w0;
      snap.pid = pid;
      snap.comm = p.comm;
      for (const FdView& f : p.fds) snap.fds.push_back(SeedFd{f.fd, f.kind, f.target, f.cloexec});
      out.push_back(std::move(snap));
      Event c;
      c.type = EvType::Comm;
      c.ts_ns = w0;
      c.pid = pid;
      c.comm = p.comm;
      c.value = p.uid == UINT32_MAX ? -1 : int64_t(p.uid);
      c.child = p.ppid;
      out.push_back(std::move(c));
      if (p.rlimit_nofile) {
        Event l;
        l.type = EvType::Limit;
        l.ts_ns = w0;
        l.pid = pid;
        l.value = int64_t(*p.rlimit_nofile);
        out.push_back(std::move(l));
      }
    }
  }
  for (const Windowed& w : window_) {
    const Event& e = w.e;
    if (e.pid == pid || (e.type == EvType::Fork && e.child == pid) || (e.type == EvType::Lost && e.pid == 0))
      out.push_back(restored(w));
  }
  return out;
}

Result<std::string> FlightRecorder::write_bundle(const Pending& p) {
  std::vector<Event> evs = bundle_events(p.pid);
  uint64_t w0 = evs.empty() ? p.ts : evs.front().ts_ns;
  int64_t unix_ns = o_.header.boot_time_unix_ns + int64_t(p.ts);
  time_t secs = time_t(unix_ns / 1'000'000'000);
  struct tm tm {};
  gmtime_r(&secs, &tm);
  char stamp[32];
  strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm);
  std::string base = o_.dir + "/fdwatch-" + std::to_string(p.pid) + "-" + stamp;
  std::string dir = base;
  for (int i = 2; mkdir(dir.c_str(), 0700) != 0; ++i) {
    if (errno != EEXIST || i > 100) return Error::from_errno("cannot create " + dir, errno);
    dir = base + "-" + std::to_string(i);
  }

  LogHeader h = o_.header;
  h.start_mono_ns = w0;
  h.start_time_unix_ns = o_.header.boot_time_unix_ns + int64_t(w0);
  h.extra = {{"trigger", p.kind}, {"pid", p.pid}, {"trigger_ts", p.ts},
             {"window_s", double(o_.window_ns) / 1e9}};
  LogWriter w;
  LogWriterOptions wo;
  wo.zstd = false;
  std::string log = dir + "/events.jsonl";
  Result<void> st = w.open(log, wo);
  if (st) st = w.publish();  // a new private directory: a partial log should stay and replay
  if (st) st = w.write_header(h);
  uint64_t lost = 0;
  for (const Event& e : evs) {
    if (!st) break;
    st = w.write(e);
    if (e.type == EvType::Lost) lost += uint64_t(std::max<int64_t>(e.value, 0));
  }
  if (st) st = w.write_end(p.ts, lost);
  if (st) st = w.close();
  if (!st) return Error{log + ": " + st.error().message, "", 0, 1};

  ReplayOptions ro;
  ro.series = true;
  Replay rp(w0, ro);
  for (const Event& e : evs) rp.feed(e);
  Snapshot snap = rp.finish();
  std::string title = "fdwatch postmortem: pid " + std::to_string(p.pid) + " (" + p.kind + ")";
  if (auto r = write_private_file(dir + "/report.txt", render_report_text(snap)); !r) return r.error();
  if (auto r = write_private_file(dir + "/report.json", json_text(report_json(snap), 2) + "\n"); !r) return r.error();
  HtmlInput page = rp.html(title);
  page.host = h.host;
  page.kernel = h.kernel;
  page.start_unix_ns = h.start_time_unix_ns;
  if (auto r = write_private_file(dir + "/report.html", render_html(page)); !r) return r.error();
  return dir;
}

std::vector<Result<std::string>> FlightRecorder::write_pending() {
  std::vector<Result<std::string>> out;
  std::vector<Pending> todo;
  todo.swap(pending_);
  for (const Pending& p : todo) out.push_back(write_bundle(p));
  return out;
}

}  // namespace fdw
