// One event, header or closing record <-> one JSON line of the event log
// (log/event_log.h).  This is the format's single definition: the writer
// writes these lines, the reader reads them back with the *_from_json side.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "core/event.h"
#include "log/event_log.h"
#include "util/result.h"

namespace fdw {

// Appends the event as one JSON line (with '\n'); event_to_json parses its
// output.  Fields at their Event defaults are omitted; strings that are not
// valid UTF-8 are written as {"hex":"..."}.  The call stack is written inline
// ("stack", "site"), as logs before the stack table had it.
void append_event_line(std::string& out, const Event& ev);
// The same line referring to the stack table entry `stack_id` (log/stack_table.h)
// instead of carrying the call stack; LogWriter writes these.
void append_event_line(std::string& out, const Event& ev, uint32_t stack_id);
void append_header_line(std::string& out, const LogHeader& h);
// The closing record (kEndType): what a reader needs to tell a whole file
// from a cut one.
std::string end_record_line(uint64_t ts, uint64_t events, uint64_t events_total,
                            std::optional<uint64_t> lost, bool rotated);

nlohmann::json event_to_json(const Event& ev);
nlohmann::json header_to_json(const LogHeader& h);

// An Error if `j` is not a valid v1 event: unknown type, missing type/ts/pid,
// a field of the wrong type or out of range, an unknown errno name (the first
// problem in writing order).  Unknown fields are ignored; an unknown kind name
// reads as Kind::Other and an unknown syscall name as 0, so newer logs stay
// readable.
Result<Event> event_from_json(const nlohmann::json& j);

// A header as read: wrong-typed fields are left at their defaults and the
// first of them is named in `problem` ("" if none).
struct HeaderRead {
  LogHeader header;
  std::string problem;
};
// An Error only for a missing or wrong schema.
Result<HeaderRead> header_from_json(const nlohmann::json& j);

}  // namespace fdw
