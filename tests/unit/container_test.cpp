// core/container: container ids, pod uids and services from cgroup v2 paths
// as the runtimes write them, and the /proc parsers behind them.
#include "core/container.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "core/aggregator.h"

namespace fdw {
namespace {

const std::string kId = "3f4e5d6c7b8a99887766554433221100ffeeddccbbaa00112233445566778899";
const std::string kUid = "0d8c6f6a-7b1e-4c5d-9e2f-123456789abc";

// /proc/self/mountinfo lines as kernels write them: unified, hybrid (v1
// controllers with v2 at .../unified), and a cgroup namespace's view.
TEST(Cgroup2Mount, FoundInMountinfo) {
  EXPECT_EQ(parse_cgroup2_mount("35 24 0:30 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 "
                                "cgroup2 rw,nsdelegate,memory_recursiveprot\n"),
            (Cgroup2Mount{"/", "/sys/fs/cgroup"}));
  EXPECT_EQ(parse_cgroup2_mount("30 24 0:26 / /sys/fs/cgroup ro,nosuid - tmpfs tmpfs ro,mode=755\n"
                                "31 30 0:27 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n"
                                "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n"),
            (Cgroup2Mount{"/", "/sys/fs/cgroup/unified"}));
  EXPECT_EQ(parse_cgroup2_mount("7 5 0:30 /kubepods/pod1 /sys/fs/cgroup ro - cgroup2 cgroup rw\n"),
            (Cgroup2Mount{"/kubepods/pod1", "/sys/fs/cgroup"}));
  EXPECT_EQ(parse_cgroup2_mount("31 30 0:27 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n"), std::nullopt);
  EXPECT_EQ(parse_cgroup2_mount(""), std::nullopt);
}

TEST(Cgroup2Mount, ArgumentsBecomePathsBelowTheMount) {
  Cgroup2Mount m{"/", "/sys/fs/cgroup/unified"};
  std::string why;
  EXPECT_EQ(cgroup_arg_path("/sys/fs/cgroup/unified/system.slice/x.service", m, &why), "/system.slice/x.service");
  EXPECT_EQ(cgroup_arg_path("/sys/fs/cgroup/unified", m, &why), "/");
  EXPECT_EQ(cgroup_arg_path("/sys/fs/cgroup/unified/", m, &why), "/");
  EXPECT_EQ(cgroup_arg_path("/system.slice/x.service/", m, &why), "/system.slice/x.service");  // as /proc spells it
  EXPECT_EQ(cgroup_arg_path("system.slice//x.service", m, &why), "/system.slice/x.service");
  EXPECT_EQ(cgroup_arg_path("/sys/fs/cgroup/unifiedx", m, &why), "/sys/fs/cgroup/unifiedx");  // not the mount
  EXPECT_EQ(cgroup_arg_path("a/../b", m, &why), std::nullopt);
  EXPECT_EQ(why, "'..' in a cgroup path");
  EXPECT_EQ(cgroup_arg_path("./a", m, &why), std::nullopt);
}

TEST(Cgroup2Mount, WithinMeansTheCgroupOrBelow) {
  EXPECT_TRUE(cgroup_within("/a/b", "/a"));
  EXPECT_TRUE(cgroup_within("/a", "/a"));
  EXPECT_TRUE(cgroup_within("/a", "/a/"));
  EXPECT_FALSE(cgroup_within("/ab", "/a"));
  EXPECT_FALSE(cgroup_within("/", "/a"));
  EXPECT_FALSE(cgroup_within("", "/a"));  // unknown (gone, cgroup v1 only)
  EXPECT_TRUE(cgroup_within("/x", "/"));
}

TEST(Container, DockerSystemdAndCgroupfsDrivers) {
  EXPECT_EQ(container_of("/system.slice/docker-" + kId + ".scope"), (ContainerRef{kId, "docker", ""}));
  EXPECT_EQ(container_of("/docker/" + kId), (ContainerRef{kId, "docker", ""}));
  // a child cgroup made inside the container keeps the container's id
  EXPECT_EQ(container_of("/system.slice/docker-" + kId + ".scope/app"), (ContainerRef{kId, "docker", ""}));
}

TEST(Container, KubernetesPodsWithContainerdAndCrio) {
  std::string uid_ = kUid;
  std::replace(uid_.begin(), uid_.end(), '-', '_');
  EXPECT_EQ(container_of("/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + uid_ +
                         ".slice/cri-containerd-" + kId + ".scope"),
            (ContainerRef{kId, "containerd", kUid}));
  EXPECT_EQ(container_of("/kubepods.slice/kubepods-pod" + uid_ + ".slice/crio-" + kId + ".scope"),
            (ContainerRef{kId, "crio", kUid}));
  EXPECT_EQ(container_of("/kubepods/besteffort/pod" + kUid + "/" + kId), (ContainerRef{kId, "cri", kUid}));
  // the pod's own cgroup (pause-less sandbox processes): a pod, no container
  EXPECT_EQ(container_of("/kubepods/besteffort/pod" + kUid), (ContainerRef{"", "", kUid}));
}

TEST(Container, PodmanRootfulRootlessAndConmon) {
  EXPECT_EQ(container_of("/machine.slice/libpod-" + kId + ".scope"), (ContainerRef{kId, "podman", ""}));
  EXPECT_EQ(container_of("/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-" + kId +
                         ".scope/container"),
            (ContainerRef{kId, "podman", ""}));
  // conmon watches the container from outside it: the user's service it runs in
  EXPECT_EQ(container_of("/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-conmon-" + kId +
                         ".scope"),
            (ContainerRef{"user@1000.service", "systemd", ""}));
}

TEST(Container, SystemdServicesAndNone) {
  EXPECT_EQ(container_of("/system.slice/nginx.service"), (ContainerRef{"nginx.service", "systemd", ""}));
  EXPECT_EQ(container_of("/user.slice/user-1000.slice/user@1000.service/app.slice/foo.service"),
            (ContainerRef{"foo.service", "systemd", ""}));
  EXPECT_EQ(container_of("/user.slice/user-1000.slice/session-3.scope"), ContainerRef{});
  EXPECT_EQ(container_of("/"), ContainerRef{});
  EXPECT_EQ(container_of(""), ContainerRef{});
  EXPECT_EQ(container_of("/init.scope"), ContainerRef{});
  // 63 hex digits, upper case, or a foreign prefix are not container ids
  EXPECT_EQ(container_of("/docker/" + kId.substr(1)), ContainerRef{});
  EXPECT_EQ(container_of("/system.slice/other-" + kId + ".scope"), ContainerRef{});
}

TEST(Container, ProcCgroupV2Line) {
  EXPECT_EQ(parse_cgroup_v2("0::/system.slice/ssh.service\n"), "/system.slice/ssh.service");
  // hybrid hierarchy: v1 controllers first, the unified line last
  EXPECT_EQ(parse_cgroup_v2("12:cpu,cpuacct:/x\n1:name=systemd:/y\n0::/user.slice\n"), "/user.slice");
  EXPECT_EQ(parse_cgroup_v2("0::/\n"), "/");
  EXPECT_FALSE(parse_cgroup_v2("12:cpu:/x\n"));
  EXPECT_FALSE(parse_cgroup_v2(""));
}

TEST(Container, ProcStatusNsPid) {
  EXPECT_EQ(parse_ns_pid("Name:\tsh\nTgid:\t4242\nNSpid:\t4242\t7\t1\nNSsid:\t1\n"), 1u);
  EXPECT_EQ(parse_ns_pid("NSpid:\t4242\n"), 4242u);
  EXPECT_EQ(parse_ns_pid("Name:\tsh\nNSpid:\t4242"), 4242u);
  EXPECT_FALSE(parse_ns_pid("Name:\tsh\nTgid:\t4242\n"));  // kernels before 4.1
  EXPECT_FALSE(parse_ns_pid("NSpid:\t12x\n"));
  EXPECT_FALSE(parse_ns_pid("NSpid:\t99999999999\n"));
}

// The aggregator learns identity from Comm events, and a child starts in its
// parent's cgroup until it is identified itself.
TEST(Container, AggregatorCarriesIdentity) {
  Aggregator agg;
  agg.set_window_start(100);
  Event c;
  c.type = EvType::Comm;
  c.ts_ns = 100;
  c.pid = 10;
  c.comm = "dockerd-child";
  c.value = 0;
  c.cgroup = "/system.slice/docker-" + kId + ".scope";
  c.ns_pid = 1;
  agg.apply(c);
  Event f;
  f.type = EvType::Fork;
  f.ts_ns = 110;
  f.pid = 10;
  f.child = 11;
  agg.apply(f);
  Event id;  // identity only: comm and uid stay
  id.type = EvType::Comm;
  id.ts_ns = 120;
  id.pid = 11;
  id.value = -1;
  id.ns_pid = 2;
  agg.apply(id);
  Snapshot s = agg.snapshot(130);
  ASSERT_EQ(s.processes.size(), 2u);
  EXPECT_EQ(s.processes[0].container, kId);
  EXPECT_EQ(s.processes[0].ns_pid, 1u);
  EXPECT_EQ(s.processes[1].cgroup, c.cgroup);
  EXPECT_EQ(s.processes[1].container, kId);
  EXPECT_EQ(s.processes[1].ns_pid, 2u);
  EXPECT_EQ(s.processes[1].comm, "dockerd-child");
  EXPECT_EQ(s.processes[1].uid, 0u);
}

}  // namespace
}  // namespace fdw
