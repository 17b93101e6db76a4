#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>

#include "cli/cli.h"
#include "sys/proc.h"

namespace fdw {

volatile sig_atomic_t g_stop_signal = 0;

namespace {
void on_stop(int sig) { g_stop_signal = sig; }
}  // namespace

void install_stop_signals() {
  struct sigaction sa {};
  sa.sa_handler = on_stop;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;  // no SA_RESTART: the poll must wake up
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  signal(SIGPIPE, SIG_IGN);
}

Result<void> check_pids_exist(const std::vector<uint32_t>& pids) {
  for (uint32_t pid : pids)
    if (!process_exists(pid)) return Error{"no such process: " + std::to_string(pid), "", ESRCH, 1};
  return {};
}

int report_error(const Error& e) {
  fprintf(stderr, "fdwatch: %s\n", e.message.c_str());
  if (!e.hint.empty()) fprintf(stderr, "hint: %s\n", e.hint.c_str());
  return e.exit_code;
}

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
