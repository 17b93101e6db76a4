#include "probe/to_core.h"

#include <cstring>
#include <iterator>
#include <utility>

namespace fdw {
namespace {

constexpr std::pair<int, int> kSameSys[] = {
    {FDW_SYS_NONE, kSysNone}, {FDW_SYS_OPEN, kSysOpen}, {FDW_SYS_OPENAT, kSysOpenat},
    {FDW_SYS_OPENAT2, kSysOpenat2}, {FDW_SYS_CREAT, kSysCreat},
    {FDW_SYS_OPEN_BY_HANDLE_AT, kSysOpenByHandleAt}, {FDW_SYS_SOCKET, kSysSocket},
    {FDW_SYS_SOCKETPAIR, kSysSocketpair}, {FDW_SYS_ACCEPT, kSysAccept},
    {FDW_SYS_ACCEPT4, kSysAccept4}, {FDW_SYS_DUP, kSysDup}, {FDW_SYS_DUP2, kSysDup2},
    {FDW_SYS_DUP3, kSysDup3}, {FDW_SYS_FCNTL, kSysFcntl}, {FDW_SYS_PIPE, kSysPipe},
    {FDW_SYS_PIPE2, kSysPipe2}, {FDW_SYS_EVENTFD, kSysEventfd}, {FDW_SYS_EVENTFD2, kSysEventfd2},
    {FDW_SYS_EPOLL_CREATE, kSysEpollCreate}, {FDW_SYS_EPOLL_CREATE1, kSysEpollCreate1},
    {FDW_SYS_TIMERFD_CREATE, kSysTimerfdCreate}, {FDW_SYS_SIGNALFD, kSysSignalfd},
    {FDW_SYS_SIGNALFD4, kSysSignalfd4}, {FDW_SYS_INOTIFY_INIT, kSysInotifyInit},
    {FDW_SYS_INOTIFY_INIT1, kSysInotifyInit1}, {FDW_SYS_FANOTIFY_INIT, kSysFanotifyInit},
    {FDW_SYS_MEMFD_CREATE, kSysMemfdCreate}, {FDW_SYS_MEMFD_SECRET, kSysMemfdSecret},
    {FDW_SYS_PIDFD_OPEN, kSysPidfdOpen}, {FDW_SYS_PIDFD_GETFD, kSysPidfdGetfd},
    {FDW_SYS_PERF_EVENT_OPEN, kSysPerfEventOpen}, {FDW_SYS_BPF, kSysBpf},
    {FDW_SYS_USERFAULTFD, kSysUserfaultfd}, {FDW_SYS_IO_URING_SETUP, kSysIoUringSetup},
    {FDW_SYS_OPEN_TREE, kSysOpenTree}, {FDW_SYS_FSOPEN, kSysFsopen}, {FDW_SYS_FSMOUNT, kSysFsmount},
    {FDW_SYS_FSPICK, kSysFspick}, {FDW_SYS_RECVMSG, kSysRecvmsg}, {FDW_SYS_RECVMMSG, kSysRecvmmsg},
    {FDW_SYS_CLOSE, kSysClose}, {FDW_SYS_CLOSE_RANGE, kSysCloseRange}, {FDW_SYS_EXECVE, kSysExecve},
    {FDW_SYS_EXECVEAT, kSysExecveat}, {FDW_SYS_IOCTL, kSysIoctl}, {FDW_SYS_BIND, kSysBind},
    {FDW_SYS_CONNECT, kSysConnect}, {FDW_SYS_LISTEN, kSysListen},
    {FDW_SYS_PRLIMIT64, kSysPrlimit64}, {FDW_SYS_SETRLIMIT, kSysSetrlimit},
    {FDW_SYS_FORK_EVENT, kSysForkEvent}, {FDW_SYS_EXIT_EVENT, kSysExitEvent},
    {FDW_SYS_IO_URING_OPENAT, kSysIoUringOpenat}, {FDW_SYS_IO_URING_OPENAT2, kSysIoUringOpenat2},
    {FDW_SYS_IO_URING_CLOSE, kSysIoUringClose}, {FDW_SYS_IO_URING_ACCEPT, kSysIoUringAccept},
    {FDW_SYS_IO_URING_SOCKET, kSysIoUringSocket}, {FDW_SYS_IO_URING_PIPE, kSysIoUringPipe},
    {FDW_SYS_IO_URING_FIXED_FD_INSTALL, kSysIoUringFixedFdInstall},
    {FDW_SYS_IO_URING_RECVMSG, kSysIoUringRecvmsg}, {FDW_SYS_IO_URING_BIND, kSysIoUringBind},
    {FDW_SYS_IO_URING_CONNECT, kSysIoUringConnect}, {FDW_SYS_IO_URING_LISTEN, kSysIoUringListen},
    {FDW_SYS_CLONE, kSysClone}, {FDW_SYS_CLONE3, kSysClone3}, {FDW_SYS_MQ_OPEN, kSysMqOpen},
    {FDW_SYS_LANDLOCK_CREATE_RULESET, kSysLandlockCreateRuleset}, {FDW_SYS_SECCOMP, kSysSeccomp},
    {FDW_SYS_OPEN_TREE_ATTR, kSysOpenTreeAttr}
};

constexpr bool same_numbering() {
  if (std::size(kSameSys) != FDW_SYS__COUNT || int(kSysCount) != FDW_SYS__COUNT) return false;
  for (size_t i = 0; i < std::size(kSameSys); ++i)
    if (kSameSys[i].first != int(i) || kSameSys[i].second != int(i)) return false;
  return true;
}
static_assert(same_numbering(), "core's Sys numbers every syscall as enum fdw_sys does");

}  // namespace

static_assert(sizeof(SockInfo::laddr) == sizeof(fdw_sock::laddr) &&
                  sizeof(SockInfo::raddr) == sizeof(fdw_sock::raddr),
              "socket addresses of one size");

SockInfo sock_info(const fdw_sock& s) {
  SockInfo o{s.family, s.type, s.lport, s.rport, s.state};
  std::memcpy(o.laddr, s.laddr, sizeof o.laddr);
  std::memcpy(o.raddr, s.raddr, sizeof o.raddr);
  return o;
}

}  // namespace fdw
