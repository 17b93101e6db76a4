// The one signal path of every command (watch, record, top, the top screen).
//   SIGINT, SIGTERM, SIGHUP: ask the running loop to stop.  The handler only
//     records the signal; it is installed without SA_RESTART so a blocked
//     poll(2) returns EINTR and the loop sees the flag at once.
//   SIGPIPE: ignored, so a reader that went away (`fdwatch ... | head -1`)
//     shows up as EPIPE from write_stdout() and fdwatch exits quietly,
//     detaching properly, instead of dying in the middle of a write.
#pragma once

#include <csignal>
#include <string>

namespace fdw {

// The last stop signal (0: none yet) and how many have arrived.
extern volatile sig_atomic_t g_stop_signal;
extern volatile sig_atomic_t g_stop_count;

// Idempotent; installed before curses starts, so curses keeps its hands off.
void install_stop_signals();

// While on, a stop signal ends the process at once (_exit(128 + sig)): for
// the BPF load, which cannot be interrupted, when nothing has been written
// yet and what was attached goes with the process.
void set_stop_exits(bool on);

// Writes all of `text` to stdout, going on through signals, so stdout gets
// the whole document or, if the reader is gone (EPIPE) or the terminal hung
// up (EIO), whatever it took before; false in that case.
bool write_stdout(const std::string& text);

// The exit status of a quiet exit after signal `sig` (128 + sig, as a shell).
inline int signal_exit_status(int sig) { return 128 + sig; }

}  // namespace fdw
