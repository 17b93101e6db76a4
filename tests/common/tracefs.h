// bpftrace, the peer some tests compare against, attaches syscall
// tracepoints through tracefs, which a fresh boot does not mount (fdwatch
// itself needs none).
#pragma once

#include <sys/mount.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <string>

namespace fdw::test {

// Mounts tracefs at /sys/kernel/tracing unless its events are visible there;
// false (with *err) when that fails.
inline bool ensure_tracefs(std::string* err) {
  struct stat st;
  if (stat("/sys/kernel/tracing/events", &st) == 0) return true;
  if (mount("tracefs", "/sys/kernel/tracing", "tracefs", 0, nullptr) == 0) return true;
  *err = std::string("cannot mount tracefs on /sys/kernel/tracing: ") + std::strerror(errno);
  return false;
}

}  // namespace fdw::test
