#include "views/top_screen.h"

#include <poll.h>
#include <pwd.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "util/stop_signals.h"

// curses.h defines macros (timeout, erase, refresh, OK, ERR) that clash with
// ordinary names, so it comes last and is used only in this file.
#include <curses.h>

namespace fdw {

Snapshot TopSource::next_or_key(double wait_s, int key_fd) {
  if (key_fd < 0) return next(wait_s);
  if (wait_s > 0) {
    pollfd pfd{key_fd, POLLIN, 0};
    int ms = static_cast<int>(std::ceil(std::min(wait_s, 3600.0) * 1000));
    // EINTR (Ctrl-C, SIGWINCH) simply ends the wait early, as a key would.
    (void)poll(&pfd, 1, ms);
  }
  return next(0);
}

UserNameFn passwd_user_names() {
  auto cache = std::make_shared<std::unordered_map<uint32_t, std::string>>();
  return [cache](uint32_t uid) -> std::string {
    if (auto it = cache->find(uid); it != cache->end()) return it->second;
    long max = sysconf(_SC_GETPW_R_SIZE_MAX);
    std::vector<char> buf(static_cast<size_t>(max > 0 ? max : 16384));
    passwd pw{}, *res = nullptr;
    std::string name;
    if (getpwuid_r(uid, &pw, buf.data(), buf.size(), &res) == 0 && res && res->pw_name)
      name = res->pw_name;
    else
      name = std::to_string(uid);
    cache->emplace(uid, name);
    return name;
  };
}

namespace {

// Owns the curses screen: the terminal is restored however the loop ends.
class Curses {
 public:
  Curses() {
    // newterm, unlike initscr, reports a bad terminal instead of exiting.
    screen_ = newterm(nullptr, stdout, stdin);
    if (!screen_) return;
    set_term(screen_);
    cbreak();
    noecho();
    nonl();  // Enter arrives as '\r'; lets curses skip newline translation
    keypad(stdscr, TRUE);
    set_escdelay(25);  // a lone Esc (back from details) should feel immediate
    curs_set(0);
    init_styles();
  }
  ~Curses() {
    if (!screen_) return;
    endwin();
    delscreen(screen_);
  }
  Curses(const Curses&) = delete;
  Curses& operator=(const Curses&) = delete;
  bool ok() const { return screen_ != nullptr; }

  void draw(const TopFrame& f) {
    erase();
    for (size_t y = 0; y < f.rows.size(); ++y) {
      const TopRow& r = f.rows[y];
      attrset(attr(r.style));
      // The bottom-right cell makes addnstr return ERR after writing it: harmless.
      mvaddnstr(static_cast<int>(y), 0, r.text.c_str(), static_cast<int>(r.text.size()));
      for (const auto& s : r.spans) {
        if (s.col < 0 || s.col + s.len > static_cast<int>(r.text.size())) continue;
        attrset(attr(s.style));
        mvaddnstr(static_cast<int>(y), s.col, r.text.c_str() + s.col, s.len);
      }
    }
    attrset(A_NORMAL);
    refresh();  // one write per frame
  }

 private:
  enum Pair : short { kHeader = 1, kSelected, kLeaking, kNearLimit, kError };

  void init_styles() {
    colors_ = has_colors();
    if (!colors_) return;
    start_color();
    use_default_colors();
    init_pair(kHeader, COLOR_BLACK, COLOR_CYAN);
    init_pair(kSelected, COLOR_BLACK, COLOR_GREEN);
    init_pair(kLeaking, COLOR_YELLOW, -1);
    init_pair(kNearLimit, COLOR_MAGENTA, -1);
    init_pair(kError, COLOR_RED, -1);
  }

  chtype attr(TopStyle s) const {
    switch (s) {
      case TopStyle::Normal: return A_NORMAL;
      case TopStyle::Header: return colors_ ? COLOR_PAIR(kHeader) : A_REVERSE;
      case TopStyle::Selected: return colors_ ? COLOR_PAIR(kSelected) | A_BOLD : A_STANDOUT | A_BOLD;
      case TopStyle::Leaking: return colors_ ? COLOR_PAIR(kLeaking) | A_BOLD : A_BOLD;
      case TopStyle::NearLimit: return colors_ ? COLOR_PAIR(kNearLimit) | A_BOLD : A_BOLD | A_UNDERLINE;
      case TopStyle::Exited: return A_DIM;
      case TopStyle::Error: return colors_ ? COLOR_PAIR(kError) | A_BOLD : A_BOLD | A_UNDERLINE;
    }
    return A_NORMAL;
  }

  SCREEN* screen_ = nullptr;
  bool colors_ = false;
};

// curses key code -> TopKey; -1 for keys the model has no use for.
int map_key(int ch) {
  switch (ch) {
    case KEY_UP: return TopKey::Up;
    case KEY_DOWN: return TopKey::Down;
    case KEY_LEFT: return TopKey::Left;
    case KEY_RIGHT: return TopKey::Right;
    case KEY_PPAGE: return TopKey::PageUp;
    case KEY_NPAGE: return TopKey::PageDown;
    case KEY_HOME: return TopKey::Home;
    case KEY_END: return TopKey::End;
    case KEY_ENTER: case '\r': case '\n': return TopKey::Enter;
    case KEY_BACKSPACE: case '\b': case 127: return TopKey::Backspace;
    case KEY_RESIZE: return TopKey::Resize;
    default: return ch >= 0 && ch < 0x80 ? ch : -1;
  }
}

using Clock = std::chrono::steady_clock;

}  // namespace

Result<void> run_top_screen(TopSource& src, TopState st, double delay_s) {
  if (!(delay_s >= 0.1)) delay_s = 0.1;  // also catches NaN
  const auto delay = std::chrono::duration_cast<Clock::duration>(
      std::chrono::duration<double>(std::min(delay_s, 3600.0)));
  install_stop_signals();  // before curses starts, so it installs none of its own
  Curses term;
  if (!term.ok())
    return Error{std::string("top: cannot initialise the terminal (TERM=") + (getenv("TERM") ? getenv("TERM") : "") + ")",
                 "use fdwatch top -b (text) or --json for batch frames"};
  // Keys come from a terminal on stdin; without one (top </dev/null) the
  // screen only redraws, and Ctrl-C or a signal ends it.
  const int key_fd = isatty(STDIN_FILENO) ? STDIN_FILENO : -1;
  timeout(0);  // getch only drains typed keys; waiting happens in next_or_key
  const UserNameFn user_name = passwd_user_names();

  Snapshot live = src.next(0);
  Snapshot frozen;  // what stays on screen while paused
  auto shown = [&]() -> const Snapshot& { return st.paused ? frozen : live; };
  auto next_tick = Clock::now() + delay;
  bool dirty = true;
  while (!g_stop_signal) {
    if (dirty) {
      top_settle(st, shown(), LINES);
      term.draw(top_render(shown(), st, COLS, LINES, user_name));
      dirty = false;
    }
    double wait = std::chrono::duration<double>(next_tick - Clock::now()).count();
    live = src.next_or_key(std::max(0.0, wait), key_fd);
    if (Clock::now() >= next_tick) {
      next_tick = Clock::now() + delay;
      dirty = !st.paused;
    }
    for (int ch; key_fd >= 0 && !g_stop_signal && (ch = getch()) != ERR;) {
      int key = map_key(ch);
      if (key < 0) continue;
      const bool was_paused = st.paused;
      TopAction a = top_handle_key(st, key, shown(), LINES);
      switch (a.kind) {
        case TopActionKind::Quit: return {};
        case TopActionKind::OpenDetail: src.on_detail(a.pid); break;
        case TopActionKind::CloseDetail: src.on_detail_closed(st.detail_pid); break;
        case TopActionKind::PauseChanged:
          if (st.paused && !was_paused) frozen = live;
          if (!st.paused) frozen = Snapshot{};
          break;
        default: break;
      }
      if (a.kind != TopActionKind::None) dirty = true;
      if (key == 12) {  // Ctrl-L: repaint from scratch
        clearok(stdscr, TRUE);
        dirty = true;
      }
    }
  }
  return {};
}

}  // namespace fdw
