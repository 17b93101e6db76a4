#include "views/doctor.h"

#include <cctype>
#include <cstdio>

namespace fdw {

namespace {

const char* status_text(CheckStatus s) {
  switch (s) {
    case CheckStatus::Ok: return "ok";
    case CheckStatus::Warn: return "warn";
    case CheckStatus::Fail: return "FAIL";
  }
  return "";
}

std::string line(const std::string& name, const char* status, const std::string& detail) {
  char b[64];
  snprintf(b, sizeof b, "%-10s %-5s ", name.c_str(), status);
  return b + detail + "\n";
}

// "present", "missing" (from the kernel) or "not_mounted" (by the host).
std::string feature_state(const DoctorFeature& f) {
  return f.present ? "present" : f.unmounted ? "not_mounted" : "missing";
}

}  // namespace

bool DoctorReport::tracing_works() const {
  for (const DoctorCheck& c : checks)
    if (c.status == CheckStatus::Fail) return false;
  return true;
}

std::string render_doctor_text(const DoctorReport& r) {
  std::string out;
  for (const DoctorCheck& c : r.checks) out += line(c.name, status_text(c.status), c.detail);
  for (const DoctorFeature& f : r.features)
    out += line("feature", f.present ? "ok" : "warn",
                f.name + (f.present ? ": present (" : f.unmounted ? ": not mounted (no " : ": missing (no ") +
                    f.gates + ")");
  if (r.tracing_works())
    out += "fdwatch " + r.version + ": tracing works on this host\n";
  else
    out += "fdwatch " + r.version + ": tracing does not work on this host (see FAIL above)\n";
  return out;
}

nlohmann::json doctor_json(const DoctorReport& r) {
  nlohmann::json checks = nlohmann::json::array();
  for (const DoctorCheck& c : r.checks) {
    std::string s = status_text(c.status);
    for (char& ch : s) ch = char(std::tolower(static_cast<unsigned char>(ch)));
    checks.push_back({{"name", c.name}, {"status", s}, {"detail", c.detail}});
  }
  nlohmann::json features = nlohmann::json::array();
  for (const DoctorFeature& f : r.features)
    features.push_back({{"name", f.name}, {"present", f.present}, {"gates", f.gates}, {"state", feature_state(f)}});
  return {{"schema", "fdwatch.doctor.v1"},
          {"version", r.version},
          {"tracing", r.tracing_works()},
          {"load_s", r.load_s ? nlohmann::json(*r.load_s) : nlohmann::json(nullptr)},
          {"checks", checks},
          {"features", features}};
}

}  // namespace fdw
