#include "cli/numeric.h"

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace fdw {

std::optional<uint64_t> parse_uint(const std::string& s, uint64_t lo, uint64_t hi) {
  if (s.empty() || s.size() > 20) return std::nullopt;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    uint64_t d = uint64_t(c - '0');
    if (v > (UINT64_MAX - d) / 10) return std::nullopt;
    v = v * 10 + d;
  }
  if (v < lo || v > hi) return std::nullopt;
  return v;
}

std::optional<double> parse_number(const std::string& s, double lo, double hi) {
  if (s.empty() || std::isspace(static_cast<unsigned char>(s[0]))) return std::nullopt;
  errno = 0;
  char* end = nullptr;
  double v = std::strtod(s.c_str(), &end);
  if (*end != '\0' || errno == ERANGE || !std::isfinite(v)) return std::nullopt;
  if (v < lo || v > hi) return std::nullopt;
  return v;
}

namespace {

std::string in_quotes(const std::string& s) { return "'" + s + "'"; }

// "0.05", "3600", "4194304": the shortest text that reads back as `v`.
std::string num(double v) {
  char b[32];
  snprintf(b, sizeof b, "%.15g", v);
  return b;
}

}  // namespace

CLI::Validator pid_value() {
  return CLI::Validator(
      [](std::string& s) -> std::string {
        if (parse_uint(s, 1, kPidMaxLimit)) return {};
        return in_quotes(s) + " is not a process id";
      },
      "PID");
}

CLI::Validator seconds_value(double lo, double hi) {
  return CLI::Validator(
      [lo, hi](std::string& s) -> std::string {
        if (!parse_number(s, -HUGE_VAL, HUGE_VAL)) return in_quotes(s) + " is not a number of seconds";
        if (parse_number(s, lo, hi)) return {};
        return in_quotes(s) + " must be between " + num(lo) + " and " + num(hi) + " seconds";
      },
      "SECONDS");
}

CLI::Validator count_value(uint64_t lo, uint64_t hi, const std::string& what) {
  return CLI::Validator(
      [lo, hi, what](std::string& s) -> std::string {
        if (parse_uint(s, lo, hi)) return {};
        // "-3" and "99999999999999999999" are numbers, just out of range
        std::string mag = s.size() > 1 && s[0] == '-' ? s.substr(1) : s;
        bool digits = !mag.empty() && mag.find_first_not_of("0123456789") == std::string::npos;
        if (!digits) return in_quotes(s) + " is not a number of " + what;
        return in_quotes(s) + " must be between " + std::to_string(lo) + " and " + std::to_string(hi);
      },
      "N");
}

}  // namespace fdw
