#include "sys/proc.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <arpa/inet.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <fstream>
#include <sstream>

#include "core/classify.h"
#include "core/container.h"

namespace fdw {

namespace {

std::string read_small(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return "";
  std::string out;
  char buf[8192];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof(buf))) > 0) out.append(buf, size_t(n));
  ::close(fd);
  return out;
}

std::string proc_path(uint32_t pid, const char* rest) {
  return "/proc/" + std::to_string(pid) + "/" + rest;
}

}  // namespace

uint64_t monotonic_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return uint64_t(ts.tv_sec) * 1'000'000'000ull + uint64_t(ts.tv_nsec);
}

bool process_exists(uint32_t pid) {
  if (pid == 0) return false;
  // a zombie still has /proc/PID, but its fd table is gone: treat as exited
  std::string st = read_small(proc_path(pid, "stat"));
  if (st.empty()) return false;
  auto rp = st.rfind(')');
  if (rp == std::string::npos || rp + 2 >= st.size()) return false;
  char state = st[rp + 2];
  if (state == 'Z' || state == 'X') return false;
  // /proc/PID also resolves thread ids; only a thread-group leader is a process
  std::string status = read_small(proc_path(pid, "status"));
  auto p = status.find("\nTgid:");
  return p != std::string::npos && std::stoul(status.substr(p + 6)) == pid;
}

std::vector<uint32_t> list_pids() {
  std::vector<uint32_t> out;
  DIR* d = opendir("/proc");
  if (!d) return out;
  while (dirent* de = readdir(d)) {
    char* end;
    unsigned long v = strtoul(de->d_name, &end, 10);
    if (*end == 0 && v > 0) out.push_back(uint32_t(v));
  }
  closedir(d);
  return out;
}

std::string read_comm(uint32_t pid) {
  std::string c = read_small(proc_path(pid, "comm"));
  while (!c.empty() && c.back() == '\n') c.pop_back();
  return c;
}

std::optional<uint32_t> read_uid(uint32_t pid) {
  struct stat st;
  if (stat(proc_path(pid, "").c_str(), &st) != 0) return std::nullopt;
  return st.st_uid;
}

std::optional<uint32_t> read_ppid(uint32_t pid) {
  std::string st = read_small(proc_path(pid, "stat"));
  auto rp = st.rfind(')');
  if (rp == std::string::npos) return std::nullopt;
  std::istringstream in(st.substr(rp + 2));
  char state;
  uint32_t ppid;
  if (!(in >> state >> ppid)) return std::nullopt;
  return ppid;
}

std::optional<uint64_t> read_start_time(uint32_t pid) {
  std::string st = read_small(proc_path(pid, "stat"));
  auto rp = st.rfind(')');
  if (rp == std::string::npos) return std::nullopt;
  std::istringstream in(st.substr(rp + 2));
  std::string field;
  for (int i = 3; i < 22 && in >> field; ++i) {  // fields 3 (state) .. 21
  }
  uint64_t start;
  if (!(in >> start)) return std::nullopt;
  return start;
}

std::optional<uint64_t> parse_nofile_limit(const std::string& text) {
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("Max open files", 0) != 0) continue;
    std::istringstream f(line.substr(strlen("Max open files")));
    std::string soft;
    if (!(f >> soft) || soft == "unlimited") return std::nullopt;
    try {
      return std::stoull(soft);
    } catch (...) {
      return std::nullopt;
    }
  }
  return std::nullopt;
}

std::optional<uint64_t> read_nofile_limit(uint32_t pid) {
  return parse_nofile_limit(read_small(proc_path(pid, "limits")));
}

std::string read_cgroup(uint32_t pid) {
  return parse_cgroup_v2(read_small(proc_path(pid, "cgroup"))).value_or("");
}

uint32_t read_ns_pid(uint32_t pid) {
  return parse_ns_pid(read_small(proc_path(pid, "status"))).value_or(0);
}

std::string read_fd_link(uint32_t pid, int fd) {
  char buf[4096];
  std::string p = "/proc/" + std::to_string(pid) + "/fd/" + std::to_string(fd);
  ssize_t n = readlink(p.c_str(), buf, sizeof(buf));
  return n > 0 ? std::string(buf, size_t(n)) : std::string();
}

namespace {

// "0100007F:1F90" -> address bytes (network order) and port
bool parse_hex_endpoint(const std::string& s, bool v6, uint8_t* addr, uint16_t* port) {
  auto colon = s.find(':');
  if (colon == std::string::npos) return false;
  std::string a = s.substr(0, colon);
  size_t words = v6 ? 4 : 1;
  if (a.size() != words * 8) return false;
  for (size_t w = 0; w < words; ++w) {
    // each 32-bit word is printed in host (little-endian) order
    uint32_t v = uint32_t(strtoul(a.substr(w * 8, 8).c_str(), nullptr, 16));
    std::memcpy(addr + w * 4, &v, 4);
  }
  *port = uint16_t(strtoul(s.substr(colon + 1).c_str(), nullptr, 16));
  return true;
}

}  // namespace

std::unordered_map<uint64_t, std::string> parse_proc_net(const std::string& text,
                                                         const std::string& proto, bool v6) {
  std::unordered_map<uint64_t, std::string> out;
  std::istringstream in(text);
  std::string line;
  std::getline(in, line);  // header
  while (std::getline(in, line)) {
    std::istringstream f(line);
    std::string sl, local, remote, st, txrx, tr, retr, uid, timeout, inode;
    if (!(f >> sl >> local >> remote >> st >> txrx >> tr >> retr >> uid >> timeout >> inode))
      continue;
    SockInfo s{};
    s.family = v6 ? 10 : 2;
    s.type = proto == "udp" ? 2 : 1;
    s.state = uint16_t(strtoul(st.c_str(), nullptr, 16));
    if (!parse_hex_endpoint(local, v6, s.laddr, &s.lport)) continue;
    if (!parse_hex_endpoint(remote, v6, s.raddr, &s.rport)) continue;
    uint64_t ino = strtoull(inode.c_str(), nullptr, 10);
    if (ino) out[ino] = socket_target(s, "", false);
  }
  return out;
}

std::unordered_map<uint64_t, std::string> parse_proc_net_unix(const std::string& text) {
  std::unordered_map<uint64_t, std::string> out;
  std::istringstream in(text);
  std::string line;
  std::getline(in, line);  // header
  while (std::getline(in, line)) {
    std::istringstream f(line);
    std::string num, ref, proto, flags, type, st, inode, path;
    if (!(f >> num >> ref >> proto >> flags >> type >> st >> inode)) continue;
    f >> path;
    SockInfo s{};
    s.family = 1;
    uint64_t ino = strtoull(inode.c_str(), nullptr, 10);
    if (ino) out[ino] = socket_target(s, path, false);
  }
  return out;
}

std::string SocketTable::lookup(uint32_t pid, uint64_t inode) {
  struct stat st;
  if (stat(proc_path(pid, "ns/net").c_str(), &st) != 0) return "";
  auto& m = by_ns_[st.st_ino];
  if (m.empty()) {
    const char* files[][3] = {{"net/tcp", "tcp", "4"}, {"net/tcp6", "tcp", "6"},
                              {"net/udp", "udp", "4"}, {"net/udp6", "udp", "6"}};
    for (auto& f : files)
      for (auto& [k, v] : parse_proc_net(read_small(proc_path(pid, f[0])), f[1], f[2][0] == '6'))
        m.emplace(k, v);
    for (auto& [k, v] : parse_proc_net_unix(read_small(proc_path(pid, "net/unix")))) m.emplace(k, v);
    m.emplace(0, "");  // marks the namespace as read even when it has no sockets
  }
  auto it = m.find(inode);
  return it == m.end() ? "" : it->second;
}

Result<Event> read_fd_table(uint32_t pid, uint64_t ts_ns, SocketTable* sockets) {
  std::string dir = proc_path(pid, "fd");
  DIR* d = opendir(dir.c_str());
  if (!d) {
    int e = errno;
    if (e == ENOENT) return Error{"no such process: " + std::to_string(pid), "", ENOENT, 1};
    return Error::from_errno("cannot read " + dir, e);
  }
  Event ev;
  ev.type = EvType::Snapshot;
  ev.ts_ns = ts_ns;
  ev.pid = pid;
  int dfd = dirfd(d);
  while (dirent* de = readdir(d)) {
    if (de->d_name[0] == '.') continue;
    SeedFd s;
    s.fd = atoi(de->d_name);
    char buf[4096];
    ssize_t n = readlinkat(dfd, de->d_name, buf, sizeof(buf));
    if (n < 0 && (errno == EACCES || errno == EPERM)) {
      // listed but not readable: count it, kind and target unknown
      ev.flags |= kSnapshotLinksUnreadable;
      ev.fds.push_back(std::move(s));
      continue;
    }
    if (n <= 0) continue;  // closed while we read
    std::string link(buf, size_t(n));
    struct stat st{};
    uint32_t mode = fstatat(dfd, de->d_name, &st, 0) == 0 ? st.st_mode : 0;
    s.kind = kind_from_link(link, mode);
    s.target = link;
    if (s.kind == Kind::Socket && sockets) {
      std::string t = sockets->lookup(pid, st.st_ino);
      if (!t.empty()) s.target = t;
    }
    std::string info = read_small(proc_path(pid, ("fdinfo/" + std::string(de->d_name)).c_str()));
    auto fl = info.find("flags:");
    if (fl != std::string::npos)
      s.cloexec = strtoul(info.c_str() + fl + 6, nullptr, 8) & O_CLOEXEC;
    ev.fds.push_back(std::move(s));
  }
  closedir(d);
  std::sort(ev.fds.begin(), ev.fds.end(), [](auto& a, auto& b) { return a.fd < b.fd; });
  ev.comm = read_comm(pid);
  return ev;
}

}  // namespace fdw
