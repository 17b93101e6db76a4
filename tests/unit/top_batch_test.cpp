// top_batch: `fdwatch top -b` text and the fdwatch.top.v1 JSON, from
// hand-built snapshots.
#include "views/top_batch.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>

namespace fdw {
namespace {

const UserNameFn kUsers = [](uint32_t uid) -> std::string {
  return uid == 0 ? "root" : uid == 1000 ? "alice" : "";
};

Snapshot fixture() {
  ProcView backend;
  backend.pid = 20;
  backend.comm = "backend";
  backend.uid = 0;
  backend.open_fds = 5;
  backend.open_per_s = 1.5;
  backend.close_per_s = 1.5;
  backend.oldest_age_s = 1;
  backend.leak_rate_per_s = 0;

  ProcView worker;  // exited, uid never learnt, too short-lived for a rate
  worker.pid = 99;
  worker.comm = "worker";
  worker.exited = true;
  worker.rlimit_nofile = 1024;
  worker.failed = {{"ENFILE", 2}};

  ProcView facade;
  facade.pid = 1234;
  facade.comm = "facade";
  facade.uid = 1000;
  facade.inexact = true;
  facade.open_fds = 1017;
  facade.rlimit_nofile = 1024;
  facade.open_per_s = 50;
  facade.close_per_s = 1.5;
  facade.leak_rate_per_s = 48.6;
  facade.time_to_limit_s = 0.1;
  facade.failed = {{"EMFILE", 31}, {"ENOENT", 4}};
  facade.oldest_age_s = 20.1;

  Snapshot s;
  s.elapsed_s = 65.5;
  s.lost_events = 5;
  s.events_per_s = 1234.4;
  s.processes = {backend, worker, facade};
  return s;
}

TEST(TopBatch, TextFrameAt80Columns) {
  BatchOptions opt;
  opt.user_name = kUsers;
  const std::string want =
      "fdwatch top  elapsed 1m05s  processes: 3 (1 exited)  fds: 1022\n"
      "events/s: 1234  dropped: 5  sort: FDS desc\n"
      "    PID USER         FDS %LIM OPEN/s  NET/s    ETA   ERR OLDEST COMM\n"
      //  PID    USER       FDS    %LIM   OPEN/s   NET/s    ETA      ERR     OLDEST   COMM
      "   1234 alice   " "   ~1017" "   99" "     50" "     49" "   0.1s" "   35!" "    20s" " facade\n"
      "     20 root    " "       5" "     " "    1.5" "      0" "       " "     0" "   1.0s" " backend\n"
      "     99 ?       " "       0" "    0" "      0" "      ?" " exited" "    2!" "       " " worker\n";
  EXPECT_EQ(render_batch_frame(fixture(), opt), want);
}

TEST(TopBatch, RowLimitSortFilterAndNumericUsers) {
  BatchOptions opt;
  opt.sort = TopColumn::Pid;
  opt.max_rows = 2;
  std::string out = render_batch_frame(fixture(), opt);
  EXPECT_NE(out.find("sort: PID asc\n"), std::string::npos);
  EXPECT_NE(out.find("\n     20 0  "), std::string::npos);  // no name function: the uid
  EXPECT_NE(out.find("\n     99 ?  "), std::string::npos);
  EXPECT_EQ(out.find("facade"), std::string::npos);  // third row cut
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 5);

  opt.descending = true;
  opt.max_rows = 1;
  out = render_batch_frame(fixture(), opt);
  EXPECT_NE(out.find("sort: PID desc\n"), std::string::npos);
  EXPECT_NE(out.find("\n   1234 1000 "), std::string::npos);

  opt = BatchOptions{};
  opt.filter = "END";
  out = render_batch_frame(fixture(), opt);
  EXPECT_NE(out.find("filter: END\n"), std::string::npos);
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 4);
  EXPECT_NE(out.find(" backend\n"), std::string::npos);
}

TEST(TopBatch, UnlimitedWidthShowsEveryColumn) {
  BatchOptions opt;
  opt.width = 0;
  opt.user_name = kUsers;
  std::string out = render_batch_frame(fixture(), opt);
  EXPECT_NE(out.find("\n    PID USER         FDS   LIMIT %LIM OPEN/s CLOSE/s  NET/s    ETA   ERR "
                     "OLDEST CONTAINER    COMM\n"),
            std::string::npos);
  EXPECT_NE(out.find("\n   1234 alice      ~1017    1024   99     50     1.5     49   0.1s   35!"
                     "    20s              facade\n"),
            std::string::npos);
  EXPECT_EQ(out.find('\x1b'), std::string::npos);
}

TEST(TopJson, ExactFieldsAndNullRules) {
  BatchOptions opt;
  opt.user_name = kUsers;
  nlohmann::json j = top_json_frame(fixture(), opt);
  nlohmann::json want = nlohmann::json::parse(R"({
    "schema": "fdwatch.top.v1",
    "time": 65.5,
    "totals": {"processes": 3, "exited": 1, "fds": 1022, "events_per_s": 1234.4,
               "lost_events": 5},
    "lost_events": 5,
    "sort": "fds",
    "descending": true,
    "rows": [
      {"pid": 1234, "uid": 1000, "user": "alice", "comm": "facade", "container": "", "cgroup": "", "fds": 1017, "limit": 1024,
       "pct_limit": 99.32, "open_per_s": 50.0, "close_per_s": 1.5, "net_per_s": 48.6,
       "eta_s": 0.1, "errors": 35, "emfile": 31, "enfile": 0, "oldest_s": 20.1,
       "exited": false, "inexact": true},
      {"pid": 20, "uid": 0, "user": "root", "comm": "backend", "container": "", "cgroup": "", "fds": 5, "limit": null,
       "pct_limit": null, "open_per_s": 1.5, "close_per_s": 1.5, "net_per_s": 0.0,
       "eta_s": null, "errors": 0, "emfile": 0, "enfile": 0, "oldest_s": 1.0,
       "exited": false, "inexact": false},
      {"pid": 99, "uid": null, "user": null, "comm": "worker", "container": "", "cgroup": "", "fds": 0, "limit": 1024,
       "pct_limit": 0.0, "open_per_s": 0.0, "close_per_s": 0.0, "net_per_s": null,
       "eta_s": null, "errors": 2, "emfile": 0, "enfile": 2, "oldest_s": null,
       "exited": true, "inexact": false}
    ]})");
  EXPECT_EQ(j, want) << j.dump(2);
}

TEST(TopJson, RowsFollowSortFilterAndLimitTotalsDoNot) {
  BatchOptions opt;
  opt.sort = TopColumn::Eta;  // soonest first, nulls last
  opt.max_rows = 2;
  nlohmann::json j = top_json_frame(fixture(), opt);
  ASSERT_EQ(j["rows"].size(), 2u);
  EXPECT_EQ(j["rows"][0]["pid"], 1234);
  EXPECT_EQ(j["rows"][1]["pid"], 20);
  EXPECT_EQ(j["rows"][1]["user"], "0");  // no name function: the uid as text
  EXPECT_EQ(j["sort"], "eta");
  EXPECT_EQ(j["descending"], false);
  EXPECT_EQ(j["totals"]["processes"], 3);

  opt = BatchOptions{};
  opt.filter = "99";
  j = top_json_frame(fixture(), opt);
  ASSERT_EQ(j["rows"].size(), 1u);
  EXPECT_EQ(j["rows"][0]["comm"], "worker");
  EXPECT_EQ(j["totals"]["fds"], 1022);

  Snapshot empty;
  j = top_json_frame(empty, BatchOptions{});
  EXPECT_TRUE(j["rows"].is_array());
  EXPECT_TRUE(j["rows"].empty());
  EXPECT_EQ(j["totals"]["processes"], 0);
}

}  // namespace
}  // namespace fdw
