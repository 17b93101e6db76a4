// Cutting names and paths to a width keeps the part that tells two apart.
#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>

#include "common/temp_dir.h"
#include "core/snapshot.h"
#include "views/format.h"
#include "views/top_batch.h"

using namespace fdw;

TEST(Fit, MiddleKeepsTheEnd) {
  EXPECT_EQ(fit_middle("short", 10), "short");
  EXPECT_EQ(fit_middle("kworker/u16:3-events", 10), "kwo~events");
  EXPECT_NE(fit_middle("python-worker-1", 10), fit_middle("python-worker-2", 10));
  EXPECT_EQ(fit_middle("python-worker-1", 10).size(), 10u);
  EXPECT_EQ(fit_middle("abcdef", 2), "ef");
}

TEST(Fit, PathKeepsTheFileName) {
  EXPECT_EQ(fit_path("/var/log/app/2026-12-01.log", 40), "/var/log/app/2026-12-01.log");
  EXPECT_EQ(fit_path("/var/log/application/2026-12-01.log", 24), "/var/log~/2026-12-01.log");
  EXPECT_EQ(fit_path("/var/log/application/2026-12-01.log", 24).size(), 24u);
  EXPECT_NE(fit_path("/srv/data/cache/shard-000001.db", 20), fit_path("/srv/data/cache/shard-000002.db", 20));
  // a last component too long for the width: the middle goes
  EXPECT_EQ(fit_path("/tmp/a-very-long-file-name-000001", 12), "/tm~e-000001");
}

namespace {

ProcView proc(uint32_t pid, std::string comm, uint64_t fds) {
  ProcView p;
  p.pid = pid;
  p.comm = std::move(comm);
  p.open_fds = fds;
  return p;
}

}  // namespace

TEST(Fit, TopBatchWidths) {
  Snapshot s;
  s.processes = {proc(10, "worker-pool-0001", 9), proc(11, "worker-pool-0002", 8)};
  BatchOptions o;
  o.width = 80;
  std::string narrow = render_batch_frame(s, o);
  EXPECT_EQ(narrow.find("CLOSE/s"), std::string::npos);  // gave way at 80 columns
  o.width = 132;
  std::string wide = render_batch_frame(s, o);
  EXPECT_NE(wide.find("LIMIT"), std::string::npos);
  EXPECT_NE(wide.find("CLOSE/s"), std::string::npos);
  o.width = 60;
  std::string tight = render_batch_frame(s, o);
  size_t start = 0;
  for (size_t nl; (nl = tight.find('\n', start)) != std::string::npos; start = nl + 1)
    EXPECT_LE(nl - start, 60u) << tight.substr(start, nl - start);
  // at 60 columns COMM is narrower than the names: both keep their ends
  EXPECT_NE(tight.find("0001\n"), std::string::npos) << tight;
  EXPECT_NE(tight.find("0002\n"), std::string::npos) << tight;
}

