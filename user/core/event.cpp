#include "core/event.h"

#include <array>

namespace fdw {
namespace {

constexpr std::array<std::string_view, kKindCount> kKindNames = {
    "file",    "dir",     "socket", "pipe",  "fifo", "eventfd",  "epoll",
    "timerfd", "signalfd", "inotify", "fanotify", "memfd", "pidfd", "bpf",
    "perf",    "io_uring", "userfaultfd", "anon", "other"};

constexpr std::array<std::string_view, 14> kEvNames = {
    "open", "close", "close_range", "dup", "cloexec", "fork", "exec",
    "exit", "sockaddr", "limit", "snapshot", "lost", "comm", "call"};

// Indexed by Sys.
constexpr std::string_view kSysNames[] = {
    "",              "open",          "openat",        "openat2",       "creat",
    "open_by_handle_at", "socket",    "socketpair",    "accept",        "accept4",
    "dup",           "dup2",          "dup3",          "fcntl",         "pipe",
    "pipe2",         "eventfd",       "eventfd2",      "epoll_create",  "epoll_create1",
    "timerfd_create", "signalfd",     "signalfd4",     "inotify_init",  "inotify_init1",
    "fanotify_init", "memfd_create",  "memfd_secret",  "pidfd_open",    "pidfd_getfd",
    "perf_event_open", "bpf",         "userfaultfd",   "io_uring_setup", "open_tree",
    "fsopen",        "fsmount",       "fspick",        "recvmsg",       "recvmmsg",
    "close",         "close_range",   "execve",        "execveat",      "ioctl",
    "bind",          "connect",       "listen",        "prlimit64",     "setrlimit",
    "fork",          "exit",
    "io_uring_openat", "io_uring_openat2", "io_uring_close", "io_uring_accept",
    "io_uring_socket", "io_uring_pipe", "io_uring_fixed_fd_install", "io_uring_recvmsg",
    "io_uring_bind", "io_uring_connect", "io_uring_listen",
    "clone",         "clone3",        "mq_open",       "landlock_create_ruleset",
    "seccomp",       "open_tree_attr"};
static_assert(std::size(kSysNames) == kSysCount, "one name per Sys");

}  // namespace

std::string_view kind_name(Kind k) {
  auto i = static_cast<size_t>(k);
  return i < kKindNames.size() ? kKindNames[i] : "other";
}

std::string_view evtype_name(EvType t) {
  auto i = static_cast<size_t>(t);
  return i < kEvNames.size() ? kEvNames[i] : "unknown";
}

std::optional<EvType> evtype_from_name(std::string_view s) {
  for (size_t i = 0; i < kEvNames.size(); ++i)
    if (kEvNames[i] == s) return static_cast<EvType>(i);
  return std::nullopt;
}

std::string_view sys_name(uint16_t sys) {
  return sys < std::size(kSysNames) ? kSysNames[sys] : "";
}

}  // namespace fdw
