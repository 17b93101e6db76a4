#include "core/container.h"

#include <algorithm>
#include <vector>

namespace fdw {

namespace {

bool is_hex64(std::string_view s) {
  return s.size() == 64 && std::all_of(s.begin(), s.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

bool strip_prefix(std::string_view& s, std::string_view p) {
  if (s.substr(0, p.size()) != p) return false;
  s.remove_prefix(p.size());
  return true;
}

bool strip_suffix(std::string_view& s, std::string_view p) {
  if (s.size() < p.size() || s.substr(s.size() - p.size()) != p) return false;
  s.remove_suffix(p.size());
  return true;
}

std::vector<std::string_view> components(std::string_view path) {
  std::vector<std::string_view> out;
  while (!path.empty()) {
    size_t slash = path.find('/');
    std::string_view c = path.substr(0, slash);
    if (!c.empty()) out.push_back(c);
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  return out;
}

// "<runtime>-<id>.scope" (systemd cgroup driver) -> runtime; "" if not one.
std::string scope_runtime(std::string_view c, std::string* id) {
  if (!strip_suffix(c, ".scope")) return "";
  static constexpr std::pair<std::string_view, std::string_view> kPrefixes[] = {
      {"docker-", "docker"}, {"cri-containerd-", "containerd"}, {"crio-", "crio"}, {"libpod-", "podman"}};
  for (auto [prefix, runtime] : kPrefixes)
    if (strip_prefix(c, prefix) && is_hex64(c)) {
      *id = std::string(c);
      return std::string(runtime);
    }
  return "";
}

// A plain "<id>" component (cgroupfs driver): the runtime is named by the parent.
std::string plain_runtime(std::string_view parent) {
  if (parent == "docker") return "docker";
  if (parent.substr(0, 3) == "pod") return "cri";
  return "";
}

// "kubepods-burstable-pod<uid_with_underscores>.slice" or "pod<uid>" -> uid.
std::string pod_uid(std::string_view c) {
  strip_suffix(c, ".slice");
  size_t at = c.rfind("pod");
  if (at == std::string_view::npos || (at != 0 && c[at - 1] != '-')) return "";
  std::string uid(c.substr(at + 3));
  std::replace(uid.begin(), uid.end(), '_', '-');
  if (uid.size() != 36 || std::count(uid.begin(), uid.end(), '-') != 4) return "";
  return uid;
}

}  // namespace

ContainerRef container_of(std::string_view cgroup) {
  ContainerRef r;
  auto parts = components(cgroup);
  std::string service;
  for (size_t i = 0; i < parts.size(); ++i) {
    std::string_view c = parts[i];
    std::string id;
    std::string runtime = scope_runtime(c, &id);
    if (runtime.empty() && is_hex64(c)) {
      id = std::string(c);
      runtime = plain_runtime(i ? parts[i - 1] : std::string_view());
    }
    if (!id.empty()) {
      r.id = std::move(id);
      r.runtime = std::move(runtime);
    }
    if (std::string uid = pod_uid(c); !uid.empty()) r.pod_uid = std::move(uid);
    if (c.size() > 8 && c.substr(c.size() - 8) == ".service") service = std::string(c);
  }
  if (r.id.empty() && !service.empty()) {
    r.id = std::move(service);
    r.runtime = "systemd";
  }
  return r;
}

std::optional<std::string> parse_cgroup_v2(std::string_view text) {
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    if (strip_prefix(line, "0::")) return std::string(line);
    if (nl == std::string_view::npos) break;
    text.remove_prefix(nl + 1);
  }
  return std::nullopt;
}

std::optional<Cgroup2Mount> parse_cgroup2_mount(std::string_view text) {
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
    // ID PARENT MAJ:MIN ROOT MOUNT_POINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPER
    size_t sep = line.find(" - ");
    if (sep == std::string_view::npos || line.substr(sep + 3, 8) != "cgroup2 ") continue;
    std::vector<std::string_view> f;
    for (std::string_view rest = line.substr(0, sep); !rest.empty();) {
      size_t sp = rest.find(' ');
      f.push_back(rest.substr(0, sp));
      rest.remove_prefix(sp == std::string_view::npos ? rest.size() : sp + 1);
    }
    if (f.size() < 5) continue;
    return Cgroup2Mount{std::string(f[3]), std::string(f[4])};
  }
  return std::nullopt;
}

std::optional<std::string> cgroup_arg_path(std::string_view arg, const Cgroup2Mount& m, std::string* why) {
  std::string_view rel = arg;
  if (std::string_view d = m.dir; rel.substr(0, d.size()) == d && (rel.size() == d.size() || rel[d.size()] == '/'))
    rel.remove_prefix(d.size());
  std::string out;
  for (std::string_view c : components(rel)) {
    if (c == "." || c == "..") {
      if (why) *why = "'" + std::string(c) + "' in a cgroup path";
      return std::nullopt;
    }
    out += '/';
    out += c;
  }
  return out.empty() ? "/" : out;
}

bool cgroup_within(std::string_view p, std::string_view top) {
  while (top.size() > 1 && top.back() == '/') top.remove_suffix(1);
  if (top == "/") return true;
  return p.substr(0, top.size()) == top && (p.size() == top.size() || p[top.size()] == '/');
}

std::optional<uint32_t> parse_ns_pid(std::string_view text) {
  size_t at = 0;
  if (text.substr(0, 6) != "NSpid:") {
    at = text.find("\nNSpid:");
    if (at == std::string_view::npos) return std::nullopt;
    ++at;
  }
  std::string_view line = text.substr(at + 6);
  line = line.substr(0, line.find('\n'));
  std::optional<uint32_t> last;
  uint64_t v = 0;
  bool in_num = false;
  for (char c : line) {
    if (c >= '0' && c <= '9') {
      v = v * 10 + uint64_t(c - '0');
      if (v > UINT32_MAX) return std::nullopt;
      in_num = true;
    } else if (c == ' ' || c == '\t') {
      if (in_num) last = uint32_t(v);
      v = 0;
      in_num = false;
    } else {
      return std::nullopt;
    }
  }
  if (in_num) last = uint32_t(v);
  return last;
}

}  // namespace fdw
