// fdwatch: find file-descriptor leaks.  Parses the command line and hands off
// to one subcommand; every failure ends as a one-line message and an exit code.
#include <malloc.h>

#include <cstdio>

#include "cli/cli.h"
#include "util/own_fds.h"
#include "version.h"

int main(int argc, char** argv) {
  using namespace fdw;
  note_inherited_fds();  // passed on to `-- CMD`; fdwatch's own fds are not
  // Snapshots of big fd tables are megabyte-sized and short-lived: a fixed
  // threshold keeps them mmap'ed, so freeing them gives the memory back
  // (glibc's adaptive threshold would move them into the heap for good).
  mallopt(M_MMAP_THRESHOLD, 128 * 1024);
  std::vector<std::string> own, command;
  split_command(argc, argv, &own, &command);

  CLI::App app{"fdwatch: find who leaks file descriptors, what, from where, and how fast.", "fdwatch"};
  app.set_version_flag("--version", "fdwatch " FDWATCH_VERSION);
  WatchOptions watch;
  setup_watch(app, watch);
  TopOptions top;
  CLI::App* top_cmd = app.add_subcommand("top", "System-wide live view of fds per process");
  setup_top(*top_cmd, top);
  RecordOptions record;
  CLI::App* record_cmd = app.add_subcommand("record", "Record every fd event to a log, or keep a flight recorder");
  setup_record(*record_cmd, record);
  ReportCmdOptions report;
  CLI::App* report_cmd = app.add_subcommand("report", "Replay an event log and print the report");
  setup_report(*report_cmd, report);

  DoctorOptions doctor;
  CLI::App* doctor_cmd = app.add_subcommand("doctor", "Check what this host supports and whether tracing works");
  setup_doctor(*doctor_cmd, doctor);
  ExporterOptions exporter;
  CLI::App* exporter_cmd = app.add_subcommand("exporter", "Serve Prometheus metrics of every process's fds");
  setup_exporter(*exporter_cmd, exporter);

  std::vector<std::string> rev(own.rbegin(), own.rend());
  try {
    app.parse(rev);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ValidationError& e) {
    return report_error(Error{e.what(), "", 0, kExitUsage});  // names option and value
  } catch (const CLI::ParseError& e) {
    return report_error(Error{e.what(), "see fdwatch --help", 0, kExitUsage});
  }
  if (*top_cmd) {
    if (!command.empty()) return report_error(Error{"top takes no command", "", 0, kExitUsage});
    return run_top(top);
  }
  if (*record_cmd) {
    record.argv.assign(argv, argv + argc);
    record.command = command;
    if (auto r = validate_record(record); !r) return report_error(r.error());
    return run_record(record);
  }
  if (*exporter_cmd) {
    if (!command.empty()) return report_error(Error{"exporter takes no command", "use -p PID", 0, kExitUsage});
    if (auto r = validate_exporter(exporter); !r) return report_error(r.error());
    return run_exporter(exporter);
  }
  if (*report_cmd) {
    if (!command.empty()) return report_error(Error{"report takes no command", "", 0, kExitUsage});
    return run_report(report);
  }
  if (*doctor_cmd) {
    if (!command.empty()) return report_error(Error{"doctor takes no command", "", 0, kExitUsage});
    return run_doctor(doctor);
  }
  watch.command = command;
  if (auto r = validate_watch(watch); !r) return report_error(r.error());
  return run_watch(watch);
}
