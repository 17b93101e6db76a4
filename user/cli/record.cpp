// fdwatch record: every event of a session into an event log, or (--ring) a
// flight recorder that writes postmortem bundles when a process hits its limit.
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>

#include <cerrno>
#include <cstdio>

#include "cli/cli.h"
#include "cli/command.h"
#include "cli/numeric.h"
#include "cli/flight.h"
#include "cli/session.h"
#include "log/event_log.h"
#include "version.h"

namespace fdw {

void setup_record(CLI::App& app, RecordOptions& o) {
  app.add_option("-o,--output", o.output, "Log file (FILE.zst compresses); with --ring, the bundle directory")
      ->required();
  app.add_option("-p,--pid", o.pids, "Process to record (repeatable)")->check(pid_value());
  app.add_flag("-a,--all", o.all, "Record every process on the host");
  app.add_option("--cgroup", o.cgroup, kCgroupHelp);
  app.add_flag("-c,--children", o.children, "Also record children the processes start");
  app.add_option("-d,--duration", o.duration_s, "Stop after this many seconds")
      ->check(seconds_value(0, kMaxDuration));
  app.add_option("--max-size", o.max_size, "Rotate the log when it reaches this many bytes")
      ->check(count_value(0, uint64_t(1) << 62, "bytes"));
  app.add_option("--keep", o.keep, "Rotated files to keep (FILE.1 newest)")->check(count_value(1, 1000, "files"));
  app.add_option("--ring", o.ring, "Flight recorder: keep this much history in memory (10m, 90s, 1h)");
  app.add_option("--trigger", o.triggers, "Flight recorder trigger: emfile, pct:N (repeatable; default emfile)");
  app.add_flag("-q,--quiet", o.quiet, "No messages on stderr except errors and bundle paths");
  add_stack_options(app, o.stacks, o.stack_bytes);
  app.footer(
      "Examples:\n"
      "  sudo fdwatch record -p $(pidof facade) -o facade.jsonl.zst -d 3600\n"
      "  sudo fdwatch record -a -o all.jsonl --max-size 100000000 --keep 3\n"
      "  sudo fdwatch record --cgroup system.slice/nginx.service -o nginx.jsonl.zst\n"
      "  sudo fdwatch record -o build.jsonl.zst -- make -j4\n"
      "  sudo fdwatch record -a --ring 10m --trigger emfile --trigger pct:90 -o /var/tmp/fdw\n"
      "  fdwatch report facade.jsonl.zst");
}

// Off by default when many processes are recorded (-a, --cgroup without -p).
bool record_stacks(const RecordOptions& o) {
  return o.stacks.value_or(!o.all && (o.cgroup.empty() || !o.pids.empty()));
}

Result<void> validate_record(const RecordOptions& o) {
  int modes = (!o.pids.empty()) + o.all + (!o.command.empty());
  if (modes == 0 && o.cgroup.empty())
    return Error{"nothing to record: give -p PID, -a, --cgroup PATH, or -- CMD", "see fdwatch record --help", 0,
                 kExitUsage};
  if (modes > 1) return Error{"-p, -a and -- CMD are exclusive", "see fdwatch record --help", 0, kExitUsage};
  if (!o.cgroup.empty() && !o.command.empty())
    return Error{"--cgroup and -- CMD are exclusive", "the command starts in fdwatch's own cgroup", 0, kExitUsage};
  if (o.all && o.children)
    return Error{"--children has no meaning with -a (every process is recorded)", "", 0, kExitUsage};
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

}  // namespace

int run_record(const RecordOptions& o) {
  if (auto r = check_pids_exist(o.pids); !r) return report_error(r.error());
  SessionOptions so;
  so.pids = o.pids;
  so.all = o.all;
  so.follow_children = o.children || !o.command.empty();
  so.stacks = record_stacks(o);
  so.stack_bytes = o.stack_bytes;
  if (auto r = apply_cgroup(o.cgroup, so); !r) return report_error(r.error());
  install_stop_signals();
  const bool ring = !o.ring.empty();
  LogHeader header = base_header(o);

  LogWriter writer;
  std::optional<FlightRecorder> flight;
  if (ring) {
    FlightOptions fo;
    fo.dir = o.output;
    fo.window_ns = *parse_window(o.ring);
    for (auto& t : o.triggers) (void)parse_trigger(t, fo);
    if (o.triggers.empty()) fo.on_emfile = true;
    fo.header = header;
    if (auto d = bundle_dir(o.output); !d) return report_error(d.error());
    flight.emplace(std::move(fo));
  } else {
    // Staged: nothing appears at o.output (an old log stays whole) until the
    // session has started; every early return below removes the new file.
    LogWriterOptions wo;
    wo.max_size_bytes = o.max_size;
    wo.keep_files = o.keep;
    if (LogStatus st = writer.open(o.output, wo); !st) return report_error(Error{st.error, "", 0, 1});
  }

  Aggregator agg;
  auto sess = Session::open(so, agg);
  if (!sess) return report_error(sess.error());
  Session& s = **sess;
  for (auto& note : s.kernel_notes()) print_note(note);

  // The header goes out with the first event (the seeding snapshot at the
  // window start), so its start_mono_ns is exactly the live window start.
  bool header_written = false;
  uint64_t refused = 0;
  LogStatus werr;
  auto write_header = [&](uint64_t ts) {
    header_written = true;
    header.start_mono_ns = ts;
    header.start_time_unix_ns = header.boot_time_unix_ns + int64_t(ts);
    werr = writer.write_header(header);
  };
  if (ring) {
    s.set_sink([&](const Event& e) { flight->on_event(e, agg); });
  } else {
    s.set_sink([&](const Event& e) {
      if (!werr) return;
      if (!header_written) write_header(e.ts_ns);
      if (!werr) return;
      LogStatus st = writer.write(e);
      if (st) return;
      // an over-long line (a snapshot of a huge table) is refused, the writer
      // stays usable; anything else is sticky and ends the recording
      if (writer.flush()) {
        if (refused++ == 0) print_note("event not recorded: " + st.error);
      } else {
        werr = st;
      }
    });
  }
  if (auto r = s.start(); !r) return report_error(r.error());
  TracedCommand child;
  if (!o.command.empty()) {
    auto c = start_traced_command(s, o.command);
    if (!c) return report_error(c.error());
    child = c.value();
  }
  if (!ring && !header_written && werr) write_header(monotonic_ns());
  if (!ring && werr) werr = writer.publish();
  if (!werr) return report_error(Error{werr.error, "", 0, 1});
  if (!o.quiet) {
    std::string what = o.all ? "all processes" : std::to_string(o.pids.size()) + (o.pids.size() == 1 ? " process" : " processes");
    if (child.pid > 0) what = o.command[0] + " (pid " + std::to_string(child.pid) + ") and its children";
    if (!so.cgroup_path.empty()) what = (o.pids.empty() ? "cgroup " : what + " of cgroup ") + so.cgroup_path;
    if (ring)
      fprintf(stderr, "fdwatch: attached; flight recorder on %s (%s window), bundles in %s; Ctrl-C to stop\n",
              what.c_str(), o.ring.c_str(), o.output.c_str());
    else
      fprintf(stderr, "fdwatch: attached; recording %s to %s; Ctrl-C to stop\n", what.c_str(), o.output.c_str());
  }

  const uint64_t start = monotonic_ns();
  uint64_t next_tick = start + 1'000'000'000ull;
  uint64_t stop_at = 0;  // -- CMD: after a signal, give the child a moment to exit
  int rc = kExitOk;
  uint64_t bundles = 0;
  // A bundle that cannot be written (disk full) ends the recording, exit 1:
  // a flight recorder that silently stops writing bundles is worse.
  auto write_bundles = [&] {
    if (!flight) return;
    for (auto& r : flight->write_pending()) {
      if (r) {
        ++bundles;
        fprintf(stderr, "fdwatch: postmortem bundle %s\n", r.value().c_str());
      } else if (rc == kExitOk) {
        rc = report_error(Error{"postmortem bundle: " + r.error().message, r.error().hint, 0, 1});
      }
    }
  };
  while (true) {
    if (auto r = s.poll(); !r) {
      rc = report_error(r.error());
      break;
    }
    write_bundles();
    uint64_t now = monotonic_ns();
    if (now >= next_tick) {
      s.tick();
      if (!ring && werr) werr = writer.flush();
      next_tick += 1'000'000'000ull;
      if (next_tick < now) next_tick = now + 1'000'000'000ull;
    }
    if (!werr || rc != kExitOk) break;
    if (o.duration_s > 0 && now - start >= uint64_t(o.duration_s * 1e9)) break;
    if (s.all_exited()) break;
    if (g_stop_signal) {
      if (child.pid < 0) break;
      if (!stop_at) stop_at = now + 3'000'000'000ull;
      if (now >= stop_at) break;
    }
  }
  if (werr) (void)s.drain();
  s.tick();
  write_bundles();
  const uint64_t lost = s.stats().drops;
  if (std::string note = s.stack_note(); !note.empty() && !o.quiet) print_note(note);
  if (ring) {
    if (!o.quiet)
      fprintf(stderr, "fdwatch: flight recorder stopped: %llu bundle%s written; %llu events lost\n",
              (unsigned long long)bundles, bundles == 1 ? "" : "s", (unsigned long long)lost);
    return rc == kExitOk && child.pid > 0 ? command_exit_status(child, g_stop_signal) : rc;
  }
  if (werr) werr = writer.write_end(monotonic_ns(), lost);
  if (werr) werr = writer.close();
  if (!werr)
    return report_error(Error{"recording stopped: " + werr.error,
                              "what was written before replays: fdwatch report " + o.output, 0, 1});
  LogWriterStats st = writer.stats();
  std::string notes;
  if (st.rotations) notes += " (" + std::to_string(st.rotations) + " rotations)";
  if (refused) notes += "; " + std::to_string(refused) + " events too large to record";
  fprintf(stderr, "fdwatch: recorded %llu events, %llu call stacks, %llu bytes to %s; %llu events lost%s\n",
          (unsigned long long)st.events, (unsigned long long)st.stacks, (unsigned long long)st.bytes, o.output.c_str(),
          (unsigned long long)lost, notes.c_str());
  return rc == kExitOk && child.pid > 0 ? command_exit_status(child, g_stop_signal) : rc;
}

}  // namespace fdw
