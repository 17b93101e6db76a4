// `fdwatch doctor`: what this host supports and what that means for fdwatch.
// The checks are gathered by cli/doctor.cpp; this renders them, one line
// each, as text or as one "fdwatch.doctor.v1" JSON document.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace fdw {

enum class CheckStatus { Ok, Warn, Fail };

struct DoctorCheck {
  std::string name;    // "kernel", "btf", "tracefs", ...: one word, stable for scripts
  CheckStatus status = CheckStatus::Ok;
  std::string detail;  // what was found and what it means for fdwatch
};

struct DoctorFeature {
  std::string name;
  bool present = false;
  std::string gates;  // the fdwatch capability that needs it
  bool unmounted = false;  // missing only because the host has not mounted it
};

struct DoctorReport {
  std::string version;             // fdwatch's
  std::vector<DoctorCheck> checks;  // in the order they were made
  std::vector<DoctorFeature> features;
  std::optional<double> load_s;    // how long loading and attaching took, if tried
  // Tracing works: every check is Ok or Warn (a Fail means it does not).
  bool tracing_works() const;
};

// "NAME  STATUS  DETAIL" lines, then a verdict line; within 80 columns
// unless a detail is longer.
std::string render_doctor_text(const DoctorReport& r);
// {"schema":"fdwatch.doctor.v1","version","tracing","load_s","checks":[{"name",
//  "status":"ok|warn|fail","detail"}],"features":[{"name","present","gates",
//  "state":"present|missing|not_mounted"}]}
nlohmann::json doctor_json(const DoctorReport& r);

}  // namespace fdw
