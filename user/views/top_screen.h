// The interactive `fdwatch top`: a thin ncurses layer over top_model.  It only
// draws the rows top_render() returns and turns terminal keys into TopKey
// codes; everything that can be tested without a terminal lives in the model.
#pragma once

#include <cstdint>

#include "core/snapshot.h"
#include "util/result.h"
#include "views/top_model.h"

namespace fdw {

// Where the screen gets its data (live tracing, or a replay in tests).
class TopSource {
 public:
  virtual ~TopSource() = default;
  // Collects events for up to wait_s seconds (0: take what is pending and
  // return at once), then returns the current state.
  virtual Snapshot next(double wait_s) = 0;
  // Like next(wait_s) but returns early once key_fd (the terminal) is readable
  // or a signal arrives (EINTR), so keys and Ctrl-C are handled at once.  The
  // default waits on key_fd alone and then calls next(0), leaving events in the
  // kernel buffer meanwhile; a source that can wait on both (epoll on the ring
  // buffer fd and key_fd) should override it.
  virtual Snapshot next_or_key(double wait_s, int key_fd);
  // The detail screen was opened / left for pid (e.g. collect stacks for it).
  virtual void on_detail(uint32_t pid) { (void)pid; }
  virtual void on_detail_closed(uint32_t pid) { (void)pid; }
};

// Looks uids up in the passwd database (getpwuid_r), once per uid.  For the
// screen and for batch mode.
UserNameFn passwd_user_names();

// Runs the screen until 'q' or a stop signal (util/stop_signals.h), redrawing every delay_s
// seconds and right after each key; the terminal is restored on every exit.
// While paused, next() is still called (no events are lost) but the frozen
// snapshot stays on screen.  An Error when the terminal cannot be used.
Result<void> run_top_screen(TopSource& src, TopState initial, double delay_s);

}  // namespace fdw
