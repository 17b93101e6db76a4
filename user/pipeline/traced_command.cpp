#include "pipeline/traced_command.h"

#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>

#include "util/own_fds.h"

namespace fdw {

namespace {

struct Stopped {
  pid_t pid = -1;
  int go_fd = -1;   // write end: one byte lets the child exec
  int err_fd = -1;  // read end: errno if exec failed, EOF if it succeeded
};

// The child's protocol on `err`: one byte once it has marked fdwatch's own
// fds close-on-exec, then an errno if exec failed, or EOF if it succeeded.
Result<Stopped> spawn_stopped(const std::vector<std::string>& cmd) {
  const std::vector<FdRange> own = own_fd_ranges();
  std::vector<char*> argv;
  for (auto& s : cmd) argv.push_back(const_cast<char*>(s.c_str()));
  argv.push_back(nullptr);
  int go[2], err[2];
  if (pipe2(go, O_CLOEXEC) != 0) return Error::from_errno("pipe", errno);
  if (pipe2(err, O_CLOEXEC) != 0) {
    int e = errno;
    close(go[0]);
    close(go[1]);
    return Error::from_errno("pipe", e);
  }
  pid_t pid = fork();
  if (pid < 0) {
    int e = errno;
    for (int fd : {go[0], go[1], err[0], err[1]}) close(fd);
    return Error::from_errno("fork", e);
  }
  if (pid == 0) {
    // Only system calls from here (the parent has threads): fdwatch's own
    // fds go at exec, what it inherited is passed on.  If fdwatch dies
    // first, so do we.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() == 1) _exit(127);
    set_cloexec(own);
    (void)!write(err[1], "r", 1);
    char c;
    if (read(go[0], &c, 1) != 1) _exit(127);  // fdwatch went away
    prctl(PR_SET_PDEATHSIG, 0);
    execvp(argv[0], argv.data());
    int e = errno;
    (void)!write(err[1], &e, sizeof e);
    _exit(127);
  }
  close(go[0]);
  close(err[1]);
  char ready;
  if (read(err[0], &ready, 1) != 1) {  // the child died before it was ready
    close(go[1]);
    close(err[0]);
    waitpid(pid, nullptr, 0);
    return Error{"cannot start '" + cmd[0] + "'", "", ECHILD, 127};
  }
  return Stopped{pid, go[1], err[0]};
}

}  // namespace

Result<TracedCommand> start_traced_command(Session& s, const std::vector<std::string>& cmd) {
  auto c = spawn_stopped(cmd);
  if (!c) return c.error();
  Stopped child = c.value();
  if (auto r = s.add_target(uint32_t(child.pid), true); !r) {
    kill(child.pid, SIGKILL);
    waitpid(child.pid, nullptr, 0);
    close(child.go_fd);
    close(child.err_fd);
    return r.error();
  }
  (void)!write(child.go_fd, "g", 1);
  close(child.go_fd);
  int e = 0;
  ssize_t n = read(child.err_fd, &e, sizeof e);
  close(child.err_fd);
  if (n == sizeof e) {
    waitpid(child.pid, nullptr, 0);
    return Error{"cannot run '" + cmd[0] + "': " + std::strerror(e), "", e, 127};
  }
  return TracedCommand{child.pid};
}

int command_exit_status(const TracedCommand& c, int stop_signal) {
  int status = 0;
  pid_t w = waitpid(c.pid, &status, stop_signal ? WNOHANG : 0);
  if (w == c.pid) return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
  return 128 + stop_signal;
}

}  // namespace fdw
