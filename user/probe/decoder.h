// Ring-buffer bytes -> Event.  The only place that reads struct fdw_event;
// the layout is checked against the ABI header at compile time.
#pragma once

#include <cstddef>
#include <optional>
#include <string>

#include "core/event.h"

namespace fdw {

// Decodes one record.  nullopt (and *err set) for a record that is too short,
// claims a size it does not have, or has an unknown type.
std::optional<Event> decode_record(const void* data, size_t len, std::string* err);

}  // namespace fdw
