#include "log/event_log.h"

#include "core/classify.h"
#include "util/private_file.h"

#include <fcntl.h>
#include <unistd.h>
#include <zstd.h>

#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <limits>
#include <map>
#include <unordered_map>
#include <utility>

namespace fdw {
namespace {

using nlohmann::json;

constexpr size_t kIoChunk = 64 * 1024;  // one write(2)/read(2) per chunk

#if defined(__x86_64__) && defined(__GLIBCXX__)
// Every Event field must be written and read back: a new field changes the
// size and stops the build here until the encoder, the decoder, the round-trip
// test and docs/event-log.md know it.
static_assert(sizeof(Event) == 288 && sizeof(SeedFd) == 48,
              "fdw::Event changed: update the event log format");
#endif

// ---- encoding ---------------------------------------------------------------

// RFC 3629 (no overlongs, no surrogates, <= U+10FFFF): exactly what the JSON
// parser accepts, so a string that passes is written raw and reads back equal.
bool valid_utf8(std::string_view s) {
  auto p = reinterpret_cast<const unsigned char*>(s.data());
  size_t i = 0, n = s.size();
  while (i < n) {
    unsigned c = p[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t len;
    uint32_t cp, min;
    if ((c & 0xE0) == 0xC0) {
      len = 2, cp = c & 0x1F, min = 0x80;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3, cp = c & 0x0F, min = 0x800;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4, cp = c & 0x07, min = 0x10000;
    } else {
      return false;
    }
    if (n - i < len) return false;
    for (size_t k = 1; k < len; ++k) {
      if ((p[i + k] & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (p[i + k] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += len;
  }
  return true;
}

void append_escaped(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
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

// A JSON string, or {"hex":"..."} for bytes that are not UTF-8 (file names
// are arbitrary bytes), so every string survives the round trip.
void append_string(std::string& out, std::string_view s) {
  if (valid_utf8(s)) {
    out += '"';
    append_escaped(out, s);
    out += '"';
    return;
  }
  static constexpr char kHex[] = "0123456789abcdef";
  out += "{\"hex\":\"";
  for (unsigned char c : s) {
    out += kHex[c >> 4];
    out += kHex[c & 15];
  }
  out += "\"}";
}

template <class T>
void append_int(std::string& out, T v) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

// Appends ,"key": — every field but the first follows a comma.
void key(std::string& out, std::string_view k) {
  out += ",\"";
  out += k;
  out += "\":";
}

template <class T>
void int_field(std::string& out, std::string_view k, T v) {
  key(out, k);
  append_int(out, v);
}

void str_field(std::string& out, std::string_view k, std::string_view v) {
  key(out, k);
  append_string(out, v);
}

// ---- decoding ---------------------------------------------------------------

// Name -> number tables for the vocabularies of core/event.h, built once
// (the decoder looks names up for every line).
using NameTable = std::unordered_map<std::string_view, int>;

template <class F>
NameTable make_table(int n, F name_of) {
  NameTable t;
  for (int i = 0; i < n; ++i)
    if (auto s = name_of(i); !s.empty()) t.emplace(s, i);
  return t;
}

const NameTable& ev_names() {
  static const NameTable t = make_table(256, [](int i) {
    auto s = evtype_name(static_cast<EvType>(i));
    return s == "unknown" ? std::string_view() : s;
  });
  return t;
}
const NameTable& sys_names() {
  static const NameTable t = make_table(65536, [](int i) { return sys_name(static_cast<uint16_t>(i)); });
  return t;
}
const NameTable& kind_names() {
  static const NameTable t = make_table(kKindCount, [](int i) { return kind_name(static_cast<Kind>(i)); });
  return t;
}

std::optional<int> lookup(const NameTable& t, std::string_view s) {
  auto it = t.find(s);
  if (it == t.end()) return std::nullopt;
  return it->second;
}

enum Field {
  kType, kTs, kPid, kTid, kSys, kFd, kFd2, kErr, kCloexec, kChild, kShared, kValue, kFlags,
  kKind, kKind2, kTarget, kTarget2, kComm, kFds, kStack, kSite, kCgroup, kNsPid, kFieldCount
};

int field_id(std::string_view key) {
  static const NameTable t = [] {
    constexpr std::string_view kNames[kFieldCount] = {
        "type",  "ts",    "pid",  "tid",    "sys",     "fd",   "fd2", "err",   "cloexec", "child",
        "shared_files", "value", "flags", "kind", "kind2", "target", "target2", "comm", "fds", "stack", "site",
        "cgroup", "ns_pid"};
    NameTable m;
    for (int i = 0; i < kFieldCount; ++i) m.emplace(kNames[i], i);
    return m;
  }();
  return lookup(t, key).value_or(-1);
}

// Input text quoted for an error message: escaped, short, printable.
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

// Field readers: each returns false and sets *err with the field's name.
bool fail(std::string* err, std::string msg) {
  if (err) *err = std::move(msg);
  return false;
}

template <class T>
bool get_int(const json& v, std::string_view name, T& out, std::string* err) {
  if (v.is_number_unsigned()) {
    auto u = v.get<uint64_t>();
    if (std::in_range<T>(u)) return out = static_cast<T>(u), true;
  } else if (v.is_number_integer()) {
    auto i = v.get<int64_t>();
    if (std::in_range<T>(i)) return out = static_cast<T>(i), true;
  } else {
    return fail(err, "field \"" + std::string(name) + "\": expected integer, got " + type_of(v));
  }
  std::string lim;
  append_int(lim, std::numeric_limits<T>::min());
  lim += ", ";
  append_int(lim, std::numeric_limits<T>::max());
  return fail(err, "field \"" + std::string(name) + "\": " + v.dump() + " out of range [" + lim + "]");
}

bool get_bool(const json& v, std::string_view name, bool& out, std::string* err) {
  if (!v.is_boolean()) return fail(err, "field \"" + std::string(name) + "\": expected boolean, got " + type_of(v));
  out = v.get<bool>();
  return true;
}

int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool get_string(const json& v, std::string_view name, std::string& out, std::string* err) {
  if (v.is_string()) {
    out = v.get_ref<const std::string&>();
    return true;
  }
  if (v.is_object()) {
    auto it = v.find("hex");
    if (it != v.end() && it->is_string() && v.size() == 1) {
      const auto& h = it->get_ref<const std::string&>();
      if (h.size() % 2 == 0) {
        std::string bytes;
        bytes.reserve(h.size() / 2);
        bool ok = true;
        for (size_t i = 0; ok && i < h.size(); i += 2) {
          int hi = hexval(h[i]), lo = hexval(h[i + 1]);
          ok = hi >= 0 && lo >= 0;
          bytes += static_cast<char>(hi << 4 | lo);
        }
        if (ok) return out = std::move(bytes), true;
      }
    }
    return fail(err, "field \"" + std::string(name) + "\": expected string or {\"hex\":\"<even number of hex digits>\"}");
  }
  return fail(err, "field \"" + std::string(name) + "\": expected string, got " + type_of(v));
}

bool get_kind(const json& v, std::string_view name, Kind& out, std::string* err) {
  if (!v.is_string()) return fail(err, "field \"" + std::string(name) + "\": expected string, got " + type_of(v));
  // Kinds are extended over time; an older reader files a new one under "other".
  out = static_cast<Kind>(lookup(kind_names(), v.get_ref<const std::string&>()).value_or(int(Kind::Other)));
  return true;
}

const json* find(const json& obj, const char* k) {
  auto it = obj.find(k);
  return it == obj.end() ? nullptr : &*it;
}

bool read_seed_fd(const json& v, size_t i, SeedFd& out, std::string* err) {
  std::string at = "fds[" + std::to_string(i) + "]";
  if (!v.is_object()) return fail(err, "field \"" + at + "\": expected object, got " + type_of(v));
  const json* f;
  if ((f = find(v, "fd")) && !get_int(*f, at + ".fd", out.fd, err)) return false;
  if ((f = find(v, "kind")) && !get_kind(*f, at + ".kind", out.kind, err)) return false;
  if ((f = find(v, "target")) && !get_string(*f, at + ".target", out.target, err)) return false;
  if ((f = find(v, "cloexec")) && !get_bool(*f, at + ".cloexec", out.cloexec, err)) return false;
  return true;
}

// ---- I/O helpers ------------------------------------------------------------

std::string errno_text(int e) { return std::strerror(e); }

// Owns one fd; the only place a log fd is closed.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  UniqueFd& operator=(UniqueFd&& o) noexcept {
    if (this != &o) {
      reset();
      fd_ = std::exchange(o.fd_, -1);
    }
    return *this;
  }
  ~UniqueFd() { reset(); }
  int get() const { return fd_; }
  // Returns close(2)'s errno, 0 on success (EINTR counts as closed on Linux).
  int reset() {
    int e = 0;
    if (fd_ >= 0 && ::close(fd_) != 0 && errno != EINTR) e = errno;
    fd_ = -1;
    return e;
  }

 private:
  int fd_ = -1;
};

int write_all(int fd, const char* p, size_t n) {
  while (n > 0) {
    ssize_t w = ::write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    p += w;
    n -= static_cast<size_t>(w);
  }
  return 0;
}

ssize_t read_some(int fd, char* p, size_t n) {
  for (;;) {
    ssize_t r = ::read(fd, p, n);
    if (r >= 0 || errno != EINTR) return r;
  }
}

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

}  // namespace

// ---- errno names --------------------------------------------------------------

// ---- events <-> JSON ----------------------------------------------------------

namespace {

// The event line; with `stack_id` its call stack is that table entry instead
// of the inline "site" and "stack".
void append_event(std::string& out, const Event& e, std::optional<uint32_t> stack_id) {
  out += "{\"type\":\"";
  out += evtype_name(e.type);
  out += '"';
  int_field(out, "ts", e.ts_ns);
  int_field(out, "pid", e.pid);
  if (e.tid != 0) int_field(out, "tid", e.tid);
  if (e.sys != 0) {
    auto name = sys_name(e.sys);
    if (name.empty())
      int_field(out, "sys", e.sys);  // newer than this build's table: keep the number
    else
      str_field(out, "sys", name);
  }
  if (e.fd != -1) int_field(out, "fd", e.fd);
  if (e.fd2 != -1) int_field(out, "fd2", e.fd2);
  if (e.err != 0) {
    auto name = errno_symbol(e.err);
    if (name.empty())
      int_field(out, "err", e.err);
    else
      str_field(out, "err", name);
  }
  if (e.cloexec) out += ",\"cloexec\":true";
  if (e.child != 0) int_field(out, "child", e.child);
  if (e.shared_files) out += ",\"shared_files\":true";
  if (e.value != 0) int_field(out, "value", e.value);
  if (e.flags != 0) int_field(out, "flags", e.flags);
  if (e.kind != Kind::Other) str_field(out, "kind", kind_name(e.kind));
  if (e.kind2 != Kind::Other) str_field(out, "kind2", kind_name(e.kind2));
  if (!e.target.empty()) str_field(out, "target", e.target);
  if (!e.target2.empty()) str_field(out, "target2", e.target2);
  if (!e.comm.empty()) str_field(out, "comm", e.comm);
  if (!e.cgroup.empty()) str_field(out, "cgroup", e.cgroup);
  if (e.ns_pid != 0) int_field(out, "ns_pid", e.ns_pid);
  if (!stack_id && !e.site.empty()) str_field(out, "site", e.site);
  if (!e.fds.empty()) {
    key(out, "fds");
    out += '[';
    for (size_t i = 0; i < e.fds.size(); ++i) {
      const SeedFd& s = e.fds[i];
      if (i) out += ',';
      out += '{';
      // "fd" leads even at -1 so the object never starts with a comma.
      out += "\"fd\":";
      append_int(out, s.fd);
      if (s.kind != Kind::Other) str_field(out, "kind", kind_name(s.kind));
      if (!s.target.empty()) str_field(out, "target", s.target);
      if (s.cloexec) out += ",\"cloexec\":true";
      out += '}';
    }
    out += ']';
  }
  if (stack_id) {
    int_field(out, "stack_id", *stack_id);
  } else if (!e.stack.empty()) {
    key(out, "stack");
    out += '[';
    for (size_t i = 0; i < e.stack.size(); ++i) {
      if (i) out += ',';
      append_string(out, e.stack[i]);
    }
    out += ']';
  }
  out += "}\n";
}

}  // namespace

void append_event_line(std::string& out, const Event& e) { append_event(out, e, std::nullopt); }

json event_to_json(const Event& ev) {
  std::string line;
  append_event_line(line, ev);
  return json::parse(line);
}

std::optional<Event> event_from_json(const json& j, std::string* err) {
  if (!j.is_object()) {
    fail(err, "expected a JSON object, got " + type_of(j));
    return std::nullopt;
  }
  // One pass over the members, then the fields in writing order, so the
  // first problem reported does not depend on the member order.
  const json* f[kFieldCount] = {};
  for (auto it = j.begin(); it != j.end(); ++it)
    if (int id = field_id(it.key()); id >= 0) f[id] = &it.value();

  Event e;
  if (!f[kType]) return fail(err, "missing field \"type\""), std::nullopt;
  if (!f[kType]->is_string())
    return fail(err, "field \"type\": expected string, got " + type_of(*f[kType])), std::nullopt;
  auto type = lookup(ev_names(), f[kType]->get_ref<const std::string&>());
  if (!type) return fail(err, "unknown type " + quote(f[kType]->get_ref<const std::string&>())), std::nullopt;
  e.type = static_cast<EvType>(*type);

  // ts and pid are always written: without them an event cannot be placed.
  if (!f[kTs]) return fail(err, "missing field \"ts\""), std::nullopt;
  if (!f[kPid]) return fail(err, "missing field \"pid\""), std::nullopt;
  bool ok = get_int(*f[kTs], "ts", e.ts_ns, err) && get_int(*f[kPid], "pid", e.pid, err);
  if (ok && f[kTid]) ok = get_int(*f[kTid], "tid", e.tid, err);
  if (ok && f[kSys]) {
    if (f[kSys]->is_string())
      e.sys = static_cast<uint16_t>(lookup(sys_names(), f[kSys]->get_ref<const std::string&>()).value_or(0));
    else
      ok = get_int(*f[kSys], "sys", e.sys, err);
  }
  if (ok && f[kFd]) ok = get_int(*f[kFd], "fd", e.fd, err);
  if (ok && f[kFd2]) ok = get_int(*f[kFd2], "fd2", e.fd2, err);
  if (ok && f[kErr]) {
    if (f[kErr]->is_string()) {
      auto n = errno_from_name(f[kErr]->get_ref<const std::string&>());
      if (n)
        e.err = *n;
      else
        ok = fail(err, "field \"err\": unknown errno name " + quote(f[kErr]->get_ref<const std::string&>()));
    } else {
      ok = get_int(*f[kErr], "err", e.err, err);
    }
  }
  if (ok && f[kCloexec]) ok = get_bool(*f[kCloexec], "cloexec", e.cloexec, err);
  if (ok && f[kChild]) ok = get_int(*f[kChild], "child", e.child, err);
  if (ok && f[kShared]) ok = get_bool(*f[kShared], "shared_files", e.shared_files, err);
  if (ok && f[kValue]) ok = get_int(*f[kValue], "value", e.value, err);
  if (ok && f[kFlags]) ok = get_int(*f[kFlags], "flags", e.flags, err);
  if (ok && f[kKind]) ok = get_kind(*f[kKind], "kind", e.kind, err);
  if (ok && f[kKind2]) ok = get_kind(*f[kKind2], "kind2", e.kind2, err);
  if (ok && f[kTarget]) ok = get_string(*f[kTarget], "target", e.target, err);
  if (ok && f[kTarget2]) ok = get_string(*f[kTarget2], "target2", e.target2, err);
  if (ok && f[kComm]) ok = get_string(*f[kComm], "comm", e.comm, err);
  if (ok && f[kSite]) ok = get_string(*f[kSite], "site", e.site, err);
  if (ok && f[kCgroup]) ok = get_string(*f[kCgroup], "cgroup", e.cgroup, err);
  if (ok && f[kNsPid]) ok = get_int(*f[kNsPid], "ns_pid", e.ns_pid, err);
  if (ok && f[kFds]) {
    if (!f[kFds]->is_array()) {
      ok = fail(err, "field \"fds\": expected array, got " + type_of(*f[kFds]));
    } else {
      e.fds.resize(f[kFds]->size());
      for (size_t i = 0; ok && i < e.fds.size(); ++i) ok = read_seed_fd((*f[kFds])[i], i, e.fds[i], err);
    }
  }
  if (ok && f[kStack]) {
    if (!f[kStack]->is_array()) {
      ok = fail(err, "field \"stack\": expected array, got " + type_of(*f[kStack]));
    } else {
      e.stack.resize(f[kStack]->size());
      for (size_t i = 0; ok && i < e.stack.size(); ++i)
        ok = get_string((*f[kStack])[i], "stack[" + std::to_string(i) + "]", e.stack[i], err);
    }
  }
  if (!ok) return std::nullopt;
  return e;
}

// ---- header -------------------------------------------------------------------

void append_header_line(std::string& out, const LogHeader& h) {
  out += "{\"schema\":";
  append_string(out, h.schema);
  str_field(out, "host", h.host);
  str_field(out, "kernel", h.kernel);
  str_field(out, "version", h.version);
  int_field(out, "boot_time_unix_ns", h.boot_time_unix_ns);
  int_field(out, "start_time_unix_ns", h.start_time_unix_ns);
  int_field(out, "start_mono_ns", h.start_mono_ns);
  key(out, "argv");
  out += '[';
  for (size_t i = 0; i < h.argv.size(); ++i) {
    if (i) out += ',';
    append_string(out, h.argv[i]);
  }
  out += ']';
  if (!h.extra.is_null()) {
    key(out, "extra");
    out += h.extra.dump(-1, ' ', false, json::error_handler_t::replace);
  }
  out += "}\n";
}

json header_to_json(const LogHeader& h) {
  std::string line;
  append_header_line(line, h);
  return json::parse(line);
}

std::optional<LogHeader> header_from_json(const json& j, std::string* err) {
  if (!j.is_object()) return fail(err, "line 1 is a JSON " + type_of(j) + ", not an object"), std::nullopt;
  const json* f = find(j, "schema");
  if (!f) return fail(err, "no \"schema\" field"), std::nullopt;
  if (!f->is_string() || f->get_ref<const std::string&>() != kEventLogSchema) {
    std::string got = f->is_string() ? quote(f->get_ref<const std::string&>()) : f->dump();
    if (got.size() > 60) got = got.substr(0, 57) + "...";
    return fail(err, "schema " + got + ", expected \"" + std::string(kEventLogSchema) + "\""), std::nullopt;
  }
  LogHeader h;
  std::string first, e;
  auto note = [&](bool ok) {
    if (!ok && first.empty()) first = e;
  };
  if ((f = find(j, "host"))) note(get_string(*f, "host", h.host, &e));
  if ((f = find(j, "kernel"))) note(get_string(*f, "kernel", h.kernel, &e));
  if ((f = find(j, "version"))) note(get_string(*f, "version", h.version, &e));
  if ((f = find(j, "boot_time_unix_ns"))) note(get_int(*f, "boot_time_unix_ns", h.boot_time_unix_ns, &e));
  if ((f = find(j, "start_time_unix_ns"))) note(get_int(*f, "start_time_unix_ns", h.start_time_unix_ns, &e));
  if ((f = find(j, "start_mono_ns"))) note(get_int(*f, "start_mono_ns", h.start_mono_ns, &e));
  if ((f = find(j, "argv"))) {
    if (!f->is_array()) {
      note(fail(&e, "field \"argv\": expected array, got " + type_of(*f)));
    } else {
      for (size_t i = 0; i < f->size(); ++i) {
        std::string s;
        if (get_string((*f)[i], "argv[" + std::to_string(i) + "]", s, &e))
          h.argv.push_back(std::move(s));
        else
          note(false);
      }
    }
  }
  if ((f = find(j, "extra"))) h.extra = *f;
  if (err) *err = first;
  return h;
}

// ---- writer -------------------------------------------------------------------

struct LogWriter::Impl {
  std::string path;
  LogWriterOptions opts;
  bool zstd = false;
  std::optional<StagedFile> file;  // the current file, published once the log goes live
  bool live = false;               // publish() called: files appear at `path` at once
  ZSTD_CCtx* cctx = nullptr;
  std::string in;    // JSON not yet handed on (to the file, or to zstd)
  std::string out;   // compressed bytes not yet written
  std::string line;  // scratch for one event
  std::optional<std::string> header;
  uint64_t file_disk = 0;    // bytes of the current file already written
  uint64_t file_events = 0;  // events in the current file
  uint64_t zfed = 0, zout = 0;  // JSON bytes given to zstd, compressed bytes out (all files)
  uint64_t last_ts = 0;         // of the last event written
  LogWriterStats st;
  std::string failed;  // sticky error
  // The stack table of the current file: ids of the frame texts and of the
  // stacks (their frame ids and site id, packed) already defined in it.
  std::unordered_map<std::string, uint32_t> frame_ids, stack_ids;
  std::string defs;  // table records the event being written needs first
  uint64_t defs_frames = 0, defs_stacks = 0;  // records in `defs`

  ~Impl() { ZSTD_freeCCtx(cctx); }

  int fd() const { return file ? file->fd() : -1; }

  LogStatus set_failed(std::string msg) {
    failed = std::move(msg);
    return {failed};
  }

  LogStatus write_out(const std::string& buf) {
    if (buf.empty()) return {};
    if (int e = write_all(fd(), buf.data(), buf.size()))
      return set_failed("write " + path + ": " + errno_text(e));
    file_disk += buf.size();
    st.bytes += buf.size();
    return {};
  }

  // Feeds all of `in` to zstd with `mode` (flush or end); writes output in
  // ~64 KiB pieces.
  LogStatus compress(ZSTD_EndDirective mode) {
    ZSTD_inBuffer src{in.data(), in.size(), 0};
    char chunk[kIoChunk / 4];
    for (;;) {
      ZSTD_outBuffer dst{chunk, sizeof chunk, 0};
      size_t r = ZSTD_compressStream2(cctx, &dst, &src, mode);
      if (ZSTD_isError(r)) return set_failed("zstd compress " + path + ": " + ZSTD_getErrorName(r));
      out.append(chunk, dst.pos);
      zout += dst.pos;
      if (out.size() >= kIoChunk) {
        if (auto s = write_out(out); !s) return s;
        out.clear();
      }
      if (r == 0) break;
    }
    zfed += in.size();
    in.clear();
    return {};
  }

  // Pushes `in` towards the file: all of it with `force`, else only whole
  // chunks.  Each zstd chunk ends a block (ZSTD_e_flush): the file stays
  // decodable up to the last chunk while being written, and its size is known.
  LogStatus drain(bool force, ZSTD_EndDirective mode = ZSTD_e_flush) {
    if (!force && in.size() < kIoChunk) return {};
    if (!zstd) {
      auto s = write_out(in);
      if (s) in.clear();
      return s;
    }
    if (auto s = compress(mode); !s) return s;
    if (!force) return {};
    auto s = write_out(out);
    if (s) out.clear();
    return s;
  }

  // Size the current file will have once everything buffered is written.  zstd
  // is flushed at every chunk, so only `in` is uncompressed: scale it by the
  // ratio seen so far (1.0 until something has been compressed).
  uint64_t projected_size(uint64_t extra_json) const {
    uint64_t pending = in.size() + extra_json;
    if (!zstd) return file_disk + pending;
    double ratio = zfed > 0 ? double(zout) / double(zfed) : 1.0;
    return file_disk + out.size() + uint64_t(double(pending) * ratio);
  }

  LogStatus open_file() {
    auto f = StagedFile::create(path);
    if (!f) return set_failed(f.error().message);
    file.emplace(std::move(f.value()));
    if (live)
      if (auto r = file->publish(); !r) return set_failed(r.error().message);
    file_disk = 0;
    file_events = 0;
    frame_ids.clear();  // every file is a log of its own
    stack_ids.clear();
    if (zstd) {
      if (!cctx && !(cctx = ZSTD_createCCtx())) return set_failed("zstd: out of memory");
      ZSTD_CCtx_reset(cctx, ZSTD_reset_session_and_parameters);
      ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, opts.zstd_level);
      ZSTD_CCtx_setParameter(cctx, ZSTD_c_checksumFlag, 1);
    }
    return {};
  }

  uint32_t frame_id(const std::string& text) {
    auto [it, fresh] = frame_ids.try_emplace(text, uint32_t(frame_ids.size()));
    if (fresh) {
      defs += "{\"type\":\"";
      defs += kFrameType;
      defs += '"';
      int_field(defs, "id", it->second);
      str_field(defs, "text", text);
      defs += "}\n";
      ++defs_frames;
    }
    return it->second;
  }

  // The id of ev's (stack, site) in this file's table, defining it (and its
  // new frames) in `defs` when it is new; nullopt when ev has neither.
  std::optional<uint32_t> stack_id(const Event& ev) {
    if (ev.stack.empty() && ev.site.empty()) return std::nullopt;
    std::vector<uint32_t> ids;
    ids.reserve(ev.stack.size() + 1);
    for (const std::string& f : ev.stack) ids.push_back(frame_id(f));
    if (!ev.site.empty()) ids.push_back(frame_id(ev.site));
    std::string packed(reinterpret_cast<const char*>(ids.data()), ids.size() * sizeof ids[0]);
    packed += ev.site.empty() ? '-' : '+';  // whether the last id is the site
    auto [it, fresh] = stack_ids.try_emplace(std::move(packed), uint32_t(stack_ids.size()));
    if (fresh) {
      defs += "{\"type\":\"";
      defs += kStackType;
      defs += '"';
      int_field(defs, "id", it->second);
      key(defs, "frames");
      defs += '[';
      for (size_t i = 0; i < ev.stack.size(); ++i) {
        if (i) defs += ',';
        append_int(defs, ids[i]);
      }
      defs += ']';
      if (!ev.site.empty()) int_field(defs, "site", ids.back());
      defs += "}\n";
      ++defs_stacks;
    }
    return it->second;
  }

  // The table records and the line of ev, in `defs` and `line`.
  void encode(const Event& ev) {
    defs.clear();
    defs_frames = defs_stacks = 0;
    line.clear();
    append_event(line, ev, stack_id(ev));
  }

  // Hands `defs` on: the table now holds them, whatever becomes of the event.
  void commit_defs() {
    in += defs;
    st.json_bytes += defs.size();
    st.frames += defs_frames;
    st.stacks += defs_stacks;
  }

  LogStatus publish() {
    live = true;
    if (auto r = file->publish(); !r) return set_failed(r.error().message);
    return {};
  }

  LogStatus close_file() {
    if (fd() < 0) return {};
    LogStatus s = drain(true, ZSTD_e_end);
    if (s) s = publish();
    int e = file->close_fd();
    if (s && e) s = set_failed("close " + path + ": " + errno_text(e));
    return s;
  }

  // The closing record: what a reader needs to tell a whole file from a cut one.
  static std::string end_line(uint64_t ts, uint64_t events, uint64_t total,
                              std::optional<uint64_t> lost, bool rotated) {
    std::string l = "{\"type\":\"" + std::string(kEndType) + "\",\"ts\":" + std::to_string(ts) +
                    ",\"pid\":0,\"events\":" + std::to_string(events) +
                    ",\"events_total\":" + std::to_string(total);
    if (lost) l += ",\"lost\":" + std::to_string(*lost);
    if (rotated) l += ",\"rotated\":true";
    return l + "}\n";
  }

  void append_end(uint64_t ts, std::optional<uint64_t> lost, bool rotated) {
    std::string l = end_line(ts, file_events, st.events, lost, rotated);
    in += l;
    st.json_bytes += l.size();
  }

  // FILE -> FILE.1 -> ... -> FILE.keep_files (dropped), then a fresh FILE.
  LogStatus rotate() {
    append_end(last_ts, std::nullopt, true);
    if (auto s = close_file(); !s) return s;
    auto name = [&](int i) { return path + "." + std::to_string(i); };
    int keep = opts.keep_files;
    if (keep <= 0) {
      if (::unlink(path.c_str()) != 0 && errno != ENOENT)
        return set_failed("remove " + path + ": " + errno_text(errno));
    } else {
      if (::unlink(name(keep).c_str()) != 0 && errno != ENOENT)
        return set_failed("remove " + name(keep) + ": " + errno_text(errno));
      for (int i = keep - 1; i >= 1; --i)
        if (::rename(name(i).c_str(), name(i + 1).c_str()) != 0 && errno != ENOENT)
          return set_failed("rename " + name(i) + ": " + errno_text(errno));
      if (::rename(path.c_str(), name(1).c_str()) != 0)
        return set_failed("rename " + path + ": " + errno_text(errno));
    }
    ++st.rotations;
    if (auto s = open_file(); !s) return s;
    in += *header;
    st.json_bytes += header->size();
    return {};
  }
};

LogWriter::LogWriter() = default;
LogWriter::~LogWriter() {
  if (impl_ && impl_->live) (void)close();  // an unpublished file is removed with impl_
}
LogWriter::LogWriter(LogWriter&&) noexcept = default;
LogWriter& LogWriter::operator=(LogWriter&& o) noexcept {
  if (this != &o) {
    if (impl_ && impl_->live) (void)close();
    impl_ = std::move(o.impl_);
  }
  return *this;
}

LogStatus LogWriter::open(const std::string& path, const LogWriterOptions& opts) {
  if (impl_ && impl_->live) (void)close();
  impl_ = std::make_unique<Impl>();
  impl_->path = path;
  impl_->opts = opts;
  impl_->zstd = opts.zstd.value_or(ends_with(path, ".zst"));
  if (opts.zstd_level < ZSTD_minCLevel() || opts.zstd_level > ZSTD_maxCLevel())
    return impl_->set_failed("zstd level " + std::to_string(opts.zstd_level) + " out of range");
  impl_->in.reserve(kIoChunk + 4096);
  return impl_->open_file();
}

LogStatus LogWriter::write_header(const LogHeader& h) {
  if (!impl_) return {"write_header: log not open"};
  Impl& m = *impl_;
  if (!m.failed.empty()) return {m.failed};
  if (m.fd() < 0) return {"write_header: log closed"};
  if (m.header) return {"write_header: header already written"};
  m.header.emplace();
  append_header_line(*m.header, h);
  m.in += *m.header;
  m.st.json_bytes += m.header->size();
  return m.drain(false);
}

LogStatus LogWriter::write(const Event& ev) {
  if (!impl_) return {"write: log not open"};
  Impl& m = *impl_;
  if (!m.failed.empty()) return {m.failed};
  if (m.fd() < 0) return {"write: log closed"};
  if (!m.header) return {"write: header not written yet"};
  m.encode(ev);
  if (m.line.size() > kMaxLogLineBytes) {
    m.commit_defs();  // a later event may refer to them
    return {"write: event too large (" + std::to_string(m.line.size()) + " bytes; readers accept at most " +
            std::to_string(kMaxLogLineBytes) + ")"};
  }
  // The header-only check guarantees progress when one line exceeds the limit.
  if (m.opts.max_size_bytes > 0 && m.file_events > 0) {
    uint64_t max = m.opts.max_size_bytes;
    // room for the closing record a rotation after this event would write
    const uint64_t room = m.defs.size() + m.line.size() + Impl::end_line(std::max(m.last_ts, ev.ts_ns), m.file_events + 1,
                                                         m.st.events + 1, std::nullopt, true).size();
    // No ratio yet: compress what we have once, rather than guess.
    if (m.zstd && m.zfed == 0 && m.projected_size(room) > max)
      if (auto s = m.compress(ZSTD_e_flush); !s) return s;
    if (m.projected_size(room) > max) {
      if (auto s = m.rotate(); !s) return s;
      m.encode(ev);  // against the new file's empty table
    }
  }
  m.commit_defs();
  m.in += m.line;
  m.st.json_bytes += m.line.size();
  m.last_ts = std::max(m.last_ts, ev.ts_ns);
  ++m.file_events;
  ++m.st.events;
  return m.drain(false);
}

LogStatus LogWriter::publish() {
  if (!impl_) return {"publish: log not open"};
  if (!impl_->failed.empty()) return {impl_->failed};
  if (impl_->fd() < 0) return {"publish: log closed"};
  return impl_->publish();
}

LogStatus LogWriter::write_end(uint64_t ts_ns, uint64_t lost) {
  if (!impl_) return {"write_end: log not open"};
  Impl& m = *impl_;
  if (!m.failed.empty()) return {m.failed};
  if (m.fd() < 0) return {"write_end: log closed"};
  if (!m.header) return {"write_end: header not written yet"};
  m.append_end(std::max(ts_ns, m.last_ts), lost, false);
  return m.drain(false);
}

LogStatus LogWriter::flush() {
  if (!impl_) return {"flush: log not open"};
  if (!impl_->failed.empty()) return {impl_->failed};
  if (impl_->fd() < 0) return {};
  return impl_->drain(true, ZSTD_e_flush);
}

LogStatus LogWriter::close() {
  if (!impl_) return {};
  if (!impl_->failed.empty()) {
    if (impl_->file) (void)impl_->file->close_fd();
    return {impl_->failed};
  }
  return impl_->close_file();
}

bool LogWriter::is_open() const { return impl_ && impl_->fd() >= 0; }
const std::string& LogWriter::path() const {
  static const std::string empty;
  return impl_ ? impl_->path : empty;
}
LogWriterStats LogWriter::stats() const { return impl_ ? impl_->st : LogWriterStats{}; }

// ---- reader -------------------------------------------------------------------

struct LogReader::Impl {
  LogReaderOptions opts;
  std::string path;
  UniqueFd fd;
  bool zstd = false;
  ZSTD_DCtx* dctx = nullptr;
  std::vector<char> raw;  // file bytes awaiting decompression
  size_t raw_pos = 0, raw_len = 0;
  bool dctx_has_more = false;  // last call filled the output: more may be buffered inside
  bool frame_open = false;     // inside a zstd frame (last ZSTD_decompressStream != 0)
  bool zstd_truncated = false;
  std::vector<char> buf;  // decoded text
  size_t pos = 0, len = 0;
  bool done = false;      // end of stream or fatal error
  bool unusable = false;  // bad header: nothing after it is trusted
  std::string line;
  LogHeader header;
  uint64_t line_no = 0, events = 0, unknown = 0, errors_total = 0;
  std::vector<LogError> errors;
  std::optional<LogEnd> end;  // the last record, if it was a closing one
  // The stack table of the current file (kFrameType, kStackType records).
  struct StackDef {
    std::vector<std::string> stack;
    std::string site;
  };
  std::unordered_map<uint32_t, std::string> frames;
  std::unordered_map<uint32_t, StackDef> stacks;
  uint64_t stacks_defined = 0;

  ~Impl() { ZSTD_freeDCtx(dctx); }

  // The "id" of a table record, or nullopt (reported).
  std::optional<uint32_t> table_id(const json& j, std::string_view what, uint64_t n) {
    const json* f = find(j, "id");
    std::string e;
    uint32_t id = 0;
    if (!f) e = "missing field \"id\"";
    else (void)get_int(*f, "id", id, &e);
    if (e.empty()) return id;
    error(n, std::string(what) + " record: " + e + "; skipped");
    return std::nullopt;
  }

  // The frame an id of stack `sid` refers to, or nullptr (reported).
  const std::string* frame_ref(const json& v, const std::string& field, uint32_t sid, uint64_t n) {
    std::string e;
    uint32_t fid = 0;
    if (!get_int(v, field, fid, &e)) {
      error(n, "stack " + std::to_string(sid) + ": " + e + "; skipped");
      return nullptr;
    }
    auto it = frames.find(fid);
    if (it != frames.end()) return &it->second;
    error(n, "stack " + std::to_string(sid) + ": frame " + std::to_string(fid) +
                 " is not defined (no frame record before it); skipped");
    return nullptr;
  }

  void read_frame(const json& j, uint64_t n) {
    auto id = table_id(j, kFrameType, n);
    if (!id) return;
    const json* f = find(j, "text");
    std::string text, e;
    if (!f) e = "missing field \"text\"";
    else (void)get_string(*f, "text", text, &e);
    if (!e.empty()) return error(n, "frame " + std::to_string(*id) + ": " + e + "; skipped");
    if (!frames.try_emplace(*id, std::move(text)).second)
      error(n, "frame " + std::to_string(*id) + " defined twice; the first definition stays");
  }

  void read_stack(const json& j, uint64_t n) {
    auto id = table_id(j, kStackType, n);
    if (!id) return;
    StackDef d;
    const json* f = find(j, "frames");
    if (f && !f->is_array())
      return error(n, "stack " + std::to_string(*id) + ": field \"frames\": expected array, got " + type_of(*f) +
                          "; skipped");
    for (size_t i = 0; f && i < f->size(); ++i) {
      const std::string* t = frame_ref((*f)[i], "frames[" + std::to_string(i) + "]", *id, n);
      if (!t) return;
      d.stack.push_back(*t);
    }
    if ((f = find(j, "site"))) {
      const std::string* t = frame_ref(*f, "site", *id, n);
      if (!t) return;
      d.site = *t;
    }
    if (!stacks.try_emplace(*id, std::move(d)).second)
      return error(n, "stack " + std::to_string(*id) + " defined twice; the first definition stays");
    ++stacks_defined;
  }

  // Fills e's call stack from the table when the event refers to it; a
  // reference to nothing is reported and the event kept without a stack.
  void attach_stack(const json& j, Event& e, uint64_t n) {
    const json* f = find(j, "stack_id");
    if (!f) return;
    std::string err;
    uint32_t id = 0;
    if (!get_int(*f, "stack_id", id, &err)) return error(n, err + "; the event is kept without its call stack");
    auto it = stacks.find(id);
    if (it == stacks.end())
      return error(n, "stack_id " + std::to_string(id) +
                          " is not defined (no stack record before it); the event is kept without its call stack");
    e.stack = it->second.stack;
    e.site = it->second.site;
  }

  // A closing record's fields; a wrong-typed one is an error (the record
  // still counts as the end: it was written by a clean stop).
  void read_end(const json& j, uint64_t n) {
    LogEnd e;
    e.line = n;
    auto u64 = [&](const char* k, uint64_t& out) {
      const json* f = find(j, k);
      if (!f) return true;
      if (!f->is_number_unsigned()) return false;
      out = f->get<uint64_t>();
      return true;
    };
    uint64_t lost = 0;
    bool ok = u64("ts", e.ts_ns) && u64("events", e.events) && u64("events_total", e.events_total) &&
              u64("lost", lost);
    if (find(j, "lost")) e.lost = lost;
    if (const json* r = find(j, "rotated"); r && r->is_boolean()) e.rotated = r->get<bool>();
    if (!ok) error(n, "closing record: a count is not a non-negative integer");
    end = e;
  }

  void error(uint64_t line_nr, const std::string& msg) {
    ++errors_total;
    if (errors.size() < opts.max_errors_kept)
      errors.push_back({line_nr, "line " + std::to_string(line_nr) + ": " + msg});
  }

  void fatal(const std::string& msg) {
    error(line_no + 1, msg);
    done = true;
  }

  // Refills `buf`; false when no decoded bytes remain.
  bool fill() {
    pos = len = 0;
    if (done) return false;
    if (!zstd) {
      ssize_t n = read_some(fd.get(), buf.data(), buf.size());
      if (n < 0) fatal("read error: " + errno_text(errno) + "; stopped");
      if (n <= 0) return done = true, false;
      len = static_cast<size_t>(n);
      return true;
    }
    for (;;) {
      if (raw_pos == raw_len && !dctx_has_more) {
        ssize_t n = read_some(fd.get(), raw.data(), raw.size());
        if (n < 0) return fatal("read error: " + errno_text(errno) + "; stopped"), false;
        if (n == 0) {
          zstd_truncated = frame_open;
          return done = true, false;
        }
        raw_pos = 0;
        raw_len = static_cast<size_t>(n);
      }
      ZSTD_inBuffer src{raw.data(), raw_len, raw_pos};
      ZSTD_outBuffer dst{buf.data(), buf.size(), 0};
      size_t r = ZSTD_decompressStream(dctx, &dst, &src);
      raw_pos = src.pos;
      if (ZSTD_isError(r))
        return fatal(std::string("corrupt zstd data (") + ZSTD_getErrorName(r) + "); stopped"), false;
      frame_open = r != 0;
      dctx_has_more = dst.pos == dst.size;
      if (dst.pos > 0) {
        len = dst.pos;
        return true;
      }
    }
  }

  enum class Got { Line, Unterminated, End };

  // One line into `line` (without '\n'); `overlong` when it exceeded the cap
  // (then `line` is empty and the rest of it was skipped).
  Got get_line(bool& overlong) {
    line.clear();
    overlong = false;
    bool any = false;
    for (;;) {
      if (pos == len && !fill()) return any ? Got::Unterminated : Got::End;
      const char* start = buf.data() + pos;
      size_t avail = len - pos;
      auto nl = static_cast<const char*>(memchr(start, '\n', avail));
      size_t seg = nl ? static_cast<size_t>(nl - start) : avail;
      any = true;
      if (!overlong) {
        if (line.size() + seg > opts.max_line_bytes) {
          overlong = true;
          line.clear();
        } else {
          line.append(start, seg);
        }
      }
      pos += seg + (nl ? 1 : 0);
      if (nl) return Got::Line;
    }
  }

  // The parse, its message trimmed to what helps: column and reason.
  std::optional<json> parse(std::string* err) {
    try {
      return json::parse(line);
    } catch (const json::parse_error& e) {
      std::string w = e.what();
      auto at = w.find("column ");
      auto colon = at == std::string::npos ? at : w.find(": ", at);
      std::string msg = colon == std::string::npos ? w : "at " + w.substr(at, colon - at) + ": " + w.substr(colon + 2);
      if (auto lr = msg.find("; last read:"); lr != std::string::npos) msg.resize(lr);
      *err = msg;
    } catch (const std::exception& e) {
      *err = e.what();
    }
    return std::nullopt;
  }

  void end_of_stream() {
    if (zstd_truncated) {
      error(line_no + 1, "zstd frame truncated at end of file; anything after line " +
                             std::to_string(line_no) + " is lost");
      zstd_truncated = false;
    }
  }

  bool is_blank() const {
    return line.find_first_not_of(" \t\r") == std::string::npos;
  }
};

LogReader::LogReader() = default;
LogReader::~LogReader() = default;
LogReader::LogReader(LogReader&&) noexcept = default;
LogReader& LogReader::operator=(LogReader&&) noexcept = default;

LogStatus LogReader::open(const std::string& path, const LogReaderOptions& opts) {
  impl_ = std::make_unique<Impl>();
  Impl& m = *impl_;
  m.opts = opts;
  m.path = path;
  m.buf.resize(kIoChunk);
  int raw = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (raw < 0) {
    m.done = m.unusable = true;
    return {"open " + path + ": " + errno_text(errno)};
  }
  m.fd = UniqueFd(raw);

  // Sniff the magic from the first bytes, which then feed whichever decoder.
  m.raw.resize(ZSTD_DStreamInSize());
  while (m.raw_len < 4) {
    ssize_t n = read_some(raw, m.raw.data() + m.raw_len, m.raw.size() - m.raw_len);
    if (n < 0) {
      m.done = m.unusable = true;
      return {"read " + path + ": " + errno_text(errno)};
    }
    if (n == 0) break;
    m.raw_len += static_cast<size_t>(n);
  }
  static constexpr unsigned char kMagic[4] = {0x28, 0xB5, 0x2F, 0xFD};
  if (m.raw_len >= 4 && memcmp(m.raw.data(), kMagic, 4) == 0) {
    m.zstd = true;
    if (!(m.dctx = ZSTD_createDCtx())) {
      m.done = m.unusable = true;
      return {"zstd: out of memory"};
    }
  } else {
    m.buf.assign(m.raw.begin(), m.raw.begin() + static_cast<long>(m.raw_len));
    m.buf.resize(std::max(m.raw_len, kIoChunk));
    m.len = m.raw_len;
    m.raw.clear();
    m.raw.shrink_to_fit();
    m.raw_len = 0;
  }

  bool overlong;
  auto got = m.get_line(overlong);
  std::string msg;  // why the file is unusable
  auto not_a_log = [](const std::string& why) { return "line 1: not an fdwatch event log (" + why + ")"; };
  if (got == Impl::Got::End && m.errors_total > 0) {
    m.unusable = true;
    return {m.errors.front().message};  // read error or corrupt zstd, already recorded
  } else if (got == Impl::Got::End) {
    msg = m.zstd_truncated ? "line 1: zstd frame truncated before any data" : not_a_log("empty file");
  } else if (overlong) {
    msg = not_a_log("line 1 longer than " + std::to_string(opts.max_line_bytes) + " bytes");
  } else {
    std::string perr;
    if (auto j = m.parse(&perr)) {
      std::string herr;
      if (auto h = header_from_json(*j, &herr)) {
        m.header = std::move(*h);
        m.line_no = 1;
        if (!herr.empty()) m.error(1, "header " + herr);
        return {};
      }
      msg = not_a_log(herr);
    } else if (got == Impl::Got::Unterminated) {
      msg = m.zstd_truncated ? "line 1: truncated header (zstd frame ends inside it)"
                             : "line 1: truncated header (no newline at end of file)";
    } else {
      msg = not_a_log("not JSON: " + perr);
    }
  }
  m.line_no = 1;
  m.done = m.unusable = true;
  m.zstd_truncated = false;
  ++m.errors_total;
  m.errors.push_back({1, msg});
  return {msg};
}

const LogHeader& LogReader::header() const {
  static const LogHeader empty;
  return impl_ ? impl_->header : empty;
}

bool LogReader::next(Event& ev) {
  if (!impl_ || impl_->unusable) return false;
  Impl& m = *impl_;
  for (;;) {
    bool overlong;
    auto got = m.get_line(overlong);
    if (got == Impl::Got::End) break;
    uint64_t n = ++m.line_no;
    if (overlong) {
      m.error(n, "longer than " + std::to_string(m.opts.max_line_bytes) + " bytes, skipped");
      continue;
    }
    if (m.is_blank()) continue;
    std::string perr;
    auto j = m.parse(&perr);
    if (!j) {
      if (got == Impl::Got::Unterminated && m.zstd_truncated) {
        m.error(n, "truncated: zstd frame ends inside this line (file cut short)");
        m.zstd_truncated = false;
      } else if (got == Impl::Got::Unterminated) {
        m.error(n, "truncated last line (no newline at end of file)");
      } else {
        m.error(n, "malformed JSON " + perr);
      }
      continue;
    }
    if (!j->is_object()) {
      m.error(n, "expected a JSON object, got " + type_of(*j));
      continue;
    }
    const json* type = find(*j, "type");
    if (!type && find(*j, "schema")) {
      // Rotated files concatenated (cat FILE.2 FILE.1 FILE) repeat the header.
      std::string herr;
      if (!header_from_json(*j, &herr)) m.error(n, "another log's header: " + herr);
      m.end.reset();
      m.frames.clear();  // another file: its own stack table
      m.stacks.clear();
      continue;
    }
    const bool named = type && type->is_string();
    const std::string_view name = named ? std::string_view(type->get_ref<const std::string&>()) : "";
    if (name == kEndType) {
      m.read_end(*j, n);
      continue;
    }
    if (name == kFrameType) {
      m.read_frame(*j, n);
      continue;
    }
    if (name == kStackType) {
      m.read_stack(*j, n);
      continue;
    }
    if (named && !evtype_from_name(name)) {
      ++m.unknown;  // from a newer fdwatch: skipping is the contract
      continue;
    }
    std::string err;
    auto e = event_from_json(*j, &err);
    if (!e) {
      m.error(n, err);
      continue;
    }
    m.attach_stack(*j, *e, n);
    ev = std::move(*e);
    ++m.events;
    m.end.reset();
    return true;
  }
  m.end_of_stream();
  return false;
}

const std::vector<LogError>& LogReader::errors() const {
  static const std::vector<LogError> none;
  return impl_ ? impl_->errors : none;
}
uint64_t LogReader::errors_total() const { return impl_ ? impl_->errors_total : 0; }
uint64_t LogReader::lines() const { return impl_ ? impl_->line_no : 0; }
uint64_t LogReader::events() const { return impl_ ? impl_->events : 0; }
uint64_t LogReader::skipped_unknown() const { return impl_ ? impl_->unknown : 0; }
uint64_t LogReader::stacks_defined() const { return impl_ ? impl_->stacks_defined : 0; }
bool LogReader::compressed() const { return impl_ && impl_->zstd; }
const std::optional<LogEnd>& LogReader::end() const {
  static const std::optional<LogEnd> none;
  return impl_ ? impl_->end : none;
}

}  // namespace fdw
