// HTML report: the page parses as XML (so browsers cannot misread it), the
// chart has the right elements at the right coordinates, and every string from
// the traced programs is escaped.
#include "views/html_report.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
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

// ---- a strict little XML reader --------------------------------------------------

struct Element {
  std::string name;
  std::map<std::string, std::string> attrs;
  std::string text;  // direct text content, entities left as written
  int depth = 0;
  std::string cls() const { return attrs.count("class") ? attrs.at("class") : ""; }
};

struct Doc {
  std::vector<Element> elements;  // document order
  std::string error;
  std::vector<const Element*> find(const std::string& name, const std::string& cls = "") const {
    std::vector<const Element*> out;
    for (auto& e : elements)
      if (e.name == name && (cls.empty() || e.cls() == cls)) out.push_back(&e);
    return out;
  }
};

bool valid_entities(std::string_view s) {
  for (size_t i = s.find('&'); i != std::string::npos; i = s.find('&', i + 1)) {
    size_t semi = s.find(';', i);
    if (semi == std::string::npos || semi - i > 10 || semi == i + 1) return false;
    std::string_view ent = s.substr(i + 1, semi - i - 1);
    bool ok = ent[0] == '#' ? std::all_of(ent.begin() + 1, ent.end(), ::isdigit) && ent.size() > 1
                            : std::all_of(ent.begin(), ent.end(), ::isalpha);
    if (!ok) return false;
  }
  return true;
}

// Elements must nest and close (XHTML style), attributes must be quoted, text
// may not hold '<' or a bare '&'.  Enough to know a browser reads what we meant.
Doc parse(std::string_view s) {
  Doc d;
  std::vector<size_t> open;
  auto fail = [&](size_t at, const std::string& why) {
    d.error = why + " at offset " + std::to_string(at);
    return d;
  };
  size_t i = 0;
  if (s.substr(0, 15) == "<!DOCTYPE html>") i = 15;
  while (i < s.size()) {
    size_t lt = s.find('<', i);
    std::string_view text = s.substr(i, lt == std::string::npos ? std::string::npos : lt - i);
    if (!valid_entities(text)) return fail(i, "bad entity in text");
    if (!open.empty()) d.elements[open.back()].text += text;
    else if (text.find_first_not_of(" \n") != std::string::npos) return fail(i, "text outside root");
    if (lt == std::string::npos) break;
    if (s.substr(lt, 4) == "<!--") {
      size_t end = s.find("-->", lt);
      if (end == std::string::npos) return fail(lt, "unclosed comment");
      i = end + 3;
      continue;
    }
    size_t gt = s.find('>', lt);
    if (gt == std::string::npos) return fail(lt, "unclosed tag");
    std::string_view tag = s.substr(lt + 1, gt - lt - 1);
    if (!tag.empty() && tag[0] == '/') {
      if (open.empty() || d.elements[open.back()].name != tag.substr(1))
        return fail(lt, "mismatched </" + std::string(tag.substr(1)) + ">");
      open.pop_back();
      i = gt + 1;
      continue;
    }
    bool self_closing = !tag.empty() && tag.back() == '/';
    if (self_closing) tag.remove_suffix(1);
    Element e;
    size_t p = 0;
    while (p < tag.size() && (isalnum(tag[p]) || tag[p] == '-' || tag[p] == ':')) ++p;
    e.name = tag.substr(0, p);
    if (e.name.empty()) return fail(lt, "empty tag name");
    for (;;) {
      while (p < tag.size() && tag[p] == ' ') ++p;
      if (p >= tag.size()) break;
      size_t eq = tag.find('=', p);
      if (eq == std::string::npos || eq + 1 >= tag.size() || tag[eq + 1] != '"')
        return fail(lt, "unquoted attribute in <" + e.name + ">");
      size_t close = tag.find('"', eq + 2);
      if (close == std::string::npos) return fail(lt, "unterminated attribute");
      std::string name(tag.substr(p, eq - p)), value(tag.substr(eq + 2, close - eq - 2));
      if (!valid_entities(value)) return fail(lt, "bad entity in attribute");
      if (!e.attrs.emplace(name, value).second) return fail(lt, "duplicate attribute " + name);
      p = close + 1;
    }
    e.depth = static_cast<int>(open.size());
    d.elements.push_back(std::move(e));
    if (!self_closing) open.push_back(d.elements.size() - 1);
    i = gt + 1;
  }
  if (!open.empty()) return fail(s.size(), "unclosed <" + d.elements[open.back()].name + ">");
  return d;
}

// ---- fixtures ----------------------------------------------------------------------

ProcView proc(uint32_t pid, std::string comm, uint64_t open, std::optional<uint64_t> limit) {
  ProcView p;
  p.pid = pid;
  p.comm = std::move(comm);
  p.open_fds = open;
  p.rlimit_nofile = limit;
  return p;
}

HtmlInput two_procs() {
  HtmlInput in;
  in.title = "leak check";
  ProcView a = proc(100, "facade", 100, 120);
  a.opened = 5120;
  a.closed = 5020;
  a.failed = {{"EMFILE", 31}};
  a.leak_rate_per_s = 48.5;
  a.time_to_limit_s = 0.4;
  a.suspects = {suspect(Kind::Socket, "main.callBackend", "tcp ->127.0.0.1:8081", 90, 20.1),
                suspect(Kind::File, "", "/tmp/x", 3, 75)};
  ProcView b = proc(200, "backend", 10, 1024);
  b.suspects = {suspect(Kind::Pipe, "spawn", "pipe", 2, 1.5)};
  in.final.processes = {a, b};
  in.final.elapsed_s = 10;
  in.final.events = 10240;
  in.open_fds_series[100] = {{0, 0}, {5, 50}, {10, 100}};
  in.open_fds_series[200] = {{0, 10}, {10, 10}};
  in.emfile_times[100] = {7.5, 9.0};
  return in;
}

std::string attr(const Element* e, const std::string& k) { return e->attrs.count(k) ? e->attrs.at(k) : "<none>"; }

// ---- tests -------------------------------------------------------------------------

TEST(HtmlEscape, ExactOutput) {
  EXPECT_EQ(html_escape("<script>alert('x')&\"</script>"),
            "&lt;script&gt;alert(&#39;x&#39;)&amp;&quot;&lt;/script&gt;");
  EXPECT_EQ(html_escape("caf\xc3\xa9 \xe2\x82\xac"), "caf\xc3\xa9 \xe2\x82\xac");
  EXPECT_EQ(html_escape("a\xff" "b"), "a\xef\xbf\xbd" "b");
  EXPECT_EQ(html_escape(std::string("nul\0x\x01", 6)), "nul\xef\xbf\xbdx\xef\xbf\xbd");
  EXPECT_EQ(html_escape("\xed\xa0\x80"), "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");  // surrogate: 3 bad bytes
  EXPECT_EQ(html_escape("tab\tnl\n"), "tab\tnl\n");
}

TEST(HtmlReport, PageIsWellFormedWithChartAndTables) {
  std::string html = render_html(two_procs());
  Doc d = parse(html);
  ASSERT_EQ(d.error, "");
  EXPECT_EQ(html.find("<script"), std::string::npos);
  EXPECT_EQ(html.find("http://"), html.find("http://www.w3.org/2000/svg"));  // only the SVG namespace
  EXPECT_EQ(html.find("https://"), std::string::npos);

  auto svg = d.find("svg");
  ASSERT_EQ(svg.size(), 1u);
  EXPECT_EQ(attr(svg[0], "id"), "timeline");
  auto lines = d.find("polyline", "series");
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(attr(lines[0], "data-pid"), "100");  // most fds first
  EXPECT_EQ(attr(lines[1], "data-pid"), "200");
  EXPECT_NE(attr(lines[0], "stroke"), attr(lines[1], "stroke"));
  auto limits = d.find("line", "rlimit");
  ASSERT_EQ(limits.size(), 1u);  // 1024 is far above the curves (>4x 100)
  EXPECT_EQ(attr(limits[0], "data-pid"), "100");
  EXPECT_EQ(attr(limits[0], "stroke-dasharray"), "6 4");
  EXPECT_EQ(d.find("circle", "emfile").size(), 2u);
  EXPECT_NE(html.find(">limit 1024 (above chart)</text>"), std::string::npos);
  EXPECT_NE(html.find(">limit 120</text>"), std::string::npos);
  EXPECT_EQ(d.find("text", "xtick").size(), 6u);  // 0 2 4 6 8 10
  EXPECT_EQ(d.find("text", "ytick").size(), 6u);  // 0 25 50 75 100 125

  auto tables = d.find("table");
  ASSERT_EQ(tables.size(), 2u);
  EXPECT_EQ(attr(tables[0], "id"), "summary");
  EXPECT_EQ(attr(tables[1], "id"), "suspects");
  size_t suspect_rows = 0, summary_rows = 0;
  bool in_suspects = false;
  for (auto& e : d.elements) {
    if (e.name == "table") in_suspects = attr(&e, "id") == "suspects";
    if (e.name == "tr" && e.attrs.count("data-pid")) (in_suspects ? suspect_rows : summary_rows)++;
  }
  EXPECT_EQ(summary_rows, 2u);
  EXPECT_EQ(suspect_rows, 3u);
  EXPECT_NE(html.find("<td>31 (EMFILE 31)</td>"), std::string::npos);
  EXPECT_NE(html.find("<td class=\"n\">48.50/s</td>"), std::string::npos);
  EXPECT_NE(html.find("<td class=\"n\">0.4 s</td>"), std::string::npos);      // time to limit
  EXPECT_NE(html.find("<td class=\"n\">&#8212;</td>"), std::string::npos);    // none for pid 200
  EXPECT_NE(html.find("<td class=\"n\">1m 15s</td>"), std::string::npos);     // oldest age 75 s
  EXPECT_NE(html.find("<td class=\"t\"><i>unknown</i></td>"), std::string::npos);
}

TEST(HtmlReport, ChartCoordinatesAreExact) {
  // t in [0,10] -> x in [72,700]; y axis to 125 (limit 120 * 1.04, step 25) -> y in [324,24].
  HtmlInput in = two_procs();
  Doc d = parse(render_html(in));
  ASSERT_EQ(d.error, "");
  auto lines = d.find("polyline", "series");
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(attr(lines[0], "points"), "72.0,324.0 386.0,204.0 700.0,84.0");
  EXPECT_EQ(attr(lines[1], "points"), "72.0,300.0 700.0,300.0");
  auto lim = d.find("line", "rlimit");
  ASSERT_EQ(lim.size(), 1u);
  EXPECT_EQ(attr(lim[0], "y1"), "36.0");
  EXPECT_EQ(attr(lim[0], "x1"), "72.0");
  EXPECT_EQ(attr(lim[0], "x2"), "700.0");
  auto em = d.find("circle", "emfile");
  ASSERT_EQ(em.size(), 2u);
  EXPECT_EQ(attr(em[0], "cx"), "543.0");  // t=7.5, value of the sample at t=5 (50 fds)
  EXPECT_EQ(attr(em[0], "cy"), "204.0");
  EXPECT_EQ(attr(em[1], "cx"), "637.2");
}

TEST(HtmlReport, EscapesEveryStringFromTracedPrograms) {
  HtmlInput in = two_procs();
  const std::string evil = "<script>alert(\"pwn\")</script>";
  in.title = evil;
  in.final.processes[0].comm = evil;
  in.final.processes[0].failed = {{"<b>E</b>", 1}};
  in.final.processes[0].suspects[0].site = evil;
  in.final.processes[0].suspects[0].target = "/tmp/a\"b'<c>&d\xff";
  in.comm[200] = "x<img src=x onerror=alert(1)>";
  std::string html = render_html(in);
  Doc d = parse(html);
  ASSERT_EQ(d.error, "");
  std::string lower = html;
  std::transform(lower.begin(), lower.end(), lower.begin(), ::tolower);
  EXPECT_EQ(lower.find("<script"), std::string::npos);
  EXPECT_EQ(lower.find("<img"), std::string::npos);
  EXPECT_EQ(lower.find("<b>"), std::string::npos);
  EXPECT_NE(html.find("&lt;script&gt;alert(&quot;pwn&quot;)&lt;/script&gt;"), std::string::npos);
  EXPECT_NE(html.find("/tmp/a&quot;b&#39;&lt;c&gt;&amp;d\xef\xbf\xbd"), std::string::npos);
  EXPECT_NE(html.find("x&lt;img src=x onerror=alert(1)&gt;"), std::string::npos);
  EXPECT_EQ(d.find("title")[0]->text, "&lt;script&gt;alert(&quot;pwn&quot;)&lt;/script&gt;");
}

TEST(HtmlReport, LongSeriesAreDecimatedKeepingPeaks) {
  HtmlInput in;
  auto& s = in.open_fds_series[7];
  for (int i = 0; i < 200000; ++i) s.push_back({i * 0.001, static_cast<uint64_t>(i % 1000 == 500 ? 5000 : 100)});
  std::string html = render_html(in);
  Doc d = parse(html);
  ASSERT_EQ(d.error, "");
  auto lines = d.find("polyline", "series");
  ASSERT_EQ(lines.size(), 1u);
  std::string pts = attr(lines[0], "points");
  size_t n = std::count(pts.begin(), pts.end(), ' ') + 1;
  EXPECT_LE(n, 4u * 628);
  EXPECT_GE(n, 628u);
  // y axis to 6000: the 5000 spikes (y=74) and the 100 baseline (y=319) both survive.
  EXPECT_NE(pts.find(",74.0"), std::string::npos);
  EXPECT_NE(pts.find(",319.0"), std::string::npos);
  EXPECT_LT(html.size(), 200000u);
}

TEST(HtmlReport, ManyProcessesAndEmptyInput) {
  HtmlInput in;
  for (uint32_t pid = 1; pid <= 20; ++pid) {
    in.open_fds_series[pid] = {{0, pid}, {1, pid * 2}};
    in.final.processes.push_back(proc(pid, "p" + std::to_string(pid), pid * 2, 4096));
  }
  std::string html = render_html(in);
  Doc d = parse(html);
  ASSERT_EQ(d.error, "");
  auto lines = d.find("polyline", "series");
  ASSERT_EQ(lines.size(), kChartMaxProcs);
  EXPECT_EQ(attr(lines[0], "data-pid"), "20");
  EXPECT_NE(html.find("Not drawn (fewer fds): 4 p4; 3 p3; 2 p2; 1 p1;"), std::string::npos);

  HtmlInput none;
  html = render_html(none);
  d = parse(html);
  ASSERT_EQ(d.error, "");
  EXPECT_EQ(d.find("polyline").size(), 0u);
  EXPECT_NE(html.find(">no samples</text>"), std::string::npos);
  EXPECT_NE(html.find("<td colspan=\"7\">no suspects</td>"), std::string::npos);
  EXPECT_EQ(d.find("title")[0]->text, "fdwatch report");
}

TEST(HtmlReport, EmfileWithoutSamplesSitsOnTheLimit) {
  HtmlInput in;
  in.final.processes = {proc(5, "x", 0, 64)};
  in.emfile_times[5] = {1.0, 1.0, 1.0001, 2.0};  // same pixel -> one marker
  Doc d = parse(render_html(in));
  ASSERT_EQ(d.error, "");
  auto em = d.find("circle", "emfile");
  ASSERT_EQ(em.size(), 2u);
  auto lim = d.find("line", "rlimit");
  ASSERT_EQ(lim.size(), 1u);
  EXPECT_EQ(attr(em[0], "cy"), attr(lim[0], "y1"));
}

}  // namespace
}  // namespace fdw
