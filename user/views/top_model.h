// The whole of `fdwatch top` that can be decided without a terminal: which
// processes are shown in which order, what each cell says, which row is
// selected, and what a key does.  Pure: no I/O, no clock, no ncurses.  The
// screen layer (top_screen) only draws the Frame this produces and feeds keys
// back; batch mode (top_batch) reuses the same rows.
//
// All text in a Frame is ASCII (other bytes become '?') so that one byte is
// one terminal column and every row is exactly `width` columns.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/snapshot.h"
#include "views/format.h"

namespace fdw {

// Columns of the process list, in display order (COMM is last and takes the
// remaining width, like top's COMMAND).
enum class TopColumn : uint8_t {
  Pid, User, Fds, Limit, PctLimit, OpenPerS, ClosePerS, NetPerS, Eta, Errors, Oldest, Container,
  Comm,
};
constexpr int kTopColumnCount = static_cast<int>(TopColumn::Comm) + 1;

std::string_view top_column_title(TopColumn c);  // "PID", "%LIM", "OPEN/s", ...
std::string_view top_column_key(TopColumn c);    // "pid", "pct", "open", ... (--sort KEY)
// Accepts a key or a title, case-insensitively ("fds", "FDS", "%lim", "net/s").
std::optional<TopColumn> top_column_from_key(std::string_view key);
// Numbers sort biggest first, except ETA (soonest first); PID/USER/CONTAINER/COMM ascend.
bool top_column_descending_by_default(TopColumn c);

enum class TopScreen : uint8_t { List, Detail, Help };

struct TopState {
  TopColumn sort = TopColumn::Fds;
  bool descending = true;
  std::string filter;            // applied filter; "" shows everything
  bool editing_filter = false;   // '/' pressed, typing into filter_input
  std::string filter_input;
  std::optional<uint32_t> selected_pid;  // nullopt only when the list is empty
  size_t selected_index = 0;  // list row of selected_pid; used when that pid vanishes
  size_t scroll = 0;          // first list row on screen
  bool paused = false;
  TopScreen screen = TopScreen::List;
  TopScreen help_return = TopScreen::List;  // where a key on the help screen goes back to
  uint32_t detail_pid = 0;
  size_t detail_scroll = 0;   // first scrollable detail line on screen
};

// Keys the model understands: printable ASCII as itself, plus these.  The
// screen maps its terminal's key codes onto them.
struct TopKey {
  static constexpr int Enter = '\n';
  static constexpr int Esc = 27;
  static constexpr int Backspace = 127;
  static constexpr int Up = 0x10000;
  static constexpr int Down = Up + 1;
  static constexpr int Left = Up + 2;
  static constexpr int Right = Up + 3;
  static constexpr int PageUp = Up + 4;
  static constexpr int PageDown = Up + 5;
  static constexpr int Home = Up + 6;
  static constexpr int End = Up + 7;
  static constexpr int Resize = Up + 8;
};

enum class TopActionKind : uint8_t {
  None,           // key ignored, or it changed nothing
  Quit,
  Redraw,         // something visible changed (sort, filter, scroll, screen, size)
  SelectChanged,  // a different process is selected
  OpenDetail,     // detail screen opened for `pid`
  CloseDetail,    // back from the detail screen to the list
  PauseChanged,   // state.paused flipped
};

struct TopAction {
  TopActionKind kind = TopActionKind::None;
  uint32_t pid = 0;  // OpenDetail only
  bool operator==(const TopAction&) const = default;
};

enum class TopStyle : uint8_t { Normal, Header, Selected, Leaking, NearLimit, Exited, Error };

// Part of a row drawn in another style (the sort column's title, a non-zero
// dropped-events count).  Columns are byte offsets into the row text.
struct TopSpan {
  int col = 0;
  int len = 0;
  TopStyle style = TopStyle::Normal;
  bool operator==(const TopSpan&) const = default;
};

struct TopRow {
  std::string text;  // exactly Frame::width characters
  TopStyle style = TopStyle::Normal;
  std::vector<TopSpan> spans;
};

struct TopFrame {
  int width = 0;
  int height = 0;
  std::vector<TopRow> rows;  // exactly `height` rows
};

// uid -> user name; injected so the model stays pure.  May be empty (the
// numeric uid is shown).  Unknown uids (UINT32_MAX) show as "?" without a call.
using UserNameFn = std::function<std::string(uint32_t uid)>;

// Screen geometry: lines above the list rows / above the scrollable detail body.
constexpr int kTopListHeaderLines = 3;
constexpr int kTopDetailHeaderLines = 4;
int top_list_page(int height);    // list rows that fit, at least 1
int top_detail_page(int height);  // detail body lines that fit, at least 1

// --- the three entry points -------------------------------------------------

// Makes `st` consistent with `snap` on a screen `height` lines tall: the
// selected pid stays selected wherever it moved; if it is gone (or filtered
// out) the row at the same index is selected; the list and detail scroll are
// clamped so the selection is on screen.  render() and handle_key() call it.
void top_settle(TopState& st, const Snapshot& snap, int height);

TopAction top_handle_key(TopState& st, int key, const Snapshot& snap, int height);

TopFrame top_render(const Snapshot& snap, const TopState& st, int width, int height,
                    const UserNameFn& user_name);

// --- pieces, exposed for batch mode and tests -------------------------------

std::optional<double> top_pct_limit(const ProcView& p);  // nullopt without a limit
uint64_t top_limit_failures(const ProcView& p);          // EMFILE + ENFILE
// "Leaking": alive and the aggregator projects it to the limit
// (time_to_limit_s set), or its net rate shows as positive (>= 0.05/s).
bool top_is_leaking(const ProcView& p);
// Row style before selection: exited > error (EMFILE/ENFILE) > near limit
// (>= 80 %) > leaking > normal.
TopStyle top_row_style(const ProcView& p);

// Case-insensitive substring of comm, or (all digits) exactly the pid;
// "container:TEXT" matches a substring of the container id (or service name),
// "cgroup:TEXT" a substring of the cgroup path.
bool top_filter_matches(const ProcView& p, std::string_view filter);
// The list rows: filtered, then sorted by st.sort/st.descending; nulls
// (no limit, no ETA, no fds for OLDEST, unknown uid) always last; ties by pid.
std::vector<const ProcView*> top_rows(const Snapshot& snap, const TopState& st);

// Which columns fit in `width` and how wide each is.  Columns are dropped
// when narrow (CONTAINER first, then CLOSE/s, LIMIT, USER, OPEN/s, OLDEST,
// ERR, %LIM, ETA); PID, FDS, NET/s and COMM always stay.  width <= 0: every column at
// its natural width.
struct TopLayout {
  std::vector<TopColumn> cols;
  std::vector<int> widths;  // same length as cols
  int total = 0;            // sum of widths plus one space between columns
};
TopLayout top_layout(int width);
std::string top_header_text(const TopLayout& lay);
std::string top_row_text(const ProcView& p, const TopLayout& lay, const UserNameFn& user_name);
// Column of `c` in a row of `lay`, or nullopt when dropped.
std::optional<std::pair<int, int>> top_column_span(const TopLayout& lay, TopColumn c);

// The two summary lines above the list (totals, rates, dropped, sort, filter);
// key_hints adds "h: help  q: quit" at the right when it fits.
std::vector<TopRow> top_summary_rows(const Snapshot& snap, const TopState& st, int width,
                                     bool key_hints = true);

// Detail screen: fds grouped by (kind, target), most first.
struct FdGroup {
  Kind kind = Kind::Other;
  std::string target;
  uint64_t count = 0;
  double oldest_age_s = 0;
  bool operator==(const FdGroup&) const = default;
};
std::vector<FdGroup> group_fds(const std::vector<FdView>& fds);

// Pads with spaces or truncates to exactly `w` columns, replacing each
// non-ASCII character (a UTF-8 sequence or a stray byte) and control byte
// with one '?': the screen is drawn with narrow-character curses.  Names go
// through escape_text (util/escape.h) first, so a control byte shows as "\x1b".
std::string top_fit(std::string_view s, int w, bool right_align = false);

}  // namespace fdw
