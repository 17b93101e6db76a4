// Per-syscall counts are exact: fdwatch's ProcView::syscalls and failures
// for a busy multi-threaded churn (life_churn) equal an independent count
// by bpftrace on the same pid, both attached before the command starts.
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>

#include <regex>

#include "common/live.h"
#include "common/require_root.h"
#include "common/tracefs.h"
#include "core/classify.h"

namespace fdw::test {
namespace {

const char* const kSyscalls[] = {"openat", "close", "socket", "pipe2", "dup", "eventfd2"};

// bpftrace counting the syscalls' exits (and failures by errno) of one pid,
// but for restart codes (ERESTARTSYS..ERESTART_RESTARTBLOCK): the kernel runs
// those calls again.
class Bpftrace {
 public:
  ~Bpftrace() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    if (out_ >= 0) close(out_);
  }

  // Starts it and waits until its probes are attached (BEGIN runs after that).
  bool start(pid_t target, std::string* err) {
    if (!ensure_tracefs(err)) return false;
    std::string probes;
    for (const char* s : kSyscalls)
      probes += std::string(probes.empty() ? "" : ",\n") + "tracepoint:syscalls:sys_exit_" + s;
    std::string prog = "BEGIN { printf(\"ready\\n\"); }\n" + probes + " /pid == " + std::to_string(target) +
                       "/ { if (args->ret < -516 || args->ret > -512) { @calls[probe] = count(); if (args->ret < 0) { @failed[-args->ret] = count(); } } }\n";
    int p[2];
    if (pipe2(p, O_CLOEXEC) != 0) return fail(err, "pipe");
    pid_ = fork();
    if (pid_ < 0) return fail(err, "fork");
    if (pid_ == 0) {
      dup2(p[1], 1);
      int null = open("/dev/null", O_WRONLY);
      if (null >= 0) dup2(null, 2);  // its RLIMIT_MEMLOCK warning
      execlp("bpftrace", "bpftrace", "-e", prog.c_str(), (char*)nullptr);
      _exit(127);
    }
    close(p[1]);
    out_ = p[0];
    while (text_.find("ready\n") == std::string::npos)
      if (!read_some(30000)) return fail(err, "bpftrace did not start: " + text_);
    return true;
  }

  // Stops it (SIGINT prints the maps) and parses its counts.
  bool finish(std::map<std::string, int64_t>* calls, std::map<int, int64_t>* failed, std::string* err) {
    kill(pid_, SIGINT);
    while (read_some(30000)) {
    }
    int st = 0;
    waitpid(pid_, &st, 0);
    pid_ = -1;
    std::regex call_re(R"(@calls\[tracepoint:syscalls:sys_exit_(\w+)\]: (\d+))");
    std::regex fail_re(R"(@failed\[(\d+)\]: (\d+))");
    for (std::sregex_iterator it(text_.begin(), text_.end(), call_re), end; it != end; ++it)
      (*calls)[(*it)[1]] = std::stoll((*it)[2]);
    for (std::sregex_iterator it(text_.begin(), text_.end(), fail_re), end; it != end; ++it)
      (*failed)[std::stoi((*it)[1])] = std::stoll((*it)[2]);
    if (calls->empty()) return fail(err, "no counts from bpftrace: " + text_);
    return true;
  }

 private:
  bool read_some(int timeout_ms) {
    pollfd pf{out_, POLLIN, 0};
    if (poll(&pf, 1, timeout_ms) <= 0) return false;
    char buf[4096];
    ssize_t n = read(out_, buf, sizeof buf);
    if (n <= 0) return false;
    text_.append(buf, size_t(n));
    return true;
  }
  static bool fail(std::string* err, const std::string& what) {
    *err = what;
    return false;
  }

  pid_t pid_ = -1;
  int out_ = -1;
  std::string text_;
};

TEST(ChurnCount, PerSyscallCountsEqualBpftrace) {
  FDW_REQUIRE_ROOT();
  if (system("command -v bpftrace >/dev/null 2>&1") != 0) {
    if (in_ci()) FAIL() << "bpftrace is not installed";
    GTEST_SKIP() << "bpftrace is not installed";
  }
  TempDir dir;
  std::string err;
  Bpftrace bt;
  Live::Options o;
  o.before_release = [&](pid_t pid, std::string* e) { return bt.start(pid, e); };
  auto live = Live::start({std::string(FIXTURE_DIR) + "/life_churn", dir.path(), "6", "1500"}, o, &err);
  ASSERT_TRUE(live) << err;
  CheckpointVerifier v(dir.path());
  live->set_hook([&](const Event& e) { v.on_event(e, live->agg()); });
  ASSERT_TRUE(live->run(60)) << "life_churn did not finish";
  EXPECT_EQ(live->exit_status(), 0);
  std::map<std::string, int64_t> want_calls;
  std::map<int, int64_t> want_failed;
  ASSERT_TRUE(bt.finish(&want_calls, &want_failed, &err)) << err;
  ASSERT_EQ(live->agg().lost_events(), 0u) << "lost events: counts cannot be exact";

  SnapshotOptions so;
  so.pid = uint32_t(live->pid());
  Snapshot s = live->agg().snapshot(monotonic_ns(), so);
  ASSERT_EQ(s.processes.size(), 1u);
  const ProcView& p = s.processes[0];
  for (const char* sys : kSyscalls) {
    auto got = p.syscalls.count(sys) ? int64_t(p.syscalls.at(sys)) : 0;
    EXPECT_EQ(got, want_calls[sys]) << sys;
  }
  // the workload's 9000 opens of a missing file, plus what the loader and
  // the checkpoints' markers add: all failures of these calls, by errno
  EXPECT_GE(want_failed[ENOENT], 9000);
  std::map<std::string, int64_t> got_failed, want_failed_names;
  for (auto& [name, n] : p.failed) got_failed[name] = int64_t(n);
  for (auto& [err_no, n] : want_failed) want_failed_names[errno_name(err_no)] = n;
  EXPECT_EQ(got_failed, want_failed_names);
  // and the checkpoints (table, opened/closed, counts since the first) hold
  for (auto& pr : v.problems()) ADD_FAILURE() << pr;
  EXPECT_EQ(v.seen().size(), 2u);
}

}  // namespace
}  // namespace fdw::test
