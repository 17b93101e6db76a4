#include "probe/decoder.h"

#include <linux/types.h>
#include <sys/wait.h>

#include <cstdio>
#include <cstring>

#include "core/classify.h"
#include "fdwatch_abi.h"
#include "probe/to_core.h"

namespace fdw {

static_assert(sizeof(fdw_sock) == 48, "fdw_sock layout");
static_assert(sizeof(fdw_event) == 144, "fdw_event layout");
static_assert(offsetof(fdw_event, ret) == 24 && offsetof(fdw_event, ino) == 56 &&
                  offsetof(fdw_event, name) == 112,
              "fdw_event field offsets");
static_assert(sizeof(fdw_event_path) == 144 + FDW_PATH_MAX, "fdw_event_path layout");
// Side-channel records share fdw_event's first 24 bytes (ts, tgid, tid, type, sys, size, flags).
static_assert(offsetof(fdw_ustack, type) == offsetof(fdw_event, type) &&
                  offsetof(fdw_ustack, size) == offsetof(fdw_event, size) &&
                  offsetof(fdw_ustack, regs) == 32 && offsetof(fdw_ustack, stack) == 168,
              "fdw_ustack layout");
static_assert(offsetof(fdw_umap, type) == offsetof(fdw_event, type) &&
                  offsetof(fdw_umap, start) == 24 && offsetof(fdw_umap, path) == 64 &&
                  sizeof(fdw_umap) == 64 + FDW_UMAP_PATH_MAX,
              "fdw_umap layout");
static_assert(offsetof(fdw_pystack, type) == offsetof(fdw_event, type) &&
                  offsetof(fdw_pystack, key) == 24 && offsetof(fdw_pystack, frames) == 32 &&
                  sizeof(fdw_pyframe) == 16,
              "fdw_pystack layout");
static_assert(sizeof(fdw_py_proc) == 64 && sizeof(fdw_py_bin) == 16, "fdw_py_proc/fdw_py_bin layout");
static_assert(offsetof(fdw_pycode, type) == offsetof(fdw_event, type) && offsetof(fdw_pycode, code) == 24 &&
                  offsetof(fdw_pycode, name) == 48 && sizeof(fdw_pycode) == 48 + FDW_PY_NAME_MAX + FDW_PY_FILE_MAX + FDW_PY_TABLE_MAX,
              "fdw_pycode layout");
static_assert(FDW_USTACK_NREGS == sizeof(UserRegs::r) / sizeof(UserRegs::r[0]),
              "USTACK registers are a UserRegs");

namespace {

std::string bounded(const char* s, size_t max) { return std::string(s, strnlen(s, max)); }

// Kind and target of a new fd from the kernel's description.
void describe(const fdw_event& r, const fdw_event_path* rp, Kind* kind, std::string* target) {
  std::string dname = bounded(r.name, sizeof(r.name));
  *kind = (r.flags & FDW_F_HAS_FILE) ? kind_from_kernel(r.mode, dname, r.sys) : kind_for_sys(r.sys);
  std::string path = rp ? bounded(rp->path, sizeof(rp->path)) : std::string();
  switch (*kind) {
    case Kind::File: case Kind::Dir: case Kind::Fifo:
      // The kernel's path when it resolved one (FDW_F_PATH_RESOLVED), else
      // the caller's; relative ones are then resolved by the enricher.
      *target = path;
      break;
    case Kind::Socket: {
      std::string unix_path;
      if (rp && r.sock.family == 1 && r.arg > 0) {
        unix_path.assign(rp->path, size_t(std::min<int64_t>(r.arg, FDW_PATH_MAX - 1)));
        // The kernel's length of a pathname address counts its NUL; only
        // abstract names (leading NUL) are raw bytes.
        if (unix_path[0] != '\0') unix_path.resize(strnlen(unix_path.c_str(), unix_path.size()));
      }
      *target = socket_target(sock_info(r.sock), unix_path, r.arg2 == 1);
      if (target->empty()) *target = kernel_target(*kind, r.mode, dname, r.ino);
      break;
    }
    default:
      *target = (r.flags & FDW_F_HAS_FILE) ? kernel_target(*kind, r.mode, dname, r.ino) : "";
  }
}

// The errno of a negative syscall result.  The kernel returns -1..-4095;
// anything below is no errno (a record from a broken probe): 4095 stands in.
int errno_of(int32_t ret) { return ret < -4095 ? 4095 : -ret; }

void put_utf8(std::string& s, uint32_t c) {
  if (c < 0x80) {
    s += char(c);
  } else if (c < 0x800) {
    s += char(0xc0 | (c >> 6));
    s += char(0x80 | (c & 63));
  } else if (c < 0x10000) {
    s += char(0xe0 | (c >> 12));
    s += char(0x80 | ((c >> 6) & 63));
    s += char(0x80 | (c & 63));
  } else {
    s += char(0xf0 | (c >> 18));
    s += char(0x80 | ((c >> 12) & 63));
    s += char(0x80 | ((c >> 6) & 63));
    s += char(0x80 | (c & 63));
  }
}

}  // namespace

std::string python_str(const char* data, size_t len, unsigned kind) {
  if (kind == 1) {  // ASCII or Latin-1
    std::string out;
    for (size_t i = 0; i < len; ++i) put_utf8(out, static_cast<unsigned char>(data[i]));
    return out;
  }
  if (kind != 2 && kind != 4) return "";
  std::string out;
  for (size_t i = 0; i + kind <= len; i += kind) {
    uint32_t c = 0;
    std::memcpy(&c, data + i, kind);
    put_utf8(out, c);
  }
  return out;
}

namespace {

// `ret` of a call that returns an fd: the fd, or the errno of its failure.
void set_result(Event& e, int32_t ret) {
  if (ret < 0) {
    e.err = errno_of(ret);
    e.fd = -1;
  } else {
    e.fd = ret;
  }
}

void decode_open(const fdw_event& r, const fdw_event_path* rp, Event& e) {
  e.type = EvType::Open;
  set_result(e, r.ret);
  describe(r, rp, &e.kind, &e.target);
  if (r.sys == FDW_SYS_OPEN || r.sys == FDW_SYS_OPENAT || r.sys == FDW_SYS_OPENAT2 || r.sys == FDW_SYS_CREAT ||
      r.sys == FDW_SYS_OPEN_BY_HANDLE_AT)
    e.flags = uint32_t(r.arg);
  if (r.fd2 < 0 || e.err) return;
  e.fd2 = r.fd2;
  e.kind2 = e.kind;
  if (e.kind == Kind::Pipe || e.kind == Kind::Socket)
    e.target2 = e.target;  // both ends of a pipe are one inode; a socketpair's ends read alike
  else
    e.target2 = kernel_target(e.kind, r.mode, bounded(r.name, sizeof(r.name)), uint64_t(r.arg));
}

// Records about one fd (fd2) of the caller: close, close_range, cloexec,
// traced calls and socket addresses.  False for another type.
bool decode_fd_change(const fdw_event& r, const fdw_event_path* rp, Event& e) {
  e.fd = r.fd2;
  if (r.ret < 0) e.err = errno_of(r.ret);
  switch (r.type) {
    case FDW_EV_CLOSE:
      e.type = EvType::Close;
      e.value = r.arg;  // io_uring: submission time (0 for close(2))
      if (r.flags & FDW_F_FD_REUSED) e.flags |= kCloseFdReused;
      return true;
    case FDW_EV_CLOSE_RANGE:
      e.type = EvType::CloseRange;
      e.value = r.arg;
      e.flags = uint32_t(r.arg2);
      return true;
    case FDW_EV_CLOEXEC:
      e.type = EvType::Cloexec;
      e.value = r.arg;
      return true;
    case FDW_EV_CALL:
      e.type = EvType::Call;
      return true;
    case FDW_EV_SOCKADDR:
      e.type = EvType::SockAddr;
      describe(r, rp, &e.kind, &e.target);
      return true;
    default:
      return false;
  }
}

// Records about a process (ret: its pid for exit, rename and limit).  False
// for another type.
bool decode_process(const fdw_event& r, const fdw_event_path* rp, Event& e) {
  switch (r.type) {
    case FDW_EV_FORK:
      e.type = EvType::Fork;
      e.child = uint32_t(r.ret);
      e.shared_files = r.flags & FDW_F_SHARED_FILES;
      e.comm = bounded(r.name, 16);
      return true;
    case FDW_EV_EXEC:
      e.type = EvType::Exec;
      e.comm = bounded(r.name, 16);
      if (rp) e.target = bounded(rp->path, sizeof(rp->path));
      return true;
    case FDW_EV_RENAME:
      e.type = EvType::Comm;
      e.pid = uint32_t(r.ret);
      e.comm = bounded(r.name, 16);
      e.value = -1;  // the uid is not part of a rename
      return true;
    case FDW_EV_EXIT: {
      e.type = EvType::Exit;
      e.pid = uint32_t(r.ret);
      int status = int(r.arg);
      e.value = WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
      e.comm = bounded(r.name, 16);
      return true;
    }
    case FDW_EV_LIMIT:
      e.type = EvType::Limit;
      e.pid = uint32_t(r.ret);
      e.value = r.arg < 0 ? -1 : r.arg;  // RLIM_INFINITY reads as -1: unlimited
      return true;
    default:
      return false;
  }
}

}  // namespace

Result<Event> decode_event(const void* data, size_t len) {
  if (len < sizeof(fdw_event)) return Error{"short record (" + std::to_string(len) + " bytes)"};
  fdw_event r;
  std::memcpy(&r, data, sizeof(r));
  const fdw_event_path* rp = nullptr;
  if (r.size > len || r.size < sizeof(fdw_event))
    return Error{"record size " + std::to_string(r.size) + " does not fit " + std::to_string(len)};
  fdw_event_path with_path{};  // the path as sent, zero-padded to its full size
  if (r.flags & FDW_F_HAS_PATH) {
    if (r.size <= sizeof(fdw_event) || r.size > sizeof(fdw_event_path))
      return Error{"path record of " + std::to_string(r.size) + " bytes"};
    std::memcpy(&with_path, data, r.size);
    rp = &with_path;
  }
  Event e;
  e.ts_ns = r.ts_ns;
  e.pid = r.tgid;
  e.tid = r.tid;
  e.sys = r.sys;
  e.cloexec = r.flags & FDW_F_CLOEXEC;
  if (r.type == FDW_EV_OPEN) {
    decode_open(r, rp, e);
  } else if (r.type == FDW_EV_DUP) {
    e.type = EvType::Dup;
    set_result(e, r.ret);
    e.fd2 = r.fd2;
    describe(r, rp, &e.kind, &e.target);
  } else if (!decode_process(r, rp, e) && !decode_fd_change(r, rp, e)) {
    return Error{"unknown record type " + std::to_string(r.type)};
  }
  return e;
}

uint16_t record_type(const void* data, size_t len) {
  if (len < offsetof(fdw_event, sys)) return 0;
  uint16_t t;
  std::memcpy(&t, static_cast<const char*>(data) + offsetof(fdw_event, type), sizeof t);
  return t;
}

uint32_t record_tgid(const void* data, size_t len) {
  if (len < offsetof(fdw_event, tid)) return 0;
  uint32_t tgid;
  std::memcpy(&tgid, static_cast<const char*>(data) + offsetof(fdw_event, tgid), sizeof tgid);
  return tgid;
}

int32_t record_stack_id(const void* data, size_t len) {
  if (len < sizeof(fdw_event)) return -1;
  int32_t id;
  std::memcpy(&id, static_cast<const char*>(data) + offsetof(fdw_event, stack_id), sizeof id);
  return id;
}

Result<UStackView> decode_ustack(const void* data, size_t len) {
  constexpr size_t kHead = offsetof(fdw_ustack, stack);
  if (len < kHead || record_type(data, len) != FDW_EV_USTACK)
    return Error{"short or mistyped USTACK record (" + std::to_string(len) + " bytes)"};
  fdw_ustack h;
  std::memcpy(&h, data, kHead);
  if (h.size < kHead || h.size > len || h.stack_len > FDW_USTACK_MAX ||
      kHead + h.stack_len > h.size)
    return Error{"USTACK record claims " + std::to_string(h.stack_len) + " stack bytes in " + std::to_string(len)};
  UStackView v;
  v.pid = h.tgid;
  v.tid = h.tid;
  std::memcpy(v.regs.r, h.regs, sizeof h.regs);
  v.stack = static_cast<const uint8_t*>(data) + kHead;
  v.stack_len = h.stack_len;
  v.ts_ns = h.ts_ns;
  v.key = int32_t(h.ts_ns & 0x7fffffff);
  v.sys = h.sys;
  v.truncated = h.flags & FDW_F_TRUNC;
  return v;
}

Result<UMap> decode_umap(const void* data, size_t len) {
  if (len < sizeof(fdw_umap) || record_type(data, len) != FDW_EV_UMAP)
    return Error{"short or mistyped UMAP record (" + std::to_string(len) + " bytes)"};
  fdw_umap r;
  std::memcpy(&r, data, sizeof r);
  if (r.size < sizeof(fdw_umap) || r.end <= r.start) return Error{"bad UMAP record"};
  UMap m;
  m.pid = r.tgid;
  m.start = r.start;
  m.end = r.end;
  m.pgoff = r.pgoff;
  m.ino = r.ino;
  m.dev_major = r.dev_major;
  m.dev_minor = r.dev_minor;
  m.path = bounded(r.path, sizeof r.path);
  if (m.path.empty() || m.path[0] != '/' || m.path.find('\n') != std::string::npos)
    return Error{"UMAP record without an absolute path"};
  return m;
}

Result<PyStack> decode_pystack(const void* data, size_t len) {
  constexpr size_t kHead = offsetof(fdw_pystack, frames);
  if (len < kHead || record_type(data, len) != FDW_EV_PYSTACK)
    return Error{"short or mistyped PYSTACK record (" + std::to_string(len) + " bytes)"};
  fdw_pystack h;
  std::memcpy(&h, data, kHead);
  if (h.nframes > FDW_PY_FRAMES_MAX || h.size > len || kHead + h.nframes * sizeof(fdw_pyframe) > h.size)
    return Error{"PYSTACK record claims " + std::to_string(h.nframes) + " frames in " + std::to_string(len)};
  PyStack p;
  p.pid = h.tgid;
  p.tid = h.tid;
  p.key = h.key;
  p.truncated = h.flags & FDW_F_TRUNC;
  p.no_thread = h.flags & FDW_PY_NO_THREAD;
  p.frames.resize(h.nframes);
  if (h.nframes)
    std::memcpy(p.frames.data(), static_cast<const char*>(data) + kHead, h.nframes * sizeof(fdw_pyframe));
  return p;
}

Result<PyCode> decode_pycode(const void* data, size_t len) {
  if (len < sizeof(fdw_pycode) || record_type(data, len) != FDW_EV_PYCODE)
    return Error{"short or mistyped PYCODE record (" + std::to_string(len) + " bytes)"};
  fdw_pycode r;
  std::memcpy(&r, data, sizeof r);
  PyCode c;
  c.pid = r.tgid;
  c.code = r.code;
  c.firstlineno = r.firstlineno;
  c.function = python_str(r.name, std::min<size_t>(r.name_len, sizeof r.name), r.name_kind);
  c.file = python_str(r.file, std::min<size_t>(r.file_len, sizeof r.file), r.file_kind);
  c.linetable.assign(reinterpret_cast<const char*>(r.table), std::min<size_t>(r.table_len, sizeof r.table));
  return c;
}

std::string UMap::maps_line() const {
  char head[128];
  snprintf(head, sizeof head, "%llx-%llx r-xp %08llx %02x:%02x %llu ", (unsigned long long)start,
           (unsigned long long)end, (unsigned long long)pgoff, dev_major, dev_minor,
           (unsigned long long)ino);
  return head + path + "\n";
}

namespace {

// A decoded part as a Record, or its error.
template <class T>
Result<Record> as_record(Result<T> r) {
  if (!r) return r.error();
  return Record(std::move(r.value()));
}

}  // namespace

Result<Record> decode(const void* data, size_t len) {
  switch (record_type(data, len)) {
    case FDW_EV_USTACK: return as_record(decode_ustack(data, len));
    case FDW_EV_UMAP: return as_record(decode_umap(data, len));
    case FDW_EV_PYSTACK: return as_record(decode_pystack(data, len));
    case FDW_EV_PYCODE: return as_record(decode_pycode(data, len));
    default: break;
  }
  auto e = decode_event(data, len);
  if (!e) return e.error();
  EventRecord r{std::move(e.value()), record_stack_id(data, len), false};
  uint16_t flags;
  std::memcpy(&flags, static_cast<const char*>(data) + offsetof(fdw_event, flags), sizeof flags);
  r.stack_memo = flags & FDW_F_STACK_MEMO;
  return Record(std::move(r));
}

}  // namespace fdw
