#include "util/stop_signals.h"

#include <unistd.h>

#include <cerrno>

namespace fdw {

volatile sig_atomic_t g_stop_signal = 0;
volatile sig_atomic_t g_stop_count = 0;

namespace {
volatile sig_atomic_t g_stop_exits = 0;

extern "C" void on_stop(int sig) {
  if (g_stop_exits) _exit(128 + sig);
  g_stop_signal = sig;
  g_stop_count = g_stop_count + 1;
}
}  // namespace

void set_stop_exits(bool on) { g_stop_exits = on; }

void install_stop_signals() {
  struct sigaction sa {};
  sa.sa_handler = on_stop;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;  // no SA_RESTART: the poll must wake up
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) sigaction(sig, &sa, nullptr);
  signal(SIGPIPE, SIG_IGN);
}

bool write_stdout(const std::string& text) {
  const char* p = text.data();
  size_t n = text.size();
  while (n > 0) {
    ssize_t w = ::write(STDOUT_FILENO, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    p += w;
    n -= size_t(w);
  }
  return true;
}

}  // namespace fdw
