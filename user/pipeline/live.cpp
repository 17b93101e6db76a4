#include "pipeline/live.h"

#include "sys/proc.h"
#include "util/stop_signals.h"

namespace fdw {

Result<std::unique_ptr<LiveDriver>> LiveDriver::open(const LiveOptions& o, Aggregator& agg) {
  std::unique_ptr<LiveDriver> d(new LiveDriver(o));
  if (o.exit_on_signal_while_loading) set_stop_exits(true);
  auto s = Session::open(o.session, agg);
  set_stop_exits(false);
  if (!s) return s.error();
  d->session_ = std::move(s.value());
  if (o.on_note) d->session_->set_note_sink(o.on_note);
  return d;
}

Result<void> LiveDriver::start() {
  if (auto r = session_->start(); !r) return r;
  if (!opts_.command.empty()) {
    auto c = start_traced_command(*session_, opts_.command);
    if (!c) return c.error();
    command_ = c.value();
  }
  start_ns_ = monotonic_ns();
  return {};
}

bool LiveDriver::stop_rule_met(uint64_t now) {
  if (opts_.duration_s > 0 && now - start_ns_ >= uint64_t(opts_.duration_s * 1e9)) return true;
  if (opts_.stop_when_targets_exit && session_->all_exited()) return true;
  if (!g_stop_signal) return false;
  if (command_.pid < 0) return true;
  if (!stop_at_) stop_at_ = now + kCommandGraceNs;
  return now >= stop_at_;
}

Result<void> LiveDriver::run(const Callback& on_tick, const Callback& after_poll) {
  const uint64_t interval_ns = uint64_t(opts_.interval_s * 1e9);
  uint64_t next_tick = monotonic_ns() + interval_ns;
  while (true) {
    if (auto r = session_->poll(); !r) return r;
    uint64_t now = monotonic_ns();
    if (after_poll)
      if (auto r = after_poll(now); !r) return r;
    if (now >= next_tick) {
      session_->tick();
      if (on_tick)
        if (auto r = on_tick(now); !r) return r;
      next_tick += interval_ns;
      if (next_tick < now) next_tick = now + interval_ns;
    }
    if (stop_rule_met(now)) return {};
  }
}

Result<void> LiveDriver::step(double wait_s, const std::function<bool()>& wake) {
  const uint64_t end = monotonic_ns() + uint64_t(wait_s * 1e9);
  Result<void> r;
  do {
    if (r = session_->poll(); !r) break;
    if (g_stop_signal || (wake && wake())) break;
  } while (monotonic_ns() < end);
  session_->tick();
  return r;
}

void LiveDriver::finish(bool drain) {
  if (drain) (void)session_->drain();
  session_->tick();
}

int LiveDriver::exit_status(int rc) const {
  if (rc != 0 || command_.pid < 0) return rc;
  return command_exit_status(command_, g_stop_signal);
}

}  // namespace fdw
