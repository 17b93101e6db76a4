// libFuzzer entry: any bytes as an event-log file through LogReader, twice:
// as given (plain, or zstd if they start with the magic) and zstd-compressed.
// Besides "no crash, no leak, no hang":
//  - every event the reader accepts survives encode -> parse -> decode;
//  - every problem names a line that exists;
//  - compression is invisible: the compressed copy gives the same events, the
//    same messages and the same closing record as the plain bytes.
#include <sys/mman.h>
#include <unistd.h>
#include <zstd.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "log/codec.h"
#include "log/reader.h"

namespace {

std::string line_of(const fdw::Event& e) {
  std::string s;
  fdw::append_event_line(s, e);
  return s;
}

struct Outcome {
  std::string open_error;
  std::vector<std::string> lines;     // accepted events, re-encoded
  std::vector<std::string> messages;  // errors
  std::string end;                    // the closing record, "" if none
};

Outcome read_bytes(const uint8_t* data, size_t size) {
  Outcome out;
  int fd = memfd_create("fdw-log-fuzz", MFD_CLOEXEC);
  if (fd < 0) __builtin_trap();
  for (size_t off = 0; off < size;) {
    ssize_t w = write(fd, data + off, size - off);
    if (w <= 0) __builtin_trap();
    off += static_cast<size_t>(w);
  }
  fdw::LogReaderOptions opts;
  opts.max_line_bytes = 4096;  // small, so over-long lines are reachable
  opts.max_problems_kept = 8;
  fdw::LogReader reader;
  if (auto r = reader.open("/proc/self/fd/" + std::to_string(fd), opts); !r) out.open_error = r.error().message;
  for (auto got = reader.next(); got && *got; got = reader.next()) {
    std::string line = line_of(**got);
    auto back = fdw::event_from_json(nlohmann::json::parse(line));
    if (!back || line_of(*back) != line) __builtin_trap();
    out.lines.push_back(std::move(line));
  }
  if (const auto& end = reader.end()) {
    if (end->line == 0 || end->line > reader.lines()) __builtin_trap();
    out.end = std::to_string(end->line) + " " + std::to_string(end->ts_ns) + " " +
              std::to_string(end->events) + " " + std::to_string(end->events_total) + " " +
              (end->lost ? std::to_string(*end->lost) : "-") + (end->rotated ? " r" : "");
  }
  for (const fdw::LogProblem& e : reader.problems()) {
    if (e.line == 0 || e.line > reader.lines() + 1) __builtin_trap();
    out.messages.push_back(e.message);
  }
  close(fd);
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Outcome plain = read_bytes(data, size);
  if (size >= 4 && memcmp(data, "\x28\xb5\x2f\xfd", 4) == 0) return 0;  // already zstd
  std::vector<uint8_t> z(ZSTD_compressBound(size));
  size_t zn = ZSTD_compress(z.data(), z.size(), data, size, 1);
  if (ZSTD_isError(zn)) __builtin_trap();
  Outcome packed = read_bytes(z.data(), zn);
  if (packed.open_error != plain.open_error || packed.lines != plain.lines || packed.messages != plain.messages ||
      packed.end != plain.end)
    __builtin_trap();
  return 0;
}
