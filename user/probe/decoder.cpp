#include "probe/decoder.h"

#include <linux/types.h>
#include <sys/wait.h>

#include <cstring>

#include "core/classify.h"
#include "fdwatch_abi.h"

namespace fdw {

static_assert(sizeof(fdw_sock) == 48, "fdw_sock layout");
static_assert(sizeof(fdw_event) == 144, "fdw_event layout");
static_assert(offsetof(fdw_event, ret) == 24 && offsetof(fdw_event, ino) == 56 &&
                  offsetof(fdw_event, name) == 112,
              "fdw_event field offsets");
static_assert(sizeof(fdw_event_path) == 144 + FDW_PATH_MAX, "fdw_event_path layout");

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
      *target = socket_target(r.sock, unix_path, r.arg2 == 1);
      if (target->empty()) *target = kernel_target(*kind, r.mode, dname, r.ino);
      break;
    }
    default:
      *target = (r.flags & FDW_F_HAS_FILE) ? kernel_target(*kind, r.mode, dname, r.ino) : "";
  }
}

}  // namespace

std::optional<Event> decode_record(const void* data, size_t len, std::string* err) {
  if (len < sizeof(fdw_event)) {
    if (err) *err = "short record (" + std::to_string(len) + " bytes)";
    return std::nullopt;
  }
  fdw_event r;
  std::memcpy(&r, data, sizeof(r));
  const fdw_event_path* rp = nullptr;
  if (r.size > len || r.size < sizeof(fdw_event)) {
    if (err) *err = "record size " + std::to_string(r.size) + " does not fit " + std::to_string(len);
    return std::nullopt;
  }
  if (r.flags & FDW_F_HAS_PATH) {
    if (r.size < sizeof(fdw_event_path)) {
      if (err) *err = "path record too short";
      return std::nullopt;
    }
    rp = static_cast<const fdw_event_path*>(data);
  }
  Event e;
  e.ts_ns = r.ts_ns;
  e.pid = r.tgid;
  e.tid = r.tid;
  e.sys = r.sys;
  e.cloexec = r.flags & FDW_F_CLOEXEC;
  auto set_result = [&](int32_t ret) {
    if (ret < 0) {
      e.err = -ret;
      e.fd = -1;
    } else {
      e.fd = ret;
    }
  };
  switch (r.type) {
    case FDW_EV_OPEN: {
      e.type = EvType::Open;
      set_result(r.ret);
      describe(r, rp, &e.kind, &e.target);
      if (r.sys == FDW_SYS_OPEN || r.sys == FDW_SYS_OPENAT || r.sys == FDW_SYS_OPENAT2 ||
          r.sys == FDW_SYS_CREAT || r.sys == FDW_SYS_OPEN_BY_HANDLE_AT)
        e.flags = uint32_t(r.arg);
      if (r.fd2 >= 0 && !e.err) {
        e.fd2 = r.fd2;
        e.kind2 = e.kind;
        if (e.kind == Kind::Pipe) {
          e.target2 = e.target;  // both ends of a pipe are one inode
        } else if (e.kind == Kind::Socket) {
          e.target2 = e.target;
        } else {
          e.target2 = kernel_target(e.kind, r.mode, bounded(r.name, sizeof(r.name)), uint64_t(r.arg));
        }
      }
      break;
    }
    case FDW_EV_DUP:
      e.type = EvType::Dup;
      set_result(r.ret);
      e.fd2 = r.fd2;
      describe(r, rp, &e.kind, &e.target);
      break;
    case FDW_EV_CLOSE:
      e.type = EvType::Close;
      e.fd = r.fd2;
      if (r.ret < 0) e.err = -r.ret;
      if (r.flags & FDW_F_FD_REUSED) e.flags |= kCloseFdReused;
      break;
    case FDW_EV_CLOSE_RANGE:
      e.type = EvType::CloseRange;
      e.fd = r.fd2;
      e.value = r.arg;
      e.flags = uint32_t(r.arg2);
      break;
    case FDW_EV_CLOEXEC:
      e.type = EvType::Cloexec;
      e.fd = r.fd2;
      e.value = r.arg;
      break;
    case FDW_EV_FORK:
      e.type = EvType::Fork;
      e.child = uint32_t(r.ret);
      e.shared_files = r.flags & FDW_F_SHARED_FILES;
      e.comm = bounded(r.name, 16);
      break;
    case FDW_EV_EXEC:
      e.type = EvType::Exec;
      e.comm = bounded(r.name, 16);
      if (rp) e.target = bounded(rp->path, sizeof(rp->path));
      break;
    case FDW_EV_EXIT: {
      e.type = EvType::Exit;
      e.pid = uint32_t(r.ret);
      int status = int(r.arg);
      e.value = WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
      e.comm = bounded(r.name, 16);
      break;
    }
    case FDW_EV_SOCKADDR:
      e.type = EvType::SockAddr;
      e.fd = r.fd2;
      describe(r, rp, &e.kind, &e.target);
      break;
    case FDW_EV_LIMIT:
      e.type = EvType::Limit;
      e.pid = uint32_t(r.ret);
      e.value = r.arg < 0 ? -1 : r.arg;  // RLIM_INFINITY reads as -1: unlimited
      break;
    default:
      if (err) *err = "unknown record type " + std::to_string(r.type);
      return std::nullopt;
  }
  return e;
}

}  // namespace fdw
