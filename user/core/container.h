// Which container (or service) a process belongs to, from its cgroup v2 path
// alone.  Pure: the enricher reads /proc/PID/cgroup; this only parses.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace fdw {

struct ContainerRef {
  // The container id (64 hex digits for docker, containerd/cri, cri-o and
  // podman), the systemd service name ("nginx.service"), or "" for none.
  std::string id;
  // "docker", "containerd", "crio", "podman", "systemd", or "".
  std::string runtime;
  // Kubernetes pod uid ("0d8c6f6a-..."), "" outside a pod.
  std::string pod_uid;
  bool operator==(const ContainerRef&) const = default;
};

// Parses a cgroup v2 path ("/system.slice/docker-<id>.scope",
// "/kubepods.slice/.../kubepods-pod<uid>.slice/cri-containerd-<id>.scope",
// "/docker/<id>", "/kubepods/burstable/pod<uid>/<id>", ...).  The innermost
// container component wins; a systemd service is the answer only when no
// container is found.  Unknown shapes give an empty ContainerRef.
ContainerRef container_of(std::string_view cgroup);

// The cgroup v2 path in /proc/PID/cgroup text (the "0::PATH" line); nullopt
// when there is none (cgroup v1 only, or the process is gone).
std::optional<std::string> parse_cgroup_v2(std::string_view proc_cgroup);

// Where the cgroup v2 hierarchy is mounted (a "cgroup2" line of
// /proc/self/mountinfo): `dir` is the mount point ("/sys/fs/cgroup", or
// "/sys/fs/cgroup/unified" on hybrid hosts), `root` the cgroup it shows
// ("/" unless fdwatch runs in a cgroup namespace or a bind mount).
struct Cgroup2Mount {
  std::string root;
  std::string dir;
  bool operator==(const Cgroup2Mount&) const = default;
};
std::optional<Cgroup2Mount> parse_cgroup2_mount(std::string_view mountinfo);

// A --cgroup argument as a path below the mount point ("/system.slice/x"):
// a directory under m.dir, an absolute path as /proc/PID/cgroup spells it,
// or a path relative to m.dir.  nullopt (and *why) for "." or ".." parts.
std::optional<std::string> cgroup_arg_path(std::string_view arg, const Cgroup2Mount& m, std::string* why);

// Whether cgroup path `p` is `top` or below it ("/a/b" is within "/a",
// "/ab" is not; everything is within "/").
bool cgroup_within(std::string_view p, std::string_view top);

// The pid in the process's innermost pid namespace: the last field of the
// "NSpid:" line of /proc/PID/status; nullopt when the line is missing.
std::optional<uint32_t> parse_ns_pid(std::string_view proc_status);

}  // namespace fdw
