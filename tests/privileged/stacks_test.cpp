// Call stacks (bpf/fdwatch_abi.h "Call stacks"): the kernel side's USTACK and
// UMAP records, traced on this very process, unwound into frames and site
// (the site rules themselves: tests/unit/sites_test.cpp).  The BPF tests need root.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "cli/cli.h"
#include "pipeline/session.h"
#include "common/require_root.h"
#include "fdwatch_abi.h"
#include "probe/decoder.h"
#include "probe/probe.h"
#include "stacks/resolver.h"
#include "stacks/sites.h"
#include "stacks/symbolizer.h"

using namespace fdw;

namespace {

using Bytes = std::vector<uint8_t>;

// What one traced call left in the ring buffer: its USTACK (if any) and its
// fd record, paired by the ABI's rule.
struct Capture {
  std::vector<Bytes> records;  // everything, in ring order

  const Bytes* fd_record(uint32_t tid, int32_t fd) const {
    for (auto& r : records) {
      uint16_t t = record_type(r.data(), r.size());
      if (t != FDW_EV_OPEN && t != FDW_EV_DUP) continue;
      fdw_event e;
      std::memcpy(&e, r.data(), sizeof e);
      if (e.tid == tid && e.ret == fd) return &r;
    }
    return nullptr;
  }
  // The last USTACK of tid before `before` (the pairing rule).
  std::optional<UStackView> ustack_before(uint32_t tid, const Bytes* before) const {
    std::optional<UStackView> last;
    for (auto& r : records) {
      if (&r == before) break;
      if (record_type(r.data(), r.size()) != FDW_EV_USTACK) continue;
      auto u = decode_ustack(r.data(), r.size());
      EXPECT_TRUE(u) << u.error().message;
      if (u && u->tid == tid) last = *u;
    }
    return last;
  }
  size_t count(uint16_t type, uint32_t tid) const {
    size_t n = 0;
    for (auto& r : records) {
      if (record_type(r.data(), r.size()) != type) continue;
      fdw_event e;
      std::memcpy(&e, r.data(), 24);
      n += e.tid == tid;
    }
    return n;
  }
  std::vector<UMap> umaps(uint32_t pid) const {
    std::vector<UMap> out;
    for (auto& r : records) {
      if (record_type(r.data(), r.size()) != FDW_EV_UMAP) continue;
      auto m = decode_umap(r.data(), r.size());
      EXPECT_TRUE(m) << m.error().message;
      if (m && m->pid == pid) out.push_back(*m);
    }
    return out;
  }
};

class StackProbe : public ::testing::Test {
 protected:
  void open_probe(bool stacks) {
    ProbeOptions o;
    o.self_tgid = 0xffffffffu;  // trace ourselves
    o.stacks = stacks;
    auto p = Probe::open(o);
    ASSERT_TRUE(p) << p.error().message;
    probe_ = std::move(p.value());
    ASSERT_TRUE(probe_->add_target(uint32_t(getpid())));
    drain();
    cap_.records.clear();
  }
  void drain() {
    Probe::RecordFn fn = [this](const void* d, size_t n) {
      auto* b = static_cast<const uint8_t*>(d);
      cap_.records.emplace_back(b, b + n);
    };
    for (int i = 0; i < 3; ++i) ASSERT_TRUE(probe_->poll(0, fn));
  }
  std::unique_ptr<Probe> probe_;
  Capture cap_;
};

constexpr uint64_t kMagic = 0x4b41545366647721ull;  // found in the copied stack

struct CallSite {
  int fd = -1;
  uint64_t magic_addr = 0;  // address of a local holding kMagic in the caller
  uint32_t tid = 0;
};

__attribute__((noinline)) int stk_probe_leaf(const char* path) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);  // STK-SITE leaf
  asm volatile("" ::: "memory");  // no tail call: this frame must stay
  return fd;
}

__attribute__((noinline)) void stk_probe_caller(CallSite* cs) {
  volatile uint64_t magic = kMagic;
  cs->magic_addr = uint64_t(&magic);
  cs->tid = uint32_t(gettid());
  cs->fd = stk_probe_leaf("/dev/null");
  asm volatile("" ::: "memory");
}

// Uses `depth` frames of ~512 bytes of stack, then calls stk_probe_caller.
__attribute__((noinline)) void stk_probe_deep(CallSite* cs, int depth) {
  volatile char pad[512];
  pad[0] = char(depth);
  if (depth > 0)
    stk_probe_deep(cs, depth - 1);
  else
    stk_probe_caller(cs);
  pad[1] = pad[0];
}

// A thread on a stack we own: [base, base + size) read-write, one PROT_NONE
// page above it, so the stack mapping ends exactly at base + size.
struct OwnStackThread {
  static constexpr size_t kSize = 256 * 1024;
  char* base = nullptr;
  CallSite cs;
  int depth = 0;

  uint64_t top() const { return uint64_t(base) + kSize; }
  void run(int d) {
    depth = d;
    void* m = mmap(nullptr, kSize + 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    ASSERT_NE(m, MAP_FAILED);
    base = static_cast<char*>(m);
    // every page touched: an untouched page cannot be read without a fault
    std::memset(base, 0x5a, kSize);
    ASSERT_EQ(mprotect(base + kSize, 4096, PROT_NONE), 0);
    pthread_attr_t a;
    pthread_attr_init(&a);
    ASSERT_EQ(pthread_attr_setstack(&a, base, kSize), 0);
    pthread_t t;
    ASSERT_EQ(pthread_create(
                  &t, &a,
                  [](void* p) -> void* {
                    auto* self = static_cast<OwnStackThread*>(p);
                    stk_probe_deep(&self->cs, self->depth);
                    return nullptr;
                  },
                  this),
              0);
    pthread_join(t, nullptr);
    pthread_attr_destroy(&a);
  }
  ~OwnStackThread() {
    if (base) munmap(base, kSize + 4096);
  }
};

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

TEST_F(StackProbe, UStackPrecedesItsOpenWithTheKeyRegistersAndStackBytes) {
  FDW_REQUIRE_ROOT();
  open_probe(true);
  OwnStackThread t;
  t.run(40);  // ~20 KiB deep: the full 8 KiB copy fits below the top
  ASSERT_GE(t.cs.fd, 0);
  drain();
  close(t.cs.fd);

  const Bytes* rec = cap_.fd_record(t.cs.tid, t.cs.fd);
  ASSERT_NE(rec, nullptr);
  int32_t key = record_stack_id(rec->data(), rec->size());
  ASSERT_GE(key, 0);
  auto u = cap_.ustack_before(t.cs.tid, rec);
  ASSERT_TRUE(u);
  EXPECT_EQ(u->key, key);
  EXPECT_EQ(u->sys, FDW_SYS_OPENAT);
  EXPECT_EQ(u->pid, uint32_t(getpid()));
  EXPECT_FALSE(u->truncated);
  ASSERT_EQ(u->stack_len, size_t(FDW_USTACK_DEFAULT));
  const uint64_t sp = u->regs.r[kRegSp];
  ASSERT_GT(t.cs.magic_addr, sp);
  ASSERT_LT(t.cs.magic_addr - sp, uint64_t(FDW_USTACK_DEFAULT));
  uint64_t seen;
  std::memcpy(&seen, u->stack + (t.cs.magic_addr - sp), 8);
  EXPECT_EQ(seen, kMagic);
  EXPECT_GE(sp, uint64_t(t.base));
  EXPECT_LT(sp, t.top());
  EXPECT_EQ(cap_.count(FDW_EV_USTACK, t.cs.tid), 1u);
}

TEST_F(StackProbe, NearTheTopOfItsStackTheCopyEndsAtTheMapping) {
  FDW_REQUIRE_ROOT();
  open_probe(true);
  OwnStackThread t;
  t.run(0);  // a few hundred bytes below the thread's TLS at the top
  ASSERT_GE(t.cs.fd, 0);
  drain();
  close(t.cs.fd);
  const Bytes* rec = cap_.fd_record(t.cs.tid, t.cs.fd);
  ASSERT_NE(rec, nullptr);
  auto u = cap_.ustack_before(t.cs.tid, rec);
  ASSERT_TRUE(u);
  const uint64_t sp = u->regs.r[kRegSp];
  ASSERT_LT(t.top() - sp, uint64_t(FDW_USTACK_DEFAULT)) << "the thread started too deep";
  EXPECT_TRUE(u->truncated);
  EXPECT_EQ(u->stack_len, t.top() - sp);
  uint64_t seen;
  std::memcpy(&seen, u->stack + (t.cs.magic_addr - sp), 8);
  EXPECT_EQ(seen, kMagic);
}

TEST_F(StackProbe, UMapsDescribeTheTestBinaryAsProcMapsDoes) {
  FDW_REQUIRE_ROOT();
  open_probe(true);
  CallSite cs;
  stk_probe_caller(&cs);
  ASSERT_GE(cs.fd, 0);
  drain();
  close(cs.fd);
  char exe[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  ASSERT_GT(n, 0);
  exe[n] = 0;
  // The run of /proc/self/maps lines of the executable: first start, last end.
  uint64_t start = 0, end = 0, ino = 0;
  unsigned maj = 0, min = 0;
  std::istringstream maps(read_file("/proc/self/maps"));
  for (std::string line; std::getline(maps, line);) {
    if (line.size() < strlen(exe) || line.compare(line.size() - strlen(exe), std::string::npos, exe) != 0)
      continue;
    unsigned long long s, e, off, i;
    char perms[8];
    ASSERT_EQ(sscanf(line.c_str(), "%llx-%llx %7s %llx %x:%x %llu", &s, &e, perms, &off, &maj, &min, &i), 7);
    if (!start) start = s;
    end = e;
    ino = i;
  }
  ASSERT_NE(start, 0u);
  auto ums = cap_.umaps(uint32_t(getpid()));
  const UMap* self = nullptr;
  for (auto& m : ums)
    if (m.path == exe) self = &m;
  ASSERT_NE(self, nullptr) << ums.size() << " UMAP records, none for " << exe;
  EXPECT_EQ(self->start, start);
  EXPECT_EQ(self->end, end);
  EXPECT_EQ(self->pgoff, 0u);
  EXPECT_EQ(self->ino, ino);
  EXPECT_EQ(self->dev_major, maj);
  EXPECT_EQ(self->dev_minor, min);
  // Sent once per image: a second call sends no mapping again.
  drain();  // reading /proc/self/maps above created an fd too
  cap_.records.clear();
  CallSite again;
  stk_probe_caller(&again);
  drain();
  close(again.fd);
  EXPECT_TRUE(cap_.umaps(uint32_t(getpid())).empty());
  EXPECT_EQ(cap_.count(FDW_EV_USTACK, again.tid), 1u);
}

TEST_F(StackProbe, KernelMapsAloneUnwindToTheCallingFunctions) {
  FDW_REQUIRE_ROOT();
  open_probe(true);
  CallSite cs;
  stk_probe_caller(&cs);
  ASSERT_GE(cs.fd, 0);
  drain();
  close(cs.fd);
  const Bytes* rec = cap_.fd_record(cs.tid, cs.fd);
  ASSERT_NE(rec, nullptr);
  auto u = cap_.ustack_before(cs.tid, rec);
  ASSERT_TRUE(u);
  std::string maps;
  for (auto& m : cap_.umaps(uint32_t(getpid()))) maps += m.maps_line();
  Symbolizer sym;  // fresh: knows nothing but what the records say
  ASSERT_TRUE(sym.add_maps(uint32_t(getpid()), maps));
  auto frames = sym.unwind(u->sample());
  ASSERT_GE(frames.size(), 3u);
  EXPECT_EQ(frames[0].module, "libc.so.6");
  // The line of the open() call in stk_probe_leaf, from this very source file
  // (the marker is split here so that this line does not match).
  int open_line = 0;
  {
    std::istringstream src(read_file(std::string(SOURCE_DIR) + "/tests/privileged/stacks_test.cpp"));
    const std::string marker = std::string("// STK-") + "SITE leaf";
    int n = 0;
    for (std::string l; std::getline(src, l);)
      if (++n && l.find(marker) != std::string::npos) open_line = n;
  }
  ASSERT_GT(open_line, 0);
  const std::string leaf = "(anonymous namespace)::stk_probe_leaf(char const*) (stacks_test.cpp:" +
                           std::to_string(open_line) + ")";
  auto texts = stack_texts(frames);
  auto at = std::find(texts.begin(), texts.end(), leaf);
  ASSERT_NE(at, texts.end()) << ::testing::PrintToString(texts);
  ASSERT_NE(at + 1, texts.end());
  EXPECT_EQ((at + 1)->rfind("(anonymous namespace)::stk_probe_caller((anonymous namespace)::CallSite*) (", 0), 0u);
  EXPECT_EQ(stack_site(frames), leaf);
}

TEST_F(StackProbe, OffByDefaultThenSwitchedPerProcess) {
  FDW_REQUIRE_ROOT();
  open_probe(false);
  CallSite off1, on, off2;
  stk_probe_caller(&off1);
  drain();
  ASSERT_TRUE(probe_->set_stacks(uint32_t(getpid()), true));
  stk_probe_caller(&on);
  drain();
  ASSERT_TRUE(probe_->set_stacks(uint32_t(getpid()), false));
  stk_probe_caller(&off2);
  drain();
  for (int fd : {off1.fd, on.fd, off2.fd}) close(fd);
  for (auto* cs : {&off1, &off2}) {
    const Bytes* rec = cap_.fd_record(cs->tid, cs->fd);
    ASSERT_NE(rec, nullptr);
    EXPECT_EQ(record_stack_id(rec->data(), rec->size()), -1);
  }
  const Bytes* rec = cap_.fd_record(on.tid, on.fd);
  ASSERT_NE(rec, nullptr);
  EXPECT_GE(record_stack_id(rec->data(), rec->size()), 0);
  EXPECT_EQ(cap_.count(FDW_EV_USTACK, on.tid), 1u);
  EXPECT_EQ(probe_->stats().ustacks, 1u);
  EXPECT_EQ(probe_->stats().ustack_lost, 0u);
}

TEST_F(StackProbe, FailedCallsHaveNoStackPipesAndDupsDo) {
  FDW_REQUIRE_ROOT();
  open_probe(true);
  const uint32_t tid = uint32_t(gettid());
  int bad = open("/nonexistent/fdwatch-stacks", O_RDONLY);
  ASSERT_EQ(bad, -1);
  int p[2];
  ASSERT_EQ(pipe2(p, O_CLOEXEC), 0);
  int d = dup(p[0]);
  ASSERT_GE(d, 0);
  drain();
  for (int fd : {p[0], p[1], d}) close(fd);
  const Bytes* failed = cap_.fd_record(tid, -ENOENT);
  ASSERT_NE(failed, nullptr);
  EXPECT_EQ(record_stack_id(failed->data(), failed->size()), -1);
  for (int fd : {p[0], d}) {
    const Bytes* rec = cap_.fd_record(tid, fd);
    ASSERT_NE(rec, nullptr) << fd;
    auto u = cap_.ustack_before(tid, rec);
    ASSERT_TRUE(u);
    EXPECT_EQ(record_stack_id(rec->data(), rec->size()), u->key);
  }
  EXPECT_EQ(cap_.count(FDW_EV_USTACK, tid), 2u);  // pipe2 and dup, not the failed open
}

// Two callers of one leaf with identical frames: their opens start from the
// same rip, rsp and rbp, and only the caller's return address tells them apart.
__attribute__((noinline)) int memo_leaf() {
  int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
  asm volatile("" ::: "memory");
  return fd;
}
__attribute__((noinline)) int memo_via_a() {
  int fd = memo_leaf();
  asm volatile("" ::: "memory");
  return fd;
}
__attribute__((noinline)) int memo_via_b() {
  int fd = memo_leaf();
  asm volatile("" ::: "memory");
  return fd;
}

// The stack memo (bpf/fdwatch_abi.h "Stack memo"), with a StackResolver
// registering what it unwinds, as a live session does.  The calls are made
// by a forked child on command: unwinding loads code into the resolver's
// own process, which would drop its memo entries if it traced itself.
class StackMemo : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(pipe(cmd_), 0);
    ASSERT_EQ(pipe(reply_), 0);
    child_ = fork();
    ASSERT_GE(child_, 0);
    if (child_ == 0) {
      close(cmd_[1]);
      close(reply_[0]);
      for (char c; read(cmd_[0], &c, 1) == 1;) {
        int fd = c == 'a' ? memo_via_a() : memo_via_b();
        if (write(reply_[1], &fd, sizeof fd) != sizeof fd) break;
      }
      _exit(0);
    }
    ProbeOptions o;
    o.self_tgid = uint32_t(getpid());
    o.stacks = true;
    auto p = Probe::open(o);
    ASSERT_TRUE(p) << p.error().message;
    probe_ = std::move(p.value());
    ASSERT_TRUE(probe_->add_target(uint32_t(child_)));
    res_.set_kernel_memo(true);
    res_.set_maps_from_proc(!probe_->has("bpf_iter_task_vma"));
  }
  void TearDown() override {
    for (int fd : {cmd_[0], cmd_[1], reply_[0], reply_[1]}) close(fd);
    if (child_ > 0) waitpid(child_, nullptr, 0);
  }
  // One open by the child through memo_via_<c>; then the ring buffer is read.
  int call(char c) {
    int fd = -1;
    EXPECT_EQ(write(cmd_[1], &c, 1), 1);
    EXPECT_EQ(read(reply_[0], &fd, sizeof fd), ssize_t(sizeof fd));
    feed();
    return fd;
  }
  // Stack records go to the resolver (and its memo entries to the kernel),
  // fd records of the child get their stack.
  void feed() {
    Probe::RecordFn fn = [this](const void* d, size_t n) {
      auto rec = decode(d, n);
      if (!rec) return;
      auto* er = std::get_if<EventRecord>(&rec.value());
      if (!er) {
        if (auto* u = std::get_if<UStackView>(&rec.value())) res_.on_ustack(*u);
        if (auto* m = std::get_if<UMap>(&rec.value())) res_.on_umap(*m);
        auto u = res_.take_memo();
        for (auto& k : u.drop) probe_->forget_memo(k);
        for (auto& [k, v] : u.put) probe_->add_memo(k, v);
        return;
      }
      Event& ev = er->event;
      if (ev.type != EvType::Open || ev.pid != uint32_t(child_) || ev.fd < 0) return;
      res_.attach(ev, er->stack_id, er->stack_memo);
      memo_[ev.fd] = er->stack_memo;
      stacks_[ev.fd] = ev.stack;
    };
    for (int i = 0; i < 3; ++i) ASSERT_TRUE(probe_->poll(0, fn));
  }
  // Whether fd's stack has memo_via_<c> right above the leaf.
  bool called_from(int fd, char c) {
    auto& st = stacks_[fd];
    for (size_t i = 0; i + 1 < st.size(); ++i)
      if (st[i].rfind("memo_leaf()", 0) == 0) return st[i + 1].rfind(std::string("memo_via_") + c + "()", 0) == 0;
    return false;
  }
  int cmd_[2] = {-1, -1}, reply_[2] = {-1, -1};
  pid_t child_ = -1;
  std::unique_ptr<Probe> probe_;
  StackResolver res_{64};
  std::map<int, std::vector<std::string>> stacks_;
  std::map<int, bool> memo_;  // fd -> its record came with FDW_F_STACK_MEMO
};

TEST_F(StackMemo, OneCallPathIsCopiedOnceThenServedFromTheMemo) {
  FDW_REQUIRE_ROOT();
  std::vector<int> fds;
  for (int i = 0; i < 10; ++i) fds.push_back(call('a'));
  for (int fd : fds) {
    EXPECT_TRUE(called_from(fd, 'a')) << fd << ": " << ::testing::PrintToString(stacks_[fd]);
    EXPECT_EQ(memo_[fd], fd != fds[0]) << fd;
  }
  EXPECT_EQ(probe_->stats().ustacks, 1u);
  EXPECT_EQ(probe_->stats().memo_hits, 9u);
  EXPECT_EQ(res_.kernel_memo_size(), 1u);
}

TEST_F(StackMemo, CallersWithTheSameRegistersAreToldApart) {
  FDW_REQUIRE_ROOT();
  std::vector<int> a, b;
  for (int i = 0; i < 4; ++i) {
    a.push_back(call('a'));
    for (int j = 0; j < 3; ++j) b.push_back(call('b'));
  }
  // each switch of caller is a miss (the entry is the other's), each repeat a hit
  for (int fd : a) {
    EXPECT_TRUE(called_from(fd, 'a')) << ::testing::PrintToString(stacks_[fd]);
    EXPECT_FALSE(memo_[fd]) << fd;
  }
  for (size_t i = 0; i < b.size(); ++i) {
    EXPECT_TRUE(called_from(b[i], 'b')) << ::testing::PrintToString(stacks_[b[i]]);
    EXPECT_EQ(memo_[b[i]], i % 3 != 0) << i;
  }
  EXPECT_EQ(probe_->stats().ustacks, 8u);
  EXPECT_EQ(probe_->stats().memo_hits, 8u);
}

TEST_F(StackMemo, ExitDropsTheProcessEntries) {
  FDW_REQUIRE_ROOT();
  call('a');
  ASSERT_EQ(res_.kernel_memo_size(), 1u);
  auto u = res_.take_memo();
  EXPECT_TRUE(u.empty());
  res_.drop(uint32_t(child_), true);
  u = res_.take_memo();
  EXPECT_EQ(u.drop.size(), 1u);
  EXPECT_EQ(res_.kernel_memo_size(), 0u);
}

// ---- pure: records, options (no root) -----------------------------------

TEST(StackRecords, UStackRoundTripAndBadLengths) {
  std::vector<uint8_t> buf(offsetof(fdw_ustack, stack) + 64, 0);
  fdw_ustack h{};
  h.ts_ns = 0x123456789abcdefull;
  h.tgid = 42;
  h.tid = 43;
  h.type = FDW_EV_USTACK;
  h.sys = FDW_SYS_SOCKET;
  h.size = uint16_t(buf.size());
  h.flags = FDW_F_TRUNC;
  h.stack_len = 64;
  for (int i = 0; i < FDW_USTACK_NREGS; ++i) h.regs[i] = 100 + i;
  std::memcpy(buf.data(), &h, offsetof(fdw_ustack, stack));
  for (int i = 0; i < 64; ++i) buf[offsetof(fdw_ustack, stack) + i] = uint8_t(i);
  auto u = decode_ustack(buf.data(), buf.size());
  ASSERT_TRUE(u) << u.error().message;
  EXPECT_EQ(u->key, int32_t(0x123456789abcdefull & 0x7fffffff));
  EXPECT_EQ(u->pid, 42u);
  EXPECT_EQ(u->tid, 43u);
  EXPECT_EQ(u->regs.r[kRegSp], 107u);
  EXPECT_EQ(u->regs.r[kRegIp], 116u);
  EXPECT_EQ(u->stack_len, 64u);
  EXPECT_EQ(u->stack[63], 63);
  EXPECT_TRUE(u->truncated);
  EXPECT_EQ(u->sys, FDW_SYS_SOCKET);
  h.stack_len = 65;  // claims more than the record holds
  std::memcpy(buf.data(), &h, offsetof(fdw_ustack, stack));
  EXPECT_FALSE(decode_ustack(buf.data(), buf.size()));
  EXPECT_FALSE(decode_ustack(buf.data(), 100));
}

TEST(StackRecords, UMapIsOneMapsLine) {
  fdw_umap r{};
  r.tgid = 7;
  r.type = FDW_EV_UMAP;
  r.size = sizeof r;
  r.start = 0x55d0c0de0000;
  r.end = 0x55d0c0de5000;
  r.pgoff = 0;
  r.ino = 1234567;
  r.dev_major = 8;
  r.dev_minor = 1;
  std::strcpy(r.path, "/usr/bin/my app");
  auto m = decode_umap(&r, sizeof r);
  ASSERT_TRUE(m) << m.error().message;
  EXPECT_EQ(m->maps_line(), "55d0c0de0000-55d0c0de5000 r-xp 00000000 08:01 1234567 /usr/bin/my app\n");
  std::strcpy(r.path, "relative/path");
  EXPECT_FALSE(decode_umap(&r, sizeof r));
}

TEST(StackCli, DefaultsPerModeAndExclusiveFlags) {
  auto parse = [](std::vector<std::string> args) -> std::optional<WatchOptions> {
    CLI::App app;
    WatchOptions o;
    setup_watch(app, o);
    std::reverse(args.begin(), args.end());
    try {
      app.parse(args);
    } catch (const CLI::ParseError&) {
      return std::nullopt;
    }
    return o;
  };
  auto p = parse({"-p", "12"});
  ASSERT_TRUE(p);
  EXPECT_TRUE(trace_stacks(*p));
  EXPECT_EQ(p->stack_bytes, 8192u);
  auto a = parse({"-a"});
  ASSERT_TRUE(a);
  EXPECT_FALSE(trace_stacks(*a));
  auto as = parse({"-a", "--stacks", "--stack-bytes", "4096"});
  ASSERT_TRUE(as);
  EXPECT_TRUE(trace_stacks(*as));
  EXPECT_EQ(as->stack_bytes, 4096u);
  auto pn = parse({"-p", "12", "--no-stacks"});
  ASSERT_TRUE(pn);
  EXPECT_FALSE(trace_stacks(*pn));
  EXPECT_FALSE(parse({"-p", "12", "--stacks", "--no-stacks"}));
  EXPECT_FALSE(parse({"-p", "12", "--stack-bytes", "16385"}));
}
