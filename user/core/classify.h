// Pure classification: what kind of fd, and how its target reads, from what
// the kernel reported (inode mode, dentry name, socket endpoints) or from a
// /proc/PID/fd readlink.  Shared by the decoder (live) and the seeder (/proc),
// so both spell targets the same way.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/event.h"

namespace fdw {

// A socket's endpoints as the kernel describes them: addresses in network
// byte order (IPv4 in the first 4 bytes), ports in host order.
struct SockInfo {
  uint16_t family = 0;  // AF_INET, AF_INET6, AF_UNIX, ...
  uint16_t type = 0;    // SOCK_STREAM, SOCK_DGRAM, ...
  uint16_t lport = 0;
  uint16_t rport = 0;
  uint16_t state = 0;   // the kernel's TCP state (TCP_LISTEN = 10, ...)
  uint8_t laddr[16] = {};
  uint8_t raddr[16] = {};
};

// The kind a syscall (a Sys) creates when nothing else is known (e.g. it failed).
Kind kind_for_sys(uint16_t sys);

// Kind from the kernel's view of the new file: S_IFMT bits of i_mode and the
// dentry name ("[eventfd]", "memfd:x", "" for pipes and sockets).
Kind kind_from_kernel(uint32_t mode, std::string_view dname, uint16_t sys);

// Kind from a /proc/PID/fd readlink ("socket:[1]", "anon_inode:[eventfd]",
// "/memfd:x (deleted)", "/etc/passwd") and the S_IFMT bits from stat().
Kind kind_from_link(std::string_view link, uint32_t mode);

// "tcp 127.0.0.1:40312->127.0.0.1:8081", "udp [::1]:53", "unix /run/x.sock",
// or "" when the socket's family is not one we describe.
std::string socket_target(const SockInfo& s, std::string_view unix_path, bool unix_path_is_peer);

// Target text for a kind the kernel described without a path:
// "pipe:[ino]", "socket:[ino]", "anon_inode:[eventfd]", "/memfd:x (deleted)".
std::string kernel_target(Kind k, uint32_t mode, std::string_view dname, uint64_t ino);

// The part of a target suspects group by: sockets lose their local port
// ("tcp ->127.0.0.1:8081"), pipes their inode ("pipe"); files keep the path.
std::string group_target(Kind k, std::string_view target);

// errno spelling, shared by reports and event logs.
std::string_view errno_symbol(int err);  // "EMFILE", or "" when glibc has no name
std::string errno_name(int err);         // "EMFILE", or "E123" when unknown
std::optional<int> errno_from_name(std::string_view name);  // also "E123"

}  // namespace fdw
