#include "views/format.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "util/escape.h"
#include "util/utf8.h"

namespace fdw {

std::string format_duration(double s) {
  if (std::isnan(s)) return "";
  if (s < 0) s = 0;
  if (s < 10) {
    auto tenths = static_cast<long long>(std::floor(s * 10));
    return fmt("%lld.%llds", tenths / 10, tenths % 10);
  }
  if (s >= 1000.0 * 86400) return ">999d";
  auto t = static_cast<long long>(std::floor(s));
  if (t < 60) return fmt("%llds", t);
  if (t < 3600) return fmt("%lldm%02llds", t / 60, t % 60);
  if (t < 86400) return fmt("%lldh%02lldm", t / 3600, t % 3600 / 60);
  if (t < 100 * 86400) return fmt("%lldd%02lldh", t / 86400, t % 86400 / 3600);
  return fmt("%lldd", t / 86400);
}

std::string format_rate(double v) {
  if (std::isnan(v)) return "";
  if (v == 0) return "0";
  double a = std::fabs(v);
  const char* sign = v < 0 ? "-" : "";
  // Thresholds sit at the rounding edge so "9.96" never prints as "10.0".
  if (a < 9.95) return fmt("%s%.1f", sign, a);
  if (a < 99999.5) return fmt("%s%.0f", sign, a);
  if (a < 9999.5e3) return fmt("%s%.0fk", sign, a / 1e3);
  if (a < 9999.5e6) return fmt("%s%.0fM", sign, a / 1e6);
  return fmt("%s%.0fG", sign, a / 1e9);
}

std::string format_count(uint64_t v, size_t width) {
  if (v == UINT64_MAX) return "inf";
  std::string s = std::to_string(v);
  if (s.size() <= width) return s;
  uint64_t q = v;
  for (char suffix : {'k', 'M', 'G', 'T', 'P', 'E'}) {
    q /= 1000;
    s = std::to_string(q) + suffix;
    if (s.size() <= width) return s;
  }
  return s;
}

std::string format_growth(double r) {
  if (std::fabs(r) < 0.05) return "0/s";
  return (r > 0 ? "+" : "") + format_rate(r) + "/s";
}

std::string suspect_site_text(const Suspect& s) {
  if (!s.site.empty()) return escape_text(s.site);
  return s.before_attach > 0 && s.before_attach == s.count ? "open before attach" : "";
}

std::string suspect_unattributed_text(const Suspect& s) {
  if (s.unattributed == 0) return "";
  const uint64_t before = std::min(s.before_attach, s.unattributed), no_stack = s.unattributed - before;
  std::string t;
  if (before) t = "+" + std::to_string(before) + " opened before attach";
  if (no_stack) t += (t.empty() ? "+" : ", +") + std::to_string(no_stack) + " without a call stack";
  return t + (s.kind == Kind::Socket ? " to the same endpoint" : " to the same target");
}

std::string format_rate(const std::optional<double>& v) { return v ? format_rate(*v) : "?"; }

std::string format_growth(const std::optional<double>& r) { return r ? format_growth(*r) : "?/s"; }

namespace {

// The first UTF-8 sequence boundary of s at or after `at`.
size_t utf8_boundary_after(const std::string& s, size_t at) {
  while (at < s.size() && (static_cast<unsigned char>(s[at]) & 0xC0) == 0x80) ++at;
  return at;
}

}  // namespace

std::string fit_middle(const std::string& s, size_t width) {
  if (s.size() <= width) return s;
  if (width < 3) return s.substr(utf8_boundary_after(s, s.size() - width));
  const size_t head = (width - 1) / 3;  // the end tells more apart than the start
  return s.substr(0, utf8_boundary(s, head)) + "~" +
         s.substr(utf8_boundary_after(s, s.size() - (width - 1 - head)));
}

std::string fit_path(const std::string& s, size_t width) {
  if (s.size() <= width) return s;
  const size_t slash = s.rfind('/');
  if (slash == std::string::npos || slash == 0) return fit_middle(s, width);
  const size_t tail = s.size() - slash;  // "/name"
  if (tail + 2 > width) return fit_middle(s, width);
  return s.substr(0, utf8_boundary(s, width - tail - 1)) + "~" + s.substr(slash);
}

}  // namespace fdw
