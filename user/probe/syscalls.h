// The syscall numbers of the kernel side's handler programs ("sys_<name>").
#pragma once

#include <string_view>

namespace fdw {

// This architecture's number of syscall `name`, or -1 when fdwatch has no
// handler for it.
int syscall_nr(std::string_view name);

}  // namespace fdw
