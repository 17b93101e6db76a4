// fdwatch_demo: a small, self-contained reproduction of the incident
// "accept4/socket: too many open files".
//
// Two processes:
//   backend  an HTTP server on 127.0.0.1:<ephemeral>; it accepts, reads one
//            request, answers "HTTP/1.1 200 OK" and closes the connection.
//   facade   the parent; it lowers its soft RLIMIT_NOFILE and calls the
//            backend --rate times per second through
//            handle_request() -> call_backend() -> http_get() -> dial(),
//            and http_get() never closes its socket (the bug).
//
// Once socket() fails with EMFILE the facade keeps trying for --linger
// seconds (so a tracer sees the failures), then stops the backend and exits 0.
// All messages go to stderr, so `fdwatch --json -- fdwatch_demo > r.json`
// keeps stdout clean for the report.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

// The call chain must survive optimisation as four real frames, because it
// is what fdwatch's stacks are supposed to show: no inlining, no
// .isra/.constprop clones, and each caller does work after the call so
// nothing becomes a sibling (tail) call.
#if defined(__clang__)
#define KEEP_FRAME __attribute__((noinline))
#else
#define KEEP_FRAME __attribute__((noinline, noclone))
#endif

#define NSEC_PER_SEC 1000000000LL

struct options {
  unsigned long limit;  // soft RLIMIT_NOFILE for the facade
  unsigned long rate;   // requests per second
  double linger_s;      // keep failing this long after the first EMFILE
  double duration_s;    // hard cap on the facade's run time
};

struct stats {
  unsigned long ok;           // 200 responses
  unsigned long emfile;       // socket() failures with EMFILE
  unsigned long other_fail;   // anything else that went wrong
  unsigned long leaked;       // sockets opened and never closed
  int64_t first_emfile_ns;    // 0 until the first EMFILE
  int64_t last_emfile_msg_ns;
  int64_t last_other_msg_ns;
};

static volatile sig_atomic_t g_stop_signal;

static int64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * NSEC_PER_SEC + ts.tv_nsec;
}

static struct timespec to_timespec(int64_t ns) {
  struct timespec ts = {.tv_sec = ns / NSEC_PER_SEC, .tv_nsec = ns % NSEC_PER_SEC};
  return ts;
}

static void usage(FILE *out) {
  fprintf(out,
          "usage: fdwatch_demo [--limit N] [--rate R] [--linger S] [--duration S]\n"
          "\n"
          "Reproduces \"socket: Too many open files\": a facade process calls a\n"
          "backend HTTP server on 127.0.0.1 and never closes its sockets.\n"
          "\n"
          "  --limit N      soft RLIMIT_NOFILE of the facade (8..hard limit, default 256)\n"
          "  --rate R       requests per second (1..10000, default 40)\n"
          "  --linger S     seconds to keep trying after the first EMFILE\n"
          "                 (0..3600, default 3)\n"
          "  --duration S   stop after S seconds even without EMFILE\n"
          "                 (0 < S <= 86400, default 60)\n"
          "  -h, --help     show this help\n"
          "\n"
          "Exits 0 after --linger or --duration, 1 on a runtime failure, 2 on bad\n"
          "usage, 128+N when stopped by signal N. Messages go to stderr.\n"
          "Try: sudo fdwatch -- fdwatch_demo\n");
}

static bool parse_ulong(const char *s, unsigned long min, unsigned long max, unsigned long *out) {
  // strtoul accepts "-1" (and wraps it), so demand a digit up front.
  if (s[0] < '0' || s[0] > '9') return false;
  char *end;
  errno = 0;
  unsigned long v = strtoul(s, &end, 10);
  if (errno || *end || v < min || v > max) return false;
  *out = v;
  return true;
}

static bool parse_seconds(const char *s, double min, double max, bool min_exclusive, double *out) {
  // Plain decimals only: strtod would also take "0x1p3", "1e2", " 5".
  if (s[0] == '\0' || s[strspn(s, "0123456789.")] != '\0') return false;
  char *end;
  errno = 0;
  double v = strtod(s, &end);
  if (errno || *end || v < min || v > max) return false;
  if (min_exclusive && v == min) return false;
  *out = v;
  return true;
}

static int parse_options(int argc, char **argv, struct options *o) {
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) {
    fprintf(stderr, "fdwatch_demo: getrlimit: %s\n", strerror(errno));
    return 1;
  }
  // nr_open's default; an unlimited hard limit still cannot go beyond it.
  unsigned long hard = rl.rlim_max == RLIM_INFINITY ? 1048576UL : (unsigned long)rl.rlim_max;

  static const struct option longopts[] = {
      {"limit", required_argument, NULL, 'l'},   {"rate", required_argument, NULL, 'r'},
      {"linger", required_argument, NULL, 'L'},  {"duration", required_argument, NULL, 'd'},
      {"help", no_argument, NULL, 'h'},          {NULL, 0, NULL, 0},
  };
  *o = (struct options){.limit = 256, .rate = 40, .linger_s = 3, .duration_s = 60};
  opterr = 0;
  int c;
  while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
    switch (c) {
      case 'l':
        if (!parse_ulong(optarg, 8, hard, &o->limit)) {
          fprintf(stderr, "fdwatch_demo: --limit %s: want an integer in 8..%lu (hard limit)\n",
                  optarg, hard);
          return 2;
        }
        break;
      case 'r':
        if (!parse_ulong(optarg, 1, 10000, &o->rate)) {
          fprintf(stderr, "fdwatch_demo: --rate %s: want an integer in 1..10000\n", optarg);
          return 2;
        }
        break;
      case 'L':
        if (!parse_seconds(optarg, 0, 3600, false, &o->linger_s)) {
          fprintf(stderr, "fdwatch_demo: --linger %s: want seconds in 0..3600\n", optarg);
          return 2;
        }
        break;
      case 'd':
        if (!parse_seconds(optarg, 0, 86400, true, &o->duration_s)) {
          fprintf(stderr, "fdwatch_demo: --duration %s: want seconds in (0, 86400]\n", optarg);
          return 2;
        }
        break;
      case 'h':
        usage(stdout);
        exit(0);
      case ':':
        fprintf(stderr, "fdwatch_demo: %s: missing value\n", argv[optind - 1]);
        return 2;
      default:
        fprintf(stderr, "fdwatch_demo: %s: unknown option (see --help)\n", argv[optind - 1]);
        return 2;
    }
  }
  if (optind < argc) {
    fprintf(stderr, "fdwatch_demo: %s: unexpected argument (see --help)\n", argv[optind]);
    return 2;
  }
  return 0;
}

// ---------------------------------------------------------------- backend

static bool write_all(int fd, const char *buf, size_t len) {
  while (len > 0) {
    ssize_t n = write(fd, buf, len);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    buf += n;
    len -= (size_t)n;
  }
  return true;
}

static void serve_connection(int conn) {
  // A peer that never finishes its request must not stall the server.
  struct timeval tv = {.tv_sec = 2};
  setsockopt(conn, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);

  char req[2048];
  size_t used = 0;
  for (;;) {
    ssize_t n = read(conn, req + used, sizeof req - 1 - used);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // peer gone or timed out: nothing to answer
    used += (size_t)n;
    req[used] = '\0';
    if (strstr(req, "\r\n\r\n") || used == sizeof req - 1) break;
  }
  static const char resp[] =
      "HTTP/1.1 200 OK\r\n"
      "Content-Type: text/plain\r\n"
      "Content-Length: 12\r\n"
      "Connection: close\r\n"
      "\r\n"
      "{\"items\":[]}";
  write_all(conn, resp, sizeof resp - 1);
}

static int run_backend(pid_t parent, int port_pipe) {
  prctl(PR_SET_NAME, "backend");
  // Die with the facade even if it is killed before it can stop us.
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != parent) return 1;

  int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (lfd < 0) {
    fprintf(stderr, "backend: socket: %s\n", strerror(errno));
    return 1;
  }
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t alen = sizeof addr;
  if (bind(lfd, (struct sockaddr *)&addr, sizeof addr) != 0 || listen(lfd, 128) != 0 ||
      getsockname(lfd, (struct sockaddr *)&addr, &alen) != 0) {
    fprintf(stderr, "backend: listen on 127.0.0.1: %s\n", strerror(errno));
    return 1;
  }
  uint16_t port = ntohs(addr.sin_port);
  if (!write_all(port_pipe, (const char *)&port, sizeof port)) return 1;
  close(port_pipe);

  int64_t last_msg = 0;
  for (;;) {
    int conn = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
    if (conn < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if (errno == EMFILE || errno == ENFILE) {
        // The backend closes what it accepts, so this only happens when the
        // whole system is short of fds; back off instead of spinning.
        int64_t t = now_ns();
        if (t - last_msg >= NSEC_PER_SEC) {
          fprintf(stderr, "backend: accept4: %s\n", strerror(errno));
          last_msg = t;
        }
        usleep(100 * 1000);
        continue;
      }
      fprintf(stderr, "backend: accept4: %s\n", strerror(errno));
      return 1;
    }
    serve_connection(conn);
    close(conn);
  }
}

// ----------------------------------------------------------------- facade

static unsigned long g_leaked;  // sockets http_get() opened and dropped

// Returns a connected socket, or -errno.
static KEEP_FRAME int dial(const struct sockaddr_in *addr) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -errno;
  if (connect(fd, (const struct sockaddr *)addr, sizeof *addr) != 0) {
    int err = errno;
    close(fd);
    return -err;
  }
  return fd;
}

// Returns the HTTP status code, or -errno.
static KEEP_FRAME int http_get(const struct sockaddr_in *addr, const char *path) {
  int fd = dial(addr);
  if (fd < 0) return fd;
  // THE BUG: every return below leaves fd open.  Nothing ever closes it.
  g_leaked++;

  struct timeval tv = {.tv_sec = 2};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  char req[256];
  int len = snprintf(req, sizeof req,
                     "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%u\r\nConnection: close\r\n\r\n", path,
                     (unsigned)ntohs(addr->sin_port));
  if (!write_all(fd, req, (size_t)len)) return -errno;

  // Connection: close, so the response ends at EOF.
  char resp[1024];
  size_t used = 0;
  for (;;) {
    ssize_t n = read(fd, resp + used, sizeof resp - 1 - used);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return -errno;
    if (n == 0 || (used += (size_t)n) == sizeof resp - 1) break;
  }
  resp[used] = '\0';
  int status;
  if (sscanf(resp, "HTTP/1.%*d %d", &status) != 1) return -EPROTO;
  return status;
}

static KEEP_FRAME int call_backend(const struct sockaddr_in *backend) {
  int status = http_get(backend, "/api/items");
  // Treat any non-200 answer as a protocol failure; keeps this a real frame.
  return status == 200 || status < 0 ? status : -EPROTO;
}

static KEEP_FRAME void handle_request(const struct sockaddr_in *backend, struct stats *st) {
  int r = call_backend(backend);
  int64_t t = now_ns();
  if (r == 200) {
    st->ok++;
  } else if (r == -EMFILE) {
    st->emfile++;
    if (st->first_emfile_ns == 0) st->first_emfile_ns = t;
    if (st->emfile == 1 || t - st->last_emfile_msg_ns >= NSEC_PER_SEC) {
      fprintf(stderr, "facade: socket: %s (%lu failed so far)\n", strerror(EMFILE), st->emfile);
      st->last_emfile_msg_ns = t;
    }
  } else {
    st->other_fail++;
    if (st->other_fail == 1 || t - st->last_other_msg_ns >= NSEC_PER_SEC) {
      fprintf(stderr, "facade: GET /api/items: %s (%lu failed so far)\n", strerror(-r),
              st->other_fail);
      st->last_other_msg_ns = t;
    }
  }
}

static void on_signal(int sig) { g_stop_signal = sig; }

// Counts open fds below `limit`: those are the slots the leak competes for.
static long count_fds_below(unsigned long limit) {
  DIR *d = opendir("/proc/self/fd");
  if (!d) return -1;
  long n = 0;
  struct dirent *e;
  while ((e = readdir(d))) {
    if (e->d_name[0] == '.') continue;
    int fd = atoi(e->d_name);
    if (fd != dirfd(d) && (unsigned long)fd < limit) n++;
  }
  closedir(d);
  return n;
}

static void stop_backend(pid_t backend) {
  kill(backend, SIGTERM);
  while (waitpid(backend, NULL, 0) < 0 && errno == EINTR) {
  }
}

int main(int argc, char **argv) {
  struct options opt;
  int rc = parse_options(argc, argv, &opt);
  if (rc != 0) return rc;

  prctl(PR_SET_NAME, "facade");
  signal(SIGPIPE, SIG_IGN);

  int port_pipe[2];
  if (pipe2(port_pipe, O_CLOEXEC) != 0) {
    fprintf(stderr, "facade: pipe2: %s\n", strerror(errno));
    return 1;
  }
  pid_t self = getpid();
  pid_t backend = fork();
  if (backend < 0) {
    fprintf(stderr, "facade: fork: %s\n", strerror(errno));
    return 1;
  }
  if (backend == 0) {
    close(port_pipe[0]);
    _exit(run_backend(self, port_pipe[1]));
  }
  close(port_pipe[1]);
  uint16_t port = 0;
  ssize_t n;
  while ((n = read(port_pipe[0], &port, sizeof port)) < 0 && errno == EINTR) {
  }
  close(port_pipe[0]);
  if (n != (ssize_t)sizeof port) {
    fprintf(stderr, "facade: backend failed to start\n");
    stop_backend(backend);
    return 1;
  }

  struct sigaction sa = {.sa_handler = on_signal};
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);

  struct rlimit rl;
  getrlimit(RLIMIT_NOFILE, &rl);
  rl.rlim_cur = opt.limit;
  if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
    fprintf(stderr, "facade: setrlimit(RLIMIT_NOFILE, %lu): %s\n", opt.limit, strerror(errno));
    stop_backend(backend);
    return 1;
  }
  long in_use = count_fds_below(opt.limit);
  long free_slots = in_use < 0 ? -1 : (long)opt.limit - in_use;
  fprintf(stderr,
          "facade: pid %d, backend pid %d on 127.0.0.1:%u; RLIMIT_NOFILE %lu, %ld fds free; "
          "%lu req/s",
          (int)self, (int)backend, (unsigned)port, opt.limit, free_slots, opt.rate);
  if (free_slots >= 0)
    fprintf(stderr, "; EMFILE expected after ~%.1f s\n", (double)free_slots / (double)opt.rate);
  else
    fputc('\n', stderr);

  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  struct stats st = {0};
  const int64_t period = NSEC_PER_SEC / (int64_t)opt.rate;
  const int64_t start = now_ns();
  const int64_t cap = start + (int64_t)(opt.duration_s * 1e9 + 0.5);
  const int64_t linger = (int64_t)(opt.linger_s * 1e9 + 0.5);
  int64_t next = start;
  const char *why = "duration reached";
  int exit_code = 0;

  for (;;) {
    int64_t end = cap;
    if (st.first_emfile_ns && st.first_emfile_ns + linger < end) end = st.first_emfile_ns + linger;
    if (next >= end) {
      // Sleep out the remainder so the run ends on time, not one period late.
      struct timespec ts = to_timespec(end);
      while (!g_stop_signal && clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR) {
      }
      if (end != cap) why = "linger after EMFILE over";
      break;
    }
    struct timespec ts = to_timespec(next);
    while (!g_stop_signal && clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR) {
    }
    if (g_stop_signal) break;
    if (waitpid(backend, NULL, WNOHANG) == backend) {
      fprintf(stderr, "facade: backend exited unexpectedly\n");
      return 1;
    }

    handle_request(&addr, &st);

    // Fixed schedule; if a request overran its slot, start afresh from now
    // instead of firing a burst to catch up.
    next += period;
    int64_t t = now_ns();
    if (next < t) next = t;
  }

  if (g_stop_signal) {
    why = g_stop_signal == SIGINT ? "interrupted" : "terminated";
    exit_code = 128 + g_stop_signal;
  }
  stop_backend(backend);
  fprintf(stderr,
          "facade: %s after %.1f s: %lu requests ok, %lu failed with EMFILE, %lu other "
          "failures; %lu sockets never closed\n",
          why, (double)(now_ns() - start) / NSEC_PER_SEC, st.ok, st.emfile, st.other_fail,
          g_leaked);
  return exit_code;
}
