// fdwatch record: every event of a session into an event log, or (--ring) a
// flight recorder that writes postmortem bundles when a process hits its limit.
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>

#include <cerrno>
#include <cstdio>
#include <functional>

#include "cli/cli.h"
#include "cli/numeric.h"
#include "log/writer.h"
#include "pipeline/flight.h"
#include "pipeline/live.h"
#include "version.h"

namespace fdw {

void setup_record(CLI::App& app, RecordOptions& o) {
  app.add_option("-o,--output", o.output, "Log file (FILE.zst compresses); with --ring, the bundle directory")
      ->required();
  add_target_options(app, o, "record");
  app.add_option("--max-size", o.max_size, "Rotate the log when it reaches this many bytes")
      ->check(count_value(0, uint64_t(1) << 62, "bytes"));
  app.add_option("--keep", o.keep, "Rotated files to keep (FILE.1 newest)")->check(count_value(1, 1000, "files"));
  app.add_option("--ring", o.ring, "Flight recorder: keep this much history in memory (10m, 90s, 1h)");
  app.add_option("--trigger", o.triggers, "Flight recorder trigger: emfile, pct:N (repeatable; default emfile)");
  app.add_flag("-q,--quiet", o.quiet, "No messages on stderr but the attached line, errors and bundle paths");
  app.footer(
      "Examples:\n"
      "  sudo fdwatch record -p $(pidof facade) -o facade.jsonl.zst -d 3600\n"
      "  sudo fdwatch record -a -o all.jsonl --max-size 100000000 --keep 3\n"
      "  sudo fdwatch record --cgroup system.slice/nginx.service -o nginx.jsonl.zst\n"
      "  sudo fdwatch record -o build.jsonl.zst -- make -j4\n"
      "  sudo fdwatch record -a --ring 10m --trigger emfile --trigger pct:90 -o /var/tmp/fdw\n"
      "  fdwatch report facade.jsonl.zst");
}

Result<void> validate_record(const RecordOptions& o) {
  if (auto r = validate_targets(o, "record", "fdwatch record --help"); !r) return r;
  if (o.ring.empty() && !o.triggers.empty())
    return Error{"--trigger needs --ring", "e.g. --ring 10m --trigger emfile", 0, kExitUsage};
  if (!o.ring.empty()) {
    if (!parse_window(o.ring))
      return Error{"--ring " + o.ring + ": not a duration", "e.g. 10m, 90s, 1h", 0, kExitUsage};
    FlightOptions fo;
    for (auto& t : o.triggers)
      if (!parse_trigger(t, fo))
        return Error{"--trigger " + t + ": unknown trigger", "use emfile or pct:N (0 < N <= 100)", 0, kExitUsage};
    if (o.max_size) return Error{"--max-size has no meaning with --ring", "", 0, kExitUsage};
  }
  return {};
}

namespace {

int64_t realtime_ns() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return int64_t(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

// Host facts; the start times are filled in when the window starts.
LogHeader base_header(const RecordOptions& o) {
  LogHeader h;
  utsname u{};
  if (uname(&u) == 0) {
    h.host = u.nodename;
    h.kernel = u.release;
  }
  h.version = FDWATCH_VERSION;
  // CLOCK_MONOTONIC counts from boot (minus suspend): unix = boot + ts
  uint64_t m = monotonic_ns();
  int64_t r = realtime_ns();
  h.boot_time_unix_ns = r - int64_t(m);
  h.argv = o.argv;
  return h;
}

// The flight recorder's directory: made 0700 if missing; an existing one
// must be a real directory (a symlink planted in /var/tmp is refused).
Result<void> bundle_dir(const std::string& dir) {
  if (mkdir(dir.c_str(), 0700) == 0) return {};
  if (errno != EEXIST) return Error::from_errno("cannot create " + dir, errno);
  struct stat st {};
  if (lstat(dir.c_str(), &st) != 0) return Error::from_errno(dir, errno);
  if (S_ISLNK(st.st_mode)) return Error{dir + ": is a symbolic link; refusing to follow it", "", ELOOP, 1};
  if (!S_ISDIR(st.st_mode)) return Error{dir + ": not a directory", "", ENOTDIR, 1};
  return {};
}

// The plain event log: staged (nothing appears at o.output, an old log stays
// whole, until the session has started; an early return removes the new
// file), the header written with the first event (the seeding snapshot at the
// window start, so its start_mono_ns is exactly the live window start).
class LogSink {
 public:
  Result<void> open(const RecordOptions& o, LogHeader header) {
    header_ = std::move(header);
    LogWriterOptions wo;
    wo.max_size_bytes = o.max_size;
    wo.keep_files = o.keep;
    return writer_.open(o.output, wo);
  }
  void on_event(const Event& e) {
    if (!ok_) return;
    if (!header_written_) write_header(e.ts_ns);
    if (!ok_) return;
    auto st = writer_.write(e);
    if (st) return;
    // an over-long line (a snapshot of a huge table) is refused, the writer
    // stays usable; anything else is sticky and ends the recording
    if (writer_.flush()) {
      if (refused_++ == 0) print_note("event not recorded: " + st.error().message);
    } else {
      ok_ = st;
    }
  }
  // The session has started: the header (if no event came) and the file in place.
  Result<void> publish() {
    if (!header_written_ && ok_) write_header(monotonic_ns());
    if (ok_) ok_ = writer_.publish();
    return ok_;
  }
  // The writer's sticky error, if it failed.
  Result<void> status() const { return ok_; }
  Result<void> flush() {
    if (ok_) ok_ = writer_.flush();
    return ok_;
  }
  Result<void> close(uint64_t lost) {
    if (ok_) ok_ = writer_.write_end(monotonic_ns(), lost);
    if (ok_) ok_ = writer_.close();
    return ok_;
  }
  uint64_t refused() const { return refused_; }
  LogWriterStats stats() const { return writer_.stats(); }

 private:
  void write_header(uint64_t ts) {
    header_written_ = true;
    header_.start_mono_ns = ts;
    header_.start_time_unix_ns = header_.boot_time_unix_ns + int64_t(ts);
    ok_ = writer_.write_header(header_);
  }

  LogWriter writer_;
  LogHeader header_;
  bool header_written_ = false;
  uint64_t refused_ = 0;
  Result<void> ok_;
};

// Loads the probe, says what the kernel lacks, seeds, starts `-- CMD`.
Result<std::unique_ptr<LiveDriver>> start_live(const LiveOptions& lo, Aggregator& agg,
                                                const std::function<void(LiveDriver&)>& before_start) {
  auto live = LiveDriver::open(lo, agg);
  if (!live) return live.error();
  for (auto& note : (*live)->session().kernel_notes()) print_note(note);
  before_start(**live);
  if (auto r = (*live)->start(); !r) return r.error();
  return live;
}

int record_log(const RecordOptions& o, const LiveOptions& lo, LogHeader header) {
  LogSink sink;
  if (auto r = sink.open(o, std::move(header)); !r) return report_error(r.error());
  Aggregator agg;
  auto live = start_live(lo, agg, [&](LiveDriver& d) { d.session().set_sink([&](const Event& e) { sink.on_event(e); }); });
  if (!live) return report_error(live.error());
  LiveDriver& d = **live;
  if (auto r = sink.publish(); !r) return report_error(r.error());
  fprintf(stderr, "fdwatch: attached; recording %s to %s; Ctrl-C to stop\n",
          describe_targets(o, lo, d.command_pid()).c_str(), o.output.c_str());
  int rc = kExitOk;
  auto r = d.run([&](uint64_t) { return sink.flush(); }, [&](uint64_t) { return sink.status(); });
  if (!r && sink.status()) rc = report_error(r.error());
  d.finish(bool(sink.status()));
  const uint64_t lost = d.session().stats().drops;
  if (std::string note = d.session().stack_note(); !note.empty() && !o.quiet)
    print_note(note);
  if (auto c = sink.close(lost); !c)
    return report_error(Error{"recording stopped: " + c.error().message,
                              "what was written before replays: fdwatch report " + o.output, 0, kExitFailure});
  LogWriterStats st = sink.stats();
  std::string notes;
  if (st.rotations) notes += " (" + std::to_string(st.rotations) + " rotations)";
  if (sink.refused()) notes += "; " + std::to_string(sink.refused()) + " events too large to record";
  fprintf(stderr, "fdwatch: recorded %llu events, %llu call stacks, %llu bytes to %s; %llu events lost%s\n",
          (unsigned long long)st.events, (unsigned long long)st.stacks, (unsigned long long)st.bytes, o.output.c_str(),
          (unsigned long long)lost, notes.c_str());
  return d.exit_status(rc);
}

// The flight recorder.  A bundle that cannot be written (disk full) ends the
// recording, exit 1: a flight recorder that silently stops writing bundles is
// worse.
int record_flight(const RecordOptions& o, const LiveOptions& lo, LogHeader header) {
  FlightOptions fo;
  fo.dir = o.output;
  fo.window_ns = *parse_window(o.ring);
  for (auto& t : o.triggers) (void)parse_trigger(t, fo);
  if (o.triggers.empty()) fo.on_emfile = true;
  fo.header = std::move(header);
  if (auto d = bundle_dir(o.output); !d) return report_error(d.error());
  FlightRecorder flight(std::move(fo));
  Aggregator agg;
  auto live = start_live(lo, agg, [&](LiveDriver& d) {
    d.session().set_sink([&](const Event& e) { flight.on_event(e, agg); });
  });
  if (!live) return report_error(live.error());
  LiveDriver& d = **live;
  fprintf(stderr, "fdwatch: attached; flight recorder on %s (%s window), bundles in %s; Ctrl-C to stop\n",
          describe_targets(o, lo, d.command_pid()).c_str(), o.ring.c_str(), o.output.c_str());
  uint64_t bundles = 0;
  auto write_bundles = [&](uint64_t) -> Result<void> {
    for (auto& r : flight.write_pending()) {
      if (!r) return Error{"postmortem bundle: " + r.error().message, r.error().hint, 0, kExitFailure};
      ++bundles;
      fprintf(stderr, "fdwatch: postmortem bundle %s\n", r.value().c_str());
    }
    return {};
  };
  int rc = kExitOk;
  if (auto r = d.run({}, write_bundles); !r) rc = report_error(r.error());
  d.finish();
  if (auto r = write_bundles(0); !r && rc == kExitOk) rc = report_error(r.error());
  if (std::string note = d.session().stack_note(); !note.empty() && !o.quiet)
    print_note(note);
  if (!o.quiet)
    fprintf(stderr, "fdwatch: flight recorder stopped: %llu bundle%s written; %llu events lost\n",
            (unsigned long long)bundles, bundles == 1 ? "" : "s", (unsigned long long)d.session().stats().drops);
  return d.exit_status(rc);
}

}  // namespace

int run_record(const RecordOptions& o) {
  auto lo = live_options(o);
  if (!lo) return report_error(lo.error());
  lo->interval_s = 1;
  lo->exit_on_signal_while_loading = false;  // the staged log must be removed on the way out
  install_stop_signals();
  LogHeader header = base_header(o);
  return o.ring.empty() ? record_log(o, *lo, std::move(header)) : record_flight(o, *lo, std::move(header));
}

}  // namespace fdw
