#include "sys/host.h"

#include <sys/utsname.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

namespace fdw {

namespace {

std::optional<std::string> slurp(const char* path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

std::optional<uint64_t> parse_cap_eff(const std::string& status_text) {
  std::istringstream in(status_text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("CapEff:", 0) != 0) continue;
    char* end = nullptr;
    const char* hex = line.c_str() + 7;
    uint64_t v = std::strtoull(hex, &end, 16);
    if (end == hex) return std::nullopt;
    return v;
  }
  return std::nullopt;
}

std::optional<uint64_t> read_cap_eff() {
  auto s = slurp("/proc/self/status");
  return s ? parse_cap_eff(*s) : std::nullopt;
}

std::string cap_name(int cap) {
  switch (cap) {
    case kCapDacReadSearch: return "CAP_DAC_READ_SEARCH";
    case kCapSysAdmin: return "CAP_SYS_ADMIN";
    case kCapPerfmon: return "CAP_PERFMON";
    case kCapBpf: return "CAP_BPF";
  }
  return "cap_" + std::to_string(cap);
}

std::string parse_lockdown(const std::string& text) {
  auto a = text.find('['), b = text.find(']');
  if (a == std::string::npos || b == std::string::npos || b < a) return "";
  return text.substr(a + 1, b - a - 1);
}

std::optional<std::string> read_lockdown() {
  auto s = slurp("/sys/kernel/security/lockdown");
  if (!s) return std::nullopt;
  return parse_lockdown(*s);
}

bool parse_filesystems_has(const std::string& text, const std::string& fs) {
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    auto tab = line.rfind('\t');
    if (line.substr(tab == std::string::npos ? 0 : tab + 1) == fs) return true;
  }
  return false;
}

bool kernel_has_filesystem(const std::string& fs) {
  auto s = slurp("/proc/filesystems");
  return s && parse_filesystems_has(*s, fs);
}

std::optional<std::pair<int, int>> parse_kernel_version(const std::string& release) {
  int major = 0, minor = 0;
  char dot = 0;
  std::istringstream in(release);
  if (!(in >> major >> dot >> minor) || dot != '.') return std::nullopt;
  return std::make_pair(major, minor);
}

Uname read_uname() {
  utsname u{};
  if (uname(&u) != 0) return {};
  return Uname{u.release, u.machine};
}

}  // namespace fdw
