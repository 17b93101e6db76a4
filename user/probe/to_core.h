// ABI values -> core's types: the decoder's translation of what the kernel
// side reports (bpf/fdwatch_abi.h) into what user/core speaks.
#pragma once

#include "core/classify.h"
#include "fdwatch_abi.h"

namespace fdw {

// fdw_event.sys needs no translation: core's Sys numbers syscalls as enum
// fdw_sys does, checked here at compile time.

SockInfo sock_info(const fdw_sock& s);

}  // namespace fdw
