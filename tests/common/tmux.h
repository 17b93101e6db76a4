// Drives a program in a detached tmux session of a fixed size, for tests of
// full-screen programs (`fdwatch top`): type keys, read the screen back as
// text, wait for text to appear.  Every session gets its own tmux server
// (-L socket, no config file), so tests never touch a user's tmux and the
// destructor can kill everything it started.
#pragma once

#include <fcntl.h>
#include <stdlib.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

namespace fdw::test {

struct CmdResult {
  int status = -1;  // exit status, or -1 when it could not run or was killed
  std::string out;  // stdout and stderr together
};

// Runs argv[0] from PATH with these arguments (no shell) and waits for it.
inline CmdResult run_command(const std::vector<std::string>& argv) {
  CmdResult r;
  int fds[2];
  if (argv.empty() || pipe2(fds, O_CLOEXEC) != 0) return r;
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
  posix_spawn_file_actions_adddup2(&fa, fds[1], 2);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = -1;
  int err = posix_spawnp(&pid, args[0], &fa, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  close(fds[1]);
  if (err == 0) {
    char buf[4096];
    for (;;) {
      ssize_t n = read(fds[0], buf, sizeof buf);
      if (n > 0) r.out.append(buf, static_cast<size_t>(n));
      else if (n == 0 || errno != EINTR) break;
    }
  }
  close(fds[0]);
  if (err != 0) return r;
  int st = 0;
  while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
  }
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

inline bool tmux_available() { return run_command({"tmux", "-V"}).status == 0; }

class TmuxSession {
 public:
  // `command` runs through /bin/sh inside a width x height pane.  A wrapper
  // shell records its exit status in a file and then keeps the pane open, so
  // the last screen stays readable: tmux 3.3 itself sometimes never learns a
  // pane's exit status (it can miss the SIGCHLD) and may drop output written
  // just before a process exits.  The command runs in an inner shell; both
  // shells trap SIGINT/SIGTERM with a no-op, so a Ctrl-C ends only the
  // program in the foreground (which gets default dispositions back when it
  // is exec'd, and may set its own) and its status is what gets recorded.
  // dash forks rather than execs even a lone command, so without the inner
  // trap a Ctrl-C would kill the shell around the program and record 130.
  TmuxSession(std::string name, int width, int height, const std::string& command)
      : name_(std::move(name)), width_(width), height_(height) {
    static std::atomic<int> serial{0};
    socket_ = "fdwatch-test-" + std::to_string(getpid()) + "-" + std::to_string(serial++);
    char dir[] = "/tmp/fdwatch-tmux-XXXXXX";
    if (!mkdtemp(dir)) {
      error_ = "mkdtemp failed";
      return;
    }
    dir_ = dir;
    const std::string wrapper =
        "trap : INT TERM; sh -c 'trap : INT TERM; eval \"$1\"' sh \"$1\"; "
        "echo $? > \"$2.tmp\" && mv \"$2.tmp\" \"$2\"; exec sleep 2147483647";
    CmdResult r = tmux({"new-session", "-d", "-s", name_, "-x", std::to_string(width), "-y",
                        std::to_string(height), "sh", "-c", wrapper, "fdwatch-tmux", command,
                        status_file(), ";", "set-window-option", "-t", name_, "remain-on-exit",
                        "on"});
    if (r.status != 0) {
      error_ = "tmux new-session failed: " + r.out;
      return;
    }
    started_ = true;
    CmdResult path = tmux({"display-message", "-p", "#{socket_path}"});
    if (path.status == 0) {
      socket_path_ = path.out;
      while (!socket_path_.empty() && socket_path_.back() == '\n') socket_path_.pop_back();
    }
  }

  ~TmuxSession() {
    if (started_) tmux({"kill-server"});
    if (!socket_path_.empty()) unlink(socket_path_.c_str());
    if (!dir_.empty()) {
      unlink(status_file().c_str());
      unlink((status_file() + ".tmp").c_str());
      rmdir(dir_.c_str());
    }
  }

  TmuxSession(const TmuxSession&) = delete;
  TmuxSession& operator=(const TmuxSession&) = delete;

  bool ok() const { return started_; }
  const std::string& error() const { return error_; }
  int width() const { return width_; }
  int height() const { return height_; }

  // tmux key names: "q", "Enter", "Escape", "Up", "NPage", "C-c", "BSpace".
  bool send_keys(const std::vector<std::string>& keys) {
    std::vector<std::string> args = {"send-keys", "-t", name_};
    args.insert(args.end(), keys.begin(), keys.end());
    return tmux(args).status == 0;
  }
  // Types text literally (no key-name lookup).
  bool send_text(const std::string& text) {
    return tmux({"send-keys", "-t", name_, "-l", text}).status == 0;
  }
  // Resizes the pane's window, as a terminal resize would (SIGWINCH).
  bool resize(int width, int height) {
    bool ok = tmux({"resize-window", "-t", name_, "-x", std::to_string(width), "-y",
                    std::to_string(height)}).status == 0;
    if (ok) {
      width_ = width;
      height_ = height;
    }
    return ok;
  }

  // The visible screen, one line per row ('\n' after each).
  std::string capture() const {
    CmdResult r = tmux({"capture-pane", "-p", "-t", name_});
    return r.status == 0 ? r.out : std::string();
  }

  // The scrollback history followed by the screen.
  std::string capture_all() const {
    CmdResult r = tmux({"capture-pane", "-p", "-S", "-", "-t", name_});
    return r.status == 0 ? r.out : std::string();
  }

  // Polls the screen until pred holds for it or timeout_s passes; returns
  // whether it held.  A condition wait, not a timing measurement.
  bool wait_until(const std::function<bool(const std::string&)>& pred, double timeout_s = 10) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s);
    for (;;) {
      if (pred(capture())) return true;
      if (std::chrono::steady_clock::now() >= deadline) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  bool wait_for(const std::string& text, double timeout_s = 10) {
    return wait_until([&](const std::string& s) { return s.find(text) != std::string::npos; },
                      timeout_s);
  }

  // The command's exit status as the shell reports it (128+N when signal N
  // killed it), once it has exited; nullopt while it runs.
  std::optional<int> exit_status() const {
    if (dir_.empty()) return std::nullopt;
    int fd = open(status_file().c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return std::nullopt;
    char buf[32];
    ssize_t n = read(fd, buf, sizeof buf);
    close(fd);
    int v = 0;
    bool digits = false;
    for (ssize_t i = 0; i < n && buf[i] >= '0' && buf[i] <= '9'; ++i) {
      v = v * 10 + (buf[i] - '0');
      digits = true;
    }
    return digits ? std::optional<int>(v) : std::nullopt;
  }
  bool exited() const { return exit_status().has_value(); }
  bool wait_exit(double timeout_s = 10) {
    return wait_until([&](const std::string&) { return exited(); }, timeout_s);
  }
  const std::string& socket_name() const { return socket_; }
  const std::string& socket_path() const { return socket_path_; }

 private:
  CmdResult tmux(std::vector<std::string> args) const {
    args.insert(args.begin(), {"tmux", "-L", socket_, "-f", "/dev/null"});
    return run_command(args);
  }

  std::string status_file() const { return dir_ + "/status"; }

  std::string name_;
  int width_, height_;
  std::string socket_, socket_path_, error_, dir_;
  bool started_ = false;
};

}  // namespace fdw::test
