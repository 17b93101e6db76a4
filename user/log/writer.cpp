#include "log/writer.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <utility>

#include "log/codec.h"
#include "log/stack_table.h"
#include "log/zstd_stream.h"
#include "util/private_file.h"

namespace fdw {

namespace {

int write_all(int fd, const char* p, size_t n) {
  while (n > 0) {
    ssize_t w = ::write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    p += w;
    n -= static_cast<size_t>(w);
  }
  return 0;
}

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

}  // namespace

struct LogWriter::Impl {
  std::string path;
  LogWriterOptions opts;
  bool zstd = false;
  std::optional<StagedFile> file;  // the current file, published once the log goes live
  bool live = false;               // publish() called: files appear at `path` at once
  ZstdEncoder encoder;
  std::string in;    // JSON not yet handed on (to the file, or to zstd)
  std::string out;   // compressed bytes not yet written
  std::string line;  // scratch for one event
  std::optional<std::string> header;
  uint64_t file_disk = 0;    // bytes of the current file already written
  uint64_t file_events = 0;  // events in the current file
  uint64_t last_ts = 0;      // of the last event written
  LogWriterStats st;
  std::optional<Error> failed;  // sticky error
  StackTableWriter table;       // of the current file
  std::string defs;             // table records the event being written needs first

  int fd() const { return file ? file->fd() : -1; }

  Error set_failed(Error e) {
    failed = std::move(e);
    return *failed;
  }

  // The sticky error, or why `what` cannot be done now.
  Result<void> usable(const char* what, bool need_header) const {
    if (failed) return *failed;
    if (fd() < 0) return log_error(std::string(what) + ": log closed");
    if (need_header && !header) return log_error(std::string(what) + ": header not written yet");
    return {};
  }

  Result<void> write_out(std::string& buf) {
    if (buf.empty()) return {};
    if (int e = write_all(fd(), buf.data(), buf.size())) return set_failed(Error::from_errno("write " + path, e));
    file_disk += buf.size();
    st.bytes += buf.size();
    buf.clear();
    return {};
  }

  // Feeds all of `in` to zstd (ending a block, or the frame); writes output
  // in ~64 KiB pieces.
  Result<void> compress(bool end_frame) {
    auto r = encoder.compress(in, end_frame, out, [this](std::string& b) { return write_out(b); });
    if (!r && failed) return r;  // a write error, already sticky
    if (!r) return set_failed(log_error("zstd compress " + path + ": " + r.error().message));
    in.clear();
    return {};
  }

  // Pushes `in` towards the file: all of it with `force`, else only whole
  // chunks.  Each zstd chunk ends a block: the file stays decodable up to the
  // last chunk while being written, and its size is known.
  Result<void> drain(bool force, bool end_frame = false) {
    if (!force && in.size() < kLogIoChunk) return {};
    if (!zstd) return write_out(in);
    if (auto s = compress(end_frame); !s) return s;
    if (!force) return {};
    return write_out(out);
  }

  // Size the current file will have once everything buffered is written.  zstd
  // is flushed at every chunk, so only `in` is uncompressed: scale it by the
  // ratio seen so far (1.0 until something has been compressed).
  uint64_t projected_size(uint64_t extra_json) const {
    uint64_t pending = in.size() + extra_json;
    if (!zstd) return file_disk + pending;
    double ratio = encoder.fed() > 0 ? double(encoder.produced()) / double(encoder.fed()) : 1.0;
    return file_disk + out.size() + uint64_t(double(pending) * ratio);
  }

  Result<void> open_file() {
    auto f = StagedFile::create(path);
    if (!f) return set_failed(f.error());
    file.emplace(std::move(f.value()));
    if (live)
      if (auto r = file->publish(); !r) return set_failed(r.error());
    file_disk = 0;
    file_events = 0;
    table.clear();  // every file is a log of its own
    if (zstd)
      if (auto r = encoder.start_frame(opts.zstd_level); !r) return set_failed(r.error());
    return {};
  }

  // The table records and the line of ev, in `defs` and `line`.
  void encode(const Event& ev) {
    defs.clear();
    (void)table.take_counts();
    line.clear();
    if (auto id = table.id_of(ev, defs))
      append_event_line(line, ev, *id);
    else
      append_event_line(line, ev);
  }

  // Hands `defs` on: the table now holds them, whatever becomes of the event.
  void commit_defs() {
    in += defs;
    st.json_bytes += defs.size();
    auto n = table.take_counts();
    st.frames += n.frames;
    st.stacks += n.stacks;
  }

  Result<void> publish() {
    live = true;
    if (auto r = file->publish(); !r) return set_failed(r.error());
    return {};
  }

  Result<void> close_file() {
    if (fd() < 0) return {};
    Result<void> s = drain(true, true);
    if (s) s = publish();
    int e = file->close_fd();
    if (s && e) s = set_failed(Error::from_errno("close " + path, e));
    return s;
  }

  void append_end(uint64_t ts, std::optional<uint64_t> lost, bool rotated) {
    std::string l = end_record_line(ts, file_events, st.events, lost, rotated);
    in += l;
    st.json_bytes += l.size();
  }

  Result<void> shift_rotated_files();
  Result<void> rotate();
  Result<void> rotate_if_full(const Event& ev);
};

// FILE -> FILE.1 -> ... -> FILE.keep_files (dropped).
Result<void> LogWriter::Impl::shift_rotated_files() {
  auto name = [&](int i) { return path + "." + std::to_string(i); };
  int keep = opts.keep_files;
  if (keep <= 0) {
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) return set_failed(Error::from_errno("remove " + path, errno));
    return {};
  }
  if (::unlink(name(keep).c_str()) != 0 && errno != ENOENT)
    return set_failed(Error::from_errno("remove " + name(keep), errno));
  for (int i = keep - 1; i >= 1; --i)
    if (::rename(name(i).c_str(), name(i + 1).c_str()) != 0 && errno != ENOENT)
      return set_failed(Error::from_errno("rename " + name(i), errno));
  if (::rename(path.c_str(), name(1).c_str()) != 0) return set_failed(Error::from_errno("rename " + path, errno));
  return {};
}

// Ends the current file, shifts the rotated ones, starts a fresh FILE.
Result<void> LogWriter::Impl::rotate() {
  append_end(last_ts, std::nullopt, true);
  if (auto s = close_file(); !s) return s;
  if (auto s = shift_rotated_files(); !s) return s;
  ++st.rotations;
  if (auto s = open_file(); !s) return s;
  in += *header;
  st.json_bytes += header->size();
  return {};
}

// Rotates when ev (encoded in `defs` and `line`) would take the file past its
// size limit.  Never for the first event of a file, so one line larger than
// the limit still makes progress.
Result<void> LogWriter::Impl::rotate_if_full(const Event& ev) {
  if (opts.max_size_bytes == 0 || file_events == 0) return {};
  const uint64_t max = opts.max_size_bytes;
  // room for the closing record a rotation after this event would write
  const uint64_t room = defs.size() + line.size() +
                        end_record_line(std::max(last_ts, ev.ts_ns), file_events + 1, st.events + 1, std::nullopt,
                                        true).size();
  // No ratio yet: compress what we have once, rather than guess.
  if (zstd && encoder.fed() == 0 && projected_size(room) > max)
    if (auto s = compress(false); !s) return s;
  if (projected_size(room) <= max) return {};
  if (auto s = rotate(); !s) return s;
  encode(ev);  // against the new file's empty table
  return {};
}

LogWriter::LogWriter() = default;
LogWriter::~LogWriter() {
  if (impl_ && impl_->live) (void)close();  // an unpublished file is removed with impl_
}
LogWriter::LogWriter(LogWriter&&) noexcept = default;
LogWriter& LogWriter::operator=(LogWriter&& o) noexcept {
  if (this != &o) {
    if (impl_ && impl_->live) (void)close();
    impl_ = std::move(o.impl_);
  }
  return *this;
}

Result<void> LogWriter::open(const std::string& path, const LogWriterOptions& opts) {
  if (impl_ && impl_->live) (void)close();
  impl_ = std::make_unique<Impl>();
  impl_->path = path;
  impl_->opts = opts;
  impl_->zstd = opts.zstd.value_or(ends_with(path, ".zst"));
  if (!valid_zstd_level(opts.zstd_level))
    return impl_->set_failed(log_error("zstd level " + std::to_string(opts.zstd_level) + " out of range"));
  impl_->in.reserve(kLogIoChunk + 4096);
  return impl_->open_file();
}

Result<void> LogWriter::write_header(const LogHeader& h) {
  if (!impl_) return log_error("write_header: log not open");
  Impl& m = *impl_;
  if (auto s = m.usable("write_header", false); !s) return s;
  if (m.header) return log_error("write_header: header already written");
  m.header.emplace();
  append_header_line(*m.header, h);
  m.in += *m.header;
  m.st.json_bytes += m.header->size();
  return m.drain(false);
}

Result<void> LogWriter::write(const Event& ev) {
  if (!impl_) return log_error("write: log not open");
  Impl& m = *impl_;
  if (auto s = m.usable("write", true); !s) return s;
  m.encode(ev);
  if (m.line.size() > kMaxLogLineBytes) {
    m.commit_defs();  // a later event may refer to them
    return log_error("write: event too large (" + std::to_string(m.line.size()) + " bytes; readers accept at most " +
                 std::to_string(kMaxLogLineBytes) + ")");
  }
  if (auto s = m.rotate_if_full(ev); !s) return s;
  m.commit_defs();
  m.in += m.line;
  m.st.json_bytes += m.line.size();
  m.last_ts = std::max(m.last_ts, ev.ts_ns);
  ++m.file_events;
  ++m.st.events;
  return m.drain(false);
}

Result<void> LogWriter::publish() {
  if (!impl_) return log_error("publish: log not open");
  if (auto s = impl_->usable("publish", false); !s) return s;
  return impl_->publish();
}

Result<void> LogWriter::write_end(uint64_t ts_ns, uint64_t lost) {
  if (!impl_) return log_error("write_end: log not open");
  Impl& m = *impl_;
  if (auto s = m.usable("write_end", true); !s) return s;
  m.append_end(std::max(ts_ns, m.last_ts), lost, false);
  return m.drain(false);
}

Result<void> LogWriter::flush() {
  if (!impl_) return log_error("flush: log not open");
  if (impl_->failed) return *impl_->failed;
  if (impl_->fd() < 0) return {};
  return impl_->drain(true);
}

Result<void> LogWriter::close() {
  if (!impl_) return {};
  if (impl_->failed) {
    if (impl_->file) (void)impl_->file->close_fd();
    return *impl_->failed;
  }
  return impl_->close_file();
}

LogWriterStats LogWriter::stats() const { return impl_ ? impl_->st : LogWriterStats{}; }

}  // namespace fdw
