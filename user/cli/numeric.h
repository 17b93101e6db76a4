// Validators for numeric options.  CLI11 runs them on the raw text before
// converting it, so a bad value is refused with one line that names the
// option and the value, e.g. "--pid: 'abc' is not a process id", instead of
// a conversion error or a range dump.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include <CLI/CLI.hpp>

namespace fdw {

// The longest --duration/--until: a year, far from overflowing nanoseconds.
constexpr double kMaxDuration = 365.0 * 86400;

// The highest pid Linux can hand out (PID_MAX_LIMIT on 64-bit).
constexpr uint64_t kPidMaxLimit = 4194304;

// A decimal integer in [lo, hi], or nullopt (sign, junk, overflow, range).
std::optional<uint64_t> parse_uint(const std::string& s, uint64_t lo, uint64_t hi);
// A finite decimal number in [lo, hi], or nullopt.
std::optional<double> parse_number(const std::string& s, double lo, double hi);

// 1 .. kPidMaxLimit: "'X' is not a process id".
CLI::Validator pid_value();
// Seconds in [lo, hi]: "'X' is not a number of seconds" or "... must be
// between LO and HI seconds".
CLI::Validator seconds_value(double lo, double hi);
// A whole number in [lo, hi] of `what` ("frames", "bytes"): "'X' is not a
// number of WHAT" or "... must be between LO and HI".
CLI::Validator count_value(uint64_t lo, uint64_t hi, const std::string& what);

}  // namespace fdw
