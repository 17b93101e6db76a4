// fdwatch doctor: checks what this host supports, one line each, and tries to
// load the BPF object.  Exit 0 when tracing works, 1 otherwise.
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <iostream>

#include "cli/cli.h"
#include "probe/features.h"
#include "probe/probe.h"
#include "sys/host.h"
#include "sys/proc.h"
#include "version.h"
#include "views/doctor.h"

namespace fdw {

void setup_doctor(CLI::App& app, DoctorOptions& o) {
  app.add_flag("--json", o.json, "Print the checks as one fdwatch.doctor.v1 JSON document");
  app.footer(
      "Checks the kernel, BTF, tracefs, privileges, lockdown, RLIMIT_MEMLOCK and the\n"
      "optional kernel features, then loads the BPF object and says how long it took.\n"
      "Examples:\n"
      "  sudo fdwatch doctor\n"
      "  sudo fdwatch doctor --json | jq '.checks[] | select(.status != \"ok\")'\n"
      "Exit status: 0 when tracing works on this host, 1 otherwise.");
}

namespace {

constexpr int kMinMajor = 5, kMinMinor = 8;  // BPF ring buffers

DoctorCheck check_kernel(const Uname& u) {
  auto v = parse_kernel_version(u.release);
  std::string what = u.release + " (" + u.machine + ")";
  if (v && *v < std::make_pair(kMinMajor, kMinMinor))
    return {"kernel", CheckStatus::Fail, what + ": fdwatch needs Linux 5.8+ (BPF ring buffers)"};
  return {"kernel", CheckStatus::Ok, what};
}

DoctorCheck check_btf_line() {
  if (auto r = check_btf(); !r) return {"btf", CheckStatus::Fail, r.error().message};
  return {"btf", CheckStatus::Ok, "/sys/kernel/btf/vmlinux (CO-RE relocations)"};
}

// fdwatch attaches to the raw sys_exit tracepoint, which needs no tracefs;
// the line says what there is for other tools.
DoctorCheck check_tracefs() {
  struct stat st {};
  if (stat("/sys/kernel/tracing/events", &st) == 0)
    return {"tracefs", CheckStatus::Ok, "mounted at /sys/kernel/tracing (not needed: raw tracepoints)"};
  if (kernel_has_filesystem("tracefs"))
    return {"tracefs", CheckStatus::Ok, "not mounted, mountable (not needed: raw tracepoints)"};
  return {"tracefs", CheckStatus::Ok, "absent (not needed: raw tracepoints)"};
}

DoctorCheck check_privileges_line() {
  std::string caps;
  if (auto eff = read_cap_eff()) {
    for (int c : {kCapBpf, kCapPerfmon, kCapDacReadSearch, kCapSysAdmin})
      if (*eff & (uint64_t(1) << c)) caps += (caps.empty() ? "" : " ") + cap_name(c);
  }
  std::string who = geteuid() == 0 ? "root" : "uid " + std::to_string(geteuid());
  std::string detail = who + (caps.empty() ? ", no tracing capabilities" : " (" + caps + ")");
  if (auto r = check_privileges(); !r) return {"privileges", CheckStatus::Fail, detail + ": " + r.error().message};
  return {"privileges", CheckStatus::Ok, detail};
}

DoctorCheck check_lockdown() {
  auto mode = read_lockdown();
  if (!mode) return {"lockdown", CheckStatus::Ok, "no lockdown LSM"};
  if (*mode == "confidentiality")
    return {"lockdown", CheckStatus::Fail, "confidentiality: the kernel refuses BPF reads of kernel memory"};
  return {"lockdown", CheckStatus::Ok, *mode + " (BPF tracing allowed)"};
}

std::string bytes_text(rlim_t v) {
  if (v == RLIM_INFINITY) return "unlimited";
  if (v >= 1024 * 1024) return std::to_string(v / (1024 * 1024)) + " MiB";
  return std::to_string(v / 1024) + " KiB";
}

DoctorCheck check_memlock(const Uname& u) {
  rlimit rl{};
  getrlimit(RLIMIT_MEMLOCK, &rl);
  std::string cur = bytes_text(rl.rlim_cur);
  auto v = parse_kernel_version(u.release);
  if (v && *v >= std::make_pair(5, 11))
    return {"memlock", CheckStatus::Ok, cur + " (not used: this kernel charges BPF memory to the cgroup)"};
  if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= 64ull * 1024 * 1024) return {"memlock", CheckStatus::Ok, cur};
  return {"memlock", CheckStatus::Warn,
          cur + ": BPF maps on this kernel count against it; raise it (ulimit -l unlimited)"};
}

// Loads and attaches the real object, as every subcommand would.
DoctorCheck check_load(bool privileged, std::optional<double>* load_s) {
  if (!privileged) return {"bpf", CheckStatus::Fail, "not tried: loading needs the privileges above"};
  const uint64_t t0 = monotonic_ns();
  auto p = Probe::open(ProbeOptions{});
  const double secs = double(monotonic_ns() - t0) / 1e9;
  if (!p) return {"bpf", CheckStatus::Fail, p.error().message};
  *load_s = secs;
  char b[96];
  snprintf(b, sizeof b, "the BPF object loads and attaches (%.2f s)", secs);
  std::string detail = b;
  return {"bpf", CheckStatus::Ok, detail};
}

}  // namespace

int run_doctor(const DoctorOptions& o) {
  DoctorReport r;
  r.version = FDWATCH_VERSION;
  const Uname u = read_uname();
  r.checks.push_back(check_kernel(u));
  r.checks.push_back(check_btf_line());
  r.checks.push_back(check_tracefs());
  DoctorCheck priv = check_privileges_line();
  const bool privileged = priv.status != CheckStatus::Fail;
  r.checks.push_back(priv);
  r.checks.push_back(check_lockdown());
  r.checks.push_back(check_memlock(u));
  r.checks.push_back(check_load(privileged, &r.load_s));
  for (const KernelFeature& f : probe_kernel_features())
    r.features.push_back({f.name, f.present, f.gates, f.unmounted});
  if (o.json) std::cout << doctor_json(r).dump(2) << "\n";
  else std::cout << render_doctor_text(r);
  std::cout.flush();
  return r.tracing_works() ? kExitOk : kExitFailure;
}

}  // namespace fdw
