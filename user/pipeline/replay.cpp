#include "pipeline/replay.h"

#include <algorithm>
#include <cerrno>

namespace fdw {

namespace {
// A log with a long quiet gap would otherwise tick once per second through it.
constexpr uint64_t kMaxTicksPerGap = 3600;
}  // namespace

Replay::Replay(uint64_t start_ns, ReplayOptions o)
    : o_(std::move(o)),
      agg_(AggOptions{}),
      start_ns_(start_ns),
      tick_ns_(uint64_t(o_.tick_s * 1e9)),
      next_tick_(start_ns + uint64_t(o_.tick_s * 1e9)),
      end_ns_(start_ns) {
  agg_.set_window_start(start_ns);
  if (o_.until_s) stop_ns_ = start_ns + uint64_t(*o_.until_s * 1e9);
}

void Replay::sample(uint64_t ts) {
  if (!o_.series) return;
  double t = rel(ts);
  for (uint32_t pid : pids_) {
    if (o_.pid && *o_.pid != pid) continue;
    if (const FdTable* t0 = agg_.table(pid)) series_[pid].emplace_back(t, t0->size());
  }
}

void Replay::tick_to(uint64_t ts) {
  if (ts < next_tick_) return;
  uint64_t n = (ts - next_tick_) / tick_ns_ + 1;
  if (n > kMaxTicksPerGap) next_tick_ += (n - kMaxTicksPerGap) * tick_ns_;
  while (next_tick_ <= ts) {
    agg_.tick(next_tick_);
    sample(next_tick_);
    next_tick_ += tick_ns_;
  }
}

bool Replay::feed(const Event& e) {
  if (e.ts_ns > stop_ns_) return false;
  tick_to(e.ts_ns);
  if (e.type == EvType::Lost) {
    lost_ += uint64_t(std::max<int64_t>(e.value, 0));
    agg_.set_lost_events(lost_);
  }
  agg_.apply(e);
  ++events_;
  if (e.ts_ns > end_ns_) end_ns_ = e.ts_ns;
  if (e.pid) pids_.insert(e.pid);
  if (e.type == EvType::Fork && e.child) pids_.insert(e.child);
  if ((e.type == EvType::Open || e.type == EvType::Dup) && e.err == EMFILE)
    emfile_[e.pid].push_back(rel(e.ts_ns));
  // the first sight of a process is a point of its curve too
  if (o_.series && e.type == EvType::Snapshot && (!o_.pid || *o_.pid == e.pid))
    if (const FdTable* t = agg_.table(e.pid)) series_[e.pid].emplace_back(rel(e.ts_ns), t->size());
  return true;
}

Snapshot Replay::finish() {
  // --until past the last event: the report is as of T, like a watch stopped then
  uint64_t end = (o_.until_s && stop_ns_ != UINT64_MAX && stop_ns_ > end_ns_) ? stop_ns_ : end_ns_;
  tick_to(end);
  if (end != next_tick_ - tick_ns_) {
    agg_.tick(end);
    sample(end);
  }
  end_ns_ = end;
  SnapshotOptions so;
  so.pid = o_.pid;
  final_ = agg_.snapshot(end, so);
  return final_;
}

HtmlInput Replay::html(std::string title) const {
  HtmlInput in;
  in.title = std::move(title);
  in.final = final_;
  in.open_fds_series = series_;
  for (auto& [pid, v] : emfile_)
    if (!o_.pid || *o_.pid == pid) in.emfile_times[pid] = v;
  for (uint32_t pid : pids_) {
    if (o_.pid && *o_.pid != pid) continue;
    std::string c = agg_.comm(pid);
    if (!c.empty()) in.comm[pid] = c;
  }
  return in;
}

Result<ReplayFileResult> replay_file(const std::string& path, const ReplayOptions& o) {
  LogReader r;
  if (auto st = r.open(path); !st) return Error{path + ": " + st.error().message, "", 0, 1};
  ReplayFileResult out;
  out.header = r.header();
  std::optional<Replay> rp;
  for (;;) {
    auto got = r.next();
    if (!got || !*got) break;  // a stream that stopped early is listed in r.problems()
    const Event& e = **got;
    // a header without a start time (hand-written logs): the first event's
    if (!rp) rp.emplace(out.header.start_mono_ns ? out.header.start_mono_ns : e.ts_ns, o);
    if (!rp->feed(e)) {
      out.stopped_at_until = true;
      break;
    }
  }
  if (!rp) rp.emplace(out.header.start_mono_ns, o);
  out.end = r.end();
  out.lines = r.lines();
  if (out.end && !out.stopped_at_until) rp->extend_to(out.end->ts_ns);
  uint64_t start = rp->start_ns(), last = std::max(rp->end_ns(), out.end ? out.end->ts_ns : 0);
  out.span_s = last > start ? double(last - start) / 1e9 : 0;
  out.pid_seen = o.pid && rp->saw(*o.pid);
  out.snapshot = rp->finish();
  out.snapshot.kernel.release = out.header.kernel;
  if (o.series) {
    out.html = rp->html("fdwatch report: " + path);
    out.html.host = out.header.host;
    out.html.kernel = out.header.kernel;
    out.html.start_unix_ns = out.header.start_time_unix_ns;
  }
  out.errors = r.problems();
  out.errors_total = r.problems_total();
  out.events = rp->events();
  return out;
}

}  // namespace fdw
