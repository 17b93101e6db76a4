#include "log/zstd_stream.h"

#include <fcntl.h>
#include <unistd.h>
#include <zstd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "log/event_log.h"

namespace fdw {

namespace {

ssize_t read_some(int fd, char* p, size_t n) {
  for (;;) {
    ssize_t r = ::read(fd, p, n);
    if (r >= 0 || errno != EINTR) return r;
  }
}

Error stopped(const std::string& why) { return log_error(why + "; stopped"); }

}  // namespace

bool valid_zstd_level(int level) { return level >= ZSTD_minCLevel() && level <= ZSTD_maxCLevel(); }

// ---- compression ----------------------------------------------------------------

ZstdEncoder::~ZstdEncoder() { ZSTD_freeCCtx(cctx_); }

Result<void> ZstdEncoder::start_frame(int level) {
  if (!cctx_ && !(cctx_ = ZSTD_createCCtx())) return log_error("zstd: out of memory");
  ZSTD_CCtx_reset(cctx_, ZSTD_reset_session_and_parameters);
  ZSTD_CCtx_setParameter(cctx_, ZSTD_c_compressionLevel, level);
  ZSTD_CCtx_setParameter(cctx_, ZSTD_c_checksumFlag, 1);
  return {};
}

Result<void> ZstdEncoder::compress(std::string_view in, bool end_frame, std::string& out,
                                   const std::function<Result<void>(std::string&)>& spill) {
  ZSTD_inBuffer src{in.data(), in.size(), 0};
  char chunk[kLogIoChunk / 4];
  for (;;) {
    ZSTD_outBuffer dst{chunk, sizeof chunk, 0};
    size_t r = ZSTD_compressStream2(cctx_, &dst, &src, end_frame ? ZSTD_e_end : ZSTD_e_flush);
    if (ZSTD_isError(r)) return log_error(ZSTD_getErrorName(r));
    out.append(chunk, dst.pos);
    produced_ += dst.pos;
    if (out.size() >= kLogIoChunk)
      if (auto s = spill(out); !s) return s;
    if (r == 0) break;
  }
  fed_ += in.size();
  return {};
}

// ---- input ----------------------------------------------------------------------

LogInput::~LogInput() {
  ZSTD_freeDCtx(dctx_);
  if (fd_ >= 0) ::close(fd_);
}

Result<void> LogInput::open(const std::string& path) {
  fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd_ < 0) return Error::from_errno("open " + path, errno);
  // Sniff the magic from the first bytes, which then feed whichever decoder.
  raw_.resize(ZSTD_DStreamInSize());
  while (raw_len_ < 4) {
    ssize_t n = read_some(fd_, raw_.data() + raw_len_, raw_.size() - raw_len_);
    if (n < 0) return Error::from_errno("read " + path, errno);
    if (n == 0) break;
    raw_len_ += static_cast<size_t>(n);
  }
  static constexpr unsigned char kMagic[4] = {0x28, 0xB5, 0x2F, 0xFD};
  if (raw_len_ >= 4 && memcmp(raw_.data(), kMagic, 4) == 0 && !(dctx_ = ZSTD_createDCtx()))
    return log_error("zstd: out of memory");
  return {};
}

Result<size_t> LogInput::read(char* buf, size_t cap) {
  if (dctx_) return read_zstd(buf, cap);
  if (raw_pos_ < raw_len_) {  // the bytes read to sniff the magic come first
    size_t n = std::min(cap, raw_len_ - raw_pos_);
    memcpy(buf, raw_.data() + raw_pos_, n);
    raw_pos_ += n;
    return n;
  }
  ssize_t n = read_some(fd_, buf, cap);
  if (n < 0) return stopped("read error: " + std::string(strerror(errno)));
  return static_cast<size_t>(n);
}

Result<size_t> LogInput::read_zstd(char* buf, size_t cap) {
  for (;;) {
    if (raw_pos_ == raw_len_ && !dctx_has_more_) {
      ssize_t n = read_some(fd_, raw_.data(), raw_.size());
      if (n < 0) return stopped("read error: " + std::string(strerror(errno)));
      if (n == 0) {
        truncated_ = frame_open_;
        return size_t{0};
      }
      raw_pos_ = 0;
      raw_len_ = static_cast<size_t>(n);
    }
    ZSTD_inBuffer src{raw_.data(), raw_len_, raw_pos_};
    ZSTD_outBuffer dst{buf, cap, 0};
    size_t r = ZSTD_decompressStream(dctx_, &dst, &src);
    raw_pos_ = src.pos;
    if (ZSTD_isError(r)) return stopped(std::string("corrupt zstd data (") + ZSTD_getErrorName(r) + ")");
    frame_open_ = r != 0;
    dctx_has_more_ = dst.pos == dst.size;
    if (dst.pos > 0) return dst.pos;
  }
}

}  // namespace fdw
