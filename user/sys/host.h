// Facts about the host that decide whether tracing can work: capabilities,
// kernel lockdown, tracefs support, kernel version.  Readers make syscalls;
// the parsers are pure and exposed for unit tests.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace fdw {

// Capability numbers fdwatch cares about (linux/capability.h; CAP_BPF and
// CAP_PERFMON are newer than some headers).
constexpr int kCapDacReadSearch = 2, kCapSysAdmin = 21, kCapPerfmon = 38, kCapBpf = 39;

// CapEff of /proc/self/status as a bit mask; nullopt if the line is missing.
std::optional<uint64_t> parse_cap_eff(const std::string& status_text);
std::optional<uint64_t> read_cap_eff();
// "CAP_BPF" etc. for the capability numbers above, "cap_N" for others.
std::string cap_name(int cap);

// The active mode of /sys/kernel/security/lockdown ("[none] integrity
// confidentiality" -> "none"); "" when there is no bracketed mode.
std::string parse_lockdown(const std::string& text);
// nullopt when the kernel has no lockdown LSM (or securityfs is not mounted).
std::optional<std::string> read_lockdown();

// Whether /proc/filesystems lists `fs` (e.g. "tracefs").
bool parse_filesystems_has(const std::string& text, const std::string& fs);
bool kernel_has_filesystem(const std::string& fs);

// "6.18.0-1-amd64" -> {6, 18}; nullopt if it does not start with N.N.
std::optional<std::pair<int, int>> parse_kernel_version(const std::string& release);

struct Uname {
  std::string release, machine;
};
Uname read_uname();

}  // namespace fdw
