// fdwatch top: every process on the host, ranked and live (ncurses), or
// batch frames (-b text, --json fdwatch.top.v1 lines) like top -b.
#include <poll.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <iostream>

#include "cli/cli.h"
#include "cli/numeric.h"
#include "pipeline/live.h"
#include "views/report.h"
#include "views/top_batch.h"
#include "views/top_screen.h"

namespace fdw {

void setup_top(CLI::App& app, TopOptions& o) {
  app.add_flag("-b,--batch", o.batch, "Print plain-text frames instead of the screen");
  app.add_option("--cgroup", o.cgroup, kCgroupHelp);
  app.add_option("-n,--iterations", o.iterations, "Frames to print in batch mode (0 = until stopped)")
      ->check(count_value(0, 1000000000, "frames"));
  app.add_option("-d,--delay", o.delay_s, "Seconds between frames")->check(seconds_value(0.1, 3600));
  app.add_option("-s,--sort", o.sort, "Sort column: pid user comm fds limit %lim open/s close/s net/s eta err oldest");
  app.add_flag("--json", o.json, "Batch frames as fdwatch.top.v1 JSON, one per line");
  app.add_option("-w,--width", o.width, "Batch text width in columns (0 = no limit; default $COLUMNS, else 80)")
      ->check(count_value(0, 100000, "columns"));
  app.add_option("--rows", o.rows, "Batch mode: at most this many processes per frame (0 = all)")
      ->check(count_value(0, 1000000000, "rows"));
  app.footer(
      "Keys: arrows/j/k move, Enter details, < > or P F N O E L T A sort, r reverse,\n"
      "      / filter, p pause, h help, q quit.\n"
      "Examples:\n"
      "  sudo fdwatch top\n"
      "  sudo fdwatch top -b -n 3 -d 1 --sort net/s\n"
      "  sudo fdwatch top --cgroup system.slice/docker.service\n"
      "  sudo fdwatch top --json -n 1 -d 2 | jq '.rows[0]'");
}

int top_batch_width(const std::optional<uint64_t>& width, const char* columns_env, int tty_columns) {
  if (width) return int(*width);
  if (columns_env)
    if (auto c = parse_uint(columns_env, 1, 100000)) return int(*c);
  return tty_columns > 0 ? tty_columns : 80;
}

namespace {

int terminal_columns() {
  winsize ws{};
  if (!isatty(STDOUT_FILENO) || ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) != 0) return 0;
  return ws.ws_col;
}

// The live source: the system-wide session, one driver step per frame.
class LiveSource : public TopSource {
 public:
  LiveSource(LiveDriver& d, Aggregator& a) : d_(d), a_(a) {}

  Snapshot next(double wait_s) override { return collect(wait_s, -1); }
  Snapshot next_or_key(double wait_s, int key_fd) override { return collect(wait_s, key_fd); }
  // The process whose detail is open gets call stacks (off system-wide), so
  // its new fds show where they come from while the operator looks.
  void on_detail(uint32_t pid) override {
    detail_ = pid;
    (void)d_.session().set_stacks(pid, true);
  }
  void on_detail_closed(uint32_t pid) override {
    detail_ = 0;
    (void)d_.session().set_stacks(pid, false);
  }
  const Error* error() const { return err_ ? &*err_ : nullptr; }

 private:
  Snapshot collect(double wait_s, int key_fd) {
    auto key_ready = [key_fd] {
      pollfd p{key_fd, POLLIN, 0};
      return key_fd >= 0 && ::poll(&p, 1, 0) > 0;
    };
    if (auto r = d_.step(wait_s, key_ready); !r) err_ = r.error();
    uint64_t now = monotonic_ns();
    // fd lists only for the process whose detail is open: the rest need counts
    Snapshot snap = a_.snapshot(now, SnapshotOptions{false, false, {}});
    if (detail_) {
      Snapshot d = a_.snapshot(now, SnapshotOptions{true, false, detail_});
      for (auto& p : snap.processes)
        if (p.pid == detail_ && !d.processes.empty()) p = std::move(d.processes[0]);
    }
    return snap;
  }

  LiveDriver& d_;
  Aggregator& a_;
  uint32_t detail_ = 0;
  std::optional<Error> err_;
};

}  // namespace

int run_top(const TopOptions& o) {
  std::optional<TopColumn> sort = TopColumn::Fds;
  if (!o.sort.empty()) {
    sort = top_column_from_key(o.sort);
    if (!sort)
      return report_error(Error{"unknown sort column '" + o.sort + "'",
                                "one of: pid user comm fds limit %lim open/s close/s net/s eta err oldest",
                                0, kExitUsage});
  }
  bool batch = o.batch || o.json;
  if (!batch && !isatty(STDOUT_FILENO))
    return report_error(Error{"top: standard output is not a terminal",
                              "use fdwatch top -b (text) or --json for batch frames", 0, kExitUsage});
  LiveOptions lo;
  lo.session.all = true;
  lo.on_note = print_note;
  if (auto r = apply_cgroup(o.cgroup, lo.session); !r) return report_error(r.error());
  install_stop_signals();
  AggOptions ao;
  ao.exited_ttl_s = 5;  // exited processes stay visible for a moment, then go
  Aggregator agg(ao);
  auto live = LiveDriver::open(lo, agg);
  if (!live) return report_error(live.error());
  if (auto r = (*live)->start(); !r) return report_error(r.error());
  LiveSource src(**live, agg);

  if (!batch) {
    TopState st;
    st.sort = *sort;
    st.descending = top_column_descending_by_default(*sort);
    auto r = run_top_screen(src, st, o.delay_s);
    if (src.error()) return report_error(*src.error());
    return r ? kExitOk : report_error(r.error());
  }
  BatchOptions bo;
  bo.sort = *sort;
  bo.max_rows = o.rows;
  bo.width = top_batch_width(o.width, getenv("COLUMNS"), terminal_columns());
  bo.user_name = passwd_user_names();
  for (uint64_t i = 0; o.iterations == 0 || i < o.iterations; ++i) {
    Snapshot snap = src.next(o.delay_s);
    if (src.error()) return report_error(*src.error());
    std::string frame = o.json ? json_text(top_json_frame(snap, bo)) + "\n"
                               : (i ? "\n" : "") + render_batch_frame(snap, bo);
    if (!write_stdout(frame)) return signal_exit_status(SIGPIPE);  // reader gone: quietly
    if (g_stop_signal) break;
  }
  return kExitOk;
}

}  // namespace fdw
