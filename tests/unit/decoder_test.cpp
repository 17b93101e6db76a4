// Raw ring-buffer records (built with the ABI header, as the kernel side
// writes them) decode into exact Events; malformed records are rejected.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>

#include "core/classify.h"
#include "fdwatch_abi.h"
#include "probe/decoder.h"

using namespace fdw;

namespace {

fdw_event base(uint16_t type, uint16_t sys) {
  fdw_event r{};
  r.ts_ns = 123;
  r.tgid = 42;
  r.tid = 43;
  r.type = type;
  r.sys = sys;
  r.size = sizeof(fdw_event);
  r.ret = -1;
  r.fd2 = -1;
  r.stack_id = -1;
  return r;
}

}  // namespace

TEST(Decoder, OpenWithPath) {
  fdw_event_path r{};
  r.h = base(FDW_EV_OPEN, FDW_SYS_OPENAT);
  r.h.size = sizeof(r);
  r.h.flags = FDW_F_HAS_PATH | FDW_F_HAS_FILE | FDW_F_CLOEXEC;
  r.h.ret = 7;
  r.h.mode = S_IFREG | 0644;
  std::strcpy(r.h.name, "passwd");
  std::strcpy(r.path, "/etc/passwd");
  auto e = decode_event(&r, sizeof(r));
  ASSERT_TRUE(e) << e.error().message;
  EXPECT_EQ(e->type, EvType::Open);
  EXPECT_EQ(e->pid, 42u);
  EXPECT_EQ(e->tid, 43u);
  EXPECT_EQ(e->ts_ns, 123u);
  EXPECT_EQ(e->fd, 7);
  EXPECT_EQ(e->err, 0);
  EXPECT_TRUE(e->cloexec);
  EXPECT_EQ(e->kind, Kind::File);
  EXPECT_EQ(e->target, "/etc/passwd");
}

// The kernel sends a path record only up to its path's NUL; what follows in
// the ring buffer (here: garbage) is not part of it.
TEST(Decoder, PathRecordCutAfterItsNul) {
  std::vector<unsigned char> buf(sizeof(fdw_event_path), 0xAB);
  fdw_event h = base(FDW_EV_OPEN, FDW_SYS_OPENAT);
  const char path[] = "/dev/null";
  h.size = uint16_t(sizeof(fdw_event) + sizeof(path));
  h.flags = FDW_F_HAS_PATH | FDW_F_HAS_FILE | FDW_F_PATH_RESOLVED;
  h.ret = 3;
  h.mode = S_IFCHR | 0666;
  std::strcpy(h.name, "null");
  std::memcpy(buf.data(), &h, sizeof(h));
  std::memcpy(buf.data() + sizeof(h), path, sizeof(path));
  auto e = decode_event(buf.data(), h.size);
  ASSERT_TRUE(e) << e.error().message;
  EXPECT_EQ(e->target, "/dev/null");
  // a cut path without its NUL still ends where the record does
  buf[sizeof(h) + sizeof(path) - 1] = 'x';
  e = decode_event(buf.data(), h.size);
  ASSERT_TRUE(e) << e.error().message;
  EXPECT_EQ(e->target, "/dev/nullx");
  // a path record needs at least one byte of path, and no more than its size
  h.size = sizeof(fdw_event);
  std::memcpy(buf.data(), &h, sizeof(h));
  e = decode_event(buf.data(), buf.size());
  ASSERT_FALSE(e);
  EXPECT_NE(e.error().message.find("path record of 144 bytes"), std::string::npos) << e.error().message;
}

TEST(Decoder, FailedSocketIsEmfileOfKindSocket) {
  fdw_event r = base(FDW_EV_OPEN, FDW_SYS_SOCKET);
  r.ret = -24;
  auto e = decode_event(&r, sizeof(r));
  ASSERT_TRUE(e);
  EXPECT_EQ(e->err, 24);
  EXPECT_EQ(e->fd, -1);
  EXPECT_EQ(e->kind, Kind::Socket);
}

TEST(Decoder, PipeGivesTwoFdsOfOneInode) {
  fdw_event r = base(FDW_EV_OPEN, FDW_SYS_PIPE2);
  r.flags = FDW_F_HAS_FILE;
  r.ret = 3;
  r.fd2 = 4;
  r.mode = S_IFIFO | 0600;
  r.ino = 9999;
  r.arg = 9999;
  auto e = decode_event(&r, sizeof(r));
  ASSERT_TRUE(e);
  EXPECT_EQ(e->fd, 3);
  EXPECT_EQ(e->fd2, 4);
  EXPECT_EQ(e->kind, Kind::Pipe);
  EXPECT_EQ(e->kind2, Kind::Pipe);
  EXPECT_EQ(e->target, "pipe:[9999]");
  EXPECT_EQ(e->target2, "pipe:[9999]");
}

TEST(Decoder, AnonInodesByDentryName) {
  struct Case { const char* name; Kind kind; const char* target; };
  for (auto c : {Case{"[eventfd]", Kind::Eventfd, "anon_inode:[eventfd]"},
                 Case{"[eventpoll]", Kind::Epoll, "anon_inode:[eventpoll]"},
                 Case{"[timerfd]", Kind::Timerfd, "anon_inode:[timerfd]"},
                 Case{"[signalfd]", Kind::Signalfd, "anon_inode:[signalfd]"},
                 Case{"inotify", Kind::Inotify, "anon_inode:inotify"},
                 Case{"[io_uring]", Kind::IoUring, "anon_inode:[io_uring]"},
                 Case{"bpf-map", Kind::Bpf, "anon_inode:bpf-map"}}) {
    fdw_event r = base(FDW_EV_OPEN, FDW_SYS_EVENTFD2);
    r.flags = FDW_F_HAS_FILE;
    r.ret = 5;
    r.mode = 0600;  // anon inodes carry no S_IFMT type
    std::strcpy(r.name, c.name);
    auto e = decode_event(&r, sizeof(r));
    ASSERT_TRUE(e);
    EXPECT_EQ(e->kind, c.kind) << c.name;
    EXPECT_EQ(e->target, c.target) << c.name;
  }
}

TEST(Decoder, MemfdTargetReadsLikeProc) {
  fdw_event r = base(FDW_EV_OPEN, FDW_SYS_MEMFD_CREATE);
  r.flags = FDW_F_HAS_FILE;
  r.ret = 5;
  r.mode = S_IFREG | 0777;
  std::strcpy(r.name, "memfd:cache");
  auto e = decode_event(&r, sizeof(r));
  ASSERT_TRUE(e);
  EXPECT_EQ(e->kind, Kind::Memfd);
  EXPECT_EQ(e->target, "/memfd:cache (deleted)");
}

TEST(Decoder, AcceptedTcpSocketHasEndpoints) {
  fdw_event_path r{};
  r.h = base(FDW_EV_OPEN, FDW_SYS_ACCEPT4);
  r.h.size = sizeof(r);
  r.h.flags = FDW_F_HAS_PATH | FDW_F_HAS_FILE | FDW_F_HAS_SOCK;
  r.h.ret = 9;
  r.h.mode = S_IFSOCK | 0777;
  r.h.sock.family = AF_INET;
  r.h.sock.type = SOCK_STREAM;
  r.h.sock.lport = 8081;
  r.h.sock.rport = 40312;
  inet_pton(AF_INET, "127.0.0.1", r.h.sock.laddr);
  inet_pton(AF_INET, "127.0.0.2", r.h.sock.raddr);
  auto e = decode_event(&r, sizeof(r));
  ASSERT_TRUE(e);
  EXPECT_EQ(e->kind, Kind::Socket);
  EXPECT_EQ(e->target, "tcp 127.0.0.1:8081->127.0.0.2:40312");
}

TEST(Decoder, Ipv6AndUnixAndListen) {
  SockInfo s{};
  s.family = AF_INET6;
  s.type = SOCK_DGRAM;
  s.lport = 53;
  inet_pton(AF_INET6, "::1", s.laddr);
  EXPECT_EQ(socket_target(s, "", false), "udp [::1]:53");
  SockInfo l{};
  l.family = AF_INET;
  l.type = SOCK_STREAM;
  l.lport = 80;
  l.state = 10;
  EXPECT_EQ(socket_target(l, "", false), "tcp 0.0.0.0:80 (listen)");
  SockInfo u{};
  u.family = AF_UNIX;
  EXPECT_EQ(socket_target(u, "/run/x.sock", false), "unix /run/x.sock");
  EXPECT_EQ(socket_target(u, "/run/x.sock", true), "unix ->/run/x.sock");
  EXPECT_EQ(socket_target(u, std::string("\0abstract", 9), false), "unix @abstract");
}

TEST(Decoder, CloseCloseRangeForkExitLimit) {
  fdw_event c = base(FDW_EV_CLOSE, FDW_SYS_CLOSE);
  c.ret = 0;
  c.fd2 = 17;
  auto e = decode_event(&c, sizeof(c));
  ASSERT_TRUE(e);
  EXPECT_EQ(e->type, EvType::Close);
  EXPECT_EQ(e->fd, 17);
  EXPECT_EQ(e->err, 0);

  fdw_event r = base(FDW_EV_CLOSE_RANGE, FDW_SYS_CLOSE_RANGE);
  r.ret = 0;
  r.fd2 = 3;
  r.arg = 0xffffffffll;
  r.arg2 = 4;
  e = decode_event(&r, sizeof(r));
  ASSERT_TRUE(e);
  EXPECT_EQ(e->fd, 3);
  EXPECT_EQ(e->value, 0xffffffffll);
  EXPECT_EQ(e->flags, 4u);
  EXPECT_EQ(e->err, 0);
  r.ret = -EINVAL;
  e = decode_event(&r, sizeof(r));
  ASSERT_TRUE(e);
  EXPECT_EQ(e->err, EINVAL);

  fdw_event f = base(FDW_EV_FORK, FDW_SYS_FORK_EVENT);
  f.ret = 77;
  f.flags = FDW_F_SHARED_FILES;
  std::strcpy(f.name, "worker");
  e = decode_event(&f, sizeof(f));
  ASSERT_TRUE(e);
  EXPECT_EQ(e->child, 77u);
  EXPECT_TRUE(e->shared_files);
  EXPECT_EQ(e->comm, "worker");

  fdw_event x = base(FDW_EV_EXIT, FDW_SYS_EXIT_EVENT);
  x.ret = 42;
  x.arg = 3 << 8;  // exit(3)
  e = decode_event(&x, sizeof(x));
  ASSERT_TRUE(e);
  EXPECT_EQ(e->pid, 42u);
  EXPECT_EQ(e->value, 3);
  x.arg = 9;  // killed by SIGKILL
  e = decode_event(&x, sizeof(x));
  EXPECT_EQ(e->value, 128 + 9);

  fdw_event l = base(FDW_EV_LIMIT, FDW_SYS_PRLIMIT64);
  l.ret = 99;
  l.arg = 256;
  e = decode_event(&l, sizeof(l));
  ASSERT_TRUE(e);
  EXPECT_EQ(e->type, EvType::Limit);
  EXPECT_EQ(e->pid, 99u);
  EXPECT_EQ(e->value, 256);
}

// Calls that failed, or changed no fd, keep their errno and fd.
TEST(Decoder, FailedAndFdlessCalls) {
  fdw_event x = base(FDW_EV_CLOEXEC, FDW_SYS_FCNTL);
  x.ret = -EBADF;
  x.fd2 = 999;
  x.arg = 1;
  auto e = decode_event(&x, sizeof(x));
  ASSERT_TRUE(e);
  EXPECT_EQ(e->type, EvType::Cloexec);
  EXPECT_EQ(e->fd, 999);
  EXPECT_EQ(e->err, EBADF);

  fdw_event b = base(FDW_EV_SOCKADDR, FDW_SYS_BIND);
  b.ret = -EADDRINUSE;
  b.fd2 = 4;
  e = decode_event(&b, sizeof(b));
  ASSERT_TRUE(e);
  EXPECT_EQ(e->type, EvType::SockAddr);
  EXPECT_EQ(e->fd, 4);
  EXPECT_EQ(e->err, EADDRINUSE);
  EXPECT_EQ(e->target, "");

  fdw_event c = base(FDW_EV_CALL, FDW_SYS_SIGNALFD4);
  c.ret = 5;
  c.fd2 = 5;
  e = decode_event(&c, sizeof(c));
  ASSERT_TRUE(e);
  EXPECT_EQ(e->type, EvType::Call);
  EXPECT_EQ(e->sys, FDW_SYS_SIGNALFD4);
  EXPECT_EQ(e->fd, 5);
  EXPECT_EQ(e->err, 0);
  c.ret = -EINVAL;
  e = decode_event(&c, sizeof(c));
  EXPECT_EQ(e->err, EINVAL);
}

TEST(Decoder, RejectsMalformedRecords) {
  fdw_event r = base(FDW_EV_OPEN, FDW_SYS_OPENAT);
  auto e = decode_event(&r, 10);
  ASSERT_FALSE(e);
  EXPECT_NE(e.error().message.find("short record"), std::string::npos);
  r.size = 4000;
  EXPECT_FALSE(decode_event(&r, sizeof(r)));
  r.size = sizeof(r);
  r.flags = FDW_F_HAS_PATH;  // claims a path it does not carry
  EXPECT_FALSE(decode_event(&r, sizeof(r)));
  r.flags = 0;
  r.type = 200;
  e = decode_event(&r, sizeof(r));
  ASSERT_FALSE(e);
  EXPECT_NE(e.error().message.find("unknown record type"), std::string::npos);
}

TEST(Classify, FromProcLinks) {
  EXPECT_EQ(kind_from_link("socket:[123]", S_IFSOCK), Kind::Socket);
  EXPECT_EQ(kind_from_link("pipe:[123]", S_IFIFO), Kind::Pipe);
  EXPECT_EQ(kind_from_link("anon_inode:[eventpoll]", 0), Kind::Epoll);
  EXPECT_EQ(kind_from_link("anon_inode:[pidfd]", 0), Kind::Pidfd);
  EXPECT_EQ(kind_from_link("anon_inode:bpf-prog", 0), Kind::Bpf);
  EXPECT_EQ(kind_from_link("anon_inode:[weird]", 0), Kind::Anon);
  EXPECT_EQ(kind_from_link("/memfd:x (deleted)", S_IFREG), Kind::Memfd);
  EXPECT_EQ(kind_from_link("/etc", S_IFDIR), Kind::Dir);
  EXPECT_EQ(kind_from_link("/tmp/f", S_IFIFO), Kind::Fifo);
  EXPECT_EQ(kind_from_link("/dev/null", S_IFCHR), Kind::File);
}

TEST(Classify, GroupTargets) {
  EXPECT_EQ(group_target(Kind::Socket, "tcp 127.0.0.1:40312->127.0.0.1:8081"), "tcp ->127.0.0.1:8081");
  EXPECT_EQ(group_target(Kind::Pipe, "pipe:[5]"), "pipe");
  EXPECT_EQ(group_target(Kind::File, "/a/b"), "/a/b");
  EXPECT_EQ(errno_name(24), "EMFILE");
}
