// Real BPF: the test traces itself (its own pid is the only target), makes
// real syscalls, drains the ring buffer and asserts exact records.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <netinet/in.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <vector>

#include "common/require_root.h"
#include "probe/decoder.h"
#include "probe/probe.h"

using namespace fdw;

namespace {

class SelfProbe : public ::testing::Test {
 protected:
  void SetUp() override {
    FDW_REQUIRE_ROOT();
    ProbeOptions o;
    o.self_tgid = 0xffffffffu;  // trace ourselves
    auto p = Probe::open(o);
    ASSERT_TRUE(p) << p.error().message;
    probe_ = std::move(p.value());
    ASSERT_TRUE(probe_->add_target(uint32_t(getpid())));
    drain();  // whatever happened while attaching
    events_.clear();
  }

  void drain() {
    Probe::RecordFn fn = [this](const void* d, size_t n) {
      auto e = decode_event(d, n);
      ASSERT_TRUE(e) << e.error().message;
      events_.push_back(*e);
    };
    for (int i = 0; i < 3; ++i) ASSERT_TRUE(probe_->poll(0, fn));
  }

  std::vector<Event> of_tid() const {
    std::vector<Event> out;
    for (auto& e : events_)
      if (e.tid == uint32_t(gettid())) out.push_back(e);
    return out;
  }

  std::unique_ptr<Probe> probe_;
  std::vector<Event> events_;
};

}  // namespace

TEST_F(SelfProbe, OpenCloseExactFdAndPath) {
  int fd = open("/etc/hostname", O_RDONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(close(fd), 0);
  int bad = open("/nonexistent/fdwatch", O_RDONLY);
  ASSERT_EQ(bad, -1);
  drain();
  auto ev = of_tid();
  ASSERT_EQ(ev.size(), 3u);
  EXPECT_EQ(ev[0].type, EvType::Open);
  EXPECT_EQ(sys_name(ev[0].sys), "openat");
  EXPECT_EQ(ev[0].fd, fd);
  EXPECT_EQ(ev[0].kind, Kind::File);
  EXPECT_EQ(ev[0].target, "/etc/hostname");
  EXPECT_TRUE(ev[0].cloexec);
  EXPECT_EQ(ev[0].pid, uint32_t(getpid()));
  EXPECT_EQ(ev[1].type, EvType::Close);
  EXPECT_EQ(ev[1].fd, fd);
  EXPECT_EQ(ev[1].err, 0);
  EXPECT_EQ(ev[2].type, EvType::Open);
  EXPECT_EQ(ev[2].err, ENOENT);
  EXPECT_EQ(ev[2].target, "/nonexistent/fdwatch");
  EXPECT_LE(ev[0].ts_ns, ev[1].ts_ns);
  EXPECT_EQ(probe_->stats().drops, 0u);
}

TEST_F(SelfProbe, SocketAcceptAndEndpoints) {
  int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(l, (sockaddr*)&a, sizeof a), 0);
  ASSERT_EQ(listen(l, 4), 0);
  socklen_t len = sizeof a;
  getsockname(l, (sockaddr*)&a, &len);
  int port = ntohs(a.sin_port);
  int c = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_EQ(connect(c, (sockaddr*)&a, sizeof a), 0);
  sockaddr_in ca{};
  len = sizeof ca;
  getsockname(c, (sockaddr*)&ca, &len);
  int s = accept4(l, nullptr, nullptr, SOCK_CLOEXEC);
  ASSERT_GE(s, 0);
  drain();
  close(s);
  close(c);
  close(l);
  auto ev = of_tid();
  // socket, bind, listen, socket, connect, accept4
  ASSERT_EQ(ev.size(), 6u);
  EXPECT_EQ(ev[0].fd, l);
  EXPECT_EQ(ev[0].kind, Kind::Socket);
  EXPECT_EQ(ev[0].target, "tcp");
  EXPECT_EQ(ev[2].type, EvType::SockAddr);
  EXPECT_EQ(ev[2].target, "tcp 127.0.0.1:" + std::to_string(port) + " (listen)");
  EXPECT_EQ(ev[3].fd, c);
  EXPECT_FALSE(ev[3].cloexec);
  EXPECT_EQ(ev[4].type, EvType::SockAddr);
  std::string client = "127.0.0.1:" + std::to_string(ntohs(ca.sin_port));
  EXPECT_EQ(ev[4].target, "tcp " + client + "->127.0.0.1:" + std::to_string(port));
  EXPECT_EQ(sys_name(ev[5].sys), "accept4");
  EXPECT_EQ(ev[5].fd, s);
  EXPECT_TRUE(ev[5].cloexec);
  EXPECT_EQ(ev[5].target, "tcp 127.0.0.1:" + std::to_string(port) + "->" + client);
}

TEST_F(SelfProbe, PipeEventfdDup) {
  int p[2];
  ASSERT_EQ(pipe2(p, O_CLOEXEC), 0);
  int e = eventfd(0, 0);
  int d = dup2(p[0], 100);
  ASSERT_EQ(d, 100);
  drain();
  for (int fd : {p[0], p[1], e, d}) close(fd);
  auto ev = of_tid();
  ASSERT_EQ(ev.size(), 3u);
  EXPECT_EQ(ev[0].fd, p[0]);
  EXPECT_EQ(ev[0].fd2, p[1]);
  EXPECT_EQ(ev[0].kind, Kind::Pipe);
  EXPECT_TRUE(ev[0].cloexec);
  EXPECT_EQ(ev[1].fd, e);
  EXPECT_EQ(ev[1].kind, Kind::Eventfd);
  EXPECT_EQ(ev[1].target, "anon_inode:[eventfd]");
  EXPECT_EQ(ev[2].type, EvType::Dup);
  EXPECT_EQ(ev[2].fd, 100);
  EXPECT_EQ(ev[2].fd2, p[0]);
  EXPECT_EQ(ev[2].kind, Kind::Pipe);
}

TEST_F(SelfProbe, EmfileWhenTheLimitIsLowered) {
  rlimit old;
  getrlimit(RLIMIT_NOFILE, &old);
  // fill every hole below the highest open fd, so that exactly 5 fit
  int highest = 0;
  for (int fd = 0; fd < 65536; ++fd)
    if (fcntl(fd, F_GETFD) != -1) highest = fd;
  std::vector<int> fillers;
  for (int fd = 0; fd < highest; ++fd)
    if (fcntl(fd, F_GETFD) == -1) fillers.push_back(fcntl(0, F_DUPFD_CLOEXEC, fd));
  rlimit low = old;
  low.rlim_cur = rlim_t(highest + 1 + 5);
  drain();
  events_.clear();
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &low), 0);
  std::vector<int> got;
  int emfile = 0;
  for (int i = 0; i < 8; ++i) {
    int fd = socket(AF_UNIX, SOCK_DGRAM, 0);
    if (fd >= 0) got.push_back(fd);
    else if (errno == EMFILE) ++emfile;
  }
  drain();
  for (int fd : got) close(fd);
  for (int fd : fillers) close(fd);
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &old), 0);
  auto ev = of_tid();
  int limit_events = 0, ok = 0, failed = 0;
  for (auto& e : ev) {
    if (e.type == EvType::Limit && e.value == int64_t(low.rlim_cur)) ++limit_events;
    if (e.type == EvType::Open && e.sys == 6 /* socket */) (e.err == EMFILE ? failed : ok)++;
  }
  EXPECT_EQ(limit_events, 1);
  EXPECT_EQ(int(got.size()), 5);
  EXPECT_EQ(emfile, 3);
  EXPECT_EQ(ok, 5);
  EXPECT_EQ(failed, 3);
}

TEST(ProbeSetup, ErrorsAreOneLineWithHints) {
  auto e = check_btf("/nonexistent/btf");
  ASSERT_FALSE(e);
  EXPECT_NE(e.error().message.find("no BTF"), std::string::npos);
  EXPECT_FALSE(e.error().hint.empty());
  EXPECT_EQ(e.error().message.find('\n'), std::string::npos);
}
