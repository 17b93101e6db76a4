#include "log/json_text.h"

#include <cstdio>

#include "util/utf8.h"

namespace fdw {

using nlohmann::json;

namespace {

constexpr char kHex[] = "0123456789abcdef";

void append_escaped(std::string& out, std::string_view s) {
  size_t run = 0;  // start of the pending run of bytes that need no escape
  for (size_t i = 0; i < s.size(); ++i) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    out.append(s.data() + run, i - run);
    run = i + 1;
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default:
        out += "\\u00";
        out += kHex[c >> 4];
        out += kHex[c & 15];
    }
  }
  out.append(s.data() + run, s.size() - run);
}

int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// The bytes of {"hex":"..."}, or nullopt when it is not that.
std::optional<std::string> hex_bytes(const json& v) {
  auto it = v.find("hex");
  if (it == v.end() || !it->is_string() || v.size() != 1) return std::nullopt;
  const auto& h = it->get_ref<const std::string&>();
  if (h.size() % 2 != 0) return std::nullopt;
  std::string bytes;
  bytes.reserve(h.size() / 2);
  for (size_t i = 0; i < h.size(); i += 2) {
    int hi = hexval(h[i]), lo = hexval(h[i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    bytes += static_cast<char>(hi << 4 | lo);
  }
  return bytes;
}

Error field_error(std::string_view name, const std::string& why) {
  return log_error("field \"" + std::string(name) + "\": " + why);
}

}  // namespace

void append_string(std::string& out, std::string_view s) {
  if (valid_utf8(s)) {
    out += '"';
    append_escaped(out, s);
    out += '"';
    return;
  }
  out += "{\"hex\":\"";
  for (unsigned char c : s) {
    out += kHex[c >> 4];
    out += kHex[c & 15];
  }
  out += "\"}";
}

void append_key(std::string& out, std::string_view k) {
  out += ",\"";
  out += k;
  out += "\":";
}

void str_field(std::string& out, std::string_view k, std::string_view v) {
  append_key(out, k);
  append_string(out, v);
}

std::string quote(std::string_view s) {
  std::string out = "\"";
  for (size_t i = 0; i < s.size(); ++i) {
    if (i == 48) {
      out += "...";
      break;
    }
    auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\') {
      char buf[8];
      snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

std::string type_of(const json& v) {
  if (v.is_number_float()) return "float";
  if (v.is_number()) return "integer";
  return v.type_name();
}

const json* find(const json& obj, const char* k) {
  auto it = obj.find(k);
  return it == obj.end() ? nullptr : &*it;
}

Result<void> out_of_range(const json& v, std::string_view name, std::string lim) {
  return field_error(name, v.dump() + " out of range [" + lim + "]");
}

Result<void> get_bool(const json& v, std::string_view name, bool& out) {
  if (!v.is_boolean()) return field_error(name, "expected boolean, got " + type_of(v));
  out = v.get<bool>();
  return {};
}

Result<void> get_string(const json& v, std::string_view name, std::string& out) {
  if (v.is_string()) {
    out = v.get_ref<const std::string&>();
    return {};
  }
  if (!v.is_object()) return field_error(name, "expected string, got " + type_of(v));
  auto bytes = hex_bytes(v);
  if (!bytes) return field_error(name, "expected string or {\"hex\":\"<even number of hex digits>\"}");
  out = std::move(*bytes);
  return {};
}

}  // namespace fdw
