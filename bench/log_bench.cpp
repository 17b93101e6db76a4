// Event-log throughput: writes N synthetic but realistic events (a server
// opening files and sockets, closing most, a few EMFILEs) as plain JSONL and
// as zstd, then reads both back.  Prints events/s and bytes per million events.
// With --stacks the fds carry call stacks (16 frames, from 20 call sites), as
// `record` writes them: once per file in the stack table.
//
//   log_bench [--events N] [--dir DIR] [--stacks]
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "fdwatch_abi.h"
#include "log/codec.h"
#include "log/reader.h"
#include "log/writer.h"

using namespace fdw;
using Clock = std::chrono::steady_clock;

namespace {

// The stack of call site `k`: libc's wrapper, the site, and the frames of a
// service's request path under it.
std::vector<std::string> site_stack(size_t k) {
  std::vector<std::string> st = {"__open (open64.c:41)", "handler_" + std::to_string(k) + " (server.c:" +
                                                             std::to_string(100 + k) + ")"};
  for (int d = 0; st.size() < 16; ++d)
    st.push_back("layer_" + std::to_string(d) + " (framework/dispatch.c:" + std::to_string(300 + d * 7) + ")");
  return st;
}

std::vector<Event> synthetic(size_t n, bool stacks) {
  std::vector<Event> v;
  v.reserve(n);
  uint64_t ts = 5'000'000'000;
  uint32_t seq = 0;
  for (size_t i = 0; i < n; ++i) {
    Event e;
    e.ts_ns = ts += 700 + (i * 7919) % 3000;
    e.pid = 4242 + static_cast<uint32_t>(i % 3);
    e.tid = e.pid + static_cast<uint32_t>(i % 5);
    int fd = 3 + static_cast<int>((i / 2) % 1000);
    switch (i % 10) {
      case 0: case 2: case 4:
        e.type = EvType::Open;
        e.sys = FDW_SYS_OPENAT;
        e.fd = fd;
        e.cloexec = true;
        e.flags = 0x80000;
        e.kind = Kind::File;
        e.target = "/var/lib/app/cache/shard-" + std::to_string(seq++ % 4096) + "/blob.dat";
        break;
      case 6:
        e.type = EvType::Open;
        e.sys = FDW_SYS_SOCKET;
        e.fd = fd;
        e.kind = Kind::Socket;
        e.target = "tcp 10.0.3." + std::to_string(i % 250) + ":" + std::to_string(30000 + i % 30000) +
                   "->10.0.9.17:8081";
        break;
      case 8:
        if (i % 100 == 8) {  // a process at its limit
          e.type = EvType::Open;
          e.sys = FDW_SYS_SOCKET;
          e.err = 24;  // EMFILE
          break;
        }
        e.type = EvType::SockAddr;
        e.sys = FDW_SYS_CONNECT;
        e.fd = fd;
        e.kind = Kind::Socket;
        e.target = "tcp 10.0.3.4:41000->10.0.9.17:8081";
        break;
      default:
        e.type = EvType::Close;
        e.sys = FDW_SYS_CLOSE;
        e.fd = fd;
    }
    if (stacks && e.type == EvType::Open && !e.err) {
      e.stack = site_stack(i % 20);
      e.site = e.stack[1];
    }
    v.push_back(std::move(e));
  }
  return v;
}

double seconds(Clock::time_point a, Clock::time_point b) { return std::chrono::duration<double>(b - a).count(); }

LogHeader header() {
  LogHeader h;
  h.host = "bench";
  h.version = "0.1.0";
  h.argv = {"log_bench"};
  return h;
}

int die(const std::string& what, const std::string& why) {
  fprintf(stderr, "log_bench: %s: %s\n", what.c_str(), why.c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  size_t n = 1'000'000;
  std::string dir = std::filesystem::temp_directory_path().string();
  bool stacks = false;
  for (int i = 1; i < argc; ++i) {
    if (!strcmp(argv[i], "--events") && i + 1 < argc) n = std::strtoull(argv[++i], nullptr, 10);
    else if (!strcmp(argv[i], "--dir") && i + 1 < argc) dir = argv[++i];
    else if (!strcmp(argv[i], "--stacks")) stacks = true;
    else return fprintf(stderr, "usage: log_bench [--events N] [--dir DIR] [--stacks]\n"), 2;
  }
  auto evs = synthetic(n, stacks);
  double per_million = 1e6 / double(n);
  printf("log_bench: %zu events%s\n", n, stacks ? ", fds with call stacks" : "");

  // Encoding alone (no I/O), the floor for the writer.
  std::string buf;
  buf.reserve(1 << 20);
  auto t0 = Clock::now();
  size_t json = 0;
  for (auto& e : evs) {
    buf.clear();
    append_event_line(buf, e);
    json += buf.size();
  }
  auto t1 = Clock::now();
  printf("%-14s %12.0f events/s  %6.1f MB/s JSON   avg line %.1f bytes (stacks inline)\n", "encode",
         n / seconds(t0, t1),
         json / seconds(t0, t1) / 1e6, double(json) / double(n));

  for (bool zstd : {false, true}) {
    std::string path = dir + "/log_bench." + std::to_string(getpid()) + (zstd ? ".jsonl.zst" : ".jsonl");
    LogWriter w;
    t0 = Clock::now();
    if (auto s = w.open(path); !s) return die(path, s.error().message);
    if (auto s = w.write_header(header()); !s) return die(path, s.error().message);
    for (auto& e : evs)
      if (auto s = w.write(e); !s) return die(path, s.error().message);
    if (auto s = w.close(); !s) return die(path, s.error().message);
    t1 = Clock::now();
    LogWriterStats st = w.stats();
    printf("%-14s %12.0f events/s  %6.1f MB/s JSON   %.1f MB per million events (ratio %.1fx)\n",
           zstd ? "write zstd" : "write plain", n / seconds(t0, t1), st.json_bytes / seconds(t0, t1) / 1e6,
           st.bytes * per_million / 1e6, double(st.json_bytes) / double(st.bytes));

    LogReader r;
    t0 = Clock::now();
    if (auto s = r.open(path); !s) return die(path, s.error().message);
    size_t got = 0;
    for (auto ev = r.next(); ev && *ev; ev = r.next()) ++got;
    t1 = Clock::now();
    printf("%-14s %12.0f events/s  (%zu events, %ju errors)\n", zstd ? "read zstd" : "read plain",
           got / seconds(t0, t1), got, static_cast<uintmax_t>(r.problems_total()));
    std::filesystem::remove(path);
    if (got != n || r.problems_total() != 0) return die(path, "read back differs from what was written");
  }
  return 0;
}
