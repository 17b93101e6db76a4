// What the kernel side captures at an fd-creating call for unwinding: the
// user registers and a copy of the top of the user stack.
#pragma once

#include <cstdint>
#include <vector>

namespace fdw {

// x86_64 user registers in DWARF numbering:
// 0 rax, 1 rdx, 2 rcx, 3 rbx, 4 rsi, 5 rdi, 6 rbp, 7 rsp, 8..15 r8..r15, 16 rip.
// CFI-unwinding through -O2 code needs rip and rsp; rbp, rbx, r12-r15 (the
// callee-saved ones) let frames that keep their CFA or values there unwind too.
struct UserRegs {
  uint64_t r[17] = {};
};
constexpr int kRegSp = 7;
constexpr int kRegIp = 16;

struct StackSample {
  uint32_t pid = 0, tid = 0;   // host tgid and tid (tid 0: use pid)
  UserRegs regs;               // at the syscall
  std::vector<uint8_t> stack;  // bytes copied from regs.r[kRegSp] upward
};

}  // namespace fdw
