// exporter_bench: the cost of a scrape of `fdwatch exporter -a` with many
// live processes (as Prometheus scrapes: OpenMetrics), and the exporter's
// memory.  Starts N processes holding K fds each, starts the exporter on a
// free loopback port, scrapes it, and
// prints a table.  Then, for the largest --max-processes (every process its
// own series: the dearest scrape), it keeps scraping once a second for
// --duration seconds (default 600; 0 skips it), prints a row every 30 s and
// the verdict against the targets (scrape p95 <= 50 ms, RSS <= 64 MiB, RSS flat
// over the second half of the run: the last row within 2 MiB of the row at
// half time; the first minute or so pages in the ring buffer and warms the
// heap).  With --churn C, C short-lived processes a second (each opens 3 fds
// and exits) come and go meanwhile: the series of exited processes must go
// after the exporter's grace period.
//
//   sudo build/bench/exporter_bench [--procs N] [--fds K] [--scrapes S]
//                                   [--max-processes P ...] [--duration S] [--churn C]
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "common/http.h"
#include "common/subprocess.h"

using fdw::test::http_get;
using fdw::test::Subprocess;

namespace {

struct Args {
  int procs = 2000, fds = 10, scrapes = 20, duration_s = 600, churn = 0;
  std::vector<int> max_processes;
  std::string fdwatch = FDWATCH_BIN;
};

// Forks n children that each open k fds, report ready on a pipe, and sleep
// until killed (or until the bench dies: PDEATHSIG).
std::vector<pid_t> start_holders(int n, int k) {
  int ready[2];
  if (pipe(ready) != 0) return {};
  std::vector<pid_t> pids;
  for (int i = 0; i < n; ++i) {
    pid_t p = fork();
    if (p == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      close(ready[0]);
      for (int j = 0; j < k; ++j) open("/dev/null", O_RDONLY);
      (void)!write(ready[1], "x", 1);
      for (;;) pause();
    }
    if (p > 0) pids.push_back(p);
  }
  close(ready[1]);
  char c;
  for (size_t got = 0; got < pids.size() && read(ready[0], &c, 1) == 1;) ++got;
  close(ready[0]);
  return pids;
}

// Starts `per_s` processes a second, each opening 3 fds and exiting, until
// stop is set.
void churn(int per_s, const std::atomic<bool>& stop) {
  auto next = std::chrono::steady_clock::now();
  while (!stop) {
    for (int i = 0; i < per_s; ++i) {
      pid_t p = fork();
      if (p == 0) {
        for (int j = 0; j < 3; ++j) open("/dev/null", O_RDONLY);
        _exit(0);
      }
      if (p > 0) waitpid(p, nullptr, 0);
    }
    next += std::chrono::seconds(1);
    std::this_thread::sleep_until(next);
  }
}

long status_kib(pid_t pid, const char* field) {
  std::string s = fdw::test::slurp("/proc/" + std::to_string(pid) + "/status");
  auto at = s.find(std::string("\n") + field + ":");
  return at == std::string::npos ? -1 : atol(s.c_str() + at + strlen(field) + 2);
}

// What Prometheus 2.42 sends: the exporter answers it in OpenMetrics.
constexpr const char* kPrometheusAccept =
    "Accept: application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,"
    "text/plain;version=0.0.4;q=0.5,*/*;q=0.1\r\n";

double scrape_ms(int port, size_t* bytes, size_t* series) {
  auto t0 = std::chrono::steady_clock::now();
  auto r = http_get(port, "/metrics", kPrometheusAccept, 30);
  double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  if (!r || r->status != 200) return -1;
  *bytes = r->body.size();
  *series = 0;
  for (size_t at = 0; (at = r->body.find("\nfdwatch_process_open_fds{", at)) != std::string::npos; ++at) ++*series;
  return ms;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

double p95(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[std::min(v.size() - 1, v.size() * 95 / 100)];
}

double rss_mib(pid_t pid) { return double(status_kib(pid, "VmRSS")) / 1024; }

constexpr double kScrapeTargetMs = 50, kRssTargetMib = 64, kFlatMib = 2;
constexpr int kGraceS = 60;  // the exporter's default --grace

// Scrapes once a second for duration_s; a row every 30 s, then the verdict.
int soak(int port, pid_t exporter, int duration_s, int churn_per_s) {
  printf("\nscraped once a second for %d s (every process its own series)", duration_s);
  if (churn_per_s) printf(", %d short-lived processes a second", churn_per_s);
  printf(":\n\n| t s | median ms | max ms | RSS MiB | peak MiB |\n|---|---|---|---|---|\n");
  size_t bytes = 0, series = 0;
  std::vector<double> window, all;
  double first_rss = rss_mib(exporter), last_rss = first_rss;
  std::atomic<bool> stop{false};
  std::thread churner;
  if (churn_per_s) churner = std::thread(churn, churn_per_s, std::cref(stop));
  // the row RSS is compared from: half time, and with churn not before
  // the exited processes of the first grace period are gone
  const int settle_s = std::max(duration_s / 2 / 30 * 30, churn_per_s ? ((kGraceS + 29) / 30 + 1) * 30 : 0);
  auto start = std::chrono::steady_clock::now();
  for (int t = 1; t <= duration_s; ++t) {
    double ms = scrape_ms(port, &bytes, &series);
    if (ms < 0) {
      stop = true;
      if (churner.joinable()) churner.join();
      return fprintf(stderr, "exporter_bench: scrape failed\n"), 1;
    }
    window.push_back(ms);
    all.push_back(ms);
    if (t % 30 == 0 || t == duration_s) {
      last_rss = rss_mib(exporter);
      if (t == settle_s) first_rss = last_rss;
      printf("| %4d | %7.1f | %7.1f | %7.1f | %7.1f |\n", t, median(window),
             *std::max_element(window.begin(), window.end()), last_rss,
             double(status_kib(exporter, "VmHWM")) / 1024);
      fflush(stdout);
      window.clear();
    }
    std::this_thread::sleep_until(start + std::chrono::seconds(t));
  }
  stop = true;
  if (churner.joinable()) churner.join();
  double worst = all.empty() ? 0 : *std::max_element(all.begin(), all.end());
  double peak = double(status_kib(exporter, "VmHWM")) / 1024;
  bool ok = p95(all) <= kScrapeTargetMs && peak <= kRssTargetMib && last_rss - first_rss <= kFlatMib;
  printf("\nscrape median %.1f ms, p95 %.1f ms, max %.1f ms (target: p95 <= %.0f), "
         "peak RSS %.1f MiB (target <= %.0f), RSS %+.1f MiB from %s to end (flat: within %.0f): %s\n",
         median(all), p95(all), worst, kScrapeTargetMs, peak, kRssTargetMib, last_rss - first_rss,
         settle_s < duration_s && settle_s > 0 ? ("t=" + std::to_string(settle_s) + " s").c_str() : "start",
         kFlatMib,
         ok ? "targets met" : "TARGETS MISSED");
  return ok ? 0 : 1;
}

int run(const Args& a, int max_processes, bool soak_it) {
  int port = fdw::test::free_port();
  Subprocess ex({a.fdwatch, "exporter", "-a", "--listen", "127.0.0.1:" + std::to_string(port),
                 "--max-processes", std::to_string(max_processes)});
  if (!ex.wait_stderr("attached", 120)) {
    fprintf(stderr, "exporter_bench: exporter did not attach:\n%s", ex.err().c_str());
    return 1;
  }
  // the first published snapshot may predate the holders' seeding: settle
  size_t bytes = 0, series = 0;
  scrape_ms(port, &bytes, &series);
  std::vector<double> ms;
  for (int i = 0; i < a.scrapes; ++i) {
    double t = scrape_ms(port, &bytes, &series);
    if (t < 0) return fprintf(stderr, "exporter_bench: scrape failed\n"), 1;
    ms.push_back(t);
  }
  printf("| %6d | %6zu | %8zu | %7.1f | %7.1f | %7.1f | %7.1f | %7.1f |\n", max_processes, series, bytes,
         *std::min_element(ms.begin(), ms.end()), median(ms), *std::max_element(ms.begin(), ms.end()),
         double(status_kib(ex.pid(), "VmRSS")) / 1024, double(status_kib(ex.pid(), "VmHWM")) / 1024);
  fflush(stdout);
  int rc = soak_it && a.duration_s > 0 ? soak(port, ex.pid(), a.duration_s, a.churn) : 0;
  ex.signal(SIGTERM);
  return ex.wait(30) == 0 ? rc : 1;
}

}  // namespace

int main(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    std::string o = argv[i];
    auto num = [&](int* out) {
      if (i + 1 >= argc || atoi(argv[i + 1]) <= 0) {
        fprintf(stderr, "exporter_bench: %s: want a positive number\n", o.c_str());
        exit(2);
      }
      *out = atoi(argv[++i]);
    };
    if (o == "--procs") num(&a.procs);
    else if (o == "--fds") num(&a.fds);
    else if (o == "--scrapes") num(&a.scrapes);
    else if (o == "--duration" && i + 1 < argc && std::string(argv[i + 1]) == "0") a.duration_s = 0, ++i;
    else if (o == "--duration") num(&a.duration_s);
    else if (o == "--churn") num(&a.churn);
    else if (o == "--max-processes") a.max_processes.push_back(0), num(&a.max_processes.back());
    else if (o == "--fdwatch" && i + 1 < argc) a.fdwatch = argv[++i];
    else {
      fprintf(stderr, "usage: exporter_bench [--procs N] [--fds K] [--scrapes S] [--max-processes P ...]"
                      " [--duration S] [--churn C] [--fdwatch PATH]\n");
      return 2;
    }
  }
  if (a.max_processes.empty()) a.max_processes = {200, a.procs};
  if (geteuid() != 0) return fprintf(stderr, "exporter_bench: needs root (the exporter traces)\n"), 1;
  auto holders = start_holders(a.procs, a.fds);
  printf("exporter scrape: %zu live processes holding %d fds each (+ the rest of the host), %d scrapes\n\n",
         holders.size(), a.fds, a.scrapes);
  printf("| --max-processes | series | bytes | min ms | median ms | max ms | RSS MiB | peak MiB |\n");
  printf("|---|---|---|---|---|---|---|---|\n");
  int rc = 0;
  int largest = *std::max_element(a.max_processes.begin(), a.max_processes.end());
  bool soaked = false;
  for (int m : a.max_processes) {
    rc |= run(a, m, m == largest && !soaked);
    soaked |= m == largest;
  }
  for (pid_t p : holders) kill(p, SIGKILL);
  for (pid_t p : holders) waitpid(p, nullptr, 0);
  return rc;
}
