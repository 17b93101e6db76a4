// JSON text for the event log: writing strings and numbers by hand (the
// writer's hot path, no DOM), and reading typed fields with the messages a
// reader reports ("field \"fd\": expected integer, got string").
#pragma once

#include <charconv>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include <nlohmann/json.hpp>

#include "log/event_log.h"
#include "util/result.h"

namespace fdw {

// ---- writing ------------------------------------------------------------------

// A JSON string, or {"hex":"..."} for bytes that are not UTF-8 (file names
// are arbitrary bytes), so every string survives the round trip.
void append_string(std::string& out, std::string_view s);

template <class T>
void append_int(std::string& out, T v) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

// Appends ,"key": — every field but the first follows a comma.
void append_key(std::string& out, std::string_view k);

template <class T>
void int_field(std::string& out, std::string_view k, T v) {
  append_key(out, k);
  append_int(out, v);
}

void str_field(std::string& out, std::string_view k, std::string_view v);

// ---- reading ------------------------------------------------------------------

// Input text quoted for an error message: escaped, short, printable.
std::string quote(std::string_view s);
// "integer", "float", "string", ... as messages name a JSON value's type.
std::string type_of(const nlohmann::json& v);
// The member `k` of an object, or nullptr.
const nlohmann::json* find(const nlohmann::json& obj, const char* k);

// Each reads `v` as the field `name` into `out`, or says why it cannot
// ("field \"<name>\": ...") and leaves `out` alone.
Result<void> out_of_range(const nlohmann::json& v, std::string_view name, std::string lim);
template <class T>
Result<void> get_int(const nlohmann::json& v, std::string_view name, T& out) {
  if (v.is_number_unsigned()) {
    auto u = v.get<uint64_t>();
    if (std::in_range<T>(u)) return out = static_cast<T>(u), Result<void>();
  } else if (v.is_number_integer()) {
    auto i = v.get<int64_t>();
    if (std::in_range<T>(i)) return out = static_cast<T>(i), Result<void>();
  } else {
    return log_error("field \"" + std::string(name) + "\": expected integer, got " + type_of(v));
  }
  std::string lim;
  append_int(lim, std::numeric_limits<T>::min());
  lim += ", ";
  append_int(lim, std::numeric_limits<T>::max());
  return out_of_range(v, name, std::move(lim));
}
Result<void> get_bool(const nlohmann::json& v, std::string_view name, bool& out);
// A JSON string or {"hex":"..."}.
Result<void> get_string(const nlohmann::json& v, std::string_view name, std::string& out);

// Reads the fields of one object in order and keeps the first problem:
// later fields are still read, a failed one stays at its default.  A null
// field pointer is an absent field, which is no problem.
class FieldReader {
 public:
  template <class T>
  void num(const nlohmann::json* v, std::string_view name, T& out) {
    if (v) note(get_int(*v, name, out));
  }
  void flag(const nlohmann::json* v, std::string_view name, bool& out) {
    if (v) note(get_bool(*v, name, out));
  }
  void str(const nlohmann::json* v, std::string_view name, std::string& out) {
    if (v) note(get_string(*v, name, out));
  }
  // Keeps r's error if it is the first.
  void note(Result<void> r) {
    if (!r && !first_) first_ = r.error();
  }
  bool ok() const { return !first_; }
  Result<void> result() const { return first_ ? Result<void>(*first_) : Result<void>(); }

 private:
  std::optional<Error> first_;
};

}  // namespace fdw
