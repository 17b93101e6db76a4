// libFuzzer entry: any bytes as the ELF file of a traced program, through the
// symbolizer (user/stacks/symbolizer.cpp: libdwfl's ELF, .eh_frame, DWARF and
// .gnu_debuglink handling, run as root on files processes choose).  The input
// is written to a private temporary file, mapped into a made-up process with
// add_maps (no /proc), and addresses in it are symbolized and unwound from.
// Besides "no crash, no leak, no hang": every frame's text escapes to valid
// text.  Seeds: small ELF files (tests/fuzz/corpus_elf).
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "stacks/symbolizer.h"
#include "util/escape.h"

namespace {

constexpr uint32_t kPid = 0x3ffffffe;  // above pid_max: no real process
constexpr uint64_t kBase = 0x400000, kSpan = 0x100000;

// The input's path: a 0700 directory of this fuzzer's own, removed at exit.
const std::string& elf_path() {
  static std::string path = [] {
    char dir[] = "/tmp/fdw-elf-fuzz.XXXXXX";
    if (!mkdtemp(dir)) __builtin_trap();
    static std::string d = dir;
    atexit([] {
      unlink((d + "/prog").c_str());
      rmdir(d.c_str());
    });
    return d + "/prog";
  }();
  return path;
}

void write_input(const uint8_t* data, size_t size) {
  int fd = open(elf_path().c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) __builtin_trap();
  for (size_t off = 0; off < size;) {
    ssize_t w = write(fd, data + off, size - off);
    if (w <= 0) __builtin_trap();
    off += size_t(w);
  }
  close(fd);
}

void check(const std::vector<fdw::Frame>& frames) {
  for (const fdw::Frame& f : frames)
    for (unsigned char c : fdw::escape_text(f.text()))
      if (c < 0x20 || c == 0x7f) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  write_input(data, size);
  char line[256];
  snprintf(line, sizeof line, "%llx-%llx r-xp 00000000 00:01 1 %s\n", (unsigned long long)kBase,
           (unsigned long long)(kBase + kSpan), elf_path().c_str());
  fdw::Symbolizer sym;
  if (!sym.add_maps(kPid, line)) return 0;
  // Addresses from the input's own bytes, so mutations move them too.
  std::vector<uint64_t> ips;
  for (size_t i = 0; i + 4 <= size && ips.size() < 4; i += size / 4 + 1) {
    uint32_t v;
    std::memcpy(&v, data + i, 4);
    ips.push_back(kBase + v % kSpan);
  }
  check(sym.symbolize(kPid, ips, true));
  fdw::StackSample s;
  s.pid = s.tid = kPid;
  s.regs.r[fdw::kRegIp] = ips.empty() ? kBase : ips[0];
  s.regs.r[fdw::kRegSp] = 0x7ffff000;
  s.stack.assign(data, data + std::min<size_t>(size, 512));
  check(sym.unwind(s, 16));
  return 0;
}
