// The call-stack table of one log file (kFrameType and kStackType records,
// log/event_log.h): the writer defines each frame text and each (stack, site)
// once, before the first event that refers to it; the reader resolves an
// event's "stack_id" back into Event::stack and Event::site.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/event.h"
#include "util/result.h"

namespace fdw {

class StackTableWriter {
 public:
  // The id of ev's (stack, site), appending the records that define it (and
  // its new frames) to `defs` when it is new; nullopt when ev has neither.
  std::optional<uint32_t> id_of(const Event& ev, std::string& defs);
  // Records appended to `defs` since the last take_counts().
  struct Counts {
    uint64_t frames = 0, stacks = 0;
  };
  Counts take_counts() { return std::exchange(counts_, {}); }
  // A new file: it defines everything again.
  void clear();

 private:
  uint32_t frame_id(const std::string& text, std::string& defs);

  // ids of the frame texts and of the stacks (their frame ids and site id, packed)
  std::unordered_map<std::string, uint32_t> frame_ids_, stack_ids_;
  Counts counts_;
};

class StackTableReader {
 public:
  // A frame or stack record; an Error says why it was skipped, or that it
  // repeats an id (the first definition stays).
  Result<void> read_frame(const nlohmann::json& j);
  Result<void> read_stack(const nlohmann::json& j);
  // Fills e's call stack from the table when the event refers to it; an
  // Error for a reference to nothing (e is kept without its call stack).
  Result<void> attach(const nlohmann::json& j, Event& e) const;
  // A new file (its header): its own table.
  void clear();
  uint64_t stacks_defined() const { return stacks_defined_; }  // all files

 private:
  struct StackDef {
    std::vector<std::string> stack;
    std::string site;
  };
  Result<const std::string*> frame_ref(const nlohmann::json& v, const std::string& field, uint32_t sid) const;

  std::unordered_map<uint32_t, std::string> frames_;
  std::unordered_map<uint32_t, StackDef> stacks_;
  uint64_t stacks_defined_ = 0;
};

}  // namespace fdw
