#include <gtest/gtest.h>

#include <cctype>
#include <sstream>

#include "cli/cli.h"
#include "core/aggregator.h"
#include "views/report.h"

using namespace fdw;

namespace {

Result<WatchOptions> parse(std::vector<std::string> args, std::vector<std::string> cmd = {}) {
  CLI::App app;
  WatchOptions o;
  setup_watch(app, o);
  std::reverse(args.begin(), args.end());
  try {
    app.parse(args);
  } catch (const CLI::ParseError& e) {
    return Error{e.what(), "", 0, kExitUsage};
  }
  o.command = std::move(cmd);
  if (auto r = validate_watch(o); !r) return r.error();
  return o;
}

}  // namespace

TEST(Cli, WatchOptions) {
  auto r = parse({"-p", "12", "-p", "34", "--children", "--duration", "5", "--interval", "0.5", "--json"});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->pids, (std::vector<uint32_t>{12, 34}));
  EXPECT_TRUE(r->children);
  EXPECT_DOUBLE_EQ(r->duration_s, 5);
  EXPECT_DOUBLE_EQ(r->interval_s, 0.5);
  EXPECT_TRUE(r->json);
  EXPECT_FALSE(r->all);
}

TEST(Cli, CommandAfterDoubleDash) {
  char a0[] = "fdwatch", a1[] = "--fail-on-leak", a2[] = "--", a3[] = "ls", a4[] = "-l", a5[] = "--";
  char* argv[] = {a0, a1, a2, a3, a4, a5};
  std::vector<std::string> own, cmd;
  split_command(6, argv, &own, &cmd);
  EXPECT_EQ(own, (std::vector<std::string>{"--fail-on-leak"}));
  EXPECT_EQ(cmd, (std::vector<std::string>{"ls", "-l", "--"}));
  auto r = parse(own, cmd);
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->fail_on_leak);
}

TEST(Cli, UsageErrorsExitTwo) {
  for (auto args : std::vector<std::vector<std::string>>{
           {}, {"-p", "abc"}, {"-p", "0"}, {"-p", "5", "-a"}, {"-a", "--children"},
           {"--interval", "0"}, {"--duration", "-1"}, {"--bogus"}}) {
    auto r = parse(args);
    ASSERT_FALSE(r) << "accepted: " << (args.empty() ? "(nothing)" : args[0]);
    EXPECT_EQ(r.error().exit_code, kExitUsage);
  }
  auto r = parse({"-p", "5"}, {"ls"});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().exit_code, kExitUsage);
}

TEST(ReportJson, SchemaFieldsExactly) {
  Aggregator a;
  a.set_window_start(0);
  Event s;
  s.type = EvType::Snapshot;
  s.pid = 1234;
  s.comm = "facade";
  s.fds = {{0, Kind::File, "/dev/null", false}};
  a.apply(s);
  Event l;
  l.type = EvType::Limit;
  l.pid = 1234;
  l.value = 1024;
  a.apply(l);
  Event o;
  o.type = EvType::Open;
  o.sys = 6;
  o.ts_ns = 500'000'000;
  o.pid = 1234;
  o.fd = 7;
  o.kind = Kind::Socket;
  o.target = "tcp 127.0.0.1:40312->127.0.0.1:8081";
  o.stack = {"dial", "main.callBackend"};
  o.site = "main.callBackend";
  a.apply(o);
  Event f = o;
  f.fd = -1;
  f.err = 24;
  a.apply(f);
  auto j = report_json(a.snapshot(2'000'000'000));
  EXPECT_EQ(j["schema"], "fdwatch.report.v1");
  EXPECT_EQ(j["lost_events"], 0);
  ASSERT_EQ(j["processes"].size(), 1u);
  auto& p = j["processes"][0];
  EXPECT_EQ(p["pid"], 1234);
  EXPECT_EQ(p["comm"], "facade");
  EXPECT_EQ(p["exited"], false);
  EXPECT_EQ(p["inexact"], false);
  EXPECT_EQ(p["open_fds"], 2);
  EXPECT_EQ(p["opened"], 1);
  EXPECT_EQ(p["closed"], 0);
  EXPECT_EQ(p["failed"]["EMFILE"], 1);
  EXPECT_EQ(p["rlimit_nofile"], 1024);
  // one second of samples says nothing about a rate: unknown, not a number
  EXPECT_TRUE(p["leak_rate_per_s"].is_null());
  EXPECT_TRUE(p.contains("time_to_limit_s"));
  EXPECT_EQ(p["by_kind"]["socket"], 1);
  EXPECT_EQ(p["by_kind"]["file"], 1);
  ASSERT_EQ(p["fds"].size(), 2u);
  auto& sock = p["fds"][1];
  EXPECT_EQ(sock["fd"], 7);
  EXPECT_EQ(sock["kind"], "socket");
  EXPECT_EQ(sock["target"], "tcp 127.0.0.1:40312->127.0.0.1:8081");
  EXPECT_DOUBLE_EQ(sock["age_s"].get<double>(), 1.5);
  EXPECT_EQ(sock["stack"], nlohmann::json({"dial", "main.callBackend"}));
  ASSERT_EQ(p["suspects"].size(), 2u);
  // the seeded stdin first (held like the socket, and older): open before
  // attach, no site
  EXPECT_EQ(p["suspects"][0]["site"], "");
  EXPECT_EQ(p["suspects"][0]["target"], "/dev/null");
  EXPECT_EQ(p["suspects"][0]["verdict"], "held");
  EXPECT_EQ(p["suspects"][0]["before_attach"], 1);
  EXPECT_FALSE(p["suspects"][0].contains("unattributed"));
  EXPECT_EQ(p["suspects"][1]["site"], "main.callBackend");
  EXPECT_EQ(p["suspects"][1]["target"], "tcp ->127.0.0.1:8081");
  EXPECT_EQ(p["suspects"][1]["count"], 1);
  EXPECT_FALSE(p["suspects"][1].contains("before_attach"));
  EXPECT_FALSE(p.contains("leaked_at_exit"));
}

TEST(ReportText, FitsEightyColumnsAndGroups) {
  Aggregator a;
  a.set_window_start(0);
  Event s;
  s.type = EvType::Snapshot;
  s.pid = 1;
  s.comm = "x";
  a.apply(s);
  for (int fd = 3; fd < 13; ++fd) {
    Event o;
    o.type = EvType::Open;
    o.pid = 1;
    o.fd = fd;
    o.ts_ns = 1000;
    o.kind = Kind::Socket;
    o.target = "tcp 127.0.0.1:" + std::to_string(40000 + fd) + "->127.0.0.1:8081";
    a.apply(o);
  }
  std::string t = render_report_text(a.snapshot(2'000'000'000));
  EXPECT_NE(t.find("socket      10  tcp ->127.0.0.1:8081  (fd 3-12;"), std::string::npos) << t;
  size_t start = 0;
  while (start < t.size()) {
    size_t nl = t.find('\n', start);
    if (nl == std::string::npos) nl = t.size();
    EXPECT_LE(nl - start, 80u) << t.substr(start, nl - start);
    start = nl + 1;
  }
}

TEST(Format, Growth) {
  EXPECT_EQ(format_growth(48.54), "+49/s");
  EXPECT_EQ(format_growth(4.54), "+4.5/s");
  EXPECT_EQ(format_growth(-1.2), "-1.2/s");
  EXPECT_EQ(format_growth(0.01), "0/s");
}

// A system-wide report leads with a summary and the leaker; processes that
// never held an fd (kernel threads) get no section.
TEST(ReportText, SystemWideLeadsWithTheLeakersAndSkipsProcessesWithoutFds) {
  Snapshot s;
  for (uint32_t pid = 2; pid < 6; ++pid) {
    ProcView k;
    k.pid = pid;
    k.comm = "kworker/" + std::to_string(pid);
    s.processes.push_back(k);
  }
  ProcView idle;
  idle.pid = 100;
  idle.comm = "sshd";
  idle.open_fds = 7;
  ProcView big = idle;
  big.pid = 90;
  big.comm = "postgres";
  big.open_fds = 40;
  ProcView done;  // exited holding what it opened
  done.pid = 300;
  done.comm = "cron";
  done.exited = true;
  done.opened = 2;
  done.open_at_exit = 2;
  done.leaked_at_exit.resize(2);
  ProcView leaker;
  leaker.pid = 4000;
  leaker.comm = "facade";
  leaker.open_fds = 12;
  leaker.opened = 12;
  Suspect su;
  su.kind = Kind::Socket;
  su.count = 10;
  su.leaking = true;
  su.target = "tcp ->127.0.0.1:8081";
  leaker.suspects = {su};
  s.processes.insert(s.processes.end(), {big, idle, done, leaker});
  std::string t = render_report_text(s);
  std::vector<std::string> heads;
  std::istringstream in(t);
  for (std::string l; std::getline(in, l);)
    if (!l.empty() && std::isdigit(static_cast<unsigned char>(l[0]))) heads.push_back(l.substr(0, l.find("  ")));
  EXPECT_EQ(heads, (std::vector<std::string>{"4000 facade", "300 cron", "90 postgres", "100 sshd"})) << t;
  EXPECT_EQ(t.substr(0, t.find("LEAK")),
            "fdwatch report: 8 processes, 0.0s, 0 events lost\n"
            "  1 leaking, 1 exited holding fds it opened, 4 processes without fds not shown\n")
      << t;
  EXPECT_EQ(t.find("kworker"), std::string::npos) << t;
}
