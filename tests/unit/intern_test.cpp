#include "core/intern.h"

#include <gtest/gtest.h>

#include "core/aggregator.h"

namespace fdw {
namespace {

TEST(Intern, EqualTextIsOneCopyUntilNoOneHoldsIt) {
  TextPool pool;
  std::string path = "/var/log/app/segment_0001.log";  // past the small-string buffer
  Text a = pool.get(path), b = pool.get(std::string(path));
  EXPECT_EQ(&a.str(), &b.str());
  EXPECT_EQ(a, path);
  EXPECT_EQ(pool.size(), 1u);
  Text other = pool.get("/var/log/app/segment_0002.log");
  EXPECT_NE(&other.str(), &a.str());
  EXPECT_EQ(pool.size(), 2u);
  other = Text();
  pool.sweep();
  EXPECT_EQ(pool.size(), 1u);  // only the held one stays
  EXPECT_EQ(a.str(), path);
  a = b = Text();
  pool.sweep();
  EXPECT_EQ(pool.size(), 0u);
}

TEST(Intern, EmptyTextAndFramesNeedNoCopy) {
  TextPool texts;
  StackPool stacks;
  EXPECT_EQ(texts.get("").str(), "");
  EXPECT_TRUE(stacks.get({}).empty());
  EXPECT_EQ(texts.size() + stacks.size(), 0u);
}

TEST(Intern, StacksAreComparedFrameByFrame) {
  StackPool pool;
  Frames a = pool.get({"leak (app.c:8)", "main (app.c:20)"});
  Frames b = pool.get({"leak (app.c:8)", "main (app.c:20)"});
  Frames c = pool.get({"leak (app.c:8)", "other (app.c:30)"});
  Frames d = pool.get({"leak (app.c:8)"});
  EXPECT_EQ(&a.get(), &b.get());
  EXPECT_NE(&a.get(), &c.get());
  EXPECT_NE(&a.get(), &d.get());
  EXPECT_EQ(pool.size(), 3u);
  ASSERT_EQ(a.size(), 2u);
  EXPECT_EQ(a[1], "main (app.c:20)");
}

// The fd table keeps one copy of a leak's site, stack and target, however
// many fds it opened; the copies go when the fds do.
TEST(Intern, AggregatorSharesOneCopyPerLeak) {
  Aggregator agg;
  auto open = [&](uint64_t ts, int fd) {
    Event e;
    e.type = EvType::Open;
    e.ts_ns = ts;
    e.pid = 7;
    e.fd = fd;
    e.kind = Kind::File;
    e.target = "/var/log/app/segment.log";
    e.site = "rotate (app.c:88)";
    e.stack = {"__open64 (open64.c:41)", "rotate (app.c:88)", "main (app.c:120)"};
    agg.apply(e);
  };
  for (int fd = 3; fd < 103; ++fd) open(1000 + fd, fd);
  auto v = agg.snapshot(5000).processes;
  ASSERT_EQ(v.size(), 1u);
  ASSERT_EQ(v[0].fds.size(), 100u);
  for (const FdView& f : v[0].fds) {
    EXPECT_EQ(&f.stack.get(), &v[0].fds[0].stack.get());
    EXPECT_EQ(f.target, "/var/log/app/segment.log");
  }
  ASSERT_EQ(v[0].suspects.size(), 1u);
  EXPECT_EQ(v[0].suspects[0].count, 100u);
  EXPECT_EQ(v[0].suspects[0].site, "rotate (app.c:88)");
}

}  // namespace
}  // namespace fdw
