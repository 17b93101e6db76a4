#include "core/classify.h"

#include <arpa/inet.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <map>

namespace fdw {
namespace {

bool starts_with(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }

// Anonymous-inode names as the kernel spells them (dentry name, and the part
// after "anon_inode:" in a readlink).
Kind kind_from_anon_name(std::string_view n) {
  if (n == "[eventfd]") return Kind::Eventfd;
  if (n == "[eventpoll]") return Kind::Epoll;
  if (n == "[timerfd]") return Kind::Timerfd;
  if (n == "[signalfd]") return Kind::Signalfd;
  if (n == "inotify") return Kind::Inotify;
  if (n == "[fanotify]") return Kind::Fanotify;
  if (n == "[pidfd]") return Kind::Pidfd;
  if (n == "[io_uring]") return Kind::IoUring;
  if (n == "[userfaultfd]") return Kind::Userfaultfd;
  if (n == "[perf_event]") return Kind::Perf;
  if (starts_with(n, "bpf") || n == "btf" || n == "[bpf_link]") return Kind::Bpf;
  if (n == "[secretmem]" || n == "secretmem") return Kind::Memfd;
  return Kind::Other;
}

}  // namespace

Kind kind_for_sys(uint16_t sys) {
  switch (sys) {
    case kSysOpen: case kSysOpenat: case kSysOpenat2: case kSysCreat:
    case kSysOpenByHandleAt: case kSysIoUringOpenat: case kSysIoUringOpenat2:
      return Kind::File;
    case kSysSocket: case kSysSocketpair: case kSysAccept: case kSysAccept4:
    case kSysIoUringAccept: case kSysIoUringSocket:
      return Kind::Socket;
    case kSysPipe: case kSysPipe2: case kSysIoUringPipe: return Kind::Pipe;
    case kSysEventfd: case kSysEventfd2: return Kind::Eventfd;
    case kSysEpollCreate: case kSysEpollCreate1: return Kind::Epoll;
    case kSysTimerfdCreate: return Kind::Timerfd;
    case kSysSignalfd: case kSysSignalfd4: return Kind::Signalfd;
    case kSysInotifyInit: case kSysInotifyInit1: return Kind::Inotify;
    case kSysFanotifyInit: return Kind::Fanotify;
    case kSysMemfdCreate: case kSysMemfdSecret: return Kind::Memfd;
    case kSysPidfdOpen: case kSysClone: case kSysClone3: return Kind::Pidfd;
    case kSysMqOpen: return Kind::File;
    case kSysLandlockCreateRuleset: case kSysSeccomp: return Kind::Anon;
    case kSysOpenTreeAttr: return Kind::Dir;
    case kSysPerfEventOpen: return Kind::Perf;
    case kSysBpf: return Kind::Bpf;
    case kSysUserfaultfd: return Kind::Userfaultfd;
    case kSysIoUringSetup: return Kind::IoUring;
    case kSysOpenTree: case kSysFsmount: return Kind::Dir;
    // fspick returns a filesystem context like fsopen: anon_inode:[fscontext]
    case kSysFsopen: case kSysFspick: return Kind::Anon;
    default: return Kind::Other;
  }
}

Kind kind_from_kernel(uint32_t mode, std::string_view dname, uint16_t sys) {
  if (starts_with(dname, "memfd:")) return Kind::Memfd;
  switch (mode & S_IFMT) {
    case S_IFDIR: return Kind::Dir;
    case S_IFSOCK: return Kind::Socket;
    case S_IFIFO:
      // pipefs dentries have no name; a named FIFO opened by path does
      return (dname.empty() || sys == kSysPipe || sys == kSysPipe2 ||
              sys == kSysIoUringPipe)
                 ? Kind::Pipe
                 : Kind::Fifo;
    case S_IFREG: case S_IFCHR: case S_IFBLK: case S_IFLNK: {
      // pidfs and secretmem inodes are regular files with telling names
      Kind k = kind_from_anon_name(dname);
      if (k != Kind::Other) return k;
      if (sys == kSysPidfdOpen || sys == kSysClone || sys == kSysClone3) return Kind::Pidfd;
      if (sys == kSysMemfdSecret) return Kind::Memfd;
      return Kind::File;
    }
    default: {
      Kind k = kind_from_anon_name(dname);
      if (k != Kind::Other) return k;
      Kind s = kind_for_sys(sys);
      return (s == Kind::Other || s == Kind::File) ? Kind::Anon : s;
    }
  }
}

Kind kind_from_link(std::string_view link, uint32_t mode) {
  if (starts_with(link, "socket:")) return Kind::Socket;
  if (starts_with(link, "pipe:")) return Kind::Pipe;
  if (starts_with(link, "anon_inode:")) {
    Kind k = kind_from_anon_name(link.substr(std::strlen("anon_inode:")));
    return k == Kind::Other ? Kind::Anon : k;
  }
  if (starts_with(link, "/memfd:")) return Kind::Memfd;
  if (starts_with(link, "/secretmem")) return Kind::Memfd;
  switch (mode & S_IFMT) {
    case S_IFDIR: return Kind::Dir;
    case S_IFIFO: return Kind::Fifo;
    case S_IFSOCK: return Kind::Socket;
    case 0: return Kind::Other;
    default: return Kind::File;
  }
}

namespace {

std::string addr_port(uint16_t family, const uint8_t* addr, uint16_t port) {
  char buf[INET6_ADDRSTRLEN] = {};
  if (family == AF_INET) {
    inet_ntop(AF_INET, addr, buf, sizeof(buf));
    return std::string(buf) + ":" + std::to_string(port);
  }
  inet_ntop(AF_INET6, addr, buf, sizeof(buf));
  return "[" + std::string(buf) + "]:" + std::to_string(port);
}

constexpr uint16_t kTcpListen = 10;  // TCP_LISTEN, include/net/tcp_states.h

bool all_zero(const uint8_t* a, size_t n) {
  for (size_t i = 0; i < n; ++i)
    if (a[i]) return false;
  return true;
}

}  // namespace

std::string socket_target(const SockInfo& s, std::string_view unix_path, bool unix_path_is_peer) {
  if (s.family == AF_UNIX) {
    std::string t = "unix";
    if (!unix_path.empty()) {
      std::string p(unix_path);
      if (p[0] == '\0') p[0] = '@';  // abstract namespace, as ss(8) shows it
      t += unix_path_is_peer ? " ->" + p : " " + p;
    }
    return t;
  }
  if (s.family != AF_INET && s.family != AF_INET6) return "";
  std::string proto = s.type == SOCK_DGRAM ? "udp" : s.type == SOCK_STREAM ? "tcp" : "raw";
  size_t alen = s.family == AF_INET ? 4 : 16;
  bool has_local = s.lport != 0 || !all_zero(s.laddr, alen);
  bool has_peer = s.rport != 0;
  std::string t = proto;
  if (has_local || has_peer) t += " ";
  if (has_local) t += addr_port(s.family, s.laddr, s.lport);
  if (has_peer) t += "->" + addr_port(s.family, s.raddr, s.rport);
  if (s.type == SOCK_STREAM && s.state == kTcpListen) t += " (listen)";
  return t;
}

std::string kernel_target(Kind k, uint32_t mode, std::string_view dname, uint64_t ino) {
  switch (k) {
    case Kind::Pipe: return "pipe:[" + std::to_string(ino) + "]";
    case Kind::Socket: return "socket:[" + std::to_string(ino) + "]";
    case Kind::Memfd:
      if (starts_with(dname, "memfd:")) return "/" + std::string(dname) + " (deleted)";
      return "/secretmem (deleted)";
    case Kind::File: case Kind::Dir: case Kind::Fifo:
      return std::string(dname);  // only a last resort: callers prefer the path
    default:
      if ((mode & S_IFMT) == 0 || !dname.empty()) return "anon_inode:" + std::string(dname);
      return std::string(dname);
  }
}

std::string group_target(Kind k, std::string_view target) {
  switch (k) {
    case Kind::Pipe: return "pipe";
    case Kind::Socket: {
      // "tcp 127.0.0.1:40312->127.0.0.1:8081" -> "tcp ->127.0.0.1:8081"
      auto arrow = target.find("->");
      auto sp = target.find(' ');
      if (arrow != std::string_view::npos && sp != std::string_view::npos && sp < arrow)
        return std::string(target.substr(0, sp)) + " " + std::string(target.substr(arrow));
      if (starts_with(target, "socket:[")) return "socket";
      return std::string(target);
    }
    default: return std::string(target);
  }
}

std::string_view errno_symbol(int err) {
  const char* n = err > 0 ? strerrorname_np(err) : nullptr;
  return n ? std::string_view(n) : std::string_view();
}

std::string errno_name(int err) {
  auto n = errno_symbol(err);
  return n.empty() ? "E" + std::to_string(err) : std::string(n);
}

std::optional<int> errno_from_name(std::string_view name) {
  static const std::map<std::string, int, std::less<>> table = [] {
    std::map<std::string, int, std::less<>> t;
    for (int e = 1; e < 4096; ++e)
      if (const char* s = strerrorname_np(e)) t.emplace(s, e);
    // aliases glibc never returns but people write
    t.emplace("EWOULDBLOCK", EWOULDBLOCK);
    t.emplace("EDEADLOCK", EDEADLOCK);
    t.emplace("ENOTSUP", ENOTSUP);
    return t;
  }();
  if (auto it = table.find(name); it != table.end()) return it->second;
  // "E123": what errno_name() writes for numbers glibc cannot name
  if (name.size() > 1 && name[0] == 'E' &&
      name.find_first_not_of("0123456789", 1) == std::string_view::npos && name.size() < 8)
    return std::stoi(std::string(name.substr(1)));
  return std::nullopt;
}

}  // namespace fdw
