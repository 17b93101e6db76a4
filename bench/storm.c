// storm: the load of bench/soak.sh, one kind per process.
//
//   storm churn RATE THREADS      open("/dev/null")+close, RATE pairs/s in all,
//                                 spread over THREADS threads
//   storm forks TOTAL SECONDS     TOTAL short-lived processes (fork + exec
//                                 /bin/true), spread evenly over SECONDS
//   storm hold N [--cycle]        raises RLIMIT_NOFILE, opens N fds (dups of
//                                 /dev/null), prints "storm: holding N fds",
//                                 then waits; with --cycle, on each SIGUSR1
//                                 closes them all in random order (prints
//                                 "storm: holding 0 fds") or opens N again
//   storm pidreuse SECONDS        host pid reuse: a child opens 3 fds and
//                                 exits, ns_last_pid is set so the next child
//                                 gets the same pid, and that one opens 7 and
//                                 sleeps 2 s; prints the pairs that got the
//                                 same pid, "storm: reused P" per pair
//
// Every mode runs until killed (hold, churn) or until its work is done; the
// churn and forks modes pace themselves in 10 ms slices, so a slow machine
// gives fewer events, never a burst.  Exit status: 0 done, 1 a call failed,
// 2 bad arguments.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static long long now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void sleep_until(long long t) {
  struct timespec ts = {t / 1000000000LL, t % 1000000000LL};
  while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR) {
  }
}

static void die(const char* what) {
  fprintf(stderr, "storm: %s: %s\n", what, strerror(errno));
  exit(1);
}

// ---- churn ------------------------------------------------------------------

static long per_thread_rate;

static void* churn_thread(void* arg) {
  (void)arg;
  const long long slice = 10000000;  // 10 ms
  long per_slice = per_thread_rate / 100;
  if (per_slice < 1) per_slice = 1;
  for (long long t = now_ns();; t += slice) {
    for (long i = 0; i < per_slice; ++i) {
      int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
      if (fd < 0) die("open /dev/null");
      close(fd);
    }
    if (now_ns() < t + slice) sleep_until(t + slice);
    else t = now_ns();  // behind: drop the debt instead of bursting
  }
  return NULL;
}

static int churn(long rate, int threads) {
  if (threads > 64) threads = 64;
  per_thread_rate = rate / threads;
  pthread_t th[64];
  for (int i = 0; i < threads; ++i)
    if (pthread_create(&th[i], NULL, churn_thread, NULL) != 0) die("pthread_create");
  for (int i = 0; i < threads; ++i) pthread_join(th[i], NULL);
  return 0;
}

// ---- forks ------------------------------------------------------------------

static int forks(long total, double seconds) {
  const long long start = now_ns();
  const double gap_ns = seconds * 1e9 / (double)total;
  for (long i = 0; i < total; ++i) {
    long long due = start + (long long)(gap_ns * (double)i);
    if (now_ns() < due) sleep_until(due);
    pid_t p = fork();
    if (p < 0) die("fork");
    if (p == 0) {
      execl("/bin/true", "true", (char*)NULL);
      _exit(127);
    }
    while (waitpid(-1, NULL, WNOHANG) > 0) {
    }
  }
  while (wait(NULL) > 0) {
  }
  printf("storm: %ld processes in %.1f s\n", total, (double)(now_ns() - start) / 1e9);
  return 0;
}

// ---- hold -------------------------------------------------------------------

static volatile sig_atomic_t flips;
static void on_usr1(int sig) {
  (void)sig;
  flips = flips + 1;
}

static _Noreturn void hold(long n, int cycle) {
  struct rlimit rl = {(rlim_t)n + 64, (rlim_t)n + 64};
  if (setrlimit(RLIMIT_NOFILE, &rl) != 0) die("setrlimit RLIMIT_NOFILE");
  int* fds = malloc(sizeof(int) * (size_t)n);
  if (!fds) die("malloc");
  int base = open("/dev/null", O_RDONLY);
  if (base < 0) die("open /dev/null");
  struct sigaction sa = {0};
  sa.sa_handler = on_usr1;
  sigaction(SIGUSR1, &sa, NULL);
  srand(42);
  for (int seen = 0, open_now = 0;;) {
    if (!open_now) {
      for (long i = 0; i < n; ++i)
        if ((fds[i] = dup(base)) < 0) die("dup");
    } else {
      for (long i = n - 1; i > 0; --i) {  // Fisher-Yates: a random close order
        long j = rand() % (i + 1);
        int t = fds[i];
        fds[i] = fds[j];
        fds[j] = t;
      }
      for (long i = 0; i < n; ++i) close(fds[i]);
    }
    open_now = !open_now;
    printf("storm: holding %ld fds\n", open_now ? n : 0);
    fflush(stdout);
    while (!cycle || flips == seen) pause();
    seen = flips;
  }
}

// ---- pid reuse --------------------------------------------------------------

static pid_t child_with_fds(int n, unsigned linger_ms) {
  pid_t p = fork();
  if (p < 0) die("fork");
  if (p == 0) {
    for (int i = 0; i < n; ++i) open("/dev/null", O_RDONLY);
    usleep(linger_ms * 1000);
    _exit(0);
  }
  return p;
}

static int pidreuse(double seconds) {
  const long long end = now_ns() + (long long)(seconds * 1e9);
  long pairs = 0, reused = 0;
  while (now_ns() < end) {
    pid_t a = child_with_fds(3, 200);
    waitpid(a, NULL, 0);
    int fd = open("/proc/sys/kernel/ns_last_pid", O_WRONLY);
    if (fd < 0) die("open /proc/sys/kernel/ns_last_pid");
    dprintf(fd, "%d", a - 1);
    close(fd);
    pid_t b = child_with_fds(7, 2000);
    ++pairs;
    if (b == a) {
      ++reused;
      printf("storm: reused %d\n", (int)a);
      fflush(stdout);
    }
    waitpid(b, NULL, 0);
  }
  printf("storm: %ld of %ld pids reused\n", reused, pairs);
  return 0;
}

int main(int argc, char** argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  if (argc >= 4 && strcmp(argv[1], "churn") == 0) return churn(atol(argv[2]), atoi(argv[3]) > 0 ? atoi(argv[3]) : 1);
  if (argc >= 4 && strcmp(argv[1], "forks") == 0) return forks(atol(argv[2]), atof(argv[3]));
  if (argc >= 3 && strcmp(argv[1], "hold") == 0) hold(atol(argv[2]), argc >= 4 && strcmp(argv[3], "--cycle") == 0);
  if (argc >= 3 && strcmp(argv[1], "pidreuse") == 0) return pidreuse(atof(argv[2]));
  fprintf(stderr, "usage: storm churn RATE THREADS | forks TOTAL SECONDS | hold N [--cycle] | pidreuse SECONDS\n");
  return 2;
}
