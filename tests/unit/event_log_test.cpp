// Event log: the JSON form of every Event, the writer (plain, zstd, rotation)
// and the reader's handling of damaged files, with the exact messages users see.
#include "common/temp_dir.h"
#include "core/classify.h"
#include "log/codec.h"
#include "log/reader.h"
#include "log/writer.h"

#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include <csignal>

#include <cerrno>
#include <climits>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <tuple>

#include "fdwatch_abi.h"

namespace fdw {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;
using fdw::test::TempDir;

// ---- helpers -------------------------------------------------------------------

auto seed_tuple(const std::vector<SeedFd>& v) {
  std::vector<std::tuple<int, Kind, std::string, bool>> out;
  for (auto& s : v) out.emplace_back(s.fd, s.kind, s.target, s.cloexec);
  return out;
}

// Every field of Event, so EXPECT_EQ on two of these compares whole events.
auto fields(const Event& e) {
  return std::make_tuple(e.type, e.ts_ns, e.pid, e.tid, e.sys, e.fd, e.fd2, e.err, e.cloexec,
                         e.child, e.shared_files, e.value, e.flags, e.kind, e.kind2, e.target,
                         e.target2, e.comm, seed_tuple(e.fds), e.stack, e.site, e.cgroup, e.ns_pid);
}

std::string line_of(const Event& e) {
  std::string s;
  append_event_line(s, e);
  return s;
}

constexpr EvType kAllTypes[] = {EvType::Open,   EvType::Close,    EvType::CloseRange, EvType::Dup,
                                EvType::Cloexec, EvType::Fork,    EvType::Exec,       EvType::Exit,
                                EvType::SockAddr, EvType::Limit,  EvType::Snapshot,   EvType::Lost,
                                EvType::Comm,   EvType::Call};

// Every field away from its default, whatever the type: the format carries
// all of them, not only those a type normally uses.
Event full_event(EvType t) {
  Event e;
  e.type = t;
  e.ts_ns = 123456789012345ull;
  e.pid = 4242;
  e.tid = 4243;
  e.sys = FDW_SYS_OPENAT;
  e.fd = 7;
  e.fd2 = 8;
  e.err = EMFILE;
  e.cloexec = true;
  e.child = 5000;
  e.shared_files = true;
  e.value = -17;
  e.flags = 0x80000;
  e.kind = Kind::Socket;
  e.kind2 = Kind::Pipe;
  e.target = "tcp 127.0.0.1:40312->127.0.0.1:8081";
  e.target2 = "pipe:[998]";
  e.comm = "facade";
  e.fds = {{0, Kind::File, "/dev/pts/0", false}, {3, Kind::Socket, "socket:[1234]", true},
           {9, Kind::Other, "", false}};
  e.stack = {"net.(*netFD).connect", "main.callBackend (main.go:42)"};
  e.site = "main.callBackend (main.go:42)";
  e.cgroup = "/system.slice/docker-0123.scope";
  e.ns_pid = 7;
  return e;
}

Event open_event(uint64_t ts, int fd, std::string path) {
  Event e;
  e.type = EvType::Open;
  e.ts_ns = ts;
  e.pid = 100;
  e.tid = 101;
  e.sys = FDW_SYS_OPENAT;
  e.fd = fd;
  e.kind = Kind::File;
  e.target = std::move(path);
  return e;
}

// The events a realistic log holds: opens with paths, some failing, closes.
std::vector<Event> sample_events(size_t n) {
  std::vector<Event> v;
  for (size_t i = 0; i < n; ++i) {
    Event e = open_event(1'000'000 + i * 1000, 3 + static_cast<int>(i % 1000),
                         "/var/lib/app/data/segment-" + std::to_string(i) + ".dat");
    if (i % 3 == 1) {
      e.type = EvType::Close;
      e.sys = FDW_SYS_CLOSE;
      e.kind = Kind::Other;
      e.target.clear();
    }
    if (i % 17 == 5) e.err = EMFILE, e.fd = -1;
    v.push_back(std::move(e));
  }
  return v;
}

LogHeader sample_header() {
  LogHeader h;
  h.host = "build-7";
  h.kernel = "6.1.0-18-amd64";
  h.version = "0.1.0";
  h.boot_time_unix_ns = 1700000000000000000;
  h.start_time_unix_ns = 1700000123000000000;
  h.start_mono_ns = 123000000000;
  h.argv = {"fdwatch", "record", "-o", "x.jsonl", "-p", "42"};
  return h;
}


std::string slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

void spit(const std::string& path, const std::string& data) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f << data;
}

std::string run(const std::string& cmd, int* status = nullptr) {
  std::string out;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return out;
  char buf[65536];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  int st = pclose(p);
  if (status) *status = st;
  return out;
}

size_t open_fd_count() {
  size_t n = 0;
  DIR* d = opendir("/proc/self/fd");
  while (readdir(d)) ++n;
  closedir(d);
  return n;
}

LogWriterOptions rotating(uint64_t max, int keep) {
  LogWriterOptions o;
  o.max_size_bytes = max;
  o.keep_files = keep;
  return o;
}

LogWriterOptions uncompressed() {
  LogWriterOptions o;
  o.zstd = false;
  return o;
}

void write_log(const std::string& path, const std::vector<Event>& evs, LogWriterOptions o = {}) {
  LogWriter w;
  ASSERT_TRUE(w.open(path, o).ok());
  ASSERT_TRUE(w.write_header(sample_header()).ok());
  for (auto& e : evs) ASSERT_TRUE(w.write(e).ok());
  ASSERT_TRUE(w.close().ok());
}

struct ReadResult {
  std::string open_error;
  LogHeader header;
  std::vector<Event> events;
  std::vector<LogProblem> errors;
  uint64_t unknown = 0, lines = 0, errors_total = 0;
  std::optional<LogEnd> end;
};

ReadResult read_log(const std::string& path, LogReaderOptions o = {}) {
  ReadResult r;
  LogReader rd;
  if (auto st = rd.open(path, o); !st) r.open_error = st.error().message;
  r.header = rd.header();
  for (auto got = rd.next(); got && *got; got = rd.next()) r.events.push_back(**got);
  r.errors = rd.problems();
  r.unknown = rd.skipped_unknown();
  r.lines = rd.lines();
  r.errors_total = rd.problems_total();
  r.end = rd.end();
  return r;
}

std::vector<std::string> messages(const ReadResult& r) {
  std::vector<std::string> m;
  for (auto& e : r.errors) m.push_back(e.message);
  return m;
}

std::string header_line() {
  std::string s;
  append_header_line(s, sample_header());
  return s;
}

// ---- errno names ----------------------------------------------------------------

TEST(ErrnoName, NamesAndAliases) {
  EXPECT_EQ(errno_symbol(EMFILE), "EMFILE");
  EXPECT_EQ(errno_symbol(ENFILE), "ENFILE");
  EXPECT_EQ(errno_symbol(0), "");
  EXPECT_EQ(errno_symbol(4000), "");
  EXPECT_EQ(errno_from_name("EMFILE"), EMFILE);
  EXPECT_EQ(errno_from_name("ENOENT"), ENOENT);
  EXPECT_EQ(errno_from_name("EWOULDBLOCK"), EAGAIN);
  EXPECT_EQ(errno_from_name("ENOTSUP"), EOPNOTSUPP);
  EXPECT_EQ(errno_from_name("EFOO"), std::nullopt);
  EXPECT_EQ(errno_from_name(""), std::nullopt);
}

// ---- event <-> JSON --------------------------------------------------------------

TEST(EventJson, ExactLinesForTypicalEvents) {
  Event o = open_event(5000, 3, "/etc/passwd");
  o.cloexec = true;
  o.flags = 0x80000;
  EXPECT_EQ(line_of(o),
            "{\"type\":\"open\",\"ts\":5000,\"pid\":100,\"tid\":101,\"sys\":\"openat\",\"fd\":3,"
            "\"cloexec\":true,\"flags\":524288,\"kind\":\"file\",\"target\":\"/etc/passwd\"}\n");

  Event fail = open_event(6000, -1, "");
  fail.err = EMFILE;
  fail.kind = Kind::Other;
  EXPECT_EQ(line_of(fail),
            "{\"type\":\"open\",\"ts\":6000,\"pid\":100,\"tid\":101,\"sys\":\"openat\",\"err\":\"EMFILE\"}\n");

  Event snap;
  snap.type = EvType::Snapshot;
  snap.ts_ns = 1;
  snap.pid = 9;
  snap.fds = {{0, Kind::File, "/dev/null", false}, {5, Kind::Socket, "socket:[77]", true}};
  EXPECT_EQ(line_of(snap),
            "{\"type\":\"snapshot\",\"ts\":1,\"pid\":9,\"fds\":[{\"fd\":0,\"kind\":\"file\",\"target\":"
            "\"/dev/null\"},{\"fd\":5,\"kind\":\"socket\",\"target\":\"socket:[77]\",\"cloexec\":true}]}\n");
}

TEST(EventJson, DefaultsAreOmitted) {
  for (EvType t : kAllTypes) {
    Event e;
    e.type = t;
    json j = event_to_json(e);
    EXPECT_EQ(j.size(), 3u) << j.dump();
    EXPECT_EQ(j["type"], std::string(evtype_name(t)));
    EXPECT_EQ(j["ts"], 0);
    EXPECT_EQ(j["pid"], 0);
  }
  // All 23 fields when none is at its default.
  EXPECT_EQ(event_to_json(full_event(EvType::Open)).size(), 23u);
}

TEST(EventJson, TypeNamesAreTheDesignVocabulary) {
  std::vector<std::string> names;
  for (EvType t : kAllTypes) {
    Event e;
    e.type = t;
    names.push_back(event_to_json(e)["type"]);
  }
  EXPECT_EQ(names, (std::vector<std::string>{"open", "close", "close_range", "dup", "cloexec", "fork",
                                             "exec", "exit", "sockaddr", "limit", "snapshot", "lost",
                                             "comm", "call"}));
}

TEST(EventJson, RoundTripEveryTypeFullAndEmpty) {
  for (EvType t : kAllTypes) {
    for (const Event& e : {full_event(t), [&] { Event d; d.type = t; return d; }()}) {
      auto back = event_from_json(event_to_json(e));
      ASSERT_TRUE(back) << back.error().message;
      EXPECT_EQ(fields(*back), fields(e)) << line_of(e);
      EXPECT_EQ(line_of(*back), line_of(e));
    }
  }
}

TEST(EventJson, RoundTripExtremeValues) {
  Event e = full_event(EvType::CloseRange);
  e.ts_ns = UINT64_MAX;
  e.pid = UINT32_MAX;
  e.tid = UINT32_MAX;
  e.fd = INT32_MIN;
  e.fd2 = INT32_MAX;
  e.child = UINT32_MAX;
  e.flags = UINT32_MAX;
  for (int64_t v : {INT64_MIN, INT64_MAX, int64_t{1}}) {
    e.value = v;
    auto back = event_from_json(event_to_json(e));
    ASSERT_TRUE(back);
    EXPECT_EQ(fields(*back), fields(e));
  }
}

TEST(EventJson, RoundTripEverySyscallKindAndErrno) {
  for (uint16_t s = 0; s < FDW_SYS__COUNT + 3; ++s) {  // +3: numbers newer than the table
    Event e;
    e.sys = s;
    auto back = event_from_json(event_to_json(e));
    ASSERT_TRUE(back);
    EXPECT_EQ(back->sys, s);
  }
  EXPECT_EQ(event_to_json([] { Event e; e.sys = FDW_SYS__COUNT + 1; return e; }())["sys"],
            FDW_SYS__COUNT + 1);
  for (int k = 0; k < kKindCount; ++k) {
    Event e;
    e.kind = static_cast<Kind>(k);
    e.kind2 = static_cast<Kind>(kKindCount - 1 - k);
    e.fds = {{1, static_cast<Kind>(k), "", false}};
    auto back = event_from_json(event_to_json(e));
    ASSERT_TRUE(back);
    EXPECT_EQ(fields(*back), fields(e));
  }
  for (int err : {1, EMFILE, ENFILE, 133, 4000, -5}) {
    Event e;
    e.err = err;
    auto back = event_from_json(event_to_json(e));
    ASSERT_TRUE(back);
    EXPECT_EQ(back->err, err);
  }
  Event e;
  e.err = 4000;  // no name: stays a number
  EXPECT_EQ(event_to_json(e)["err"], 4000);
}

TEST(EventJson, RoundTripAwkwardStrings) {
  const std::string cases[] = {
      std::string("nul\0inside", 10), "quote\" back\\slash", "ctl\x01\x1f\x7f\n\r\t\b\f",
      "utf8 \xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80",
      "\xff\xfe latin1 \xe9",           // not UTF-8
      "\xc0\x80",                       // overlong NUL
      "\xed\xa0\x80",                   // UTF-16 surrogate
      "\xf4\x90\x80\x80",               // beyond U+10FFFF
      "cut \xe2\x82",                   // truncated sequence
      std::string(5000, 'x')};
  for (const std::string& s : cases) {
    Event e;
    e.type = EvType::Exec;
    e.target = e.target2 = e.comm = s;
    e.fds = {{3, Kind::File, s, false}};
    e.stack = {s, "ok"};
    std::string line = line_of(e);
    auto back = event_from_json(json::parse(line));
    ASSERT_TRUE(back) << line;
    EXPECT_EQ(fields(*back), fields(e)) << line;
  }
  Event e;
  e.target = "a\xff";
  EXPECT_EQ(line_of(e), "{\"type\":\"open\",\"ts\":0,\"pid\":0,\"target\":{\"hex\":\"61ff\"}}\n");
}

TEST(EventJson, ReadsNumbersAndAliasesWrittenByOthers) {
  auto ev = event_from_json(json::parse(R"({"type":"open","ts":1,"pid":2,"sys":2,"err":24,"kind":"warp_drive","future_field":[1]})"));
  ASSERT_TRUE(ev);
  EXPECT_EQ(ev->sys, FDW_SYS_OPENAT);
  EXPECT_EQ(ev->err, EMFILE);
  EXPECT_EQ(ev->kind, Kind::Other);  // unknown kinds read as "other"
  ev = event_from_json(json::parse(R"({"type":"open","ts":1,"pid":2,"sys":"frobnicate","err":"EWOULDBLOCK"})"));
  ASSERT_TRUE(ev);
  EXPECT_EQ(ev->sys, 0);
  EXPECT_EQ(ev->err, EAGAIN);
}

TEST(EventJson, RejectsBadFieldsWithExactMessages) {
  const std::pair<const char*, const char*> cases[] = {
      {R"([1])", "expected a JSON object, got array"},
      {R"({"ts":1,"pid":2})", "missing field \"type\""},
      {R"({"type":7,"ts":1,"pid":2})", "field \"type\": expected string, got integer"},
      {R"({"type":"teleport","ts":1,"pid":2})", "unknown type \"teleport\""},
      {R"({"type":"open","pid":2})", "missing field \"ts\""},
      {R"({"type":"open","ts":1})", "missing field \"pid\""},
      {R"({"type":"open","ts":-1,"pid":2})", "field \"ts\": -1 out of range [0, 18446744073709551615]"},
      {R"({"type":"open","ts":1,"pid":4294967296})", "field \"pid\": 4294967296 out of range [0, 4294967295]"},
      {R"({"type":"open","ts":1,"pid":2,"fd":"3"})", "field \"fd\": expected integer, got string"},
      {R"({"type":"open","ts":1,"pid":2,"fd":3.5})", "field \"fd\": expected integer, got float"},
      {R"({"type":"open","ts":1,"pid":2,"fd2":2147483648})", "field \"fd2\": 2147483648 out of range [-2147483648, 2147483647]"},
      {R"({"type":"open","ts":1,"pid":2,"sys":70000})", "field \"sys\": 70000 out of range [0, 65535]"},
      {R"({"type":"open","ts":1,"pid":2,"err":"EFOO"})", "field \"err\": unknown errno name \"EFOO\""},
      {R"({"type":"open","ts":1,"pid":2,"cloexec":1})", "field \"cloexec\": expected boolean, got integer"},
      {R"({"type":"open","ts":1,"pid":2,"kind":3})", "field \"kind\": expected string, got integer"},
      {R"({"type":"open","ts":1,"pid":2,"target":null})", "field \"target\": expected string, got null"},
      {R"({"type":"open","ts":1,"pid":2,"comm":{"hex":"abc"}})", "field \"comm\": expected string or {\"hex\":\"<even number of hex digits>\"}"},
      {R"({"type":"open","ts":1,"pid":2,"target2":{"hex":"zz"}})", "field \"target2\": expected string or {\"hex\":\"<even number of hex digits>\"}"},
      {R"({"type":"snapshot","ts":1,"pid":2,"fds":{}})", "field \"fds\": expected array, got object"},
      {R"({"type":"snapshot","ts":1,"pid":2,"fds":[{"fd":1},7]})", "field \"fds[1]\": expected object, got integer"},
      {R"({"type":"snapshot","ts":1,"pid":2,"fds":[{"fd":1},{"fd":"x"}]})", "field \"fds[1].fd\": expected integer, got string"},
      {R"({"type":"open","ts":1,"pid":2,"stack":["a",false]})", "field \"stack[1]\": expected string, got boolean"},
  };
  for (auto& [in, want] : cases) {
    auto r = event_from_json(json::parse(in));
    ASSERT_FALSE(r) << in;
    EXPECT_EQ(r.error().message, want) << in;
  }
}

TEST(HeaderJson, RoundTripAndExactFirstLine) {
  LogHeader h = sample_header();
  h.argv.push_back("bad\xff");
  h.extra = json{{"interval_s", 1}, {"filters", {"a", "b"}}};
  auto read = header_from_json(header_to_json(h));
  ASSERT_TRUE(read);
  EXPECT_EQ(read->problem, "");
  const LogHeader* back = &read->header;
  EXPECT_EQ(back->schema, "fdwatch.events.v1");
  EXPECT_EQ(back->host, h.host);
  EXPECT_EQ(back->kernel, h.kernel);
  EXPECT_EQ(back->version, h.version);
  EXPECT_EQ(back->boot_time_unix_ns, h.boot_time_unix_ns);
  EXPECT_EQ(back->start_time_unix_ns, h.start_time_unix_ns);
  EXPECT_EQ(back->start_mono_ns, h.start_mono_ns);
  EXPECT_EQ(back->argv, h.argv);
  EXPECT_EQ(back->extra, h.extra);

  LogHeader small;
  small.host = "h";
  small.argv = {"fdwatch"};
  std::string line;
  append_header_line(line, small);
  EXPECT_EQ(line,
            "{\"schema\":\"fdwatch.events.v1\",\"host\":\"h\",\"kernel\":\"\",\"version\":\"\","
            "\"boot_time_unix_ns\":0,\"start_time_unix_ns\":0,\"start_mono_ns\":0,\"argv\":[\"fdwatch\"]}\n");
}

TEST(HeaderJson, SchemaProblems) {
  auto bad = header_from_json(json::parse(R"({"host":"x"})"));
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message, "no \"schema\" field");
  bad = header_from_json(json::parse(R"({"schema":"fdwatch.events.v2"})"));
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message, "schema \"fdwatch.events.v2\", expected \"fdwatch.events.v1\"");
  bad = header_from_json(json::parse(R"({"schema":5})"));
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message, "schema 5, expected \"fdwatch.events.v1\"");
  auto h = header_from_json(json::parse(R"({"schema":"fdwatch.events.v1","host":3,"start_mono_ns":-1})"));
  ASSERT_TRUE(h);  // usable, with the first problem reported
  EXPECT_EQ(h->problem, "field \"host\": expected string, got integer");
  EXPECT_EQ(h->header.host, "");
}

// ---- writer + reader -------------------------------------------------------------

TEST(LogWriter, PlainRoundTripStatsModeAndNoFdLeak) {
  TempDir d;
  std::string path = d.file("events.jsonl");
  auto evs = sample_events(5000);
  evs.push_back(full_event(EvType::Snapshot));
  size_t fds_before = open_fd_count();
  LogWriterStats st;
  {
    LogWriter w;
    ASSERT_TRUE(w.open(path).ok());
    ASSERT_TRUE(w.publish().ok());
    EXPECT_EQ(open_fd_count(), fds_before + 1);
    // The log fd must not leak into programs fdwatch runs (-- CMD).
    bool cloexec_seen = false;
    for (auto& ent : fs::directory_iterator("/proc/self/fd")) {
      std::error_code ec;
      if (fs::read_symlink(ent.path(), ec) == path) {
        int fd = std::stoi(ent.path().filename());
        cloexec_seen = (fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0;
      }
    }
    EXPECT_TRUE(cloexec_seen);
    ASSERT_TRUE(w.write_header(sample_header()).ok());
    for (auto& e : evs) ASSERT_TRUE(w.write(e).ok());
    ASSERT_TRUE(w.close().ok());
    st = w.stats();
  }
  EXPECT_EQ(open_fd_count(), fds_before);

  // The one event with a stack (the last) refers to the file's stack table.
  std::string expect = header_line();
  for (size_t i = 0; i + 1 < evs.size(); ++i) expect += line_of(evs[i]);
  Event inline_free = evs.back();
  inline_free.stack.clear();
  inline_free.site.clear();
  std::string last = line_of(inline_free);
  expect += "{\"type\":\"frame\",\"id\":0,\"text\":\"net.(*netFD).connect\"}\n"
            "{\"type\":\"frame\",\"id\":1,\"text\":\"main.callBackend (main.go:42)\"}\n"
            "{\"type\":\"stack\",\"id\":0,\"frames\":[0,1],\"site\":1}\n" +
            last.substr(0, last.size() - 2) + ",\"stack_id\":0}\n";
  EXPECT_EQ(slurp(path), expect);
  EXPECT_EQ(st.frames, 2u);
  EXPECT_EQ(st.stacks, 1u);
  EXPECT_EQ(st.events, evs.size());
  EXPECT_EQ(st.bytes, expect.size());
  EXPECT_EQ(st.json_bytes, expect.size());
  EXPECT_EQ(st.rotations, 0u);
  struct stat sb;
  ASSERT_EQ(stat(path.c_str(), &sb), 0);
  EXPECT_EQ(sb.st_mode & 0777, 0600u);

  auto r = read_log(path);
  EXPECT_EQ(r.open_error, "");
  EXPECT_TRUE(r.errors.empty());
  EXPECT_EQ(r.header.host, "build-7");
  EXPECT_EQ(r.header.argv, sample_header().argv);
  ASSERT_EQ(r.events.size(), evs.size());
  for (size_t i = 0; i < evs.size(); ++i) ASSERT_EQ(fields(r.events[i]), fields(evs[i])) << i;
  EXPECT_EQ(r.lines, evs.size() + 1 + 3);  // the header, two frames and a stack
  EXPECT_EQ(open_fd_count(), fds_before);
}

TEST(LogWriter, BuffersAbout64KiB) {
  TempDir d;
  std::string path = d.file("buffered.jsonl");
  LogWriter w;
  ASSERT_TRUE(w.open(path).ok());
  ASSERT_TRUE(w.publish().ok());
  ASSERT_TRUE(w.write_header(sample_header()).ok());
  Event e = open_event(1, 3, std::string(100, 'p'));
  size_t line = line_of(e).size();
  size_t n = (64 * 1024 - header_line().size()) / line;  // just under one chunk
  for (size_t i = 0; i < n; ++i) ASSERT_TRUE(w.write(e).ok());
  EXPECT_EQ(fs::file_size(path), 0u);  // nothing reached the file yet
  ASSERT_TRUE(w.write(e).ok());        // crosses 64 KiB: one write(2)
  EXPECT_EQ(fs::file_size(path), header_line().size() + (n + 1) * line);
  ASSERT_TRUE(w.flush().ok());
  ASSERT_TRUE(w.write(e).ok());
  ASSERT_TRUE(w.flush().ok());
  EXPECT_EQ(fs::file_size(path), header_line().size() + (n + 2) * line);
  EXPECT_EQ(w.stats().events, n + 2);
}

TEST(LogWriter, ZstdIsReadByZstdCliAndByReader) {
  TempDir d;
  auto evs = sample_events(20000);
  std::string plain = d.file("a.jsonl"), zst = d.file("a.jsonl.zst");
  write_log(plain, evs);
  size_t fds_before = open_fd_count();
  LogWriterStats st;
  {
    LogWriter w;
    ASSERT_TRUE(w.open(zst).ok());  // zstd chosen by the suffix
    ASSERT_TRUE(w.write_header(sample_header()).ok());
    for (auto& e : evs) ASSERT_TRUE(w.write(e).ok());
    ASSERT_TRUE(w.close().ok());
    st = w.stats();
  }
  EXPECT_EQ(open_fd_count(), fds_before);
  std::string z = slurp(zst);
  ASSERT_GE(z.size(), 4u);
  EXPECT_EQ(z.substr(0, 4), std::string("\x28\xb5\x2f\xfd", 4));
  EXPECT_EQ(st.bytes, z.size());
  EXPECT_EQ(st.json_bytes, fs::file_size(plain));
  EXPECT_LT(z.size() * 5, fs::file_size(plain));  // JSON this repetitive compresses > 5x

  int status = -1;
  std::string out = run("zstd -q -dc '" + zst + "'", &status);
  EXPECT_EQ(status, 0);
  EXPECT_EQ(out, slurp(plain));  // byte for byte what the plain writer wrote
  run("zstd -q -t '" + zst + "'", &status);
  EXPECT_EQ(status, 0);

  // Detection is by magic, not by name, in both directions.
  fs::rename(zst, d.file("no_suffix"));
  auto r = read_log(d.file("no_suffix"));
  EXPECT_EQ(r.open_error, "");
  EXPECT_TRUE(r.errors.empty());
  ASSERT_EQ(r.events.size(), evs.size());
  for (size_t i = 0; i < evs.size(); i += 997) EXPECT_EQ(fields(r.events[i]), fields(evs[i]));
  EXPECT_EQ(fields(r.events.back()), fields(evs.back()));

  std::string fake = d.file("plain.zst");
  write_log(fake, evs, uncompressed());
  EXPECT_EQ(slurp(fake), slurp(plain));
  r = read_log(fake);
  EXPECT_TRUE(r.errors.empty());
  EXPECT_EQ(r.events.size(), evs.size());
}

TEST(LogWriter, ReaderIsCompressedFlag) {
  TempDir d;
  write_log(d.file("x.zst"), sample_events(3));
  write_log(d.file("x.jsonl"), sample_events(3));
  LogReader a, b;
  ASSERT_TRUE(a.open(d.file("x.zst")).ok());
  ASSERT_TRUE(b.open(d.file("x.jsonl")).ok());
  EXPECT_TRUE(a.compressed());
  EXPECT_FALSE(b.compressed());
}

// Expected file sizes of a plain rotating log, computed from line lengths.
// The closing record a rotated file ends with (docs/event-log.md).
size_t rotated_end_size(uint64_t ts, uint64_t events, uint64_t total) {
  return ("{\"type\":\"end\",\"ts\":" + std::to_string(ts) + ",\"pid\":0,\"events\":" +
          std::to_string(events) + ",\"events_total\":" + std::to_string(total) + ",\"rotated\":true}\n")
      .size();
}

// Expected file sizes of a plain rotating log, computed from line lengths: a
// file is closed when the next line and the closing record would not fit.
std::vector<uint64_t> simulate_rotation(const std::vector<Event>& evs, uint64_t max) {
  std::vector<uint64_t> sizes{header_line().size()};
  uint64_t in_file = 0, total = 0, last_ts = 0;
  for (auto& e : evs) {
    size_t n = line_of(e).size();
    uint64_t ts = std::max(last_ts, e.ts_ns);
    if (in_file > 0 && sizes.back() + n + rotated_end_size(ts, in_file + 1, total + 1) > max) {
      sizes.back() += rotated_end_size(last_ts, in_file, total);
      sizes.push_back(header_line().size());
      in_file = 0;
    }
    sizes.back() += n;
    ++in_file;
    ++total;
    last_ts = ts;
  }
  return sizes;
}

TEST(LogWriter, RotatesPlainFilesAtMaxSize) {
  TempDir d;
  std::string path = d.file("rot.jsonl");
  auto evs = sample_events(3000);
  const uint64_t max = 16 * 1024;
  auto sizes = simulate_rotation(evs, max);
  ASSERT_GT(sizes.size(), 5u);

  LogWriter w;
  ASSERT_TRUE(w.open(path, rotating(max, 3)).ok());
  ASSERT_TRUE(w.write_header(sample_header()).ok());
  for (auto& e : evs) ASSERT_TRUE(w.write(e).ok());
  ASSERT_TRUE(w.close().ok());
  EXPECT_EQ(w.stats().rotations, sizes.size() - 1);
  EXPECT_EQ(w.stats().events, evs.size());

  // Kept: the current file and the three before it, newest first.
  std::vector<std::string> names = {path, path + ".1", path + ".2", path + ".3"};
  EXPECT_FALSE(fs::exists(path + ".4"));
  std::vector<Event> kept;
  for (int i = 3; i >= 0; --i) {
    SCOPED_TRACE(names[i]);
    EXPECT_EQ(fs::file_size(names[i]), sizes[sizes.size() - 1 - i]);
    EXPECT_LE(fs::file_size(names[i]), max);
    EXPECT_EQ(slurp(names[i]).substr(0, header_line().size()), header_line());
    auto r = read_log(names[i]);
    EXPECT_EQ(r.open_error, "");
    EXPECT_TRUE(r.errors.empty());
    kept.insert(kept.end(), r.events.begin(), r.events.end());
  }
  // The kept files hold exactly the newest events, in order.
  ASSERT_LE(kept.size(), evs.size());
  size_t off = evs.size() - kept.size();
  for (size_t i = 0; i < kept.size(); ++i) ASSERT_EQ(fields(kept[i]), fields(evs[off + i])) << i;

  // cat FILE.3 ... FILE reads as one log (repeated headers are skipped).
  std::string cat;
  for (int i = 3; i >= 0; --i) cat += slurp(names[i]);
  spit(d.file("cat.jsonl"), cat);
  auto r = read_log(d.file("cat.jsonl"));
  EXPECT_TRUE(r.errors.empty());
  EXPECT_EQ(r.events.size(), kept.size());
}

TEST(LogWriter, RotatesZstdFilesNearMaxSize) {
  TempDir d;
  std::string path = d.file("rot.jsonl.zst");
  auto evs = sample_events(60000);
  const uint64_t max = 64 * 1024;
  LogWriter w;
  ASSERT_TRUE(w.open(path, rotating(max, 2)).ok());
  ASSERT_TRUE(w.write_header(sample_header()).ok());
  for (auto& e : evs) ASSERT_TRUE(w.write(e).ok());
  ASSERT_TRUE(w.close().ok());
  EXPECT_GE(w.stats().rotations, 3u);
  EXPECT_FALSE(fs::exists(path + ".3"));
  size_t last_events = 0;
  for (const std::string& f : {path + ".2", path + ".1", path}) {
    SCOPED_TRACE(f);
    int status = -1;
    std::string text = run("zstd -q -dc '" + f + "'", &status);
    EXPECT_EQ(status, 0);
    EXPECT_EQ(text.substr(0, header_line().size()), header_line());
    auto r = read_log(f);
    EXPECT_TRUE(r.errors.empty());
    if (f != path) {
      // Sized from the compression ratio: close to the limit, not over by much.
      EXPECT_LE(fs::file_size(f), max + max / 20);
      EXPECT_GE(fs::file_size(f), max - max / 5);
    }
    last_events = r.events.size();
  }
  EXPECT_GT(last_events, 0u);
}

TEST(LogWriter, KeepZeroFilesKeepsOnlyTheCurrentOne) {
  TempDir d;
  std::string path = d.file("k0.jsonl");
  auto evs = sample_events(500);
  auto sizes = simulate_rotation(evs, 4096);
  LogWriter w;
  ASSERT_TRUE(w.open(path, rotating(4096, 0)).ok());
  ASSERT_TRUE(w.write_header(sample_header()).ok());
  for (auto& e : evs) ASSERT_TRUE(w.write(e).ok());
  ASSERT_TRUE(w.close().ok());
  EXPECT_EQ(w.stats().rotations, sizes.size() - 1);
  EXPECT_FALSE(fs::exists(path + ".1"));
  EXPECT_EQ(fs::file_size(path), sizes.back());
}

TEST(LogWriter, OneLineLargerThanMaxStillWritten) {
  TempDir d;
  std::string path = d.file("big.jsonl");
  Event big = open_event(1, 3, std::string(3000, 'b'));
  LogWriter w;
  ASSERT_TRUE(w.open(path, rotating(1000, 5)).ok());
  ASSERT_TRUE(w.write_header(sample_header()).ok());
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(w.write(big).ok());
  ASSERT_TRUE(w.close().ok());
  // One event per file: never rotate a file holding only its header.
  EXPECT_EQ(w.stats().rotations, 2u);
  for (const std::string& f : {path, path + ".1", path + ".2"})
    EXPECT_EQ(read_log(f).events.size(), 1u) << f;
}

TEST(LogWriter, ErrorsAreValues) {
  TempDir d;
  LogWriter w;
  EXPECT_EQ(w.write(Event{}).error().message, "write: log not open");
  EXPECT_EQ(w.open("/nonexistent-dir/x.jsonl").error().message,
            "open /nonexistent-dir/x.jsonl: No such file or directory");

  LogWriter h;
  ASSERT_TRUE(h.open(d.file("h.jsonl")).ok());
  EXPECT_EQ(h.write(Event{}).error().message, "write: header not written yet");
  ASSERT_TRUE(h.write_header(sample_header()).ok());
  EXPECT_EQ(h.write_header(sample_header()).error().message, "write_header: header already written");
  ASSERT_TRUE(h.close().ok());
  EXPECT_EQ(h.write(Event{}).error().message, "write: log closed");
  EXPECT_TRUE(h.close().ok());  // idempotent

  // A write that fails (here: past RLIMIT_FSIZE, as a full disk would) is
  // sticky, and names the file.
  LogWriter full;
  std::string big = d.file("full.jsonl");
  ASSERT_TRUE(full.open(big, uncompressed()).ok());
  ASSERT_TRUE(full.publish().ok());
  ASSERT_TRUE(full.write_header(sample_header()).ok());
  ASSERT_TRUE(full.write(Event{}).ok());  // still buffered
  {
    struct rlimit old {};
    getrlimit(RLIMIT_FSIZE, &old);
    auto prev = signal(SIGXFSZ, SIG_IGN);
    struct rlimit tiny = {16, old.rlim_max};
    setrlimit(RLIMIT_FSIZE, &tiny);
    Result<void> st = full.flush();
    setrlimit(RLIMIT_FSIZE, &old);
    signal(SIGXFSZ, prev);
    EXPECT_EQ(st.error().message, "write " + big + ": File too large");
  }
  EXPECT_EQ(full.write(Event{}).error().message, "write " + big + ": File too large");  // sticky
  EXPECT_EQ(full.close().error().message, "write " + big + ": File too large");
  EXPECT_EQ(fs::file_size(big), 16u);  // what got through stays

  LogWriter lvl;
  LogWriterOptions o;
  o.zstd_level = 99;
  EXPECT_EQ(lvl.open(d.file("l.zst"), o).error().message, "zstd level 99 out of range");
}

TEST(LogWriter, RefusesEventsReadersWouldSkip) {
  TempDir d;
  std::string path = d.file("huge.jsonl");
  LogWriter w;
  ASSERT_TRUE(w.open(path).ok());
  ASSERT_TRUE(w.write_header(sample_header()).ok());
  Event big = open_event(1, 3, std::string(kMaxLogLineBytes, 'x'));
  std::string want = "write: event too large (" + std::to_string(line_of(big).size()) +
                     " bytes; readers accept at most 16777216)";
  EXPECT_EQ(w.write(big).error().message, want);
  EXPECT_TRUE(w.write(open_event(2, 4, "/ok")).ok());  // not sticky
  ASSERT_TRUE(w.close().ok());
  auto r = read_log(path);
  EXPECT_TRUE(r.errors.empty());
  ASSERT_EQ(r.events.size(), 1u);
  EXPECT_EQ(r.events[0].target, "/ok");
}

TEST(LogWriter, FlushedZstdLiveFileIsReadable) {
  TempDir d;
  std::string path = d.file("live.zst");
  auto evs = sample_events(30);
  LogWriter w;
  ASSERT_TRUE(w.open(path).ok());
  ASSERT_TRUE(w.publish().ok());  // as record does once attached
  ASSERT_TRUE(w.write_header(sample_header()).ok());
  for (size_t i = 0; i < 10; ++i) ASSERT_TRUE(w.write(evs[i]).ok());
  ASSERT_TRUE(w.flush().ok());
  // A reader of the still-open file sees every flushed event; the frame is
  // not finished yet, which it reports after line 11.
  auto r = read_log(path);
  EXPECT_EQ(r.events.size(), 10u);
  EXPECT_EQ(messages(r), std::vector<std::string>{
                             "line 12: zstd frame truncated at end of file; anything after line 11 is lost"});
  for (size_t i = 10; i < 30; ++i) ASSERT_TRUE(w.write(evs[i]).ok());
  ASSERT_TRUE(w.close().ok());
  r = read_log(path);
  EXPECT_EQ(r.events.size(), 30u);
  EXPECT_TRUE(r.errors.empty());
}

// ---- reader robustness -------------------------------------------------------------

std::string ev_line(uint64_t ts) { return line_of(open_event(ts, 3, "/tmp/f")); }

TEST(LogReader, TruncatedLastLine) {
  TempDir d;
  std::string f = d.file("t.jsonl");
  spit(f, header_line() + ev_line(1) + ev_line(2) + "{\"type\":\"close\",\"ts\":5,\"pi");
  auto r = read_log(f);
  EXPECT_EQ(r.events.size(), 2u);
  EXPECT_EQ(messages(r), std::vector<std::string>{"line 4: truncated last line (no newline at end of file)"});
  EXPECT_EQ(r.errors[0].line, 4u);

  // Cut right before the final newline: the line is whole and accepted.
  std::string whole = ev_line(3);
  whole.pop_back();
  spit(f, header_line() + ev_line(1) + whole);
  r = read_log(f);
  EXPECT_EQ(r.events.size(), 2u);
  EXPECT_TRUE(r.errors.empty());
}

TEST(LogReader, MalformedJsonIsReportedAndSkipped) {
  TempDir d;
  std::string f = d.file("m.jsonl");
  spit(f, header_line() + ev_line(1) + "{\"type\":\"open\",,}\n" + "not json at all\n" + ev_line(2) +
              "[1,2]\n" + "\n" + ev_line(3));
  auto r = read_log(f);
  EXPECT_EQ(r.events.size(), 3u);
  EXPECT_EQ(r.events[2].ts_ns, 3u);
  EXPECT_EQ(messages(r),
            (std::vector<std::string>{
                "line 3: malformed JSON at column 16: syntax error while parsing object key - unexpected ','; expected string literal",
                "line 4: malformed JSON at column 2: syntax error while parsing value - invalid literal",
                "line 6: expected a JSON object, got array"}));
  EXPECT_EQ(r.lines, 8u);  // the blank line 7 counts but says nothing
}

TEST(LogReader, UnknownTypesAreSkippedAndCounted) {
  TempDir d;
  std::string f = d.file("u.jsonl");
  spit(f, header_line() + "{\"type\":\"teleport\",\"ts\":1,\"pid\":2}\n" + ev_line(1) +
              "{\"type\":\"wormhole\"}\n" + ev_line(2));
  auto r = read_log(f);
  EXPECT_EQ(r.events.size(), 2u);
  EXPECT_EQ(r.unknown, 2u);
  EXPECT_TRUE(r.errors.empty());
}

TEST(LogReader, WrongFieldTypesNameTheLine) {
  TempDir d;
  std::string f = d.file("w.jsonl");
  spit(f, header_line() + ev_line(1) + "{\"type\":\"open\",\"ts\":2,\"pid\":100,\"fd\":\"three\"}\n" +
              "{\"type\":\"close\",\"ts\":3}\n" + "{\"ts\":4,\"pid\":1}\n" + "{\"type\":1,\"ts\":4,\"pid\":1}\n" +
              ev_line(5));
  auto r = read_log(f);
  EXPECT_EQ(r.events.size(), 2u);
  EXPECT_EQ(messages(r), (std::vector<std::string>{"line 3: field \"fd\": expected integer, got string",
                                                   "line 4: missing field \"pid\"",
                                                   "line 5: missing field \"type\"",
                                                   "line 6: field \"type\": expected string, got integer"}));
}

TEST(LogReader, HeaderMustBeAnFdwatchLog) {
  TempDir d;
  std::string f = d.file("h.jsonl");
  const std::pair<std::string, std::string> cases[] = {
      {ev_line(1) + ev_line(2), "line 1: not an fdwatch event log (no \"schema\" field)"},
      {"{\"schema\":\"fdwatch.events.v2\"}\n" + ev_line(1),
       "line 1: not an fdwatch event log (schema \"fdwatch.events.v2\", expected \"fdwatch.events.v1\")"},
      {"", "line 1: not an fdwatch event log (empty file)"},
      {"\x7f" "ELF\x02\x01\x01\n", "line 1: not an fdwatch event log (not JSON: at column 1: syntax error while parsing value - invalid literal)"},
      {"[1]\n", "line 1: not an fdwatch event log (line 1 is a JSON array, not an object)"},
      {header_line().substr(0, 30), "line 1: truncated header (no newline at end of file)"},
  };
  for (auto& [content, want] : cases) {
    spit(f, content);
    auto r = read_log(f);
    EXPECT_EQ(r.open_error, want);
    EXPECT_EQ(messages(r), std::vector<std::string>{want});
    EXPECT_TRUE(r.events.empty());  // nothing after a bad header is trusted
  }
  auto r = read_log(d.file("missing"));
  EXPECT_EQ(r.open_error, "open " + d.file("missing") + ": No such file or directory");
  r = read_log(d.file(""));  // a directory
  EXPECT_EQ(r.open_error, "read " + d.file("") + ": Is a directory");
}

TEST(LogReader, HeaderFieldOfWrongTypeIsReportedButReadingGoesOn) {
  TempDir d;
  std::string f = d.file("hf.jsonl");
  spit(f, "{\"schema\":\"fdwatch.events.v1\",\"host\":42}\n" + ev_line(1));
  auto r = read_log(f);
  EXPECT_EQ(r.open_error, "");
  EXPECT_EQ(messages(r), std::vector<std::string>{"line 1: header field \"host\": expected string, got integer"});
  EXPECT_EQ(r.events.size(), 1u);
}

TEST(LogReader, OverlongLinesAreCappedAndSkipped) {
  TempDir d;
  std::string f = d.file("o.jsonl");
  std::string big = line_of(open_event(2, 3, std::string(300, 'x')));
  spit(f, header_line() + ev_line(1) + big + ev_line(3) + big.substr(0, big.size() - 1));
  LogReaderOptions o;
  o.max_line_bytes = 256;
  auto r = read_log(f, o);
  EXPECT_EQ(r.events.size(), 2u);
  EXPECT_EQ(messages(r), (std::vector<std::string>{"line 3: longer than 256 bytes, skipped",
                                                   "line 5: longer than 256 bytes, skipped"}));
  // The default cap is 16 MiB: a 17 MiB line is skipped, the next one read.
  std::string huge = "{\"type\":\"comm\",\"ts\":1,\"pid\":1,\"comm\":\"" + std::string(17 << 20, 'c') + "\"}\n";
  spit(f, header_line() + huge + ev_line(3));
  r = read_log(f);
  EXPECT_EQ(r.events.size(), 1u);
  EXPECT_EQ(messages(r), std::vector<std::string>{"line 2: longer than 16777216 bytes, skipped"});
}

TEST(LogReader, TruncatedZstdFrame) {
  TempDir d;
  std::string path = d.file("cut.zst");
  auto evs = sample_events(40);
  uint64_t at_flush = 0;
  {
    LogWriter w;
    ASSERT_TRUE(w.open(path).ok());
    ASSERT_TRUE(w.write_header(sample_header()).ok());
    for (size_t i = 0; i < 10; ++i) ASSERT_TRUE(w.write(evs[i]).ok());
    ASSERT_TRUE(w.flush().ok());
    at_flush = w.stats().bytes;
    for (size_t i = 10; i < 40; ++i) ASSERT_TRUE(w.write(evs[i]).ok());
    ASSERT_TRUE(w.close().ok());
  }
  std::string z = slurp(path);
  for (uint64_t cut : {at_flush, at_flush + 5, static_cast<uint64_t>(z.size() - 2)}) {
    SCOPED_TRACE(cut);
    spit(path, z.substr(0, cut));
    auto r = read_log(path);
    size_t n = cut == z.size() - 2 ? 40 : 10;  // the last cut only hits the checksum
    EXPECT_EQ(r.events.size(), n);
    std::string line = std::to_string(n + 2), prev = std::to_string(n + 1);
    EXPECT_EQ(messages(r), std::vector<std::string>{"line " + line +
                                                    ": zstd frame truncated at end of file; anything after line " +
                                                    prev + " is lost"});
  }
  spit(path, z.substr(0, 4));
  EXPECT_EQ(read_log(path).open_error, "line 1: zstd frame truncated before any data");
}

TEST(LogReader, TruncatedZstdInsideALine) {
  TempDir d;
  std::string path = d.file("mid.zst");
  // Produce a frame whose last flushed block ends inside a line.
  std::string text = header_line() + ev_line(1) + ev_line(2).substr(0, 20);
  size_t bound = ZSTD_compressBound(text.size());
  std::string z(bound, '\0');
  ZSTD_CCtx* c = ZSTD_createCCtx();
  ZSTD_inBuffer in{text.data(), text.size(), 0};
  ZSTD_outBuffer out{z.data(), z.size(), 0};
  ASSERT_EQ(ZSTD_compressStream2(c, &out, &in, ZSTD_e_flush), 0u);
  ZSTD_freeCCtx(c);
  spit(path, z.substr(0, out.pos));
  auto r = read_log(path);
  EXPECT_EQ(r.events.size(), 1u);
  EXPECT_EQ(messages(r), std::vector<std::string>{"line 3: truncated: zstd frame ends inside this line (file cut short)"});
}

TEST(LogReader, GarbageAfterZstdFrameStops) {
  TempDir d;
  std::string path = d.file("g.zst");
  write_log(path, sample_events(20));
  spit(path, slurp(path) + "trailing garbage\n");
  auto r = read_log(path);
  EXPECT_EQ(r.events.size(), 20u);
  EXPECT_EQ(messages(r), std::vector<std::string>{"line 22: corrupt zstd data (Unknown frame descriptor); stopped"});
}

TEST(LogReader, ConcatenatedZstdFramesAndForeignHeader) {
  TempDir d;
  write_log(d.file("1.zst"), sample_events(5));
  write_log(d.file("2.zst"), sample_events(7));
  spit(d.file("both.zst"), slurp(d.file("1.zst")) + slurp(d.file("2.zst")));
  auto r = read_log(d.file("both.zst"));
  EXPECT_TRUE(r.errors.empty());
  EXPECT_EQ(r.events.size(), 12u);

  spit(d.file("mix.jsonl"), header_line() + ev_line(1) + "{\"schema\":\"other.v9\"}\n" + ev_line(2));
  r = read_log(d.file("mix.jsonl"));
  EXPECT_EQ(r.events.size(), 2u);
  EXPECT_EQ(messages(r), std::vector<std::string>{
                             "line 3: another log's header: schema \"other.v9\", expected \"fdwatch.events.v1\""});
}

TEST(LogReader, KeepsOnlyTheFirstErrorsButCountsAll) {
  TempDir d;
  std::string f = d.file("e.jsonl");
  std::string content = header_line();
  for (int i = 0; i < 10; ++i) content += "oops\n";
  spit(f, content + ev_line(1));
  LogReaderOptions o;
  o.max_problems_kept = 3;
  auto r = read_log(f, o);
  EXPECT_EQ(r.errors.size(), 3u);
  EXPECT_EQ(r.errors_total, 10u);
  EXPECT_EQ(r.errors[2].line, 4u);
  EXPECT_EQ(r.events.size(), 1u);
}

TEST(LogReader, CrLfAndNoFdLeakOnFailure) {
  TempDir d;
  std::string f = d.file("crlf.jsonl");
  std::string h = header_line(), e = ev_line(1);
  h.insert(h.size() - 1, "\r");
  e.insert(e.size() - 1, "\r");
  spit(f, h + e);
  size_t before = open_fd_count();
  auto r = read_log(f);
  EXPECT_TRUE(r.errors.empty());
  EXPECT_EQ(r.events.size(), 1u);
  spit(f, "garbage\n");
  r = read_log(f);
  EXPECT_FALSE(r.open_error.empty());
  EXPECT_EQ(open_fd_count(), before);
}

// The fuzzer's seed corpus and the crash reproducers kept in it, replayed in
// the ordinary build: each file reads to the end, accepted events re-encode
// identically, and the hand-made seeds give exactly their expected result.
TEST(LogReader, FuzzCorpusReplays) {
  std::string dir = std::string(SOURCE_DIR) + "/tests/fuzz/corpus";
  ASSERT_TRUE(fs::is_directory(dir));
  std::map<std::string, ReadResult> by_name;
  for (auto& ent : fs::directory_iterator(dir)) {
    LogReaderOptions o;
    o.max_line_bytes = 4096;  // as in the fuzzer
    ReadResult r = read_log(ent.path().string(), o);
    for (auto& e : r.events) {
      auto back = event_from_json(event_to_json(e));
      ASSERT_TRUE(back) << ent.path();
      EXPECT_EQ(line_of(*back), line_of(e)) << ent.path();
    }
    for (auto& e : r.errors) EXPECT_LE(e.line, r.lines + 1) << ent.path();
    by_name[ent.path().filename().string()] = std::move(r);
  }
  auto& valid = by_name.at("valid.jsonl");
  EXPECT_TRUE(valid.errors.empty());
  ASSERT_EQ(valid.events.size(), 18u);
  for (const char* same : {"valid_writer.zst", "valid_cli.zst"}) {
    auto& z = by_name.at(same);
    EXPECT_TRUE(z.errors.empty()) << same;
    ASSERT_EQ(z.events.size(), valid.events.size()) << same;
    for (size_t i = 0; i < z.events.size(); ++i) EXPECT_EQ(fields(z.events[i]), fields(valid.events[i])) << same;
  }
  EXPECT_EQ(by_name.at("concatenated.jsonl").events.size(), 36u);
  EXPECT_EQ(by_name.at("unknown_type.jsonl").unknown, 2u);
  EXPECT_EQ(messages(by_name.at("no_header.jsonl")),
            std::vector<std::string>{"line 1: not an fdwatch event log (no \"schema\" field)"});
  EXPECT_EQ(messages(by_name.at("overlong_line.jsonl")),
            std::vector<std::string>{"line 2: longer than 4096 bytes, skipped"});
  EXPECT_EQ(messages(by_name.at("malformed.jsonl")).size(), 7u);
  EXPECT_EQ(by_name.at("malformed.jsonl").events.size(), 5u);
  auto& hex = by_name.at("hex_strings.jsonl");
  ASSERT_EQ(hex.events.size(), 1u);
  EXPECT_EQ(hex.events[0].comm, std::string("\xff\x00\xfe", 3));
  EXPECT_EQ(hex.events[0].target, std::string("a\0b\xf0\x9f\x98\x80", 7));
  EXPECT_EQ(hex.events[0].stack, (std::vector<std::string>{"\xc0\x80", "\t"}));
  auto& table = by_name.at("stack_table.jsonl");
  EXPECT_TRUE(table.errors.empty());
  ASSERT_EQ(table.events.size(), 4u);
  EXPECT_EQ(table.events[1].stack, (std::vector<std::string>{"open_config (stk_leak.c:20)", "main (stk_leak.c:55)"}));
  EXPECT_EQ(table.events[1].site, "open_config (stk_leak.c:20)");
  EXPECT_EQ(table.events[2].stack, (std::vector<std::string>{std::string("\xff\x00", 2), "main (stk_leak.c:55)"}));
  EXPECT_EQ(table.events[2].site, "");
  EXPECT_TRUE(table.events[3].stack.empty());  // the second file's stack 0
  EXPECT_EQ(table.events[3].site, "main (stk_leak.c:55)");
  auto& refs = by_name.at("stack_refs.jsonl");
  EXPECT_EQ(messages(refs).size(), 8u);
  ASSERT_EQ(refs.events.size(), 3u);
  for (auto& e : refs.events) EXPECT_TRUE(e.stack.empty() && e.site.empty());
}


// ---- the stack table ---------------------------------------------------------

Event stacked(uint64_t ts, int fd, std::vector<std::string> stack, std::string site) {
  Event e = open_event(ts, fd, "/etc/hostname");
  e.stack = std::move(stack);
  e.site = std::move(site);
  return e;
}

TEST(LogWriter, StackTableDefinesEachFrameAndStackOnce) {
  TempDir d;
  std::string path = d.file("stacks.jsonl");
  const std::string open_cfg = "open_config (stk_leak.c:20)", files = "leak_files (stk_leak.c:40)",
                    main_fn = "main (stk_leak.c:55)", sock = "connect_backend (stk_leak.c:26)";
  std::vector<Event> evs = {
      stacked(1, 3, {open_cfg, files, main_fn}, open_cfg),
      stacked(2, 4, {open_cfg, files, main_fn}, open_cfg),     // the same stack: no new record
      stacked(3, 5, {sock, main_fn}, sock),                     // one new frame, one known
      stacked(4, 6, {open_cfg, files, main_fn}, main_fn),      // same frames, another site
      stacked(5, 7, {open_cfg, files, main_fn}, ""),           // no site
      stacked(6, 8, {}, "main.go"),                            // a site without frames
      open_event(7, 9, "/etc/hosts"),                          // no stack at all
  };
  write_log(path, evs, uncompressed());
  auto ev_line = [](uint64_t ts, int fd, const std::string& tail) {
    return "{\"type\":\"open\",\"ts\":" + std::to_string(ts) +
           ",\"pid\":100,\"tid\":101,\"sys\":\"openat\",\"fd\":" + std::to_string(fd) +
           ",\"kind\":\"file\",\"target\":\"" + tail + "\n";
  };
  std::string expect = header_line() +
      "{\"type\":\"frame\",\"id\":0,\"text\":\"open_config (stk_leak.c:20)\"}\n"
      "{\"type\":\"frame\",\"id\":1,\"text\":\"leak_files (stk_leak.c:40)\"}\n"
      "{\"type\":\"frame\",\"id\":2,\"text\":\"main (stk_leak.c:55)\"}\n"
      "{\"type\":\"stack\",\"id\":0,\"frames\":[0,1,2],\"site\":0}\n" +
      ev_line(1, 3, "/etc/hostname\",\"stack_id\":0}") + ev_line(2, 4, "/etc/hostname\",\"stack_id\":0}") +
      "{\"type\":\"frame\",\"id\":3,\"text\":\"connect_backend (stk_leak.c:26)\"}\n"
      "{\"type\":\"stack\",\"id\":1,\"frames\":[3,2],\"site\":3}\n" +
      ev_line(3, 5, "/etc/hostname\",\"stack_id\":1}") +
      "{\"type\":\"stack\",\"id\":2,\"frames\":[0,1,2],\"site\":2}\n" +
      ev_line(4, 6, "/etc/hostname\",\"stack_id\":2}") +
      "{\"type\":\"stack\",\"id\":3,\"frames\":[0,1,2]}\n" +
      ev_line(5, 7, "/etc/hostname\",\"stack_id\":3}") +
      "{\"type\":\"frame\",\"id\":4,\"text\":\"main.go\"}\n"
      "{\"type\":\"stack\",\"id\":4,\"frames\":[],\"site\":4}\n" +
      ev_line(6, 8, "/etc/hostname\",\"stack_id\":4}") + ev_line(7, 9, "/etc/hosts\"}");
  EXPECT_EQ(slurp(path), expect);

  LogReader rd;
  ASSERT_TRUE(rd.open(path).ok());
  std::vector<Event> back;
  for (auto got = rd.next(); got && *got; got = rd.next()) back.push_back(**got);
  EXPECT_TRUE(rd.problems().empty()) << rd.problems().front().message;
  EXPECT_EQ(rd.stacks_defined(), 5u);
  EXPECT_EQ(rd.skipped_unknown(), 0u);
  ASSERT_EQ(back.size(), evs.size());
  for (size_t i = 0; i < evs.size(); ++i) EXPECT_EQ(fields(back[i]), fields(evs[i])) << i;
}

// Every rotated file carries the table its events need, so each one replays
// alone with its stacks, and so does their concatenation (cat resets it).
TEST(LogWriter, EveryRotatedFileCarriesItsStackTable) {
  TempDir d;
  std::string path = d.file("rot.jsonl");
  std::vector<Event> evs;
  for (int i = 0; i < 400; ++i) {
    // three stacks over and over, and every 7th event one never seen before
    std::string site = "open_config (a.c:" + std::to_string(i % 7 ? i % 3 : 100 + i) + ")";
    evs.push_back(stacked(1000 + i, 3 + i % 50, {site, "main (a.c:9)"}, site));
  }
  LogWriter w;
  ASSERT_TRUE(w.open(path, rotating(8 * 1024, 20)).ok());
  ASSERT_TRUE(w.write_header(sample_header()).ok());
  for (auto& e : evs) ASSERT_TRUE(w.write(e).ok());
  ASSERT_TRUE(w.close().ok());
  const uint64_t files = w.stats().rotations + 1;
  ASSERT_GE(files, 3u);
  std::vector<Event> all;
  std::string cat;
  uint64_t stacks = 0, records = 0;  // each file defines the stacks its events use, once
  for (uint64_t i = files - 1; i + 1 > 0; --i) {
    std::string name = i ? path + "." + std::to_string(i) : path;
    SCOPED_TRACE(name);
    auto r = read_log(name);
    EXPECT_TRUE(r.errors.empty()) << (r.errors.empty() ? "" : r.errors.front().message);
    std::set<std::string> sites;
    for (auto& e : r.events) sites.insert(e.site);
    stacks += sites.size();
    std::string text = slurp(name);
    for (size_t at = 0; (at = text.find("{\"type\":\"stack\"", at)) != std::string::npos; ++at) ++records;
    all.insert(all.end(), r.events.begin(), r.events.end());
    cat += text;
  }
  EXPECT_EQ(records, stacks);
  EXPECT_EQ(w.stats().stacks, stacks);  // what the files hold, not what was encoded and dropped
  EXPECT_EQ(w.stats().frames, stacks + files);  // "main (a.c:9)" once per file
  ASSERT_EQ(all.size(), evs.size());
  for (size_t i = 0; i < evs.size(); ++i) ASSERT_EQ(fields(all[i]), fields(evs[i])) << i;
  spit(d.file("cat.jsonl"), cat);
  auto r = read_log(d.file("cat.jsonl"));
  EXPECT_TRUE(r.errors.empty()) << (r.errors.empty() ? "" : r.errors.front().message);
  ASSERT_EQ(r.events.size(), evs.size());
  for (size_t i = 0; i < evs.size(); ++i) ASSERT_EQ(fields(r.events[i]), fields(evs[i])) << i;
}

// A refused (over-long) event still defines its frames: a later event that
// shares them must find them.
TEST(LogWriter, RefusedEventKeepsTheTableWhole) {
  TempDir d;
  std::string path = d.file("big.jsonl");
  LogWriter w;
  ASSERT_TRUE(w.open(path, uncompressed()).ok());
  ASSERT_TRUE(w.write_header(sample_header()).ok());
  Event big = stacked(1, 3, {"f (a.c:1)"}, "f (a.c:1)");
  big.target.assign(kMaxLogLineBytes, 'x');
  EXPECT_FALSE(w.write(big).ok());
  Event small = stacked(2, 4, {"f (a.c:1)"}, "f (a.c:1)");
  ASSERT_TRUE(w.write(small).ok());
  ASSERT_TRUE(w.close().ok());
  auto r = read_log(path);
  EXPECT_TRUE(r.errors.empty()) << (r.errors.empty() ? "" : r.errors.front().message);
  ASSERT_EQ(r.events.size(), 1u);
  EXPECT_EQ(fields(r.events[0]), fields(small));
}

// Damaged tables: every bad record or reference is one line naming what is
// wrong; nothing refers to a stack that was not defined, events are kept.
TEST(LogReader, CorruptStackReferencesAreReportedNeverTrusted) {
  TempDir d;
  std::string path = d.file("bad.jsonl");
  const std::string ev = "{\"type\":\"open\",\"ts\":5,\"pid\":1,\"fd\":3,\"kind\":\"file\"";
  spit(path, header_line() +                                                       // 1
                 "{\"type\":\"frame\",\"id\":0,\"text\":\"main (a.c:1)\"}\n"          // 2
                 "{\"type\":\"stack\",\"id\":0,\"frames\":[0,1],\"site\":0}\n"        // 3
                 "{\"type\":\"stack\",\"id\":1,\"frames\":[0],\"site\":0}\n" +        // 4
                 ev + ",\"stack_id\":0}\n" +                                          // 5
                 ev + ",\"stack_id\":1}\n" +                                          // 6
                 "{\"type\":\"frame\",\"id\":0,\"text\":\"other\"}\n"                 // 7
                 "{\"type\":\"stack\",\"id\":\"x\"}\n"                                // 8
                 "{\"type\":\"frame\",\"id\":1}\n"                                    // 9
                 "{\"type\":\"stack\",\"id\":2,\"frames\":\"no\"}\n" +                // 10
                 ev + ",\"stack_id\":-1}\n" +                                         // 11
                 "{\"type\":\"stack\",\"id\":3,\"frames\":[0],\"site\":9}\n"          // 12
                 "{\"type\":\"frame\",\"id\":4294967296,\"text\":\"f\"}\n"            // 13
                 "{\"type\":\"stack\",\"id\":1,\"frames\":[]}\n" +                    // 14
                 ev + ",\"stack_id\":1}\n" +                                          // 15
                 header_line() +                                                      // 16
                 ev + ",\"stack_id\":1}\n");                                          // 17
  auto r = read_log(path);
  EXPECT_EQ(messages(r), (std::vector<std::string>{
      "line 3: stack 0: frame 1 is not defined (no frame record before it); skipped",
      "line 5: stack_id 0 is not defined (no stack record before it); the event is kept without its call stack",
      "line 7: frame 0 defined twice; the first definition stays",
      "line 8: stack record: field \"id\": expected integer, got string; skipped",
      "line 9: frame 1: missing field \"text\"; skipped",
      "line 10: stack 2: field \"frames\": expected array, got string; skipped",
      "line 11: field \"stack_id\": -1 out of range [0, 4294967295]; the event is kept without its call stack",
      "line 12: stack 3: frame 9 is not defined (no frame record before it); skipped",
      "line 13: frame record: field \"id\": 4294967296 out of range [0, 4294967295]; skipped",
      "line 14: stack 1 defined twice; the first definition stays",
      "line 17: stack_id 1 is not defined (no stack record before it); the event is kept without its call stack",
  }));
  ASSERT_EQ(r.events.size(), 5u);
  const std::vector<std::string> main_only = {"main (a.c:1)"};
  EXPECT_TRUE(r.events[0].stack.empty());
  EXPECT_EQ(r.events[1].stack, main_only);
  EXPECT_EQ(r.events[1].site, "main (a.c:1)");
  EXPECT_TRUE(r.events[2].stack.empty());
  EXPECT_EQ(r.events[3].stack, main_only);  // the first definition of stack 1
  EXPECT_TRUE(r.events[4].stack.empty());   // the new header started a new table
  EXPECT_EQ(r.events[4].site, "");
}

// Logs from before the stack table carry stacks inline, or none: both read.
TEST(LogReader, InlineStacksOfOlderLogsStillRead) {
  TempDir d;
  std::string path = d.file("old.jsonl");
  spit(path, header_line() +
                 "{\"type\":\"open\",\"ts\":5,\"pid\":1,\"fd\":3,\"kind\":\"file\",\"site\":\"main (a.c:1)\","
                 "\"stack\":[\"open\",\"main (a.c:1)\"]}\n"
                 "{\"type\":\"open\",\"ts\":6,\"pid\":1,\"fd\":4,\"kind\":\"file\"}\n");
  auto r = read_log(path);
  EXPECT_TRUE(r.errors.empty());
  ASSERT_EQ(r.events.size(), 2u);
  EXPECT_EQ(r.events[0].stack, (std::vector<std::string>{"open", "main (a.c:1)"}));
  EXPECT_EQ(r.events[0].site, "main (a.c:1)");
  EXPECT_TRUE(r.events[1].stack.empty());
}

// ---- the closing record and staged files ------------------------------------

TEST(LogWriter, CleanStopEndsWithClosingRecord) {
  TempDir d;
  for (const char* name : {"end.jsonl", "end.jsonl.zst"}) {
    SCOPED_TRACE(name);
    std::string path = d.file(name);
    auto evs = sample_events(300);
    LogWriter w;
    ASSERT_TRUE(w.open(path).ok());
    ASSERT_TRUE(w.write_header(sample_header()).ok());
    for (auto& e : evs) ASSERT_TRUE(w.write(e).ok());
    ASSERT_TRUE(w.write_end(evs.back().ts_ns + 5, 7).ok());
    ASSERT_TRUE(w.close().ok());
    auto r = read_log(path);
    EXPECT_TRUE(r.errors.empty());
    EXPECT_EQ(r.events.size(), evs.size());
    ASSERT_TRUE(r.end.has_value());
    EXPECT_EQ(r.end->line, evs.size() + 2);
    EXPECT_EQ(r.end->ts_ns, evs.back().ts_ns + 5);
    EXPECT_EQ(r.end->events, evs.size());
    EXPECT_EQ(r.end->events_total, evs.size());
    EXPECT_EQ(r.end->lost, std::optional<uint64_t>(7));
    EXPECT_FALSE(r.end->rotated);
    EXPECT_EQ(r.unknown, 0u);  // the closing record is not an unknown type
  }
  std::string plain = slurp(d.file("end.jsonl"));
  std::string last = plain.substr(plain.rfind('\n', plain.size() - 2) + 1);
  EXPECT_EQ(last, "{\"type\":\"end\",\"ts\":" + std::to_string(sample_events(300).back().ts_ns + 5) +
                      ",\"pid\":0,\"events\":300,\"events_total\":300,\"lost\":7}\n");
}

TEST(LogReader, CutLogHasNoClosingRecordAndReplaysToLastLine) {
  TempDir d;
  auto evs = sample_events(50);
  std::string path = d.file("cut.jsonl");
  LogWriter w;
  ASSERT_TRUE(w.open(path, uncompressed()).ok());
  ASSERT_TRUE(w.write_header(sample_header()).ok());
  for (auto& e : evs) ASSERT_TRUE(w.write(e).ok());
  ASSERT_TRUE(w.close().ok());  // no write_end: as a killed recorder leaves it
  auto r = read_log(path);
  EXPECT_FALSE(r.end.has_value());
  EXPECT_EQ(r.events.size(), evs.size());
  // cut inside the last event: every complete record before it replays
  std::string text = slurp(path);
  spit(path, text.substr(0, text.size() - 10));
  r = read_log(path);
  EXPECT_FALSE(r.end.has_value());
  EXPECT_EQ(r.events.size(), evs.size() - 1);
  EXPECT_EQ(messages(r), std::vector<std::string>{"line 51: truncated last line (no newline at end of file)"});
  // events after a closing record (cat of two logs): the stream is not closed
  spit(path, header_line() + "{\"type\":\"end\",\"ts\":1,\"pid\":0,\"events\":0}\n" + line_of(evs[0]));
  r = read_log(path);
  EXPECT_FALSE(r.end.has_value());
  EXPECT_EQ(r.events.size(), 1u);
}

TEST(LogWriter, RotatedFilesEndWithRotatedRecord) {
  TempDir d;
  std::string path = d.file("rot.jsonl");
  auto evs = sample_events(400);
  LogWriter w;
  ASSERT_TRUE(w.open(path, rotating(8 * 1024, 3)).ok());
  ASSERT_TRUE(w.write_header(sample_header()).ok());
  for (auto& e : evs) ASSERT_TRUE(w.write(e).ok());
  ASSERT_TRUE(w.write_end(evs.back().ts_ns, 0).ok());
  ASSERT_TRUE(w.close().ok());
  ASSERT_GE(w.stats().rotations, 1u);
  auto older = read_log(path + ".1");
  ASSERT_TRUE(older.end.has_value());
  EXPECT_TRUE(older.end->rotated);
  EXPECT_EQ(older.end->events, older.events.size());
  auto cur = read_log(path);
  ASSERT_TRUE(cur.end.has_value());
  EXPECT_FALSE(cur.end->rotated);
  EXPECT_EQ(cur.end->events, cur.events.size());
  EXPECT_EQ(cur.end->events_total, evs.size());
}

// A writer that is never published (a recording that failed to start) leaves
// an existing log exactly as it was, and nothing else behind.
TEST(LogWriter, UnpublishedWriterNeverTouchesTheTarget) {
  TempDir d;
  std::string path = d.file("old.jsonl");
  spit(path, "precious\n");
  {
    LogWriter w;
    ASSERT_TRUE(w.open(path).ok());
    ASSERT_TRUE(w.write_header(sample_header()).ok());
    for (auto& e : sample_events(3000)) ASSERT_TRUE(w.write(e).ok());
    EXPECT_EQ(slurp(path), "precious\n");
  }
  EXPECT_EQ(slurp(path), "precious\n");
  size_t entries = 0;
  for (auto& ent : fs::directory_iterator(d.path())) (void)ent, ++entries;
  EXPECT_EQ(entries, 1u);
  // published: the new log replaces the old one, 0600
  LogWriter w;
  ASSERT_TRUE(w.open(path).ok());
  ASSERT_TRUE(w.write_header(sample_header()).ok());
  ASSERT_TRUE(w.publish().ok());
  ASSERT_TRUE(w.close().ok());
  EXPECT_EQ(slurp(path), header_line());
  struct stat sb {};
  ASSERT_EQ(stat(path.c_str(), &sb), 0);
  EXPECT_EQ(sb.st_mode & 0777, 0600u);
}

TEST(LogReader, FuzzSeedsWithClosingRecords) {
  std::string dir = std::string(SOURCE_DIR) + "/tests/fuzz/corpus/";
  auto closed = read_log(dir + "closed.jsonl");
  ASSERT_TRUE(closed.end.has_value());
  EXPECT_EQ(closed.end->events, 2u);
  EXPECT_EQ(closed.end->lost, std::optional<uint64_t>(0));
  auto more = read_log(dir + "end_then_more.jsonl");
  EXPECT_FALSE(more.end.has_value());
  EXPECT_EQ(more.events.size(), 3u);
  EXPECT_EQ(messages(more),
            std::vector<std::string>{"line 4: closing record: a count is not a non-negative integer"});
}

}  // namespace
}  // namespace fdw
