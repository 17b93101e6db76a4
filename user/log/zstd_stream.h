// The bytes of a log file: zstd compression for the writer, and for the
// reader a file's decoded text whether it is plain or zstd (detected by the
// magic bytes 28 B5 2F FD, whatever the file name).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "util/result.h"

struct ZSTD_CCtx_s;
struct ZSTD_DCtx_s;

namespace fdw {

// One write(2)/read(2) per chunk.
inline constexpr size_t kLogIoChunk = 64 * 1024;

bool valid_zstd_level(int level);

class ZstdEncoder {
 public:
  ZstdEncoder() = default;
  ~ZstdEncoder();
  ZstdEncoder(const ZstdEncoder&) = delete;
  ZstdEncoder& operator=(const ZstdEncoder&) = delete;

  // Starts a new frame (a new file) at `level`, with a checksum.
  Result<void> start_frame(int level);
  // Feeds `in` and ends a block (readers can decode everything so far) or,
  // with end_frame, the frame.  Output is appended to `out`; whenever `out`
  // reaches kLogIoChunk bytes, spill(out) writes and clears it.
  Result<void> compress(std::string_view in, bool end_frame, std::string& out,
                        const std::function<Result<void>(std::string&)>& spill);
  // Bytes fed in and produced, all frames.
  uint64_t fed() const { return fed_; }
  uint64_t produced() const { return produced_; }

 private:
  ZSTD_CCtx_s* cctx_ = nullptr;
  uint64_t fed_ = 0, produced_ = 0;
};

// A log file's text, read in chunks.
class LogInput {
 public:
  LogInput() = default;
  ~LogInput();
  LogInput(const LogInput&) = delete;
  LogInput& operator=(const LogInput&) = delete;

  // Errors read "open PATH: <why>", "read PATH: <why>".
  Result<void> open(const std::string& path);
  // Up to `cap` decoded bytes into `buf`; 0 at the end.  An Error (a read
  // error, corrupt zstd data: "...; stopped") ends the input.
  Result<size_t> read(char* buf, size_t cap);
  bool compressed() const { return dctx_ != nullptr; }
  // At the end: the file stopped inside a zstd frame (cut short).
  bool truncated_frame() const { return truncated_; }

 private:
  Result<size_t> read_zstd(char* buf, size_t cap);

  int fd_ = -1;
  ZSTD_DCtx_s* dctx_ = nullptr;
  std::vector<char> raw_;  // file bytes not handed on yet (zstd input, or the sniffed start)
  size_t raw_pos_ = 0, raw_len_ = 0;
  bool dctx_has_more_ = false;  // last call filled the output: more may be buffered inside
  bool frame_open_ = false;     // inside a zstd frame (last ZSTD_decompressStream != 0)
  bool truncated_ = false;
};

}  // namespace fdw
