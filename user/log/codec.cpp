#include "log/codec.h"

#include <string_view>
#include <unordered_map>

#include "core/classify.h"
#include "log/json_text.h"

namespace fdw {

using nlohmann::json;

namespace {

#if defined(__x86_64__) && defined(__GLIBCXX__)
// Every Event field must be written and read back: a new field changes the
// size and stops the build here until the encoder, the decoder, the round-trip
// test and docs/event-log.md know it.
static_assert(sizeof(Event) == 288 && sizeof(SeedFd) == 48,
              "fdw::Event changed: update the event log format");
#endif

// ---- encoding -------------------------------------------------------------------

void append_seed_fds(std::string& out, const std::vector<SeedFd>& fds) {
  append_key(out, "fds");
  out += '[';
  for (size_t i = 0; i < fds.size(); ++i) {
    const SeedFd& s = fds[i];
    if (i) out += ',';
    // "fd" leads even at -1 so the object never starts with a comma.
    out += "{\"fd\":";
    append_int(out, s.fd);
    if (s.kind != Kind::Other) str_field(out, "kind", kind_name(s.kind));
    if (!s.target.empty()) str_field(out, "target", s.target);
    if (s.cloexec) out += ",\"cloexec\":true";
    out += '}';
  }
  out += ']';
}

void append_string_list(std::string& out, std::string_view k, const std::vector<std::string>& v) {
  append_key(out, k);
  out += '[';
  for (size_t i = 0; i < v.size(); ++i) {
    if (i) out += ',';
    append_string(out, v[i]);
  }
  out += ']';
}

// A name, or the number when this build has no name for it (newer than its table).
void name_or_number(std::string& out, std::string_view k, std::string_view name, int64_t n) {
  if (name.empty())
    int_field(out, k, n);
  else
    str_field(out, k, name);
}

// The event line; with `stack_id` its call stack is that table entry instead
// of the inline "site" and "stack".
void append_event(std::string& out, const Event& e, std::optional<uint32_t> stack_id) {
  out += "{\"type\":\"";
  out += evtype_name(e.type);
  out += '"';
  int_field(out, "ts", e.ts_ns);
  int_field(out, "pid", e.pid);
  if (e.tid != 0) int_field(out, "tid", e.tid);
  if (e.sys != 0) name_or_number(out, "sys", sys_name(e.sys), e.sys);
  if (e.fd != -1) int_field(out, "fd", e.fd);
  if (e.fd2 != -1) int_field(out, "fd2", e.fd2);
  if (e.err != 0) name_or_number(out, "err", errno_symbol(e.err), e.err);
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
  if (!e.fds.empty()) append_seed_fds(out, e.fds);
  if (stack_id)
    int_field(out, "stack_id", *stack_id);
  else if (!e.stack.empty())
    append_string_list(out, "stack", e.stack);
  out += "}\n";
}

// ---- decoding -------------------------------------------------------------------

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

// An unknown kind name reads as Kind::Other: kinds are extended over time.
Result<void> get_kind(const json& v, std::string_view name, Kind& out) {
  if (!v.is_string()) return log_error("field \"" + std::string(name) + "\": expected string, got " + type_of(v));
  out = static_cast<Kind>(lookup(kind_names(), v.get_ref<const std::string&>()).value_or(int(Kind::Other)));
  return {};
}

// "sys": a name (an unknown one reads as 0) or a number.
Result<void> get_sys(const json& v, uint16_t& out) {
  if (!v.is_string()) return get_int(v, "sys", out);
  out = static_cast<uint16_t>(lookup(sys_names(), v.get_ref<const std::string&>()).value_or(0));
  return {};
}

// "err": an errno name (an unknown one is an error) or a number.
Result<void> get_errno(const json& v, int32_t& out) {
  if (!v.is_string()) return get_int(v, "err", out);
  auto n = errno_from_name(v.get_ref<const std::string&>());
  if (!n) return log_error("field \"err\": unknown errno name " + quote(v.get_ref<const std::string&>()));
  out = *n;
  return {};
}

Result<void> get_seed_fd(const json& v, size_t i, SeedFd& out) {
  std::string at = "fds[" + std::to_string(i) + "]";
  if (!v.is_object()) return log_error("field \"" + at + "\": expected object, got " + type_of(v));
  FieldReader rd;
  if (const json* f = find(v, "fd")) rd.note(get_int(*f, at + ".fd", out.fd));
  if (const json* f = find(v, "kind"); f) rd.note(get_kind(*f, at + ".kind", out.kind));
  rd.str(find(v, "target"), at + ".target", out.target);
  rd.flag(find(v, "cloexec"), at + ".cloexec", out.cloexec);
  return rd.result();
}

// An array field, each element read by get(element, index, out[index]).
template <class T, class Get>
Result<void> get_array(const json& v, std::string_view name, std::vector<T>& out, Get get) {
  if (!v.is_array()) return log_error("field \"" + std::string(name) + "\": expected array, got " + type_of(v));
  out.resize(v.size());
  for (size_t i = 0; i < out.size(); ++i)
    if (auto r = get(v[i], i, out[i]); !r) return r;
  return {};
}

// The event's type, which must come first: it decides what the line is.
Result<EvType> get_type(const json* v) {
  if (!v) return log_error("missing field \"type\"");
  if (!v->is_string()) return log_error("field \"type\": expected string, got " + type_of(*v));
  auto type = lookup(ev_names(), v->get_ref<const std::string&>());
  if (!type) return log_error("unknown type " + quote(v->get_ref<const std::string&>()));
  return static_cast<EvType>(*type);
}

// All fields but type, ts and pid, in writing order.
void read_fields(const json* const* f, Event& e, FieldReader& rd) {
  rd.num(f[kTid], "tid", e.tid);
  if (f[kSys]) rd.note(get_sys(*f[kSys], e.sys));
  rd.num(f[kFd], "fd", e.fd);
  rd.num(f[kFd2], "fd2", e.fd2);
  if (f[kErr]) rd.note(get_errno(*f[kErr], e.err));
  rd.flag(f[kCloexec], "cloexec", e.cloexec);
  rd.num(f[kChild], "child", e.child);
  rd.flag(f[kShared], "shared_files", e.shared_files);
  rd.num(f[kValue], "value", e.value);
  rd.num(f[kFlags], "flags", e.flags);
  if (f[kKind]) rd.note(get_kind(*f[kKind], "kind", e.kind));
  if (f[kKind2]) rd.note(get_kind(*f[kKind2], "kind2", e.kind2));
  rd.str(f[kTarget], "target", e.target);
  rd.str(f[kTarget2], "target2", e.target2);
  rd.str(f[kComm], "comm", e.comm);
  rd.str(f[kSite], "site", e.site);
  rd.str(f[kCgroup], "cgroup", e.cgroup);
  rd.num(f[kNsPid], "ns_pid", e.ns_pid);
  if (f[kFds]) rd.note(get_array(*f[kFds], "fds", e.fds, get_seed_fd));
  if (f[kStack])
    rd.note(get_array(*f[kStack], "stack", e.stack, [](const json& v, size_t i, std::string& out) {
      return get_string(v, "stack[" + std::to_string(i) + "]", out);
    }));
}

}  // namespace

void append_event_line(std::string& out, const Event& e) { append_event(out, e, std::nullopt); }
void append_event_line(std::string& out, const Event& e, uint32_t stack_id) { append_event(out, e, stack_id); }

json event_to_json(const Event& ev) {
  std::string line;
  append_event_line(line, ev);
  return json::parse(line);
}

Result<Event> event_from_json(const json& j) {
  if (!j.is_object()) return log_error("expected a JSON object, got " + type_of(j));
  // One pass over the members, then the fields in writing order, so the
  // first problem reported does not depend on the member order.
  const json* f[kFieldCount] = {};
  for (auto it = j.begin(); it != j.end(); ++it)
    if (int id = field_id(it.key()); id >= 0) f[id] = &it.value();

  Event e;
  auto type = get_type(f[kType]);
  if (!type) return type.error();
  e.type = *type;
  // ts and pid are always written: without them an event cannot be placed.
  if (!f[kTs]) return log_error("missing field \"ts\"");
  if (!f[kPid]) return log_error("missing field \"pid\"");
  FieldReader rd;
  rd.num(f[kTs], "ts", e.ts_ns);
  rd.num(f[kPid], "pid", e.pid);
  read_fields(f, e, rd);
  if (!rd.ok()) return rd.result().error();
  return e;
}

// ---- header and closing record ----------------------------------------------------

void append_header_line(std::string& out, const LogHeader& h) {
  out += "{\"schema\":";
  append_string(out, h.schema);
  str_field(out, "host", h.host);
  str_field(out, "kernel", h.kernel);
  str_field(out, "version", h.version);
  int_field(out, "boot_time_unix_ns", h.boot_time_unix_ns);
  int_field(out, "start_time_unix_ns", h.start_time_unix_ns);
  int_field(out, "start_mono_ns", h.start_mono_ns);
  append_string_list(out, "argv", h.argv);
  if (!h.extra.is_null()) {
    append_key(out, "extra");
    out += h.extra.dump(-1, ' ', false, json::error_handler_t::replace);
  }
  out += "}\n";
}

json header_to_json(const LogHeader& h) {
  std::string line;
  append_header_line(line, h);
  return json::parse(line);
}

Result<HeaderRead> header_from_json(const json& j) {
  if (!j.is_object()) return log_error("line 1 is a JSON " + type_of(j) + ", not an object");
  const json* f = find(j, "schema");
  if (!f) return log_error("no \"schema\" field");
  if (!f->is_string() || f->get_ref<const std::string&>() != kEventLogSchema) {
    std::string got = f->is_string() ? quote(f->get_ref<const std::string&>()) : f->dump();
    if (got.size() > 60) got = got.substr(0, 57) + "...";
    return log_error("schema " + got + ", expected \"" + std::string(kEventLogSchema) + "\"");
  }
  HeaderRead out;
  LogHeader& h = out.header;
  FieldReader rd;
  rd.str(find(j, "host"), "host", h.host);
  rd.str(find(j, "kernel"), "kernel", h.kernel);
  rd.str(find(j, "version"), "version", h.version);
  rd.num(find(j, "boot_time_unix_ns"), "boot_time_unix_ns", h.boot_time_unix_ns);
  rd.num(find(j, "start_time_unix_ns"), "start_time_unix_ns", h.start_time_unix_ns);
  rd.num(find(j, "start_mono_ns"), "start_mono_ns", h.start_mono_ns);
  if ((f = find(j, "argv")) && !f->is_array()) {
    rd.note(log_error("field \"argv\": expected array, got " + type_of(*f)));
  } else if (f) {
    for (size_t i = 0; i < f->size(); ++i) {
      std::string s;
      if (auto r = get_string((*f)[i], "argv[" + std::to_string(i) + "]", s); r)
        h.argv.push_back(std::move(s));
      else
        rd.note(r);
    }
  }
  if ((f = find(j, "extra"))) h.extra = *f;
  if (!rd.ok()) out.problem = rd.result().error().message;
  return out;
}

std::string end_record_line(uint64_t ts, uint64_t events, uint64_t events_total,
                            std::optional<uint64_t> lost, bool rotated) {
  std::string l = "{\"type\":\"" + std::string(kEndType) + "\",\"ts\":" + std::to_string(ts) +
                  ",\"pid\":0,\"events\":" + std::to_string(events) +
                  ",\"events_total\":" + std::to_string(events_total);
  if (lost) l += ",\"lost\":" + std::to_string(*lost);
  if (rotated) l += ",\"rotated\":true";
  return l + "}\n";
}

}  // namespace fdw
