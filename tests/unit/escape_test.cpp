// Names a traced process chose reach text views escaped (util/escape.h):
// the rule on a table of inputs, then every text view on a snapshot full of
// hostile names, which must come out without a control byte, as valid UTF-8,
// and without a line the names forged.
#include <gtest/gtest.h>

#include <algorithm>
#include <sstream>
#include <string>
#include <vector>

#include <prometheus/text_serializer.h>

#include "util/escape.h"
#include "views/format.h"
#include "views/html_report.h"
#include "views/metrics.h"
#include "views/report.h"
#include "views/top_batch.h"
#include "views/top_model.h"

namespace fdw {
namespace {

TEST(Escape, Table) {
  const std::vector<std::pair<std::string, std::string>> table = {
      {"", ""},
      {"plain /var/log/app.log", "plain /var/log/app.log"},
      {"a\nLEAK", "a\\nLEAK"},
      {"cr\rtab\t", "cr\\rtab\\t"},
      {"\x1b[1mbold", "\\x1b[1mbold"},
      {"title\x1b]0;owned\x07", "title\\x1b]0;owned\\x07"},
      {std::string("nul\0byte", 8), "nul\\x00byte"},
      {"del\x7f", "del\\x7f"},
      {"back\\slash", "back\\\\slash"},
      {"\\x1b", "\\\\x1b"},  // a literal backslash-x reads back unlike an escape
      {"caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x90\x8d", "caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x90\x8d"},
      {"csi\xc2\x9b" "31m", "csi\\xc2\\x9b31m"},          // C1 CSI
      {"c1\xc2\x80\xc2\x9f\xc2\xa0", "c1\\xc2\\x80\\xc2\\x9f\xc2\xa0"},  // U+00A0 stays
      {"rlo\xe2\x80\xae", "rlo\\xe2\\x80\\xae"},          // U+202E
      {"ls\xe2\x80\xa8", "ls\\xe2\\x80\\xa8"},            // U+2028
      {"fsi\xe2\x81\xa8", "fsi\\xe2\\x81\\xa8"},          // U+2068
      {"bad\xff", "bad\\xff"},
      {"cut\xe6\x97", "cut\\xe6\\x97"},                    // truncated sequence
      {"over\xc0\xaf", "over\\xc0\\xaf"},                  // overlong '/'
      {"sur\xed\xa0\x80", "sur\\xed\\xa0\\x80"},          // UTF-16 surrogate
      {"big\xf4\x90\x80\x80", "big\\xf4\\x90\\x80\\x80"},  // above U+10FFFF
      {"\x80lead", "\\x80lead"},                           // stray continuation byte
      {"\xe6\x97\xa5\xff\xe6\x97\xa5", "\xe6\x97\xa5\\xff\xe6\x97\xa5"},  // resynchronizes
  };
  for (auto& [in, want] : table) EXPECT_EQ(escape_text(in), want) << "input of " << in.size() << " bytes";
}

TEST(Escape, InvalidUtf8Only) {
  EXPECT_EQ(escape_invalid_utf8("a\nb\x1b\\ \xc3\xa9"), "a\nb\x1b\\ \xc3\xa9");
  EXPECT_EQ(escape_invalid_utf8("bad\xff\xc0\xaf"), "bad\\xff\\xc0\\xaf");
}

// Valid UTF-8 with no C0 control but '\n' (JSON: a C1 control is valid
// UTF-8 and kept, as every other character).
void expect_utf8_text(const std::string& t, const std::string& what) {
  for (size_t i = 0; i < t.size(); ++i) {
    auto c = static_cast<unsigned char>(t[i]);
    ASSERT_TRUE(c == '\n' || (c >= 0x20 && c != 0x7f)) << what << ": byte " << int(c) << " at " << i << "\n" << t;
  }
  EXPECT_EQ(escape_invalid_utf8(t), t) << what << " is not valid UTF-8";
}

// Text for a terminal: that, and no C1 control either.
void expect_clean_text(const std::string& t, const std::string& what) {
  expect_utf8_text(t, what);
  EXPECT_EQ(escape_text(t).find("\\xc2\\x9"), std::string::npos) << what << " holds a C1 control";
}

size_t count_lines_starting(const std::string& t, const std::string& prefix) {
  size_t n = 0;
  std::istringstream in(t);
  for (std::string line; std::getline(in, line);) n += line.rfind(prefix, 0) == 0;
  return n;
}

const std::string kComm = "ev\x1b[1mil\nLEAK";
const std::string kPath = "/tmp/a\nLEAK fake: 999 sockets from trusted (ok.c:1)\n\xff\xc2\x9b.log";

Snapshot hostile_snapshot() {
  ProcView p;
  p.pid = 3241;
  p.comm = kComm;
  p.cgroup = "/evil\n\xff";
  p.container = "c\x1b]0;x\x07";
  p.open_fds = 3;
  p.opened = 3;
  p.rlimit_nofile = 1024;
  p.leak_rate_per_s = 2;
  for (int fd = 3; fd < 6; ++fd) {
    FdView f;
    f.fd = fd;
    f.kind = Kind::File;
    f.target = kPath;
    f.age_s = 2;
    f.stack = {"main\r\x07 (a\n.c:1)"};
    p.fds.push_back(f);
  }
  Suspect s;
  s.kind = Kind::File;
  s.site = "open_\x1b[2Jlog (a\nLEAK.c:1)";
  s.target = kPath;
  s.targets.pattern = kPath;
  s.targets.distinct = 1;
  s.count = 3;
  s.leaking = true;
  s.growth_per_s = 2;
  s.hint = "close \xe2\x80\xae it";
  p.suspects.push_back(s);
  Snapshot snap;
  snap.elapsed_s = 2;
  snap.processes = {p};
  return snap;
}

TEST(EscapeViews, ReportText) {
  const std::string t = render_report_text(hostile_snapshot());
  expect_clean_text(t, "report");
  EXPECT_EQ(count_lines_starting(t, "LEAK"), 1u) << t;
  EXPECT_NE(t.find("LEAK ev\\x1b[1mil\\nLEAK: 3 files from open_\\x1b[2Jlog (a\\nLEAK.c:1)"), std::string::npos) << t;
  EXPECT_NE(t.find("3241 ev\\x1b[1mil\\nLEAK\n"), std::string::npos) << t;
  EXPECT_NE(t.find("  hint: close \\xe2\\x80\\xae it\n"), std::string::npos) << t;
}

TEST(EscapeViews, TopBatchAndScreen) {
  BatchOptions bo;
  bo.width = 0;
  const std::string t = render_batch_frame(hostile_snapshot(), bo);
  expect_clean_text(t, "top -b");
  EXPECT_NE(t.find(" ev\\x~1mil\\nLEAK\n"), std::string::npos) << t;  // cut in the middle, escaped
  EXPECT_EQ(t.find("\nLEAK"), std::string::npos) << t;

  TopState st;
  st.screen = TopScreen::Detail;
  st.detail_pid = 3241;
  for (const TopRow& r : top_render(hostile_snapshot(), st, 200, 30, {}).rows) {
    expect_clean_text(r.text, "top detail row");
    EXPECT_EQ(r.text.size(), 200u);
  }
  EXPECT_EQ(top_fit("\xe6\x97\xa5\xe6\x9c\xac", 4), "??  ");  // one column per character
}

TEST(EscapeViews, FitNeverSplitsACharacter) {
  const std::string name = "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e-worker-\xe6\x97\xa5\xe6\x9c\xac";
  for (size_t w = 1; w < name.size(); ++w) {
    EXPECT_EQ(escape_invalid_utf8(fit_middle(name, w)), fit_middle(name, w)) << w;
    std::string path = "/srv/\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e/" + name;
    EXPECT_EQ(escape_invalid_utf8(fit_path(path, w)), fit_path(path, w)) << w;
  }
}

TEST(EscapeViews, JsonKeepsBytesAndNeverThrows) {
  const std::string j = json_text(report_json(hostile_snapshot()));
  const auto back = nlohmann::json::parse(j);
  EXPECT_EQ(back["processes"][0]["comm"], kComm);  // exact bytes, as JSON escapes
  // The path is not UTF-8: its stray byte reads back as U+FFFD.
  EXPECT_EQ(back["processes"][0]["fds"][0]["target"],
            "/tmp/a\nLEAK fake: 999 sockets from trusted (ok.c:1)\n\xef\xbf\xbd\xc2\x9b.log");
  expect_utf8_text(j, "report JSON");
}

TEST(EscapeViews, MetricLabelsAreUtf8) {
  std::ostringstream o;
  prometheus::TextSerializer().Serialize(o, metric_families(hostile_snapshot(), MetricsOptions{}));
  const std::string t = o.str();
  EXPECT_EQ(escape_invalid_utf8(t), t);
  EXPECT_NE(t.find("cgroup=\"/evil\\n\\\\xff\""), std::string::npos) << t;
  EXPECT_EQ(count_lines_starting(t, "LEAK"), 0u) << t;
}

TEST(EscapeViews, HtmlReplacesInvalidUtf8) {
  EXPECT_EQ(html_escape("a\xff<b>\x1b\xc3\xa9"), "a\xef\xbf\xbd&lt;b&gt;\xef\xbf\xbd\xc3\xa9");
  EXPECT_EQ(html_escape("\xe6\x97"), "\xef\xbf\xbd\xef\xbf\xbd");
}

}  // namespace
}  // namespace fdw
