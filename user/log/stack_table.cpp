#include "log/stack_table.h"

#include "log/event_log.h"
#include "log/json_text.h"

namespace fdw {

using nlohmann::json;

// ---- writer -------------------------------------------------------------------

uint32_t StackTableWriter::frame_id(const std::string& text, std::string& defs) {
  auto [it, fresh] = frame_ids_.try_emplace(text, uint32_t(frame_ids_.size()));
  if (fresh) {
    defs += "{\"type\":\"";
    defs += kFrameType;
    defs += '"';
    int_field(defs, "id", it->second);
    str_field(defs, "text", text);
    defs += "}\n";
    ++counts_.frames;
  }
  return it->second;
}

std::optional<uint32_t> StackTableWriter::id_of(const Event& ev, std::string& defs) {
  if (ev.stack.empty() && ev.site.empty()) return std::nullopt;
  std::vector<uint32_t> ids;
  ids.reserve(ev.stack.size() + 1);
  for (const std::string& f : ev.stack) ids.push_back(frame_id(f, defs));
  if (!ev.site.empty()) ids.push_back(frame_id(ev.site, defs));
  std::string packed(reinterpret_cast<const char*>(ids.data()), ids.size() * sizeof ids[0]);
  packed += ev.site.empty() ? '-' : '+';  // whether the last id is the site
  auto [it, fresh] = stack_ids_.try_emplace(std::move(packed), uint32_t(stack_ids_.size()));
  if (fresh) {
    defs += "{\"type\":\"";
    defs += kStackType;
    defs += '"';
    int_field(defs, "id", it->second);
    append_key(defs, "frames");
    defs += '[';
    for (size_t i = 0; i < ev.stack.size(); ++i) {
      if (i) defs += ',';
      append_int(defs, ids[i]);
    }
    defs += ']';
    if (!ev.site.empty()) int_field(defs, "site", ids.back());
    defs += "}\n";
    ++counts_.stacks;
  }
  return it->second;
}

void StackTableWriter::clear() {
  frame_ids_.clear();
  stack_ids_.clear();
}

// ---- reader -------------------------------------------------------------------

namespace {

// The "id" of a table record.
Result<uint32_t> table_id(const json& j, std::string_view what) {
  const json* f = find(j, "id");
  uint32_t id = 0;
  Result<void> r = f ? get_int(*f, "id", id) : log_error("missing field \"id\"");
  if (!r) return log_error(std::string(what) + " record: " + r.error().message + "; skipped");
  return id;
}

}  // namespace

Result<const std::string*> StackTableReader::frame_ref(const json& v, const std::string& field, uint32_t sid) const {
  uint32_t fid = 0;
  if (auto r = get_int(v, field, fid); !r)
    return log_error("stack " + std::to_string(sid) + ": " + r.error().message + "; skipped");
  auto it = frames_.find(fid);
  if (it != frames_.end()) return &it->second;
  return log_error("stack " + std::to_string(sid) + ": frame " + std::to_string(fid) +
               " is not defined (no frame record before it); skipped");
}

Result<void> StackTableReader::read_frame(const json& j) {
  auto id = table_id(j, kFrameType);
  if (!id) return id.error();
  const json* f = find(j, "text");
  std::string text;
  Result<void> r = f ? get_string(*f, "text", text) : log_error("missing field \"text\"");
  if (!r) return log_error("frame " + std::to_string(*id) + ": " + r.error().message + "; skipped");
  if (!frames_.try_emplace(*id, std::move(text)).second)
    return log_error("frame " + std::to_string(*id) + " defined twice; the first definition stays");
  return {};
}

Result<void> StackTableReader::read_stack(const json& j) {
  auto id = table_id(j, kStackType);
  if (!id) return id.error();
  StackDef d;
  const json* f = find(j, "frames");
  if (f && !f->is_array())
    return log_error("stack " + std::to_string(*id) + ": field \"frames\": expected array, got " + type_of(*f) +
                 "; skipped");
  for (size_t i = 0; f && i < f->size(); ++i) {
    auto t = frame_ref((*f)[i], "frames[" + std::to_string(i) + "]", *id);
    if (!t) return t.error();
    d.stack.push_back(**t);
  }
  if ((f = find(j, "site"))) {
    auto t = frame_ref(*f, "site", *id);
    if (!t) return t.error();
    d.site = **t;
  }
  if (!stacks_.try_emplace(*id, std::move(d)).second)
    return log_error("stack " + std::to_string(*id) + " defined twice; the first definition stays");
  ++stacks_defined_;
  return {};
}

Result<void> StackTableReader::attach(const json& j, Event& e) const {
  const json* f = find(j, "stack_id");
  if (!f) return {};
  uint32_t id = 0;
  if (auto r = get_int(*f, "stack_id", id); !r)
    return log_error(r.error().message + "; the event is kept without its call stack");
  auto it = stacks_.find(id);
  if (it == stacks_.end())
    return log_error("stack_id " + std::to_string(id) +
                 " is not defined (no stack record before it); the event is kept without its call stack");
  e.stack = it->second.stack;
  e.site = it->second.site;
  return {};
}

void StackTableReader::clear() {
  frames_.clear();
  stacks_.clear();
}

}  // namespace fdw
