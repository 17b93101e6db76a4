// What a process holds at exit on purpose, so that a leak gate stays quiet on
// ordinary programs: the standard streams (redirections, `exec <file`, a
// subshell's pipe on stdout), a server's listening socket, the script bash
// reads at fd 255, an event loop's poller and its wakeup (the Go runtime's
// epoll and netpoll pipe).  Everything else held at exit is a leak.  Pure.
#pragma once

#include <string_view>
#include <vector>

#include "core/snapshot.h"

namespace fdw {

// Reasons, one per rule (report JSON leaked_at_exit[].ordinary).
inline constexpr std::string_view kOrdinaryStdio = "stdio";
inline constexpr std::string_view kOrdinaryListener = "listener";
inline constexpr std::string_view kOrdinaryShellScript = "shell_script";
inline constexpr std::string_view kOrdinaryPoller = "poller";
inline constexpr std::string_view kOrdinaryPollerWakeup = "poller_wakeup";

// For each of the fds a process held at exit: why it is ordinary, or ""
// when it is a leak.  The poller rules take at most one epoll fd and, beside
// it, one eventfd or both ends of one pipe; a second of either is a leak.
std::vector<std::string_view> ordinary_at_exit(const std::vector<FdView>& fds);

// What a leak gate fails on: an exited process's leaked_at_exit fds that it
// opened while watched and that are not ordinary, grouped as suspects (site,
// kind, target), most first.  Fds open before attach may be inherited.
std::vector<Suspect> exit_leaks(const ProcView& p);

}  // namespace fdw
