#include "sys/cgroup.h"

#include <sys/stat.h>
#include <sys/vfs.h>

#include <cerrno>
#include <fstream>
#include <sstream>

#include "core/container.h"

namespace fdw {

namespace {

constexpr long kCgroup2Magic = 0x63677270;  // CGROUP2_SUPER_MAGIC

std::string read_text(const char* path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

Error bad(const std::string& arg, const std::string& why, const std::string& hint, int err = 0) {
  return Error{"--cgroup " + arg + ": " + why, hint, err, 1};
}

}  // namespace

Result<CgroupTarget> resolve_cgroup(const std::string& arg) {
  auto mount = parse_cgroup2_mount(read_text("/proc/self/mountinfo"));
  if (!mount)
    return bad(arg, "no cgroup v2 hierarchy is mounted", "mount it: mount -t cgroup2 none /sys/fs/cgroup");
  const std::string example = "e.g. --cgroup system.slice/ssh.service (as /proc/PID/cgroup shows it after 0::)";
  std::string why;
  auto rel = cgroup_arg_path(arg, *mount, &why);
  if (!rel) return Error{"--cgroup " + arg + ": " + why, example, EINVAL, 2};
  CgroupTarget t;
  t.dir = *rel == "/" ? mount->dir : mount->dir + *rel;
  t.path = mount->root == "/" ? *rel : *rel == "/" ? mount->root : mount->root + *rel;
  struct stat st{};
  if (stat(t.dir.c_str(), &st) != 0)
    return bad(arg, "no such cgroup (" + t.dir + ")", "cgroup v2 lives under " + mount->dir + "; " + example, errno);
  struct statfs fs{};
  if (!S_ISDIR(st.st_mode) || statfs(t.dir.c_str(), &fs) != 0 || fs.f_type != kCgroup2Magic)
    return bad(arg, t.dir + " is not a cgroup v2 directory", "cgroup v2 lives under " + mount->dir + "; " + example);
  return t;
}

}  // namespace fdw
