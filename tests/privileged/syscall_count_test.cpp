// `syscalls` counts every traced call, ok or failed (README): life_fail makes
// each counted syscall fail at least once and succeed without a new fd where
// it can.  fdwatch's per-syscall and per-errno counts must equal the
// fixture's own bookkeeping (checkpoints, tests/common/live.h) and strace's
// view of the same process, attached before the fixture starts.
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>

#include <fstream>
#include <regex>

#include "common/live.h"
#include "common/require_root.h"
#include "core/classify.h"

namespace fdw::test {
namespace {

// What fdwatch counts of a call strace shows (docs/lifecycle.md, Counts):
// multiplexed syscalls only for the commands named (any of `commands` in the
// arguments), recvmsg only when it received fds.  How a failure counts:
// Creating: a failed fd-creating call (in `failed`); Call: only a call
// (close, addresses); CallIf: only a call when the arguments name one of
// `call_if` (cloexec changes, version queries); CallOnFd: only a call when
// the first argument is an fd, not -1 (signalfd mask updates).
enum class Failure { Creating, Call, CallIf, CallOnFd };

struct CountRule {
  const char* sys;
  Failure failure = Failure::Creating;
  std::vector<std::string> commands = {};  // empty: every call
  std::vector<std::string> call_if = {};
};

const CountRule kRules[] = {
    {"open"}, {"openat"}, {"openat2"}, {"creat"}, {"open_by_handle_at"}, {"mq_open"}, {"open_tree"},
    {"open_tree_attr"}, {"fsopen"}, {"fsmount"}, {"fspick"},
    {"socket"}, {"socketpair"}, {"accept"}, {"accept4"},
    {"bind", Failure::Call}, {"connect", Failure::Call}, {"listen", Failure::Call},
    {"recvmsg", Failure::Creating, {"SCM_RIGHTS"}}, {"recvmmsg", Failure::Creating, {"SCM_RIGHTS"}},
    {"dup"}, {"dup2"}, {"dup3"},
    {"fcntl", Failure::CallIf, {"F_DUPFD", "F_SETFD"}, {"F_SETFD"}},
    {"ioctl", Failure::CallIf,
     {"FIOCLEX", "FIONCLEX", "NS_GET_USERNS", "NS_GET_PARENT", "SIOCGSKNS", "USERFAULTFD_IOC_NEW", "PIDFD_GET_"},
     {"FIOCLEX", "FIONCLEX"}},
    {"pipe"}, {"pipe2"}, {"eventfd"}, {"eventfd2"}, {"epoll_create"}, {"epoll_create1"}, {"timerfd_create"},
    {"inotify_init"}, {"inotify_init1"}, {"fanotify_init"}, {"memfd_create"}, {"memfd_secret"},
    {"perf_event_open"}, {"userfaultfd"}, {"io_uring_setup"}, {"pidfd_open"}, {"pidfd_getfd"},
    {"signalfd", Failure::CallOnFd}, {"signalfd4", Failure::CallOnFd},
    {"bpf", Failure::Creating,
     {"BPF_MAP_CREATE", "BPF_PROG_LOAD", "BPF_OBJ_GET", "BPF_PROG_GET_FD_BY_ID", "BPF_MAP_GET_FD_BY_ID",
      "BPF_RAW_TRACEPOINT_OPEN", "BPF_BTF_LOAD", "BPF_BTF_GET_FD_BY_ID", "BPF_LINK_CREATE",
      "BPF_LINK_GET_FD_BY_ID", "BPF_ENABLE_STATS", "BPF_ITER_CREATE", "BPF_TOKEN_CREATE"}},
    {"landlock_create_ruleset", Failure::CallIf, {}, {"LANDLOCK_CREATE_RULESET_"}},
    {"seccomp", Failure::Creating, {"SECCOMP_FILTER_FLAG_NEW_LISTENER"}},
    {"close", Failure::Call}, {"close_range", Failure::Call},
    {"clone", Failure::Creating, {"CLONE_PIDFD"}}, {"clone3", Failure::Creating, {"CLONE_PIDFD"}},
};

bool has_any(const std::string& args, const std::vector<std::string>& words) {
  for (auto& w : words)
    if (args.find(w) != std::string::npos) return true;
  return false;
}

// Names strace spells otherwise: open_tree_attr (467) is newer than strace 6.1.
const std::map<std::string, std::string> kStraceAliases = {{"syscall_0x1d3", "open_tree_attr"}};

const CountRule* rule_of(const std::string& strace_name) {
  auto alias = kStraceAliases.find(strace_name);
  const std::string& sys = alias == kStraceAliases.end() ? strace_name : alias->second;
  for (const CountRule& r : kRules)
    if (sys == r.sys) return &r;
  return nullptr;
}

bool counted(const CountRule& r, const std::string& args, long ret) {
  if (!r.commands.empty() && !has_any(args, r.commands)) return false;
  return r.commands != std::vector<std::string>{"SCM_RIGHTS"} || ret > 0;
}

bool failure_creates(const CountRule& r, const std::string& args) {
  switch (r.failure) {
    case Failure::Creating: return true;
    case Failure::Call: return false;
    case Failure::CallIf: return !has_any(args, r.call_if);
    case Failure::CallOnFd: return args.rfind("-1,", 0) == 0;
  }
  return true;
}

// strace -f -ff attached to a pid: every call of that process, one file.
class Strace {
 public:
  ~Strace() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    if (err_ >= 0) close(err_);
  }

  // Attaches and waits until strace says so.
  bool start(pid_t target, const std::string& prefix, std::string* err) {
    target_ = target;
    prefix_ = prefix;
    int p[2];
    if (pipe2(p, O_CLOEXEC) != 0) return fail(err, "pipe");
    pid_ = fork();
    if (pid_ < 0) return fail(err, "fork");
    if (pid_ == 0) {
      dup2(p[1], 2);
      std::string tp = std::to_string(target);
      execlp("strace", "strace", "-f", "-ff", "-o", prefix.c_str(), "-p", tp.c_str(), (char*)nullptr);
      _exit(127);
    }
    close(p[1]);
    err_ = p[0];
    while (text_.find("attached") == std::string::npos)
      if (!read_some(30000)) return fail(err, "strace did not attach: " + text_);
    return true;
  }

  // Waits for strace to end (its tracee exited) and counts what fdwatch
  // would: calls by syscall name, failed fd-creating calls by errno name.
  bool finish(std::map<std::string, int64_t>* calls, std::map<std::string, int64_t>* failed, std::string* err) {
    while (read_some(30000)) {
    }
    int st = 0;
    waitpid(pid_, &st, 0);
    pid_ = -1;
    std::ifstream in(prefix_ + "." + std::to_string(target_));
    if (!in) return fail(err, "no strace output for " + std::to_string(target_) + ": " + text_);
    static const std::regex line_re(R"(^(\w+)\((.*)\) += (-?\d+)(?: (E[A-Z0-9]+))?)");
    std::string line;
    std::smatch m;
    while (std::getline(in, line)) {
      if (!std::regex_search(line, m, line_re)) continue;
      const CountRule* r = rule_of(m[1]);
      std::string args = m[2];
      long ret = std::stol(m[3]);
      if (!r || !counted(*r, args, ret)) continue;
      ++(*calls)[r->sys];
      if (ret < 0 && failure_creates(*r, args)) ++(*failed)[m[4]];
    }
    if (calls->empty()) return fail(err, "no counted calls in strace's output");
    return true;
  }

 private:
  bool read_some(int timeout_ms) {
    pollfd pf{err_, POLLIN, 0};
    if (poll(&pf, 1, timeout_ms) <= 0) return false;
    char buf[4096];
    ssize_t n = read(err_, buf, sizeof buf);
    if (n <= 0) return false;
    text_.append(buf, size_t(n));
    return true;
  }
  static bool fail(std::string* err, const std::string& what) {
    *err = what;
    return false;
  }

  pid_t pid_ = -1, target_ = -1;
  int err_ = -1;
  std::string prefix_, text_;
};

std::map<std::string, int64_t> to_i64(const std::map<std::string, uint64_t>& m) {
  std::map<std::string, int64_t> out;
  for (auto& [k, v] : m) out[k] = int64_t(v);
  return out;
}

TEST(SyscallCount, FailedAndFdlessCallsAreCounted) {
  FDW_REQUIRE_ROOT();
  bool with_strace = system("command -v strace >/dev/null 2>&1") == 0;
  if (!with_strace && in_ci()) FAIL() << "strace is not installed";
  TempDir dir;
  std::string err;
  Strace st;
  Live::Options o;
  if (with_strace)
    o.before_release = [&](pid_t pid, std::string* e) { return st.start(pid, dir.path() + "/strace", e); };
  auto live = Live::start({std::string(FIXTURE_DIR) + "/life_fail", dir.path()}, o, &err);
  ASSERT_TRUE(live) << err;
  CheckpointVerifier v(dir.path());
  live->set_hook([&](const Event& e) { v.on_event(e, live->agg()); });
  ASSERT_TRUE(live->run(60)) << "life_fail did not finish";
  EXPECT_EQ(live->exit_status(), 0);
  ASSERT_EQ(live->agg().lost_events(), 0u) << "lost events: counts cannot be exact";
  // the fixture's own counts, per syscall and errno, between its checkpoints
  for (auto& pr : v.problems()) ADD_FAILURE() << pr;
  EXPECT_EQ(v.seen().size(), 2u);
  EXPECT_EQ(v.seen(), v.written());

  SnapshotOptions so;
  so.pid = uint32_t(live->pid());
  Snapshot s = live->agg().snapshot(monotonic_ns(), so);
  ASSERT_EQ(s.processes.size(), 1u);
  const ProcView& p = s.processes[0];
  // the calls that used to go uncounted, as life_fail makes them
  EXPECT_EQ(p.syscalls.at("close_range"), 3u);  // 2 EINVAL, 1 that closed nothing
  EXPECT_EQ(p.syscalls.at("signalfd4"), 4u);    // EINVAL, new fd, mask update, EINVAL on a non-signalfd
  EXPECT_EQ(p.syscalls.at("signalfd"), 3u);     // EINVAL, mask update, EBADF
  EXPECT_EQ(p.syscalls.at("bind"), 3u);         // ok, EINVAL, EBADF
  EXPECT_EQ(p.syscalls.at("recvmsg"), 1u);      // only the one that received an fd
  EXPECT_EQ(p.failed.at("EMFILE"), 7u);

  if (!with_strace) GTEST_SKIP() << "strace is not installed: no cross-check";
  std::map<std::string, int64_t> want_calls, want_failed;
  ASSERT_TRUE(st.finish(&want_calls, &want_failed, &err)) << err;
  auto got_calls = to_i64(p.syscalls);
  for (auto& [sys, n] : want_calls) EXPECT_EQ(got_calls[sys], n) << sys << ": fdwatch vs strace";
  for (auto& [sys, n] : got_calls) EXPECT_TRUE(want_calls.count(sys)) << sys << ": strace saw none";
  EXPECT_EQ(to_i64(p.failed), want_failed) << "failed fd-creating calls by errno: fdwatch vs strace";
}

}  // namespace
}  // namespace fdw::test
