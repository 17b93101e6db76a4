// fdwatch doctor's parts that need no root: the host parsers and the
// text/JSON rendering of a report.
#include <gtest/gtest.h>

#include "probe/features.h"
#include "sys/host.h"
#include "views/doctor.h"

using namespace fdw;

TEST(Host, CapEffFromStatus) {
  std::string status = "Name:\tcat\nCapInh:\t0000000000000000\nCapEff:\t000001c000000004\nCapBnd:\t000001ffffffffff\n";
  auto eff = parse_cap_eff(status);
  ASSERT_TRUE(eff);
  EXPECT_TRUE(*eff & (uint64_t(1) << kCapBpf));
  EXPECT_TRUE(*eff & (uint64_t(1) << kCapPerfmon));
  EXPECT_TRUE(*eff & (uint64_t(1) << kCapDacReadSearch));
  EXPECT_FALSE(*eff & (uint64_t(1) << kCapSysAdmin));
  EXPECT_FALSE(parse_cap_eff("Name:\tcat\n"));
  EXPECT_EQ(cap_name(kCapBpf), "CAP_BPF");
  EXPECT_EQ(cap_name(7), "cap_7");
}

TEST(Host, Lockdown) {
  EXPECT_EQ(parse_lockdown("[none] integrity confidentiality\n"), "none");
  EXPECT_EQ(parse_lockdown("none integrity [confidentiality]\n"), "confidentiality");
  EXPECT_EQ(parse_lockdown("none integrity\n"), "");
}

TEST(Host, FilesystemsAndKernelVersion) {
  std::string fs = "nodev\tsysfs\nnodev\ttracefs\n\text4\nnodev\tdebugfs\n";
  EXPECT_TRUE(parse_filesystems_has(fs, "tracefs"));
  EXPECT_TRUE(parse_filesystems_has(fs, "ext4"));
  EXPECT_FALSE(parse_filesystems_has(fs, "trace"));
  EXPECT_EQ(parse_kernel_version("6.18.0-1-amd64"), std::make_pair(6, 18));
  EXPECT_EQ(parse_kernel_version("5.8"), std::make_pair(5, 8));
  EXPECT_FALSE(parse_kernel_version("linux"));
}

namespace {

DoctorReport sample(CheckStatus bpf) {
  DoctorReport r;
  r.version = "1.2.3";
  r.checks = {{"kernel", CheckStatus::Ok, "6.18.0 (x86_64)"},
              {"memlock", CheckStatus::Warn, "64 KiB: raise it"},
              {"bpf", bpf, bpf == CheckStatus::Ok ? "loads" : "cannot load the BPF programs: Invalid argument"}};
  r.features = {{"bpf_loop", true, "call stacks"},
                {"io_uring tracepoints", false, "io_uring fds"},
                {"cgroup_v2", false, "--cgroup", true}};
  if (bpf == CheckStatus::Ok) r.load_s = 1.5;
  return r;
}

}  // namespace

TEST(DoctorView, TextIsOneLinePerCheckAndAVerdict) {
  EXPECT_EQ(render_doctor_text(sample(CheckStatus::Ok)),
            "kernel     ok    6.18.0 (x86_64)\n"
            "memlock    warn  64 KiB: raise it\n"
            "bpf        ok    loads\n"
            "feature    ok    bpf_loop: present (call stacks)\n"
            "feature    warn  io_uring tracepoints: missing (no io_uring fds)\n"
            "feature    warn  cgroup_v2: not mounted (no --cgroup)\n"
            "fdwatch 1.2.3: tracing works on this host\n");
  std::string failed = render_doctor_text(sample(CheckStatus::Fail));
  EXPECT_NE(failed.find("bpf        FAIL  cannot load the BPF programs: Invalid argument\n"), std::string::npos);
  EXPECT_NE(failed.find("fdwatch 1.2.3: tracing does not work on this host (see FAIL above)\n"), std::string::npos);
}

TEST(DoctorView, Json) {
  auto ok = doctor_json(sample(CheckStatus::Ok));
  EXPECT_EQ(ok["schema"], "fdwatch.doctor.v1");
  EXPECT_EQ(ok["version"], "1.2.3");
  EXPECT_EQ(ok["tracing"], true);
  EXPECT_DOUBLE_EQ(ok["load_s"].get<double>(), 1.5);
  ASSERT_EQ(ok["checks"].size(), 3u);
  EXPECT_EQ(ok["checks"][1], (nlohmann::json{{"name", "memlock"}, {"status", "warn"}, {"detail", "64 KiB: raise it"}}));
  EXPECT_EQ(ok["features"][1],
            (nlohmann::json{{"name", "io_uring tracepoints"},
                            {"present", false},
                            {"gates", "io_uring fds"},
                            {"state", "missing"}}));
  EXPECT_EQ(ok["features"][0]["state"], "present");
  EXPECT_EQ(ok["features"][2]["state"], "not_mounted");
  auto bad = doctor_json(sample(CheckStatus::Fail));
  EXPECT_EQ(bad["tracing"], false);
  EXPECT_TRUE(bad["load_s"].is_null());
  EXPECT_EQ(bad["checks"][2]["status"], "fail");
}

// A feature the kernel has but the host has not mounted is said as such.
TEST(KernelFeatures, AbsenceSaysMissingFromTheKernelOrNotMounted) {
  KernelFeature loop{"bpf_loop", false, "walks", "loops"};
  EXPECT_EQ(absence(loop), "kernel " + kernel_release() + " has no bpf_loop");
  KernelFeature cg{"cgroup_v2", false, "--cgroup", "--cgroup is refused"};
  cg.unmounted = true;
  EXPECT_EQ(absence(cg), "this host has not mounted cgroup_v2 (the kernel has it)");
}
