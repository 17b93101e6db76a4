// Reading /proc: the fd tables fdwatch seeds from, and what the enricher adds
// to events (comm, uid, limits, resolved paths).  Everything here makes
// syscalls; nothing here keeps state beyond caches.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/event.h"
#include "util/result.h"

namespace fdw {

bool process_exists(uint32_t pid);
std::vector<uint32_t> list_pids();            // every tgid in /proc
std::string read_comm(uint32_t pid);          // "" when gone
std::optional<uint32_t> read_uid(uint32_t pid);
std::optional<uint32_t> read_ppid(uint32_t pid);
// Start time (clock ticks after boot, /proc/PID/stat field 22): with the pid,
// it names one process; a pid with another start time was reused.
std::optional<uint64_t> read_start_time(uint32_t pid);
// Soft RLIMIT_NOFILE from /proc/PID/limits; nullopt when gone or unlimited.
std::optional<uint64_t> read_nofile_limit(uint32_t pid);
// cgroup v2 path (/proc/PID/cgroup) and pid in its own pid namespace
// (/proc/PID/status NSpid); "" / 0 when gone or unknown.
std::string read_cgroup(uint32_t pid);
uint32_t read_ns_pid(uint32_t pid);
// readlink /proc/PID/fd/FD; "" when the fd or the process is gone.
std::string read_fd_link(uint32_t pid, int fd);

// Socket inode -> target text ("tcp 127.0.0.1:1->127.0.0.1:2", "unix /run/x"),
// built from /proc/PID/net/{tcp,tcp6,udp,udp6,unix}, cached per network namespace.
class SocketTable {
 public:
  std::string lookup(uint32_t pid, uint64_t inode);
  void invalidate() { by_ns_.clear(); }

 private:
  std::unordered_map<uint64_t, std::unordered_map<uint64_t, std::string>> by_ns_;
};

// The fd table of pid as a Snapshot event at ts.  Error when the process does
// not exist or cannot be read.
Result<Event> read_fd_table(uint32_t pid, uint64_t ts_ns, SocketTable* sockets);

// Parsers, exposed for unit tests.
std::optional<uint64_t> parse_nofile_limit(const std::string& limits_text);
std::unordered_map<uint64_t, std::string> parse_proc_net(const std::string& text,
                                                         const std::string& proto, bool v6);
std::unordered_map<uint64_t, std::string> parse_proc_net_unix(const std::string& text);

uint64_t monotonic_ns();  // CLOCK_MONOTONIC, same clock as bpf_ktime_get_ns

}  // namespace fdw
