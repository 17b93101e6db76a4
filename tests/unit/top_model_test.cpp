// top_model: formatting, columns, sort/filter, selection and scrolling, keys,
// and the exact frames for hand-built snapshots.
#include "views/top_model.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

namespace fdw {
namespace {

// A suspect with the fields these tests look at (the others at their defaults).
Suspect suspect(Kind k, std::string site, std::string target, uint64_t count, double oldest) {
  Suspect s;
  s.kind = k;
  s.site = std::move(site);
  s.target = std::move(target);
  s.count = count;
  s.oldest_age_s = oldest;
  return s;
}

ProcView proc(uint32_t pid, std::string comm, uint64_t fds) {
  ProcView p;
  p.pid = pid;
  p.comm = std::move(comm);
  p.uid = 1000;
  p.open_fds = fds;
  p.oldest_age_s = 1;
  return p;
}

Snapshot snap_of(std::vector<ProcView> ps) {
  Snapshot s;
  std::sort(ps.begin(), ps.end(), [](auto& a, auto& b) { return a.pid < b.pid; });
  s.processes = std::move(ps);
  return s;
}

std::vector<uint32_t> pids(const std::vector<const ProcView*>& rows) {
  std::vector<uint32_t> out;
  for (auto* p : rows) out.push_back(p->pid);
  return out;
}

std::vector<uint32_t> sorted_pids(const Snapshot& s, TopColumn c, bool desc) {
  TopState st;
  st.sort = c;
  st.descending = desc;
  return pids(top_rows(s, st));
}

const UserNameFn kUsers = [](uint32_t uid) -> std::string {
  if (uid == 0) return "root";
  if (uid == 1000) return "alice";
  if (uid == 1001) return "bartholomew";
  return "";
};

// The process most tests look at: a fast socket leak about to hit its limit.
ProcView facade() {
  ProcView p = proc(1234, "facade", 1017);
  p.inexact = true;
  p.rlimit_nofile = 1024;
  p.open_per_s = 50;
  p.close_per_s = 1.5;
  p.leak_rate_per_s = 48.6;
  p.time_to_limit_s = 0.1;
  p.failed = {{"EMFILE", 31}, {"ENOENT", 4}};
  p.oldest_age_s = 20.1;
  p.opened = 5120;
  p.closed = 4106;
  return p;
}

// ---------------------------------------------------------------------------

TEST(TopFormat, Duration) {
  EXPECT_EQ(format_duration(0), "0.0s");
  EXPECT_EQ(format_duration(0.1), "0.1s");
  EXPECT_EQ(format_duration(9.99), "9.9s");  // truncated, never rounded up to 10
  EXPECT_EQ(format_duration(10), "10s");
  EXPECT_EQ(format_duration(59.9), "59s");
  EXPECT_EQ(format_duration(60), "1m00s");
  EXPECT_EQ(format_duration(243), "4m03s");
  EXPECT_EQ(format_duration(3599), "59m59s");
  EXPECT_EQ(format_duration(3600), "1h00m");
  EXPECT_EQ(format_duration(7800), "2h10m");
  EXPECT_EQ(format_duration(86399), "23h59m");
  EXPECT_EQ(format_duration(3 * 86400 + 4 * 3600 + 59), "3d04h");
  EXPECT_EQ(format_duration(100 * 86400), "100d");
  EXPECT_EQ(format_duration(1000.0 * 86400), ">999d");
  EXPECT_EQ(format_duration(INFINITY), ">999d");
  EXPECT_EQ(format_duration(-5), "0.0s");
  EXPECT_EQ(format_duration(NAN), "");
}

TEST(TopFormat, Rate) {
  EXPECT_EQ(format_rate(0), "0");
  EXPECT_EQ(format_rate(3.24), "3.2");
  EXPECT_EQ(format_rate(-0.5), "-0.5");
  EXPECT_EQ(format_rate(9.94), "9.9");
  EXPECT_EQ(format_rate(9.96), "10");
  EXPECT_EQ(format_rate(48.6), "49");
  EXPECT_EQ(format_rate(-48.6), "-49");
  EXPECT_EQ(format_rate(12345), "12345");
  EXPECT_EQ(format_rate(123456), "123k");
  EXPECT_EQ(format_rate(12345678), "12M");
  EXPECT_EQ(format_rate(NAN), "");
}

TEST(TopFormat, Count) {
  EXPECT_EQ(format_count(1017, 7), "1017");
  EXPECT_EQ(format_count(1048576, 7), "1048576");
  EXPECT_EQ(format_count(1048576, 6), "1048k");
  EXPECT_EQ(format_count(12345678, 4), "12M");
  EXPECT_EQ(format_count(UINT64_MAX, 7), "inf");
}

TEST(TopFormat, FitPadsTruncatesAndSanitizes) {
  EXPECT_EQ(top_fit("abc", 5), "abc  ");
  EXPECT_EQ(top_fit("abc", 5, true), "  abc");
  EXPECT_EQ(top_fit("abcdef", 3), "abc");
  EXPECT_EQ(top_fit("\x01\xc3\xa9x", 4), "??x ");  // one column per character
  EXPECT_EQ(top_fit("abc", 0), "");
}

TEST(TopColumns, KeysTitlesAndJsonNamesParse) {
  for (int i = 0; i < kTopColumnCount; ++i) {
    auto c = static_cast<TopColumn>(i);
    EXPECT_EQ(top_column_from_key(top_column_key(c)), c);
    EXPECT_EQ(top_column_from_key(top_column_title(c)), c);
  }
  EXPECT_EQ(top_column_from_key("%lim"), TopColumn::PctLimit);
  EXPECT_EQ(top_column_from_key("NET/S"), TopColumn::NetPerS);
  EXPECT_EQ(top_column_from_key("eta_s"), TopColumn::Eta);
  EXPECT_EQ(top_column_from_key("errors"), TopColumn::Errors);
  EXPECT_EQ(top_column_from_key("cpu"), std::nullopt);
  EXPECT_TRUE(top_column_descending_by_default(TopColumn::Fds));
  EXPECT_FALSE(top_column_descending_by_default(TopColumn::Eta));
  EXPECT_FALSE(top_column_descending_by_default(TopColumn::Comm));
}

// ---------------------------------------------------------------------------

TEST(TopLayout, EightyColumnsDropCloseAndLimit) {
  TopLayout lay = top_layout(80);
  std::vector<TopColumn> want = {TopColumn::Pid,      TopColumn::User,    TopColumn::Fds,
                                 TopColumn::PctLimit, TopColumn::OpenPerS, TopColumn::NetPerS,
                                 TopColumn::Eta,      TopColumn::Errors,  TopColumn::Oldest,
                                 TopColumn::Comm};
  EXPECT_EQ(lay.cols, want);
  EXPECT_EQ(lay.total, 80);
  EXPECT_EQ(lay.widths.back(), 16);
  EXPECT_EQ(top_header_text(lay),
            "    PID USER         FDS %LIM OPEN/s  NET/s    ETA   ERR OLDEST COMM            ");
  EXPECT_EQ(top_column_span(lay, TopColumn::Fds), std::make_pair(17, 7));
  EXPECT_EQ(top_column_span(lay, TopColumn::Limit), std::nullopt);
}

TEST(TopLayout, NaturalWidthHasEveryColumn) {
  TopLayout lay = top_layout(0);
  EXPECT_EQ(lay.cols.size(), static_cast<size_t>(kTopColumnCount));
  EXPECT_EQ(lay.total, 108);
  TopLayout wide = top_layout(200);
  EXPECT_EQ(wide.cols.size(), static_cast<size_t>(kTopColumnCount));
  EXPECT_EQ(wide.total, 200);
  EXPECT_EQ(wide.widths.back(), 107);
}

TEST(TopLayout, NarrowDropsInPriorityOrder) {
  TopLayout lay = top_layout(60);
  std::vector<TopColumn> want = {TopColumn::Pid, TopColumn::Fds,    TopColumn::PctLimit,
                                 TopColumn::NetPerS, TopColumn::Eta, TopColumn::Errors,
                                 TopColumn::Oldest, TopColumn::Comm};
  EXPECT_EQ(lay.cols, want);
  EXPECT_EQ(lay.total, 60);
  TopLayout tiny = top_layout(20);
  std::vector<TopColumn> core = {TopColumn::Pid, TopColumn::Fds, TopColumn::NetPerS,
                                 TopColumn::Comm};
  EXPECT_EQ(tiny.cols, core);
}

std::string cell_of(const std::string& row, const TopLayout& lay, TopColumn c) {
  auto sp = top_column_span(lay, c);
  return row.substr(static_cast<size_t>(sp->first), static_cast<size_t>(sp->second));
}

TEST(TopRowText, EveryCellOfALeakingProcess) {
  ProcView p = facade();
  TopLayout lay = top_layout(0);
  std::string row = top_row_text(p, lay, kUsers);
  auto cell = [&](TopColumn c) {
    auto sp = top_column_span(lay, c);
    return row.substr(static_cast<size_t>(sp->first), static_cast<size_t>(sp->second));
  };
  EXPECT_EQ(cell(TopColumn::Pid), "   1234");
  EXPECT_EQ(cell(TopColumn::User), "alice   ");
  EXPECT_EQ(cell(TopColumn::Fds), "  ~1017");
  EXPECT_EQ(cell(TopColumn::Limit), "   1024");
  EXPECT_EQ(cell(TopColumn::PctLimit), "  99");
  EXPECT_EQ(cell(TopColumn::OpenPerS), "    50");
  EXPECT_EQ(cell(TopColumn::ClosePerS), "    1.5");
  EXPECT_EQ(cell(TopColumn::NetPerS), "    49");
  EXPECT_EQ(cell(TopColumn::Eta), "  0.1s");
  EXPECT_EQ(cell(TopColumn::Errors), "  35!");
  EXPECT_EQ(cell(TopColumn::Oldest), "   20s");
  EXPECT_EQ(cell(TopColumn::Container), "            ");
  EXPECT_EQ(cell(TopColumn::Comm), "facade         ");
  EXPECT_EQ(row.size(), 108u);
  p.container = "3f4e5d6c7b8a99887766554433221100ffeeddccbbaa00112233445566778899";
  EXPECT_EQ(cell_of(top_row_text(p, lay, kUsers), lay, TopColumn::Container), "3f4e5d6c7b8+");

  EXPECT_EQ(top_row_text(p, top_layout(80), kUsers),
            "   1234 alice      ~1017   99     50     49   0.1s   35!    20s facade          ");
}

TEST(TopRowText, BlanksUnknownsAndMarkers) {
  ProcView p = proc(7, "idle", 3);
  p.uid = 1001;  // name longer than the column
  p.rlimit_nofile.reset();
  TopLayout lay = top_layout(0);
  auto cell = [&](const ProcView& q, TopColumn c, const UserNameFn& un = kUsers) {
    std::string row = top_row_text(q, lay, un);
    auto sp = top_column_span(lay, c);
    return row.substr(static_cast<size_t>(sp->first), static_cast<size_t>(sp->second));
  };
  EXPECT_EQ(cell(p, TopColumn::User), "barthol+");
  EXPECT_EQ(cell(p, TopColumn::Limit), "       ");
  EXPECT_EQ(cell(p, TopColumn::PctLimit), "    ");
  EXPECT_EQ(cell(p, TopColumn::Eta), "      ");
  EXPECT_EQ(cell(p, TopColumn::Errors), "    0");
  EXPECT_EQ(cell(p, TopColumn::Fds), "      3");

  ProcView q = p;
  q.uid = UINT32_MAX;
  EXPECT_EQ(cell(q, TopColumn::User), "?       ");
  q.uid = 4242;  // no name: the number
  EXPECT_EQ(cell(q, TopColumn::User), "4242    ");
  EXPECT_EQ(cell(q, TopColumn::User, UserNameFn{}), "4242    ");

  ProcView e = p;
  e.exited = true;
  e.open_fds = 0;
  e.failed = {{"ENFILE", 2}};
  EXPECT_EQ(cell(e, TopColumn::Eta), "exited");
  EXPECT_EQ(cell(e, TopColumn::Oldest), "      ");  // no fds, no age
  EXPECT_EQ(cell(e, TopColumn::Errors), "   2!");

  ProcView big = p;
  big.open_fds = 123456789;
  big.inexact = true;
  EXPECT_EQ(cell(big, TopColumn::Fds), "  ~123M");  // "123456k" would not fit after '~'
  big.rlimit_nofile = UINT64_MAX;
  EXPECT_EQ(cell(big, TopColumn::Limit), "    inf");
}

// ---------------------------------------------------------------------------

// One process per column champion, so each sort has one right answer.
Snapshot sort_fixture() {
  ProcView a = proc(10, "bravo", 100);
  a.uid = 1000;
  a.rlimit_nofile = 1000;   // 10 %
  a.open_per_s = 5;
  a.close_per_s = 1;
  a.leak_rate_per_s = 4;
  a.time_to_limit_s = 225;
  a.failed = {{"ENOENT", 1}};
  a.oldest_age_s = 30;

  ProcView b = proc(20, "alpha", 50);
  b.uid = 0;
  b.rlimit_nofile = 100;    // 50 %
  b.open_per_s = 1;
  b.close_per_s = 9;
  b.leak_rate_per_s = -8;
  b.failed = {{"EMFILE", 3}, {"ENOENT", 4}};
  b.oldest_age_s = 300;

  ProcView c = proc(30, "charlie", 200);
  c.uid = 1001;             // no limit known
  c.open_per_s = 20;
  c.close_per_s = 0;
  c.leak_rate_per_s = 20;
  c.time_to_limit_s = 5;
  c.oldest_age_s = 2;

  ProcView d = proc(40, "delta", 0);  // no fds, unknown uid, rate unknown
  d.uid = UINT32_MAX;
  d.rlimit_nofile = 4096;   // 0 %
  return snap_of({a, b, c, d});
}

TEST(TopSort, EveryColumnBothWaysNullsLast) {
  Snapshot s = sort_fixture();
  using V = std::vector<uint32_t>;
  EXPECT_EQ(sorted_pids(s, TopColumn::Pid, false), (V{10, 20, 30, 40}));
  EXPECT_EQ(sorted_pids(s, TopColumn::Pid, true), (V{40, 30, 20, 10}));
  // By uid (0 < 1000 < 1001), unknown last.
  EXPECT_EQ(sorted_pids(s, TopColumn::User, false), (V{20, 10, 30, 40}));
  EXPECT_EQ(sorted_pids(s, TopColumn::User, true), (V{30, 10, 20, 40}));
  EXPECT_EQ(sorted_pids(s, TopColumn::Comm, false), (V{20, 10, 30, 40}));
  EXPECT_EQ(sorted_pids(s, TopColumn::Comm, true), (V{40, 30, 10, 20}));
  EXPECT_EQ(sorted_pids(s, TopColumn::Fds, true), (V{30, 10, 20, 40}));
  EXPECT_EQ(sorted_pids(s, TopColumn::Fds, false), (V{40, 20, 10, 30}));
  EXPECT_EQ(sorted_pids(s, TopColumn::Limit, true), (V{40, 10, 20, 30}));
  EXPECT_EQ(sorted_pids(s, TopColumn::Limit, false), (V{20, 10, 40, 30}));
  EXPECT_EQ(sorted_pids(s, TopColumn::PctLimit, true), (V{20, 10, 40, 30}));
  EXPECT_EQ(sorted_pids(s, TopColumn::PctLimit, false), (V{40, 10, 20, 30}));
  EXPECT_EQ(sorted_pids(s, TopColumn::OpenPerS, true), (V{30, 10, 20, 40}));
  EXPECT_EQ(sorted_pids(s, TopColumn::ClosePerS, true), (V{20, 10, 30, 40}));
  EXPECT_EQ(sorted_pids(s, TopColumn::NetPerS, true), (V{30, 10, 20, 40}));
  EXPECT_EQ(sorted_pids(s, TopColumn::NetPerS, false), (V{20, 10, 30, 40}));
  EXPECT_EQ(sorted_pids(s, TopColumn::Eta, false), (V{30, 10, 20, 40}));
  EXPECT_EQ(sorted_pids(s, TopColumn::Eta, true), (V{10, 30, 20, 40}));
  EXPECT_EQ(sorted_pids(s, TopColumn::Errors, true), (V{20, 10, 30, 40}));
  EXPECT_EQ(sorted_pids(s, TopColumn::Oldest, true), (V{20, 10, 30, 40}));
  EXPECT_EQ(sorted_pids(s, TopColumn::Oldest, false), (V{30, 10, 20, 40}));
}

TEST(TopSort, TiesBreakByPidAscending) {
  Snapshot s = snap_of({proc(9, "x", 5), proc(3, "y", 5), proc(6, "z", 7)});
  EXPECT_EQ(sorted_pids(s, TopColumn::Fds, true), (std::vector<uint32_t>{6, 3, 9}));
  EXPECT_EQ(sorted_pids(s, TopColumn::Fds, false), (std::vector<uint32_t>{3, 9, 6}));
}

TEST(TopFilter, SubstringOfCommOrExactPid) {
  Snapshot s = snap_of({proc(12, "Facade", 1), proc(123, "backend", 1), proc(5, "x12y", 1)});
  auto with = [&](std::string f) {
    TopState st;
    st.sort = TopColumn::Pid;
    st.descending = false;
    st.filter = std::move(f);
    return pids(top_rows(s, st));
  };
  using V = std::vector<uint32_t>;
  EXPECT_EQ(with(""), (V{5, 12, 123}));
  EXPECT_EQ(with("fac"), (V{12}));      // case-insensitive
  EXPECT_EQ(with("END"), (V{123}));
  EXPECT_EQ(with("12"), (V{5, 12}));    // pid 12 exactly, and "x12y"; not pid 123
  EXPECT_EQ(with("123"), (V{123}));
  EXPECT_EQ(with("nothing"), (V{}));
}

TEST(TopFilter, ContainerAndCgroupKeysAndSortByContainer) {
  ProcView a = proc(10, "nginx", 1), b = proc(20, "nginx", 1), c = proc(30, "sshd", 1);
  a.container = "3f4e5d6c";
  a.cgroup = "/system.slice/docker-3f4e5d6c.scope";
  b.container = "nginx.service";
  b.cgroup = "/system.slice/nginx.service";
  c.cgroup = "/system.slice/ssh.service";
  Snapshot s = snap_of({a, b, c});
  auto with = [&](std::string f, TopColumn sort = TopColumn::Pid) {
    TopState st;
    st.sort = sort;
    st.descending = false;
    st.filter = std::move(f);
    return pids(top_rows(s, st));
  };
  using V = std::vector<uint32_t>;
  EXPECT_EQ(with("container:3F4E"), (V{10}));
  EXPECT_EQ(with("container:"), (V{10, 20, 30}));
  EXPECT_EQ(with("container:service"), (V{20}));
  EXPECT_EQ(with("cgroup:system.slice/"), (V{10, 20, 30}));
  EXPECT_EQ(with("cgroup:ssh"), (V{30}));
  EXPECT_EQ(with("nginx"), (V{10, 20}));  // plain text is still the comm
  // processes in no container sort last, whatever the direction
  EXPECT_EQ(with("", TopColumn::Container), (V{10, 20, 30}));
  EXPECT_EQ(top_column_from_key("container"), TopColumn::Container);
}

// ---------------------------------------------------------------------------

TEST(TopSelection, FollowsThePidWhenRowsReorder) {
  Snapshot s1 = snap_of({proc(1, "a", 40), proc(2, "b", 30), proc(3, "c", 20), proc(4, "d", 10)});
  TopState st;  // FDS descending: 1 2 3 4
  st.selected_pid = 2;
  top_settle(st, s1, 24);
  EXPECT_EQ(st.selected_index, 1u);

  Snapshot s2 = snap_of({proc(1, "a", 40), proc(2, "b", 5), proc(3, "c", 20), proc(4, "d", 10)});
  top_settle(st, s2, 24);  // now 1 3 4 2
  EXPECT_EQ(st.selected_pid, 2u);
  EXPECT_EQ(st.selected_index, 3u);

  // Changing the sort keeps the process, not the row.
  EXPECT_EQ(top_handle_key(st, 'P', s2, 24).kind, TopActionKind::Redraw);
  EXPECT_EQ(st.selected_pid, 2u);
  EXPECT_EQ(st.selected_index, 1u);
}

TEST(TopSelection, VanishedPidFallsBackToTheSameRow) {
  Snapshot s1 = snap_of({proc(1, "a", 40), proc(2, "b", 30), proc(3, "c", 20)});
  TopState st;
  st.selected_pid = 3;
  top_settle(st, s1, 24);
  EXPECT_EQ(st.selected_index, 2u);
  Snapshot s2 = snap_of({proc(1, "a", 40), proc(2, "b", 30)});
  top_settle(st, s2, 24);
  EXPECT_EQ(st.selected_pid, 2u);  // row 2 is gone too: the last row
  EXPECT_EQ(st.selected_index, 1u);

  Snapshot empty;
  top_settle(st, empty, 24);
  EXPECT_EQ(st.selected_pid, std::nullopt);
  top_settle(st, s2, 24);
  EXPECT_EQ(st.selected_pid, 1u);
}

TEST(TopSelection, DefaultsToTheFirstRow) {
  Snapshot s = snap_of({proc(1, "a", 1), proc(2, "b", 9)});
  TopState st;
  top_settle(st, s, 24);
  EXPECT_EQ(st.selected_pid, 2u);
}

Snapshot many(uint32_t n) {
  std::vector<ProcView> ps;
  for (uint32_t i = 1; i <= n; ++i) ps.push_back(proc(i, "p" + std::to_string(i), 1000 - i));
  return snap_of(ps);  // FDS descending = pid order
}

TEST(TopScroll, MovesAndClamps) {
  Snapshot s = many(50);
  TopState st;
  const int h = 13;  // 10 list rows
  top_settle(st, s, h);
  EXPECT_EQ(top_handle_key(st, TopKey::End, s, h).kind, TopActionKind::SelectChanged);
  EXPECT_EQ(st.selected_pid, 50u);
  EXPECT_EQ(st.scroll, 40u);
  EXPECT_EQ(top_handle_key(st, TopKey::End, s, h).kind, TopActionKind::None);
  EXPECT_EQ(top_handle_key(st, TopKey::Down, s, h).kind, TopActionKind::None);
  EXPECT_EQ(top_handle_key(st, 'g', s, h).kind, TopActionKind::SelectChanged);
  EXPECT_EQ(st.selected_pid, 1u);
  EXPECT_EQ(st.scroll, 0u);
  EXPECT_EQ(top_handle_key(st, TopKey::Up, s, h).kind, TopActionKind::None);
  top_handle_key(st, TopKey::PageDown, s, h);
  EXPECT_EQ(st.selected_pid, 11u);
  EXPECT_EQ(st.scroll, 1u);  // just enough to show the selection
  top_handle_key(st, 'k', s, h);
  top_handle_key(st, 'k', s, h);
  EXPECT_EQ(st.selected_pid, 9u);
  EXPECT_EQ(st.scroll, 1u);
  top_handle_key(st, TopKey::PageUp, s, h);
  EXPECT_EQ(st.selected_pid, 1u);
  EXPECT_EQ(st.scroll, 0u);
  top_handle_key(st, 'G', s, h);
  top_handle_key(st, 'j', s, h);
  EXPECT_EQ(st.scroll, 40u);

  // A taller screen shows more rows: scroll shrinks so the page is full.
  top_settle(st, s, 33);  // 30 rows
  EXPECT_EQ(st.scroll, 20u);
  // Fewer processes than rows: no scroll.
  Snapshot few = many(5);
  top_settle(st, few, h);
  EXPECT_EQ(st.scroll, 0u);
  EXPECT_EQ(st.selected_pid, 5u);
}

TEST(TopScroll, SelectedRowIsDrawnAndHighlighted) {
  Snapshot s = many(50);
  TopState st;
  st.selected_pid = 37;
  TopFrame f = top_render(s, st, 80, 13, kUsers);
  // 3 header lines, then rows 27..36 (pids 28..37) with 37 at the bottom.
  EXPECT_EQ(f.rows[3].text.substr(0, 7), "     28");
  EXPECT_EQ(f.rows[12].text.substr(0, 7), "     37");
  EXPECT_EQ(f.rows[12].style, TopStyle::Selected);
  EXPECT_EQ(f.rows[11].style, TopStyle::Normal);
}

// ---------------------------------------------------------------------------

TEST(TopKeys, QuitSortReversePause) {
  Snapshot s = sort_fixture();
  TopState st;
  EXPECT_EQ(top_handle_key(st, 'x', s, 24).kind, TopActionKind::None);
  EXPECT_EQ(top_handle_key(st, '<', s, 24).kind, TopActionKind::Redraw);
  EXPECT_EQ(st.sort, TopColumn::User);
  EXPECT_FALSE(st.descending);
  top_handle_key(st, '>', s, 24);
  top_handle_key(st, '>', s, 24);
  EXPECT_EQ(st.sort, TopColumn::Limit);
  EXPECT_TRUE(st.descending);
  st.sort = TopColumn::Comm;
  top_handle_key(st, '>', s, 24);
  EXPECT_EQ(st.sort, TopColumn::Pid);  // wraps
  top_handle_key(st, '<', s, 24);
  EXPECT_EQ(st.sort, TopColumn::Comm);

  const std::pair<int, TopColumn> direct[] = {
      {'P', TopColumn::Pid},      {'U', TopColumn::User},     {'C', TopColumn::Comm},
      {'F', TopColumn::Fds},      {'L', TopColumn::PctLimit}, {'O', TopColumn::OpenPerS},
      {'N', TopColumn::NetPerS},  {'T', TopColumn::Eta},      {'E', TopColumn::Errors},
      {'A', TopColumn::Oldest}};
  for (auto [key, col] : direct) {
    top_handle_key(st, key, s, 24);
    EXPECT_EQ(st.sort, col) << static_cast<char>(key);
    EXPECT_EQ(st.descending, top_column_descending_by_default(col));
  }
  EXPECT_EQ(top_handle_key(st, 'A', s, 24).kind, TopActionKind::None);  // already so
  EXPECT_EQ(top_handle_key(st, 'r', s, 24).kind, TopActionKind::Redraw);
  EXPECT_FALSE(st.descending);

  EXPECT_EQ(top_handle_key(st, 'p', s, 24).kind, TopActionKind::PauseChanged);
  EXPECT_TRUE(st.paused);
  EXPECT_EQ(top_handle_key(st, ' ', s, 24).kind, TopActionKind::PauseChanged);
  EXPECT_FALSE(st.paused);
  EXPECT_EQ(top_handle_key(st, TopKey::Resize, s, 24).kind, TopActionKind::Redraw);
  EXPECT_EQ(top_handle_key(st, 'q', s, 24).kind, TopActionKind::Quit);
}

TEST(TopKeys, FilterInputAppliesOnEnterAndCancelsOnEsc) {
  Snapshot s = snap_of({proc(12, "facade", 9), proc(20, "backend", 5)});
  TopState st;
  EXPECT_EQ(top_handle_key(st, '/', s, 24).kind, TopActionKind::Redraw);
  EXPECT_TRUE(st.editing_filter);
  for (int k : std::initializer_list<int>{'f', 'x', TopKey::Backspace, 'a', 'q'}) top_handle_key(st, k, s, 24);
  EXPECT_EQ(st.filter_input, "faq");  // 'q' is typed, not quit
  EXPECT_EQ(st.filter, "");
  EXPECT_EQ(top_handle_key(st, TopKey::Up, s, 24).kind, TopActionKind::None);
  top_handle_key(st, TopKey::Backspace, s, 24);
  top_handle_key(st, 'c', s, 24);
  EXPECT_EQ(top_handle_key(st, TopKey::Enter, s, 24).kind, TopActionKind::Redraw);
  EXPECT_FALSE(st.editing_filter);
  EXPECT_EQ(st.filter, "fac");
  EXPECT_EQ(pids(top_rows(s, st)), (std::vector<uint32_t>{12}));
  EXPECT_EQ(st.selected_pid, 12u);

  // '/' starts from the current filter; Esc leaves it as it was.
  top_handle_key(st, '/', s, 24);
  EXPECT_EQ(st.filter_input, "fac");
  top_handle_key(st, 'z', s, 24);
  top_handle_key(st, TopKey::Esc, s, 24);
  EXPECT_FALSE(st.editing_filter);
  EXPECT_EQ(st.filter, "fac");

  // Esc in the list clears the filter; again does nothing.
  EXPECT_EQ(top_handle_key(st, TopKey::Esc, s, 24).kind, TopActionKind::Redraw);
  EXPECT_EQ(st.filter, "");
  EXPECT_EQ(top_handle_key(st, TopKey::Esc, s, 24).kind, TopActionKind::None);

  // A pid filter.
  top_handle_key(st, '/', s, 24);
  top_handle_key(st, '2', s, 24);
  top_handle_key(st, '0', s, 24);
  top_handle_key(st, '\r', s, 24);
  EXPECT_EQ(pids(top_rows(s, st)), (std::vector<uint32_t>{20}));
  EXPECT_EQ(st.selected_pid, 20u);
}

TEST(TopKeys, DetailOpensAndReturns) {
  Snapshot s = snap_of({facade(), proc(20, "backend", 5)});
  TopState st;
  TopAction open = top_handle_key(st, TopKey::Enter, s, 24);
  EXPECT_EQ(open, (TopAction{TopActionKind::OpenDetail, 1234}));
  EXPECT_EQ(st.screen, TopScreen::Detail);
  EXPECT_EQ(st.detail_pid, 1234u);
  EXPECT_EQ(top_handle_key(st, 'x', s, 24).kind, TopActionKind::None);
  for (int back : {static_cast<int>('q'), TopKey::Esc, TopKey::Backspace}) {
    EXPECT_EQ(top_handle_key(st, back, s, 24).kind, TopActionKind::CloseDetail);
    EXPECT_EQ(st.screen, TopScreen::List);
    EXPECT_EQ(top_handle_key(st, '\r', s, 24).kind, TopActionKind::OpenDetail);
  }
  // Help from the details goes back to the details.
  EXPECT_EQ(top_handle_key(st, '?', s, 24).kind, TopActionKind::Redraw);
  EXPECT_EQ(st.screen, TopScreen::Help);
  EXPECT_EQ(top_handle_key(st, 'q', s, 24).kind, TopActionKind::Redraw);
  EXPECT_EQ(st.screen, TopScreen::Detail);
  EXPECT_EQ(top_handle_key(st, 'p', s, 24).kind, TopActionKind::PauseChanged);
}

TEST(TopKeys, HelpReturnsToTheListOnAnyKey) {
  Snapshot s = sort_fixture();
  TopState st;
  top_handle_key(st, 'h', s, 24);
  EXPECT_EQ(st.screen, TopScreen::Help);
  EXPECT_EQ(top_handle_key(st, 'q', s, 24).kind, TopActionKind::Redraw);  // not Quit
  EXPECT_EQ(st.screen, TopScreen::List);
}

TEST(TopRender, HelpFitsA24LineTerminal) {
  TopState st;
  st.screen = TopScreen::Help;
  TopFrame f = top_render(Snapshot{}, st, 80, 24, kUsers);
  EXPECT_EQ(f.rows[0].text,
            top_fit("fdwatch top: open file descriptors per process     (press any key to return)",
                    80));
  EXPECT_EQ(f.rows[21].text, top_fit("  OLDEST  age of the oldest open fd", 80));
  EXPECT_EQ(f.rows[22].text, std::string(80, ' '));
}

TEST(TopKeys, EnterOnAnEmptyListDoesNothing) {
  Snapshot s;
  TopState st;
  EXPECT_EQ(top_handle_key(st, TopKey::Enter, s, 24).kind, TopActionKind::None);
  EXPECT_EQ(st.screen, TopScreen::List);
  EXPECT_EQ(top_handle_key(st, TopKey::Down, s, 24).kind, TopActionKind::None);
}

// ---------------------------------------------------------------------------

TEST(TopRender, EveryRowIsExactlyTheScreenSize) {
  Snapshot s = sort_fixture();
  ProcView f = facade();
  FdView wide;
  wide.fd = 3;
  wide.kind = Kind::Socket;
  wide.target = std::string(300, 'x');
  wide.age_s = 5;
  f.fds = {wide};
  f.suspects = {suspect(Kind::Socket, "main.callBackend", "tcp ->127.0.0.1:8081", 1003, 20.1)};
  s.processes.push_back(f);
  s.lost_events = 7;
  for (TopScreen screen : {TopScreen::List, TopScreen::Detail, TopScreen::Help}) {
    for (int w : {1, 5, 20, 33, 60, 79, 80, 81, 95, 132, 300}) {
      for (int h : {1, 2, 3, 4, 5, 10, 24, 60}) {
        TopState st;
        st.screen = screen;
        st.detail_pid = 1234;
        TopFrame fr = top_render(s, st, w, h, kUsers);
        ASSERT_EQ(fr.rows.size(), static_cast<size_t>(h));
        for (const auto& r : fr.rows) {
          ASSERT_EQ(r.text.size(), static_cast<size_t>(w)) << "w=" << w << " h=" << h;
          for (char c : r.text) ASSERT_TRUE(c >= 0x20 && c < 0x7f);
          for (const auto& sp : r.spans) ASSERT_LE(sp.col + sp.len, w);
        }
      }
    }
  }
  EXPECT_TRUE(top_render(s, TopState{}, 0, 10, kUsers).rows.empty());
}

TEST(TopRender, SummaryAndHeaderLines) {
  Snapshot s = sort_fixture();
  s.elapsed_s = 65;
  s.events_per_s = 1234.4;
  s.processes[3].exited = true;
  TopState st;
  TopFrame f = top_render(s, st, 80, 10, kUsers);
  const std::string l1 = "fdwatch top  elapsed 1m05s  processes: 4 (1 exited)  fds: 350";
  EXPECT_EQ(f.rows[0].text, l1 + std::string(80 - l1.size() - 16, ' ') + "h: help  q: quit");
  EXPECT_EQ(f.rows[1].text, top_fit("events/s: 1234  dropped: 0  sort: FDS desc", 80));
  EXPECT_TRUE(f.rows[1].spans.empty());
  EXPECT_EQ(f.rows[2].style, TopStyle::Header);
  EXPECT_EQ(f.rows[2].spans, (std::vector<TopSpan>{{17, 7, TopStyle::Selected}}));

  s.lost_events = 12;
  st.paused = true;
  st.filter = "a";
  f = top_render(s, st, 80, 10, kUsers);
  EXPECT_EQ(f.rows[0].text.substr(0, 71),
            "fdwatch top  elapsed 1m05s  processes: 4 (1 exited)  fds: 350  [paused]");
  EXPECT_EQ(f.rows[1].text,
            top_fit("events/s: 1234  dropped: 12  sort: FDS desc  filter: a", 80));
  EXPECT_EQ(f.rows[1].spans, (std::vector<TopSpan>{{16, 11, TopStyle::Error}}));

  st.editing_filter = true;
  st.filter_input = "ch";
  f = top_render(s, st, 80, 10, kUsers);
  EXPECT_EQ(f.rows[1].text, top_fit("filter (Enter: apply, Esc: cancel): ch_", 80));

  st = TopState{};
  st.filter = "zzz";
  f = top_render(s, st, 80, 10, kUsers);
  EXPECT_EQ(f.rows[3].text, top_fit("  no process matches filter 'zzz'", 80));
}

TEST(TopRender, RowStyles) {
  ProcView leak = proc(1, "leak", 10);
  leak.leak_rate_per_s = 2;
  leak.time_to_limit_s = 500;
  leak.rlimit_nofile = 1024;
  ProcView slow = proc(2, "slow", 10);
  slow.leak_rate_per_s = 0.06;  // no limit known, still visibly growing
  ProcView flat = proc(3, "flat", 10);
  flat.leak_rate_per_s = 0.01;
  ProcView near = proc(4, "near", 80);
  near.rlimit_nofile = 100;
  ProcView under = proc(5, "under", 799);
  under.rlimit_nofile = 1000;  // 79.9 %
  ProcView err = proc(6, "err", 10);
  err.failed = {{"ENFILE", 1}};
  ProcView noent = proc(7, "noent", 10);
  noent.failed = {{"ENOENT", 100}};  // ordinary failures are no alarm
  ProcView gone = proc(8, "gone", 0);
  gone.exited = true;
  gone.time_to_limit_s = 3;

  EXPECT_EQ(top_row_style(leak), TopStyle::Leaking);
  EXPECT_EQ(top_row_style(slow), TopStyle::Leaking);
  EXPECT_EQ(top_row_style(flat), TopStyle::Normal);
  EXPECT_EQ(top_row_style(near), TopStyle::NearLimit);
  EXPECT_EQ(top_row_style(under), TopStyle::Normal);
  EXPECT_EQ(top_row_style(err), TopStyle::Error);
  EXPECT_EQ(top_row_style(noent), TopStyle::Normal);
  EXPECT_EQ(top_row_style(gone), TopStyle::Exited);
  EXPECT_EQ(top_row_style(facade()), TopStyle::Error);  // EMFILE beats near-limit

  Snapshot s = snap_of({leak, slow, flat, near, under, err, noent, gone});
  TopState st;
  st.sort = TopColumn::Pid;
  st.descending = false;
  st.selected_pid = 3;
  TopFrame f = top_render(s, st, 80, 24, kUsers);
  std::vector<TopStyle> got;
  for (int i = 3; i < 11; ++i) got.push_back(f.rows[static_cast<size_t>(i)].style);
  EXPECT_EQ(got, (std::vector<TopStyle>{TopStyle::Leaking, TopStyle::Leaking, TopStyle::Selected,
                                        TopStyle::NearLimit, TopStyle::Normal, TopStyle::Error,
                                        TopStyle::Normal, TopStyle::Exited}));
  auto eta = top_column_span(top_layout(80), TopColumn::Eta);
  EXPECT_EQ(f.rows[10].text.substr(static_cast<size_t>(eta->first), 6), "exited");
}

// ---------------------------------------------------------------------------

std::vector<FdView> mixed_fds() {
  auto fd = [](int n, Kind k, std::string t, double age) {
    FdView f;
    f.fd = n;
    f.kind = k;
    f.target = std::move(t);
    f.age_s = age;
    return f;
  };
  return {fd(3, Kind::File, "/var/log/app.log", 300), fd(4, Kind::Pipe, "pipe:[77]", 250),
          fd(5, Kind::Socket, "tcp 127.0.0.1:40312->127.0.0.1:8081", 20.1),
          fd(6, Kind::Socket, "tcp 127.0.0.1:40314->127.0.0.1:8081", 19),
          fd(7, Kind::File, "/var/log/app.log", 12),
          fd(8, Kind::Socket, "tcp 127.0.0.1:40312->127.0.0.1:8081", 3)};
}

TEST(TopDetail, GroupsByKindAndTarget) {
  auto g = group_fds(mixed_fds());
  std::vector<FdGroup> want = {
      {Kind::File, "/var/log/app.log", 2, 300},
      {Kind::Socket, "tcp 127.0.0.1:40312->127.0.0.1:8081", 2, 20.1},
      {Kind::Pipe, "pipe:[77]", 1, 250},
      {Kind::Socket, "tcp 127.0.0.1:40314->127.0.0.1:8081", 1, 19},
  };
  EXPECT_EQ(g, want);
  EXPECT_TRUE(group_fds({}).empty());
}

TEST(TopDetail, SummarySuspectsGroupsAndFds) {
  ProcView p = facade();
  p.ppid = 1;
  p.fds = mixed_fds();
  p.fds[0].seeded = true;
  p.suspects = {suspect(Kind::Socket, "main.callBackend", "tcp ->127.0.0.1:8081", 3, 20.1)};
  Snapshot s = snap_of({p});
  TopState st;
  st.screen = TopScreen::Detail;
  st.detail_pid = 1234;
  TopFrame f = top_render(s, st, 120, 40, kUsers);
  std::vector<std::string> want = {
      "PID 1234  facade  user alice  ppid 1  [inexact: events lost, resynced from /proc]",
      "fds: 1017 of 1024 (99%)  ETA: 0.1s  oldest: 20s",
      "open/s: 50  close/s: 1.5  net/s: 49  opened: 5120  closed: 4106",
      "errors: EMFILE 31 ENOENT 4",
      "",
      "suspects (open fds by call site and target):",
      "   COUNT  KIND          OLDEST  SITE  TARGET",
      "       3  socket           20s  main.callBackend  tcp ->127.0.0.1:8081",
      "",
      "open fds by kind and target:",
      "   COUNT  KIND          OLDEST  TARGET",
      "       2  file           5m00s  /var/log/app.log",
      "       2  socket           20s  tcp 127.0.0.1:40312->127.0.0.1:8081",
      "       1  pipe           4m10s  pipe:[77]",
      "       1  socket           19s  tcp 127.0.0.1:40314->127.0.0.1:8081",
      "",
      "open fds, oldest first:",
      "      FD  KIND             AGE  TARGET",
      "       3  file          >5m00s  /var/log/app.log",
      "       4  pipe           4m10s  pipe:[77]",
      "       5  socket           20s  tcp 127.0.0.1:40312->127.0.0.1:8081",
      "       6  socket           19s  tcp 127.0.0.1:40314->127.0.0.1:8081",
      "       7  file             12s  /var/log/app.log",
      "       8  socket          3.0s  tcp 127.0.0.1:40312->127.0.0.1:8081",
      "",
  };
  // The title carries "q/Esc: back" at the right.
  EXPECT_EQ(f.rows[0].text, want[0] + std::string(120 - want[0].size() - 11, ' ') + "q/Esc: back");
  for (size_t i = 1; i < want.size(); ++i) EXPECT_EQ(f.rows[i].text, top_fit(want[i], 120)) << i;
  EXPECT_EQ(f.rows[0].style, TopStyle::Header);
  EXPECT_EQ(f.rows[3].style, TopStyle::Error);
  EXPECT_EQ(f.rows[6].style, TopStyle::Header);
  EXPECT_EQ(f.rows[10].style, TopStyle::Header);

  // No room for the hint at 80: the title is cut instead.
  TopFrame narrow = top_render(s, st, 80, 40, kUsers);
  EXPECT_EQ(narrow.rows[0].text, want[0].substr(0, 80));
}

// Attached mid-leak (or stacks turned on by opening the detail): one leak is
// one row, the fds whose site is unknown counted with it and labelled.
TEST(TopDetail, OneLeakIsOneRowWithWhatWasOpenBeforeAttach) {
  ProcView p = facade();
  Suspect leak = suspect(Kind::Socket, "main (leaker.c:8)", "tcp ->127.0.0.1:8081", 884, 600);
  leak.before_attach = 867;
  leak.unattributed = 867;
  Suspect stdio = suspect(Kind::File, "", "/dev/pts/0", 3, 600);
  stdio.before_attach = 3;
  p.suspects = {leak, stdio};
  TopState st;
  st.screen = TopScreen::Detail;
  st.detail_pid = 1234;
  TopFrame f = top_render(snap_of({p}), st, 120, 40, kUsers);
  EXPECT_EQ(f.rows[7].text, top_fit("      17  socket        10m00s  main (leaker.c:8)  tcp ->127.0.0.1:8081  "
                                    "+867 opened before attach to the same endpoint", 120));
  EXPECT_EQ(f.rows[8].text, top_fit("       3  file          10m00s  open before attach  /dev/pts/0", 120));
}

TEST(TopDetail, ScrollsThroughManyFdsWithoutDrawingThem) {
  constexpr int kFds = 200000;
  ProcView p = proc(42, "hog", kFds);
  p.rlimit_nofile = 1048576;
  p.fds.resize(kFds);
  for (int i = 0; i < kFds; ++i) {
    p.fds[static_cast<size_t>(i)].fd = i + 3;
    p.fds[static_cast<size_t>(i)].kind = Kind::Socket;
    p.fds[static_cast<size_t>(i)].target = "tcp ->10.0.0.1:80";
  }
  Snapshot s = snap_of({p});
  TopState st;
  const int h = 24;  // 20 body lines
  top_handle_key(st, TopKey::Enter, s, h);
  ASSERT_EQ(st.screen, TopScreen::Detail);
  // Body: blank, title, header, 1 group, blank, title, header, then the fds.
  const size_t body = 7 + kFds;
  EXPECT_EQ(top_handle_key(st, TopKey::End, s, h).kind, TopActionKind::Redraw);
  EXPECT_EQ(st.detail_scroll, body - 20);
  TopFrame f = top_render(s, st, 80, h, kUsers);
  EXPECT_EQ(f.rows[23].text.substr(0, 8), "  200002");
  EXPECT_EQ(top_handle_key(st, 'j', s, h).kind, TopActionKind::None);
  top_handle_key(st, TopKey::PageUp, s, h);
  EXPECT_EQ(st.detail_scroll, body - 40);
  top_handle_key(st, 'k', s, h);
  EXPECT_EQ(st.detail_scroll, body - 41);
  top_handle_key(st, TopKey::Home, s, h);
  EXPECT_EQ(st.detail_scroll, 0u);
  f = top_render(s, st, 80, h, kUsers);
  EXPECT_EQ(f.rows[7].text,
            top_fit("  200000  socket" + std::string(10, ' ') + "0.0s  tcp ->10.0.0.1:80", 80));
  EXPECT_EQ(f.rows[11].text,
            top_fit("       3  socket" + std::string(10, ' ') + "0.0s  tcp ->10.0.0.1:80", 80));
}

TEST(TopDetail, ExitedProcessShowsWhatItLeftOpen) {
  ProcView p = proc(77, "worker", 0);
  p.exited = true;
  p.exit_code = 3;
  p.exited_at_s = 12;
  p.open_at_exit = 2;
  p.leaked_at_exit = {mixed_fds()[0], mixed_fds()[4]};
  Snapshot s = snap_of({p});
  TopState st;
  st.screen = TopScreen::Detail;
  st.detail_pid = 77;
  TopFrame f = top_render(s, st, 80, 20, kUsers);
  EXPECT_EQ(f.rows[0].text.substr(0, 36), "PID 77  worker  user alice  [exited]");
  EXPECT_EQ(f.rows[1].text, top_fit("exited at 12s (code 3); open at exit: 2", 80));
  EXPECT_EQ(f.rows[1].style, TopStyle::Exited);
  EXPECT_EQ(f.rows[3].text, top_fit("errors: none", 80));
  EXPECT_EQ(f.rows[5].text, top_fit("open at exit by kind and target:", 80));
  EXPECT_EQ(f.rows[7].text, top_fit("       2  file           5m00s  /var/log/app.log", 80));
  EXPECT_EQ(f.rows[9].text, top_fit("open at exit, oldest first:", 80));
}

TEST(TopDetail, GoneProcessAndNoFds) {
  Snapshot s = snap_of({proc(5, "quiet", 0)});
  TopState st;
  st.screen = TopScreen::Detail;
  st.detail_pid = 99;
  TopFrame f = top_render(s, st, 60, 10, kUsers);
  EXPECT_EQ(f.rows[0].text, "PID 99 is no longer in the snapshot" + std::string(14, ' ') +
                                "q/Esc: back");
  EXPECT_EQ(f.rows[1].text, std::string(60, ' '));

  st.detail_pid = 5;
  f = top_render(s, st, 60, 10, kUsers);
  EXPECT_EQ(f.rows[1].text, top_fit("fds: 0 (limit unknown)", 60));
  EXPECT_EQ(f.rows[7].text, top_fit("       (none)", 60));
}

}  // namespace
}  // namespace fdw
