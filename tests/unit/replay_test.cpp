// Log replay and the flight recorder's bundles, on hand-written events: the
// report numbers must be exactly what the events say.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <fstream>

#include "pipeline/flight.h"
#include "pipeline/replay.h"
#include "views/report.h"

namespace fdw {
namespace {

constexpr uint64_t kSec = 1'000'000'000ull;

std::string write_tmp(const std::string& text) {
  char path[] = "/tmp/fdwatch-replay-XXXXXX";
  int fd = mkstemp(path);
  EXPECT_GE(fd, 0);
  EXPECT_EQ(write(fd, text.data(), text.size()), ssize_t(text.size()));
  close(fd);
  return path;
}

// pid 42: 3 seeded fds, limit 16; opens /a, /b, a pipe, closes /a, one EMFILE.
// pid 43: empty seed, one socket.
const char* kLog =
    R"({"schema":"fdwatch.events.v1","host":"h","kernel":"k","version":"0.1.0","boot_time_unix_ns":0,"start_time_unix_ns":1000000000,"start_mono_ns":1000000000,"argv":["fdwatch"]})" "\n"
    R"({"type":"snapshot","ts":1000000000,"pid":42,"fds":[{"fd":0,"kind":"file","target":"/dev/null"},{"fd":1,"kind":"file","target":"/dev/null"},{"fd":2,"kind":"file","target":"/dev/null"}]})" "\n"
    R"({"type":"comm","ts":1000000000,"pid":42,"child":1,"value":1000,"comm":"app"})" "\n"
    R"({"type":"limit","ts":1000000000,"pid":42,"value":16})" "\n"
    R"({"type":"snapshot","ts":1000000000,"pid":43,"fds":[]})" "\n"
    R"({"type":"comm","ts":1000000000,"pid":43,"value":0,"comm":"srv"})" "\n"
    R"({"type":"open","ts":1200000000,"pid":42,"sys":"openat","fd":3,"kind":"file","target":"/a"})" "\n"
    R"({"type":"open","ts":1500000000,"pid":42,"sys":"openat","fd":4,"kind":"file","target":"/b"})" "\n"
    R"({"type":"open","ts":2000000000,"pid":43,"sys":"socket","fd":3,"kind":"socket","target":"tcp"})" "\n"
    R"({"type":"open","ts":2500000000,"pid":42,"sys":"pipe2","fd":5,"fd2":6,"kind":"pipe","kind2":"pipe","target":"pipe:[1]","target2":"pipe:[1]"})" "\n"
    R"({"type":"close","ts":3000000000,"pid":42,"sys":"close","fd":3})" "\n"
    R"({"type":"open","ts":3500000000,"pid":42,"sys":"openat","err":"EMFILE"})" "\n";

const ProcView* find(const Snapshot& s, uint32_t pid) {
  for (auto& p : s.processes)
    if (p.pid == pid) return &p;
  return nullptr;
}

TEST(Replay, HandWrittenLogGivesExactReport) {
  std::string path = write_tmp(kLog);
  auto r = replay_file(path, {});
  unlink(path.c_str());
  ASSERT_TRUE(r.ok()) << r.error().message;
  const Snapshot& s = r->snapshot;
  EXPECT_EQ(r->events, 11u);
  EXPECT_EQ(r->errors_total, 0u);
  EXPECT_EQ(s.start_ns, 1 * kSec);
  EXPECT_DOUBLE_EQ(s.elapsed_s, 2.5);
  ASSERT_EQ(s.processes.size(), 2u);
  const ProcView* p = find(s, 42);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->comm, "app");
  EXPECT_EQ(p->ppid, 1u);
  EXPECT_EQ(p->uid, 1000u);
  EXPECT_EQ(p->open_fds, 6u);
  EXPECT_EQ(p->opened, 4u);
  EXPECT_EQ(p->closed, 1u);
  EXPECT_EQ(p->failed.at("EMFILE"), 1u);
  EXPECT_EQ(p->failed_total(), 1u);
  EXPECT_EQ(p->rlimit_nofile, std::optional<uint64_t>(16));
  std::vector<int> fds;
  for (auto& f : p->fds) fds.push_back(f.fd);
  std::sort(fds.begin(), fds.end());
  EXPECT_EQ(fds, (std::vector<int>{0, 1, 2, 4, 5, 6}));
  const ProcView* q = find(s, 43);
  ASSERT_NE(q, nullptr);
  EXPECT_EQ(q->open_fds, 1u);
  EXPECT_EQ(q->opened, 1u);
  EXPECT_EQ(report_json(s)["processes"][0]["pid"], 42);
}

// The stack table of a log reaches the suspects: five fds from one site, one
// from another; the same log without the table has the fds but no sites.
TEST(Replay, StackTableGivesSuspectsTheirSites) {
  std::string head =
      R"({"schema":"fdwatch.events.v1","start_mono_ns":1000000000})" "\n"
      R"({"type":"snapshot","ts":1000000000,"pid":42,"fds":[]})" "\n";
  std::string table =
      R"({"type":"frame","id":0,"text":"open"})" "\n"
      R"x({"type":"frame","id":1,"text":"rotate_log (app.c:12)"})x" "\n"
      R"x({"type":"frame","id":2,"text":"main (app.c:40)"})x" "\n"
      R"({"type":"stack","id":0,"frames":[0,1,2],"site":1})" "\n"
      R"({"type":"stack","id":1,"frames":[0,2],"site":2})" "\n";
  std::string events;
  for (int i = 0; i < 6; ++i)
    events += R"({"type":"open","ts":)" + std::to_string(1100000000 + i * 100000000) + R"(,"pid":42,"fd":)" +
              std::to_string(3 + i) + R"(,"kind":"file","target":"/var/log/app/seg)" + std::to_string(i) +
              R"(.log","stack_id":)" + (i == 5 ? "1" : "0") + "}\n";
  for (bool with_table : {true, false}) {
    SCOPED_TRACE(with_table);
    std::string path = write_tmp(head + (with_table ? table : "") + events);
    auto r = replay_file(path, {});
    unlink(path.c_str());
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_EQ(r->errors_total, with_table ? 0u : 6u);  // every reference dangles without it
    ASSERT_EQ(r->snapshot.processes.size(), 1u);
    const ProcView& p = r->snapshot.processes[0];
    EXPECT_EQ(p.open_fds, 6u);
    std::vector<std::pair<std::string, uint64_t>> sites;
    for (auto& su : p.suspects) sites.emplace_back(su.site, su.count);
    if (with_table) {
      EXPECT_EQ(sites, (std::vector<std::pair<std::string, uint64_t>>{{"rotate_log (app.c:12)", 5},
                                                                      {"main (app.c:40)", 1}}));
      EXPECT_EQ(p.suspects[0].targets.pattern, "/var/log/app/seg*.log");
      for (auto& f : p.fds)
        EXPECT_EQ(f.stack, (f.fd == 8 ? std::vector<std::string>{"open", "main (app.c:40)"}
                                      : std::vector<std::string>{"open", "rotate_log (app.c:12)", "main (app.c:40)"}))
            << f.fd;
    } else {
      for (auto& su : p.suspects) EXPECT_EQ(su.site, "");
      for (auto& f : p.fds) EXPECT_TRUE(f.stack.empty());
    }
  }
}

TEST(Replay, PidAndUntilFilter) {
  std::string path = write_tmp(kLog);
  ReplayOptions o;
  o.pid = 42;
  o.until_s = 0.6;  // events up to ts 1.6 s
  auto r = replay_file(path, o);
  unlink(path.c_str());
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->snapshot.processes.size(), 1u);
  const ProcView& p = r->snapshot.processes[0];
  EXPECT_EQ(p.pid, 42u);
  EXPECT_EQ(p.open_fds, 5u);
  EXPECT_EQ(p.opened, 2u);
  EXPECT_EQ(p.closed, 0u);
  EXPECT_TRUE(p.failed.empty());
  EXPECT_DOUBLE_EQ(r->snapshot.elapsed_s, 0.6);
}

TEST(Replay, HtmlSeriesSampledAtEachTick) {
  std::string path = write_tmp(kLog);
  ReplayOptions o;
  o.series = true;
  auto r = replay_file(path, o);
  unlink(path.c_str());
  ASSERT_TRUE(r.ok());
  const HtmlInput& h = r->html;
  // seed, ticks at +1 s and +2 s (before the close at +2 s), the end at +2.5 s
  using S = std::vector<std::pair<double, uint64_t>>;
  EXPECT_EQ(h.open_fds_series.at(42), (S{{0.0, 3}, {1.0, 5}, {2.0, 7}, {2.5, 6}}));
  EXPECT_EQ(h.open_fds_series.at(43), (S{{0.0, 0}, {1.0, 0}, {2.0, 1}, {2.5, 1}}));
  EXPECT_EQ(h.emfile_times.at(42), (std::vector<double>{2.5}));
  EXPECT_EQ(h.emfile_times.count(43), 0u);
  EXPECT_EQ(h.comm.at(42), "app");
  EXPECT_EQ(h.final.processes.size(), 2u);
}

TEST(Replay, BadLinesAreReportedAndSkipped) {
  std::string text = kLog;
  // garbage as line 4, and the last line cut in the middle
  size_t third = 0;
  for (int i = 0; i < 3; ++i) third = text.find('\n', third) + 1;
  text.insert(third, "this is not json\n");
  text.resize(text.size() - 20);
  std::string path = write_tmp(text);
  auto r = replay_file(path, {});
  unlink(path.c_str());
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->errors_total, 2u);
  ASSERT_EQ(r->errors.size(), 2u);
  EXPECT_EQ(r->errors[0].line, 4u);
  EXPECT_EQ(r->errors[1].line, 13u);
  EXPECT_EQ(r->events, 10u);
  const ProcView* p = find(r->snapshot, 42);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->open_fds, 6u);
  EXPECT_TRUE(p->failed.empty());
}

TEST(Replay, NotALogIsAnError) {
  std::string path = write_tmp("{\"schema\":\"something.else\"}\n");
  auto r = replay_file(path, {});
  unlink(path.c_str());
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("not an fdwatch event log"), std::string::npos) << r.error().message;
}

Event ev(EvType t, double s, int fd = -1) {
  Event e;
  e.type = t;
  e.ts_ns = uint64_t(s * 1e9);
  e.pid = 42;
  e.fd = fd;
  if (t == EvType::Open) {
    e.kind = Kind::File;
    e.target = "/f" + std::to_string(fd);
  }
  return e;
}

TEST(Flight, ParseWindowAndTrigger) {
  EXPECT_EQ(parse_window("10m"), std::optional<uint64_t>(600 * kSec));
  EXPECT_EQ(parse_window("90s"), std::optional<uint64_t>(90 * kSec));
  EXPECT_EQ(parse_window("2"), std::optional<uint64_t>(2 * kSec));
  EXPECT_EQ(parse_window("1h"), std::optional<uint64_t>(3600 * kSec));
  EXPECT_FALSE(parse_window("ten"));
  EXPECT_FALSE(parse_window("0"));
  EXPECT_FALSE(parse_window("5x"));
  FlightOptions o;
  EXPECT_TRUE(parse_trigger("emfile", o));
  EXPECT_TRUE(o.on_emfile);
  EXPECT_TRUE(parse_trigger("pct:90", o));
  EXPECT_EQ(o.pct, std::optional<double>(90));
  EXPECT_FALSE(parse_trigger("pct:", o));
  EXPECT_FALSE(parse_trigger("pct:101", o));
  EXPECT_FALSE(parse_trigger("oom", o));
}

// Window of 1 s: the seed and the first open fall out; the bundle starts
// with the state they left, as a snapshot, and replays to the live numbers.
TEST(Flight, BundleIsSelfContained) {
  FlightOptions o;
  o.window_ns = 1 * kSec;
  o.on_emfile = true;
  FlightRecorder fr(o);
  Aggregator live;
  std::vector<Event> evs;
  Event seed = ev(EvType::Snapshot, 0.0);
  seed.fds = {SeedFd{0, Kind::File, "/dev/null", false}};
  evs.push_back(seed);
  Event c = ev(EvType::Comm, 0.0);
  c.comm = "app";
  c.value = 7;
  evs.push_back(c);
  Event l = ev(EvType::Limit, 0.0);
  l.value = 16;
  evs.push_back(l);
  evs.push_back(ev(EvType::Open, 0.5, 3));
  evs.push_back(ev(EvType::Open, 2.0, 4));
  Event fail = ev(EvType::Open, 2.2);
  fail.err = EMFILE;
  evs.push_back(fail);
  for (auto& e : evs) {
    fr.on_event(e, live);
    live.apply(e);
  }
  EXPECT_EQ(fr.window_size(), 2u);
  EXPECT_EQ(fr.window_start_ns(), 2 * kSec);
  auto b = fr.bundle_events(42);
  ASSERT_EQ(b.size(), 5u);
  EXPECT_EQ(b[0].type, EvType::Snapshot);
  EXPECT_EQ(b[0].ts_ns, 2 * kSec);
  ASSERT_EQ(b[0].fds.size(), 2u);
  EXPECT_EQ(b[0].fds[0].fd, 0);
  EXPECT_EQ(b[0].fds[1].fd, 3);
  EXPECT_EQ(b[0].fds[1].target, "/f3");
  EXPECT_EQ(b[1].type, EvType::Comm);
  EXPECT_EQ(b[1].comm, "app");
  EXPECT_EQ(b[2].type, EvType::Limit);
  EXPECT_EQ(b[2].value, 16);
  EXPECT_EQ(b[3].fd, 4);
  EXPECT_EQ(b[4].err, EMFILE);

  Replay rp(2 * kSec, {});
  for (auto& e : b) rp.feed(e);
  Snapshot s = rp.finish();
  ASSERT_EQ(s.processes.size(), 1u);
  EXPECT_EQ(s.processes[0].open_fds, 3u);
  EXPECT_EQ(s.processes[0].opened, 1u);
  EXPECT_EQ(s.processes[0].failed.at("EMFILE"), 1u);
  EXPECT_EQ(s.processes[0].rlimit_nofile, std::optional<uint64_t>(16));
  EXPECT_EQ(s.processes[0].comm, "app");
}

// The window holds each stack once; a bundle gives every event back its own.
TEST(Flight, BundleEventsKeepTheirCallStacks) {
  FlightOptions o;
  FlightRecorder fr(o);
  Aggregator live;
  std::vector<Event> evs = {ev(EvType::Snapshot, 0.0)};
  for (int i = 0; i < 6; ++i) {
    Event e = ev(EvType::Open, 0.1 * (i + 1), 3 + i);
    e.stack = {"open", i % 3 == 2 ? "rotate (a.c:9)" : "leak (a.c:4)", "main (a.c:20)"};
    e.site = e.stack[1];
    if (i == 4) e.site.clear();  // the same frames without a site: another stack
    evs.push_back(e);
  }
  evs.push_back(ev(EvType::Close, 0.9, 3));
  for (auto& e : evs) {
    fr.on_event(e, live);
    live.apply(e);
  }
  auto b = fr.bundle_events(42);
  ASSERT_EQ(b.size(), evs.size());
  for (size_t i = 0; i < b.size(); ++i) {
    EXPECT_EQ(b[i].stack, evs[i].stack) << i;
    EXPECT_EQ(b[i].site, evs[i].site) << i;
    EXPECT_EQ(b[i].fd, evs[i].fd) << i;
  }
}

TEST(Flight, TriggersOncePerMinutePerKind) {
  char dir[] = "/tmp/fdwatch-flight-XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  FlightOptions o;
  o.dir = dir;
  o.window_ns = 10 * kSec;
  o.on_emfile = true;
  o.pct = 50;
  FlightRecorder fr(o);
  Aggregator live;
  Event l = ev(EvType::Limit, 0.0);
  l.value = 4;
  Event seed = ev(EvType::Snapshot, 0.0);
  std::vector<Event> evs = {seed, l, ev(EvType::Open, 0.1, 0), ev(EvType::Open, 0.2, 1),  // 2 of 4: pct
                            ev(EvType::Open, 0.3, 2)};
  Event fail = ev(EvType::Open, 0.4);
  fail.err = EMFILE;
  evs.push_back(fail);
  fail.ts_ns = 30 * kSec;  // within the minute: no second bundle
  evs.push_back(fail);
  for (auto& e : evs) {
    fr.on_event(e, live);
    live.apply(e);
  }
  auto written = fr.write_pending();
  ASSERT_EQ(written.size(), 2u);  // pct at 0.2 s, emfile at 0.4 s
  for (auto& w : written) {
    ASSERT_TRUE(w.ok()) << w.error().message;
    for (const char* f : {"/events.jsonl", "/report.txt", "/report.json", "/report.html"}) {
      std::string p = w.value() + f;
      EXPECT_EQ(access(p.c_str(), R_OK), 0) << p;
      unlink(p.c_str());
    }
    rmdir(w.value().c_str());
  }
  EXPECT_TRUE(fr.write_pending().empty());
  rmdir(dir);
}

}  // namespace
}  // namespace fdw
