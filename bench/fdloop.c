// fdloop: the workload for bench/run.sh, a tight fd create+close loop.
//
//   fdloop [--no-wait] open|socket ITERS
//
// Blocks SIGUSR1 first thing, says "fdloop: pid P waiting for SIGUSR1" on
// stderr and waits for it, so a tracer can attach before the timed part
// starts (--no-wait starts at once).  Then runs ITERS iterations of
//   open("/dev/null", O_RDONLY) + close      (open)
//   socket(AF_INET, SOCK_STREAM) + close     (socket)
// and prints one JSON line on stdout; "op" is one create+close pair:
//   {"kind":"open","iters":N,"ns_per_op":812.4,"total_ns":...,"pid":P}
// Exit status: 0 done, 1 a call failed, 2 bad arguments.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static long long now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int usage(void) {
  fputs("usage: fdloop [--no-wait] open|socket ITERS   (ITERS in 1..1000000000)\n", stderr);
  return 2;
}

int main(int argc, char **argv) {
  sigset_t usr1;
  sigemptyset(&usr1);
  sigaddset(&usr1, SIGUSR1);
  sigprocmask(SIG_BLOCK, &usr1, NULL);

  bool wait_signal = true;
  int arg = 1;
  if (arg < argc && strcmp(argv[arg], "--no-wait") == 0) {
    wait_signal = false;
    arg++;
  }
  if (argc - arg != 2) return usage();
  const char *kind = argv[arg];
  bool use_socket;
  if (strcmp(kind, "open") == 0)
    use_socket = false;
  else if (strcmp(kind, "socket") == 0)
    use_socket = true;
  else
    return usage();
  const char *s = argv[arg + 1];
  char *end;
  errno = 0;
  unsigned long iters = strtoul(s, &end, 10);
  if (s[0] < '0' || s[0] > '9' || *end || errno || iters < 1 || iters > 1000000000UL)
    return usage();

  if (wait_signal) {
    fprintf(stderr, "fdloop: pid %d waiting for SIGUSR1\n", (int)getpid());
    int sig;
    sigwait(&usr1, &sig);
  }

  long long t0 = now_ns();
  for (unsigned long i = 0; i < iters; i++) {
    int fd = use_socket ? socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)
                        : open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      fprintf(stderr, "fdloop: %s: %s\n", use_socket ? "socket" : "open", strerror(errno));
      return 1;
    }
    close(fd);
  }
  long long total = now_ns() - t0;
  printf("{\"kind\":\"%s\",\"iters\":%lu,\"ns_per_op\":%.1f,\"total_ns\":%lld,\"pid\":%d}\n", kind,
         iters, (double)total / (double)iters, total, (int)getpid());
  return 0;
}
