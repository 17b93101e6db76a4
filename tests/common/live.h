// In-process harness for privileged tests: a real Session (probe -> decode ->
// enrich -> Aggregator) tracing a command from its first syscall, and the
// checkpoint protocol of tests/e2e/fixtures/life_common.h.
//
// The command is forked stopped (it waits on a pipe), added to the probe's
// targets, then released, as `fdwatch -- CMD` does.  Tests act at exact
// points of the event stream through the sink, which sees every event just
// before the aggregator applies it.  A fixture checkpoint ends with a marker
// call (a failed openat of /nonexistent/fdwatch-checkpoint/<n>); when the
// sink sees it, the aggregator holds exactly the state the fixture described
// in DIR/<pid>.<n>, whatever the timing: no sleeps, no polling of /proc.
//
// Header-only: tests/common is shared by the suites and not built by itself.
#pragma once

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "common/temp_dir.h"
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "pipeline/session.h"
#include "core/aggregator.h"
#include "core/event.h"
#include "sys/proc.h"

namespace fdw::test {

// A scratch directory, removed with everything in it.

// ---- a traced command ----------------------------------------------------------

class Live {
 public:
  struct Options {
    bool follow_children = true;
    uint64_t ring_bytes = 0;  // 0: the probe's default
    int poll_ms = 5;
    bool pipe_stdio = false;  // the test gets the command's stdin (write) and stdout (read)
    // Runs once the stopped command is a target, just before it is released
    // (e.g. to start an independent tracer on its pid); false aborts.
    std::function<bool(pid_t, std::string* err)> before_release;
  };
  using Hook = std::function<void(const Event&)>;

  // Opens the session, starts argv stopped, adds it, releases it.
  static std::unique_ptr<Live> start(const std::vector<std::string>& argv, const Options& o,
                                     std::string* err) {
    std::unique_ptr<Live> l(new Live());
    SessionOptions so;
    so.follow_children = o.follow_children;
    so.poll_ms = o.poll_ms;
    so.ring_bytes = o.ring_bytes;
    auto s = Session::open(so, l->agg_);
    if (!s) {
      *err = s.error().message;
      return nullptr;
    }
    l->session_ = std::move(s.value());
    l->session_->set_sink([p = l.get()](const Event& e) {
      if (p->hook_) p->hook_(e);
    });
    if (auto r = l->session_->start(); !r) {
      *err = r.error().message;
      return nullptr;
    }
    if (!l->spawn(argv, o, err)) return nullptr;
    return l;
  }

  ~Live() {
    for (int fd : {stdin_w_, stdout_r_})
      if (fd >= 0) close(fd);
    if (pid_ > 0 && !reaped_) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }

  void set_hook(Hook h) { hook_ = std::move(h); }
  Aggregator& agg() { return agg_; }
  Session& session() { return *session_; }
  pid_t pid() const { return pid_; }
  int stdin_fd() const { return stdin_w_; }
  int stdout_fd() const { return stdout_r_; }

  // One ring-buffer drain (waits up to poll_ms for the first record).
  bool pump() { return bool(session_->poll()); }

  // Pumps until fd (e.g. stdout_fd()) has data to read; false on timeout.
  bool pump_until_readable(int fd, double timeout_s = 30) {
    uint64_t deadline = monotonic_ns() + uint64_t(timeout_s * 1e9);
    while (monotonic_ns() < deadline) {
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, 0) > 0) return true;
      if (!pump()) return false;
    }
    return false;
  }

  // Pumps until the command's exit event was applied (every event of it and
  // of the children it waited for came before), then reaps it.
  bool run(double timeout_s = 60) {
    uint64_t deadline = monotonic_ns() + uint64_t(timeout_s * 1e9);
    while (!agg_.exited(uint32_t(pid_))) {
      if (!pump() || monotonic_ns() > deadline) return false;
    }
    return reap();
  }

  bool reap() {
    if (reaped_) return true;
    if (waitpid(pid_, &status_, 0) != pid_) return false;
    reaped_ = true;
    return true;
  }
  // Exit status as a shell shows it (128+N for a signal), -1 before reap().
  int exit_status() const {
    if (!reaped_) return -1;
    return WIFSIGNALED(status_) ? 128 + WTERMSIG(status_) : WEXITSTATUS(status_);
  }

 private:
  Live() = default;

  bool spawn(const std::vector<std::string>& argv, const Options& o, std::string* err) {
    int ready[2], go[2], in[2] = {-1, -1}, out[2] = {-1, -1};
    if (pipe2(ready, O_CLOEXEC) || pipe2(go, O_CLOEXEC) ||
        (o.pipe_stdio && (pipe2(in, O_CLOEXEC) || pipe2(out, O_CLOEXEC)))) {
      *err = std::string("pipe: ") + strerror(errno);
      return false;
    }
    std::vector<char*> av;
    for (auto& s : argv) av.push_back(const_cast<char*>(s.c_str()));
    av.push_back(nullptr);
    pid_ = fork();
    if (pid_ < 0) {
      *err = std::string("fork: ") + strerror(errno);
      return false;
    }
    if (pid_ == 0) {
      // Only async-signal-safe calls from here on.
      if (o.pipe_stdio && (dup2(in[0], 0) < 0 || dup2(out[1], 1) < 0)) _exit(126);
      char c = 'r';
      if (write(ready[1], &c, 1) != 1 || read(go[0], &c, 1) != 1) _exit(126);
      execv(av[0], av.data());
      _exit(127);
    }
    close(ready[1]);
    close(go[0]);
    if (o.pipe_stdio) {
      close(in[0]);
      close(out[1]);
      stdin_w_ = in[1];
      stdout_r_ = out[0];
    }
    char c;
    bool ok = read(ready[0], &c, 1) == 1;
    close(ready[0]);
    if (ok) {
      // as `-- CMD` does: the child is a copy of us about to exec
      if (auto r = session_->add_target(uint32_t(pid_), true); !r) {
        *err = r.error().message;
        ok = false;
      }
    } else {
      *err = "the command did not start";
    }
    if (ok && o.before_release) ok = o.before_release(pid_, err);
    if (ok) ok = write(go[1], "g", 1) == 1;
    close(go[1]);
    return ok;
  }

  Aggregator agg_;
  std::unique_ptr<Session> session_;
  Hook hook_;
  pid_t pid_ = -1;
  bool reaped_ = false;
  int status_ = 0;
  int stdin_w_ = -1, stdout_r_ = -1;
};

// ---- checkpoints ------------------------------------------------------------------

constexpr const char* kMarkerPrefix = "/nonexistent/fdwatch-checkpoint/";

// The checkpoint number of a marker event, if e is one.
inline std::optional<int> checkpoint_marker(const Event& e) {
  if (e.type != EvType::Open || e.err != ENOENT) return std::nullopt;
  if (e.target.rfind(kMarkerPrefix, 0) != 0) return std::nullopt;
  return std::atoi(e.target.c_str() + std::strlen(kMarkerPrefix));
}

struct CpFd {
  int fd = -1;
  bool cloexec = false;
  std::string kind, target, link;  // kind "?" / target "*": not checked
};

struct Checkpoint {
  uint32_t pid = 0;
  int n = 0;
  int image = 1;
  long exec_closed = -1;
  std::vector<CpFd> fds;
  int64_t opened = 0, closed = 0;
  std::map<std::string, int64_t> calls, failed;
  std::vector<std::string> refused;  // "sys ERRNO"
  std::optional<uint64_t> rlimit;    // soft RLIMIT_NOFILE
};

inline std::optional<Checkpoint> read_checkpoint(const std::string& path, std::string* err) {
  std::ifstream in(path);
  if (!in) {
    *err = "cannot read " + path;
    return std::nullopt;
  }
  Checkpoint cp;
  std::string line;
  while (std::getline(in, line)) {
    std::vector<std::string> f;
    std::stringstream ss(line);
    std::string field;
    while (std::getline(ss, field, '\t')) f.push_back(field);
    if (f.empty()) continue;
    if (f[0] == "fd" && f.size() >= 5) {
      cp.fds.push_back(CpFd{std::stoi(f[1]), f[2] == "1", f[3], f[4], f.size() > 5 ? f[5] : ""});
    } else if (f[0] == "image" && f.size() == 2) {
      cp.image = std::stoi(f[1]);
    } else if (f[0] == "exec_closed" && f.size() == 2) {
      cp.exec_closed = std::stol(f[1]);
    } else if (f[0] == "opened" && f.size() == 2) {
      cp.opened = std::stoll(f[1]);
    } else if (f[0] == "closed" && f.size() == 2) {
      cp.closed = std::stoll(f[1]);
    } else if (f[0] == "call" && f.size() == 3) {
      cp.calls[f[1]] = std::stoll(f[2]);
    } else if (f[0] == "failed" && f.size() == 3) {
      cp.failed[f[1]] = std::stoll(f[2]);
    } else if (f[0] == "rlimit" && f.size() == 2) {
      cp.rlimit = std::stoull(f[1]);
    } else if (f[0] == "refused" && f.size() == 3) {
      cp.refused.push_back(f[1] + " " + f[2]);
    } else {
      *err = path + ": bad line: " + line;
      return std::nullopt;
    }
  }
  return cp;
}

// fdwatch's table against the fixture's: same fds, kinds, targets, cloexec.
inline std::vector<std::string> compare_table(const ProcView& v, const Checkpoint& cp) {
  std::vector<std::string> out;
  std::string where = "pid " + std::to_string(cp.pid) + " checkpoint " + std::to_string(cp.n) + ": ";
  std::map<int, const FdView*> have;
  for (auto& f : v.fds) have[f.fd] = &f;
  for (auto& want : cp.fds) {
    auto it = have.find(want.fd);
    std::string what = "fd " + std::to_string(want.fd) + " (" + want.link + ")";
    if (it == have.end()) {
      out.push_back(where + what + " is open but fdwatch does not have it");
      continue;
    }
    const FdView& got = *it->second;
    if (want.kind != "?" && std::string(kind_name(got.kind)) != want.kind)
      out.push_back(where + what + ": kind " + std::string(kind_name(got.kind)) + ", want " + want.kind);
    if (want.target != "*" && got.target != want.target)
      out.push_back(where + what + ": target '" + got.target + "', want '" + want.target + "'");
    if (got.cloexec != want.cloexec)
      out.push_back(where + what + ": cloexec " + std::to_string(got.cloexec) + ", want " +
                    std::to_string(want.cloexec));
    have.erase(it);
  }
  if (cp.rlimit && v.rlimit_nofile != cp.rlimit)
    out.push_back(where + "rlimit_nofile " + (v.rlimit_nofile ? std::to_string(*v.rlimit_nofile) : "none") +
                  ", want " + std::to_string(*cp.rlimit));
  for (auto& [fd, f] : have)
    out.push_back(where + "fdwatch has fd " + std::to_string(fd) + " (" + std::string(kind_name(f->kind)) +
                  " " + f->target + ") which is not open");
  return out;
}

// Checks every checkpoint marker the sink sees: the fd table at that point,
// and (between two checkpoints of one process) opened/closed/per-syscall/
// per-errno counts against what the fixture says it did.
class CheckpointVerifier {
 public:
  // allow_inexact: a process marked inexact (lost events, re-synced from
  // /proc) is fine; its table is still compared, its counts are not.
  explicit CheckpointVerifier(std::string dir, bool allow_inexact = false)
      : dir_(std::move(dir)), allow_inexact_(allow_inexact) {}

  void on_event(const Event& e, const Aggregator& agg) {
    auto n = checkpoint_marker(e);
    if (!n) return;
    std::string name = std::to_string(e.pid) + "." + std::to_string(*n);
    std::string err;
    auto cp = read_checkpoint(dir_ + "/" + name, &err);
    if (!cp) {
      problems_.push_back(err);
      return;
    }
    cp->pid = e.pid;
    cp->n = *n;
    seen_.insert(name);
    for (auto& r : cp->refused) refused_.insert(r);
    SnapshotOptions so;
    so.pid = e.pid;
    Snapshot s = agg.snapshot(e.ts_ns, so);
    if (s.processes.size() != 1 || s.processes[0].exited) {
      problems_.push_back(name + ": fdwatch has no live process " + std::to_string(e.pid));
      return;
    }
    const ProcView& v = s.processes[0];
    for (auto& p : compare_table(v, *cp)) problems_.push_back(p);
    if (v.inexact) {
      if (!allow_inexact_) problems_.push_back(name + ": process is marked inexact");
      base_.erase(cp->pid);
      ++inexact_seen_;
      return;
    }
    compare_counts(name, v, *cp);
  }

  // Checkpoints at which the process was marked inexact.
  int inexact_seen() const { return inexact_seen_; }

  const std::vector<std::string>& problems() const { return problems_; }
  const std::set<std::string>& seen() const { return seen_; }
  const std::set<std::string>& refused() const { return refused_; }
  // Checkpoint files the fixture wrote ("pid.n").
  std::set<std::string> written() const {
    std::set<std::string> out;
    for (auto& de : std::filesystem::directory_iterator(dir_)) {
      std::string f = de.path().filename();
      auto dot = f.find('.');
      if (dot != std::string::npos && f.find_first_not_of("0123456789.") == std::string::npos &&
          f.find('.', dot + 1) == std::string::npos)
        out.insert(f);
    }
    return out;
  }

 private:
  struct Base {
    int image = 0;
    int n = 0;
    int64_t agg_opened = 0, agg_closed = 0, fx_opened = 0, fx_closed = 0;
    std::map<std::string, int64_t> agg_calls, agg_failed, fx_calls, fx_failed;
  };

  template <class M>
  static std::map<std::string, int64_t> to_i64(const M& m) {
    std::map<std::string, int64_t> out;
    for (auto& [k, n] : m) out[k] = int64_t(n);
    return out;
  }

  static std::map<std::string, int64_t> delta(const std::map<std::string, int64_t>& now,
                                              const std::map<std::string, int64_t>& before) {
    std::map<std::string, int64_t> d;
    for (auto& [k, n] : now) {
      auto it = before.find(k);
      int64_t x = n - (it == before.end() ? 0 : it->second);
      if (x) d[k] = x;
    }
    for (auto& [k, n] : before)
      if (!now.count(k) && n) d[k] = -n;
    return d;
  }

  static std::string show(const std::map<std::string, int64_t>& m) {
    std::string s = "{";
    for (auto& [k, n] : m) s += (s.size() > 1 ? ", " : "") + k + ": " + std::to_string(n);
    return s + "}";
  }

  void compare_counts(const std::string& name, const ProcView& v, const Checkpoint& cp) {
    Base now;
    now.image = cp.image;
    now.n = cp.n;
    now.agg_opened = int64_t(v.opened);
    now.agg_closed = int64_t(v.closed);
    now.agg_calls = to_i64(v.syscalls);
    now.agg_failed = to_i64(v.failed);
    now.fx_opened = cp.opened;
    now.fx_closed = cp.closed;
    now.fx_calls = cp.calls;
    now.fx_failed = cp.failed;
    auto it = base_.find(cp.pid);
    if (it != base_.end()) {
      const Base& b = it->second;
      std::string span = name + " (since checkpoint " + std::to_string(b.n) + "): ";
      int64_t dop = now.agg_opened - b.agg_opened, dcl = now.agg_closed - b.agg_closed;
      if (cp.image == b.image) {
        int64_t wop = cp.opened - b.fx_opened, wcl = cp.closed - b.fx_closed;
        if (dop != wop) problems_.push_back(span + "opened " + std::to_string(dop) + ", want " + std::to_string(wop));
        if (dcl != wcl) problems_.push_back(span + "closed " + std::to_string(dcl) + ", want " + std::to_string(wcl));
        auto gc = delta(now.agg_calls, b.agg_calls), wc = delta(now.fx_calls, b.fx_calls);
        if (gc != wc) problems_.push_back(span + "syscalls " + show(gc) + ", want " + show(wc));
        auto gf = delta(now.agg_failed, b.agg_failed), wf = delta(now.fx_failed, b.fx_failed);
        if (gf != wf) problems_.push_back(span + "failed " + show(gf) + ", want " + show(wf));
      } else if (cp.exec_closed >= 0) {
        // Across an exec the dynamic loader opens and closes files we do not
        // know; what it opens it closes, so the net change is the exec's
        // close-on-exec closes plus the new image's own net.
        int64_t want = cp.exec_closed + (cp.closed - cp.opened);
        if (dcl - dop != want)
          problems_.push_back(span + "closed-opened across exec " + std::to_string(dcl - dop) + ", want " +
                              std::to_string(want));
      } else {
        problems_.push_back(name + ": new image without exec_closed");
      }
    }
    base_[cp.pid] = std::move(now);
  }

  std::string dir_;
  bool allow_inexact_ = false;
  int inexact_seen_ = 0;
  std::vector<std::string> problems_;
  std::set<std::string> seen_, refused_;
  std::map<uint32_t, Base> base_;
};

}  // namespace fdw::test
