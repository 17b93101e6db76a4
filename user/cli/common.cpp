#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>

#include "cli/cli.h"
#include "pipeline/session.h"
#include "core/container.h"
#include "sys/cgroup.h"
#include "sys/proc.h"
#include "util/escape.h"

namespace fdw {

Result<void> drop_capabilities() {
  prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
  __user_cap_header_struct h{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct none[_LINUX_CAPABILITY_U32S_3] = {};
  if (syscall(SYS_capset, &h, none) != 0) return Error::from_errno("cannot drop capabilities", errno);
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return Error::from_errno("cannot set no_new_privs", errno);
  return {};
}

int print_final(const std::string& text, int stops_seen) {
  if (g_stop_count != stops_seen) return signal_exit_status(g_stop_signal);
  if (!write_stdout(text)) return signal_exit_status(SIGPIPE);
  return kExitOk;
}

Result<void> check_pids_exist(const std::vector<uint32_t>& pids) {
  for (uint32_t pid : pids)
    if (!process_exists(pid)) return Error{"no such process: " + std::to_string(pid), "", ESRCH, 1};
  return {};
}

const char kCgroupHelp[] = "Only processes in this cgroup v2 and below (absolute, or relative to the cgroup v2 mount)";

Result<void> apply_cgroup(const std::string& arg, SessionOptions& so) {
  if (arg.empty()) return {};
  auto cg = resolve_cgroup(arg);
  if (!cg) return cg.error();
  for (uint32_t pid : so.pids)
    if (std::string in = read_cgroup(pid); !cgroup_within(in, cg->path))
      return Error{"process " + std::to_string(pid) + " is not in cgroup " + cg->path + " (it is in " + in + ")",
                   "drop -p to trace every process of the cgroup", 0, kExitUsage};
  so.cgroup = cg->dir;
  so.cgroup_path = cg->path;
  if (so.pids.empty()) so.all = true;
  return {};
}

int report_error(const Error& e) {
  fprintf(stderr, "fdwatch: %s\n", escape_text(e.message).c_str());
  if (!e.hint.empty()) fprintf(stderr, "hint: %s\n", escape_text(e.hint).c_str());
  return e.exit_code;
}

void print_note(std::string_view note) { fprintf(stderr, "fdwatch: note: %s\n", escape_text(note).c_str()); }

void split_command(int argc, char** argv, std::vector<std::string>* own,
                   std::vector<std::string>* command) {
  int i = 1;
  for (; i < argc; ++i) {
    if (std::strcmp(argv[i], "--") == 0) {
      ++i;
      break;
    }
    own->push_back(argv[i]);
  }
  for (; i < argc; ++i) command->push_back(argv[i]);
}

}  // namespace fdw
