#include "views/html_report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <optional>
#include <set>

#include "util/utf8.h"
#include "views/format.h"

namespace fdw {
namespace {

// Tableau-like palette without pure red, which marks EMFILE.
constexpr const char* kPalette[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b",
                                    "#e377c2", "#7f7f7f", "#bcbd22", "#17becf", "#393b79",
                                    "#637939", "#8c6d31", "#843c39", "#7b4173", "#3182bd",
                                    "#31a354"};
constexpr const char* kEmfileColor = "#e00000";

// Chart geometry (SVG user units); the legend sits right of the plot.
constexpr double kWidth = 960, kPlotLeft = 72, kPlotRight = 700, kPlotTop = 24;
constexpr double kPlotHeight = 300, kLegendX = 724, kLegendRow = 34;

std::string fmt(const char* f, double v) {
  char buf[64];
  snprintf(buf, sizeof buf, f, v);
  return buf;
}

std::string num(double v) { return fmt("%.1f", v); }

std::string duration(double s) {
  if (!std::isfinite(s) || s < 0) return "?";
  if (s < 10) return fmt("%.1f s", s);
  if (s < 60) return fmt("%.0f s", s);
  auto whole = static_cast<uint64_t>(s);
  char buf[64];
  if (s < 3600)
    snprintf(buf, sizeof buf, "%um %02us", unsigned(whole / 60), unsigned(whole % 60));
  else if (s < 86400)
    snprintf(buf, sizeof buf, "%uh %02um", unsigned(whole / 3600), unsigned(whole / 60 % 60));
  else
    snprintf(buf, sizeof buf, "%lud %02uh", static_cast<unsigned long>(whole / 86400),
             unsigned(whole / 3600 % 24));
  return buf;
}

// 1, 2 or 5 (or 2.5 for whole-number axes of tens and more) times a power of
// ten, giving about `target` intervals over `range`.
double nice_step(double range, int target, bool quarters) {
  double raw = range / target;
  double mag = std::pow(10.0, std::floor(std::log10(raw)));
  double f = raw / mag;
  if (f <= 1) return mag;
  if (f <= 2) return 2 * mag;
  if (quarters && mag >= 10 && f <= 2.5) return 2.5 * mag;
  return (f <= 5 ? 5 : 10) * mag;
}

std::string tick_label(double v, double step) {
  int decimals = step >= 1 ? 0 : static_cast<int>(std::ceil(-std::log10(step) - 1e-9));
  char buf[64];
  snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

struct Proc {
  uint32_t pid = 0;
  std::string comm;
  const std::vector<std::pair<double, uint64_t>>* series = nullptr;
  const std::vector<double>* emfile = nullptr;
  std::optional<uint64_t> rlimit;
  uint64_t peak = 0;
  const char* color = "";
};

// Keeps first/min/max/last per pixel column: the shape survives, the page
// stays small for hour-long recordings.
std::vector<std::pair<double, uint64_t>> decimate(const std::vector<std::pair<double, uint64_t>>& pts,
                                                  double t0, double t1, double columns) {
  if (pts.size() <= 4 * static_cast<size_t>(columns)) return pts;
  std::vector<size_t> keep;
  long col = -1;
  size_t first = 0, lo = 0, hi = 0;
  auto flush = [&](size_t last) {
    size_t idx[] = {first, lo, hi, last};
    std::sort(std::begin(idx), std::end(idx));
    for (size_t i : idx)
      if (keep.empty() || keep.back() != i) keep.push_back(i);
  };
  for (size_t i = 0; i < pts.size(); ++i) {
    long c = static_cast<long>((pts[i].first - t0) / (t1 - t0) * columns);
    if (c != col) {
      if (col >= 0) flush(i - 1);
      col = c, first = lo = hi = i;
    }
    if (pts[i].second < pts[lo].second) lo = i;
    if (pts[i].second > pts[hi].second) hi = i;
  }
  flush(pts.size() - 1);
  std::vector<std::pair<double, uint64_t>> out;
  out.reserve(keep.size());
  for (size_t i : keep) out.push_back(pts[i]);
  return out;
}

// Open fds at time t: the last sample at or before t (the first one before it).
uint64_t value_at(const std::vector<std::pair<double, uint64_t>>& pts, double t) {
  auto it = std::upper_bound(pts.begin(), pts.end(), t,
                             [](double x, const std::pair<double, uint64_t>& p) { return x < p.first; });
  if (it == pts.begin()) return pts.front().second;
  return std::prev(it)->second;
}

class Chart {
 public:
  // start_unix_ns: 0, or the wall-clock start, which adds a UTC row of ticks
  Chart(std::vector<Proc> procs, int64_t start_unix_ns) : procs_(std::move(procs)), start_ns_(start_unix_ns) {
    double tmax = 0, ymax = 1, top_curve = 0;
    for (auto& p : procs_) {
      if (p.series)
        for (auto& [t, v] : *p.series) tmax = std::max(tmax, t), top_curve = std::max(top_curve, double(v));
      if (p.emfile)
        for (double t : *p.emfile) tmax = std::max(tmax, t);
    }
    ymax = std::max(ymax, top_curve);
    // A process charted only by its EMFILEs needs its limit: they happen there.
    for (auto& p : procs_)
      if (p.rlimit && (!p.series || double(*p.rlimit) <= std::max(top_curve, 1.0) * kLimitHeadroom))
        ymax = std::max(ymax, double(*p.rlimit));
    tstep_ = nice_step(tmax > 0 ? tmax : 1, 8, false);
    tmax_ = std::ceil((tmax > 0 ? tmax : 1) / tstep_) * tstep_;
    ystep_ = std::max(1.0, nice_step(ymax, 5, true));
    ymax_ = std::ceil(ymax * 1.04 / ystep_) * ystep_;
  }

  double x(double t) const { return kPlotLeft + t / tmax_ * (kPlotRight - kPlotLeft); }
  double y(double v) const { return kPlotTop + kPlotHeight - v / ymax_ * kPlotHeight; }
  bool limit_visible(uint64_t l) const { return double(l) <= ymax_; }

  std::string render(const std::string& label) const {
    double legend_h = kPlotTop + kLegendRow * double(procs_.size()) + 8;
    double height = std::max(kPlotTop + kPlotHeight + (start_ns_ ? 72 : 56), legend_h);
    std::string s;
    s += "<svg id=\"timeline\" xmlns=\"http://www.w3.org/2000/svg\" role=\"img\" viewBox=\"0 0 " + num(kWidth) +
         " " + num(height) + "\" width=\"" + num(kWidth) + "\" height=\"" + num(height) + "\" aria-label=\"" +
         html_escape(label) + "\">\n<title>" + html_escape(label) + "</title>\n";
    axes(s);
    s += "<g class=\"plot\">\n";
    // Equal limits overlap: the biggest process's line is drawn last, on top.
    for (auto it = procs_.rbegin(); it != procs_.rend(); ++it) limit_line(s, *it);
    for (auto& p : procs_) series(s, p);
    for (auto& p : procs_) markers(s, p);
    s += "</g>\n";
    legend(s);
    if (procs_.empty())
      s += "<text x=\"" + num((kPlotLeft + kPlotRight) / 2) + "\" y=\"" + num(kPlotTop + kPlotHeight / 2) +
           "\" text-anchor=\"middle\" class=\"empty\">no samples</text>\n";
    s += "</svg>\n";
    return s;
  }

 private:
  void axes(std::string& s) const {
    double bottom = kPlotTop + kPlotHeight;
    s += "<g class=\"axes\" font-size=\"12\" fill=\"#333\">\n";
    for (double v = 0; v <= ymax_ + ystep_ / 2; v += ystep_) {
      std::string yy = num(y(v));
      s += "<line class=\"grid\" x1=\"" + num(kPlotLeft) + "\" x2=\"" + num(kPlotRight) + "\" y1=\"" + yy +
           "\" y2=\"" + yy + "\" stroke=\"#e4e4e4\"/>\n";
      s += "<text class=\"ytick\" x=\"" + num(kPlotLeft - 6) + "\" y=\"" + num(y(v) + 4) +
           "\" text-anchor=\"end\">" + tick_label(v, ystep_) + "</text>\n";
    }
    for (double t = 0; t <= tmax_ + tstep_ / 2; t += tstep_) {
      std::string xx = num(x(t));
      s += "<line x1=\"" + xx + "\" x2=\"" + xx + "\" y1=\"" + num(bottom) + "\" y2=\"" + num(bottom + 5) +
           "\" stroke=\"#333\"/>\n";
      s += "<text class=\"xtick\" x=\"" + xx + "\" y=\"" + num(bottom + 18) + "\" text-anchor=\"middle\">" +
           tick_label(t, tstep_) + "</text>\n";
      if (start_ns_)
        s += "<text class=\"xclock\" x=\"" + xx + "\" y=\"" + num(bottom + 32) +
             "\" text-anchor=\"middle\" fill=\"#777\">" +
             utc_time_of_day(start_ns_ + static_cast<int64_t>(t * 1e9)) + "</text>\n";
    }
    s += "<line class=\"axis\" x1=\"" + num(kPlotLeft) + "\" x2=\"" + num(kPlotRight) + "\" y1=\"" + num(bottom) +
         "\" y2=\"" + num(bottom) + "\" stroke=\"#333\"/>\n";
    s += "<line class=\"axis\" x1=\"" + num(kPlotLeft) + "\" x2=\"" + num(kPlotLeft) + "\" y1=\"" + num(kPlotTop) +
         "\" y2=\"" + num(bottom) + "\" stroke=\"#333\"/>\n";
    s += "<text x=\"" + num((kPlotLeft + kPlotRight) / 2) + "\" y=\"" + num(bottom + (start_ns_ ? 56 : 40)) +
         "\" text-anchor=\"middle\">" +
         (start_ns_ ? "seconds since start (above) and UTC time of day (below)" : "seconds since start") +
         "</text>\n";
    s += "<text x=\"16\" y=\"" + num(kPlotTop + kPlotHeight / 2) + "\" text-anchor=\"middle\" transform=\"rotate(-90 16 " +
         num(kPlotTop + kPlotHeight / 2) + ")\">open fds</text>\n";
    s += "</g>\n";
  }

  void limit_line(std::string& s, const Proc& p) const {
    if (!p.rlimit || !limit_visible(*p.rlimit)) return;
    std::string yy = num(y(double(*p.rlimit)));
    s += "<line class=\"rlimit\" data-pid=\"" + std::to_string(p.pid) + "\" x1=\"" + num(kPlotLeft) + "\" x2=\"" +
         num(kPlotRight) + "\" y1=\"" + yy + "\" y2=\"" + yy + "\" stroke=\"" + p.color +
         "\" stroke-width=\"1.5\" stroke-dasharray=\"6 4\"><title>pid " + std::to_string(p.pid) +
         " soft RLIMIT_NOFILE " + std::to_string(*p.rlimit) + "</title></line>\n";
  }

  void series(std::string& s, const Proc& p) const {
    if (!p.series || p.series->empty()) return;
    auto pts = decimate(*p.series, 0, tmax_, kPlotRight - kPlotLeft);
    s += "<polyline class=\"series\" data-pid=\"" + std::to_string(p.pid) + "\" fill=\"none\" stroke=\"" + p.color +
         "\" stroke-width=\"2\" stroke-linejoin=\"round\" points=\"";
    for (size_t i = 0; i < pts.size(); ++i) {
      if (i) s += ' ';
      s += num(x(pts[i].first)) + "," + num(y(double(pts[i].second)));
    }
    s += "\"/>\n";
  }

  void markers(std::string& s, const Proc& p) const {
    if (!p.emfile) return;
    // One marker per pixel: thousands of EMFILEs in a burst are one dot.
    std::set<std::pair<long, long>> seen;
    for (double t : *p.emfile) {
      double v = p.series && !p.series->empty() ? double(value_at(*p.series, t))
                 : p.rlimit                     ? double(*p.rlimit)
                                                : ymax_;
      double cx = x(t), cy = y(std::min(v, ymax_));
      if (!seen.insert({std::lround(cx), std::lround(cy)}).second) continue;
      s += "<circle class=\"emfile\" data-pid=\"" + std::to_string(p.pid) + "\" cx=\"" + num(cx) + "\" cy=\"" +
           num(cy) + "\" r=\"4.5\" fill=\"" + kEmfileColor + "\" stroke=\"#fff\" stroke-width=\"1\"><title>pid " +
           std::to_string(p.pid) + ": EMFILE at " + fmt("%.3f", t) + " s</title></circle>\n";
    }
  }

  void legend(std::string& s) const {
    s += "<g class=\"legend\" font-size=\"12\">\n";
    double row = kPlotTop;
    for (auto& p : procs_) {
      std::string y0 = num(row + 6), y1 = num(row + 22);
      s += "<line x1=\"" + num(kLegendX) + "\" x2=\"" + num(kLegendX + 24) + "\" y1=\"" + y0 + "\" y2=\"" + y0 +
           "\" stroke=\"" + p.color + "\" stroke-width=\"3\"/>\n";
      s += "<text x=\"" + num(kLegendX + 30) + "\" y=\"" + num(row + 10) + "\">" + std::to_string(p.pid) + " " +
           html_escape(p.comm.size() > 24 ? p.comm.substr(0, 24) + "..." : p.comm) + "</text>\n";
      std::string lim = "limit unknown";
      if (p.rlimit) lim = "limit " + std::to_string(*p.rlimit) + (limit_visible(*p.rlimit) ? "" : " (above chart)");
      s += "<line x1=\"" + num(kLegendX) + "\" x2=\"" + num(kLegendX + 24) + "\" y1=\"" + y1 + "\" y2=\"" + y1 +
           "\" stroke=\"" + p.color + "\" stroke-width=\"1.5\" stroke-dasharray=\"6 4\"/>\n";
      s += "<text x=\"" + num(kLegendX + 30) + "\" y=\"" + num(row + 26) + "\" fill=\"#555\">" + lim + "</text>\n";
      row += kLegendRow;
    }
    if (!procs_.empty()) {
      s += "<circle cx=\"" + num(kLegendX + 12) + "\" cy=\"" + num(row + 6) + "\" r=\"4.5\" fill=\"" + kEmfileColor +
           "\"/>\n<text x=\"" + num(kLegendX + 30) + "\" y=\"" + num(row + 10) + "\">EMFILE</text>\n";
    }
    s += "</g>\n";
  }

  std::vector<Proc> procs_;
  int64_t start_ns_ = 0;
  double tmax_ = 1, tstep_ = 1, ymax_ = 1, ystep_ = 1;
};

const char* kStyle = R"(
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 24px; color: #222; }
h1 { font-size: 1.4em; margin: 0 0 4px 0; }
h2 { font-size: 1.1em; margin: 28px 0 8px 0; }
.meta { color: #555; margin-bottom: 16px; }
.warn { background: #fff3cd; border: 1px solid #e0c36a; padding: 6px 10px; margin: 8px 0; }
table { border-collapse: collapse; font-size: 0.92em; }
th, td { border: 1px solid #ddd; padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: #f4f4f4; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
td.t { font-family: ui-monospace, Menlo, Consolas, monospace; word-break: break-all; }
.swatch { display: inline-block; width: 10px; height: 10px; margin-right: 6px; }
.note { color: #555; font-size: 0.9em; }
)";

std::string cell(const std::string& text, const char* cls = nullptr) {
  return std::string("<td") + (cls ? std::string(" class=\"") + cls + "\"" : "") + ">" + text + "</td>";
}

std::string errors_text(const ProcView& p) {
  if (p.failed.empty()) return "0";
  std::string s = std::to_string(p.failed_total()) + " (";
  bool first = true;
  for (auto& [name, n] : p.failed) {
    if (!first) s += ", ";
    first = false;
    s += html_escape(name) + " " + std::to_string(n);
  }
  return s + ")";
}

}  // namespace

std::string html_escape(std::string_view s) {
  static constexpr const char* kReplacement = "\xef\xbf\xbd";
  std::string out;
  out.reserve(s.size() + s.size() / 8);
  for (size_t i = 0; i < s.size();) {
    const Utf8Char u = decode_utf8(s, i);
    const uint32_t cp = u.cp;
    const size_t len = u.len;
    switch (len ? cp : 0xFFFD) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      case '\t':
      case '\n': out += static_cast<char>(cp); break;
      default:
        // Not allowed in XML: other controls, noncharacters, stray bytes.
        if (len == 0 || (cp < 0x20 || cp == 0x7f || cp == 0xFFFE || cp == 0xFFFF)) out += kReplacement;
        else out.append(s, i, len);
    }
    i += std::max<size_t>(len, 1);  // a stray byte: resynchronize on the next
  }
  return out;
}

std::string render_html(const HtmlInput& in) {
  std::map<uint32_t, const ProcView*> views;
  for (auto& p : in.final.processes) views[p.pid] = &p;
  auto comm_of = [&](uint32_t pid) -> std::string {
    if (auto it = in.comm.find(pid); it != in.comm.end() && !it->second.empty()) return it->second;
    if (auto it = views.find(pid); it != views.end()) return it->second->comm;
    return "";
  };

  // Everyone with samples or EMFILEs is charted; the biggest first.
  std::set<uint32_t> pids;
  for (auto& [pid, pts] : in.open_fds_series)
    if (!pts.empty()) pids.insert(pid);
  for (auto& [pid, ts] : in.emfile_times)
    if (!ts.empty()) pids.insert(pid);
  std::vector<Proc> procs;
  for (uint32_t pid : pids) {
    Proc p;
    p.pid = pid;
    p.comm = comm_of(pid);
    if (auto it = in.open_fds_series.find(pid); it != in.open_fds_series.end() && !it->second.empty()) {
      p.series = &it->second;
      for (auto& pt : it->second) p.peak = std::max(p.peak, pt.second);
    }
    if (auto it = in.emfile_times.find(pid); it != in.emfile_times.end() && !it->second.empty())
      p.emfile = &it->second;
    if (auto it = views.find(pid); it != views.end()) p.rlimit = it->second->rlimit_nofile;
    procs.push_back(std::move(p));
  }
  std::stable_sort(procs.begin(), procs.end(), [](const Proc& a, const Proc& b) { return a.peak > b.peak; });
  std::vector<Proc> left_out;
  if (procs.size() > kChartMaxProcs) {
    left_out.assign(procs.begin() + kChartMaxProcs, procs.end());
    procs.resize(kChartMaxProcs);
  }
  std::map<uint32_t, const char*> color;
  for (size_t i = 0; i < procs.size(); ++i)
    color[procs[i].pid] = procs[i].color = kPalette[i % std::size(kPalette)];

  const std::string title = in.title.empty() ? "fdwatch report" : in.title;
  const Snapshot& f = in.final;
  std::string h;
  h += "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\"/>\n";
  h += "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"/>\n";
  h += "<title>" + html_escape(title) + "</title>\n<style>" + kStyle + "</style>\n</head>\n<body>\n";
  h += "<h1>" + html_escape(title) + "</h1>\n";
  std::string where;
  if (!in.host.empty()) where += "host " + html_escape(in.host) + " &#183; ";
  if (!in.kernel.empty()) where += "kernel " + html_escape(in.kernel) + " &#183; ";
  if (in.start_unix_ns) where += "started " + utc_datetime(in.start_unix_ns) + " &#183; ";
  h += "<div class=\"meta\">" + where + "window " + duration(f.elapsed_s) + " &#183; " + std::to_string(f.events) +
       " events &#183; " + std::to_string(f.processes.size()) + " processes &#183; lost events " +
       std::to_string(f.lost_events) + "</div>\n";
  if (f.lost_events > 0)
    h += "<div class=\"warn\">" + std::to_string(f.lost_events) +
         " events were lost; processes marked inexact were re-read from /proc.</div>\n";

  h += "<h2>Open fds over time</h2>\n";
  Chart chart(procs, in.start_unix_ns);
  h += chart.render("Open file descriptors per process over time, with soft limits and EMFILE failures");
  if (!left_out.empty()) {
    h += "<p class=\"note\">Not drawn (fewer fds):";
    for (auto& p : left_out) h += " " + std::to_string(p.pid) + (p.comm.empty() ? "" : " " + html_escape(p.comm)) + ";";
    h += "</p>\n";
  }

  h += "<h2>Processes</h2>\n<table id=\"summary\">\n<thead><tr><th>pid</th><th>comm</th><th>state</th>"
       "<th>open fds</th><th>limit</th><th>opened</th><th>closed</th><th>errors</th><th>leak rate</th>"
       "<th>time to limit</th></tr></thead>\n<tbody>\n";
  for (const ProcView& p : f.processes) {
    std::string swatch;
    if (auto it = color.find(p.pid); it != color.end())
      swatch = std::string("<span class=\"swatch\" style=\"background:") + it->second + "\"></span>";
    std::string state = p.exited ? "exited" : "running";
    if (p.exited && p.exit_code) state += " (" + std::to_string(*p.exit_code) + ")";
    if (p.inexact) state += ", inexact";
    std::string open = p.exited ? std::to_string(p.open_at_exit) + " at exit" : std::to_string(p.open_fds);
    h += "<tr data-pid=\"" + std::to_string(p.pid) + "\">" + cell(swatch + std::to_string(p.pid), "n") +
         cell(html_escape(comm_of(p.pid))) + cell(state) + cell(open, "n") +
         cell(p.rlimit_nofile ? std::to_string(*p.rlimit_nofile) : "?", "n") + cell(std::to_string(p.opened), "n") +
         cell(std::to_string(p.closed), "n") + cell(errors_text(p)) + cell(p.leak_rate_per_s ? fmt("%.2f/s", *p.leak_rate_per_s) : "?", "n") +
         cell(p.time_to_limit_s ? duration(*p.time_to_limit_s) : "&#8212;", "n") + "</tr>\n";
  }
  h += "</tbody>\n</table>\n";

  h += "<h2>Suspects</h2>\n<p class=\"note\">Still-open fds grouped by creating call site and target, "
       "most first (for exited processes: what was open at exit).</p>\n";
  h += "<table id=\"suspects\">\n<thead><tr><th>pid</th><th>comm</th><th>kind</th><th>site</th><th>target</th>"
       "<th>count</th><th>oldest age</th></tr></thead>\n<tbody>\n";
  size_t rows = 0;
  for (const ProcView& p : f.processes) {
    for (const Suspect& s : p.suspects) {
      h += "<tr data-pid=\"" + std::to_string(p.pid) + "\">" + cell(std::to_string(p.pid), "n") +
           cell(html_escape(comm_of(p.pid))) + cell(std::string(kind_name(s.kind))) +
           cell(suspect_site_text(s).empty() ? "<i>unknown</i>" : html_escape(suspect_site_text(s)), "t") +
           cell(html_escape(s.target) + (s.unattributed ? " <i>" + html_escape(suspect_unattributed_text(s)) + "</i>" : ""),
                "t") +
           cell(std::to_string(s.count), "n") + cell(duration(s.oldest_age_s), "n") + "</tr>\n";
      ++rows;
    }
  }
  if (rows == 0) h += "<tr><td colspan=\"7\">no suspects</td></tr>\n";
  h += "</tbody>\n</table>\n";
  h += "<p class=\"note\">Generated by fdwatch. Self-contained: no scripts, no network.</p>\n</body>\n</html>\n";
  return h;
}

std::string utc_datetime(int64_t unix_ns) {
  time_t secs = static_cast<time_t>(unix_ns / 1'000'000'000);
  tm t{};
  gmtime_r(&secs, &t);
  char b[40];
  strftime(b, sizeof b, "%Y-%m-%d %H:%M:%S UTC", &t);
  return b;
}

std::string utc_time_of_day(int64_t unix_ns) {
  time_t secs = static_cast<time_t>(unix_ns / 1'000'000'000);
  tm t{};
  gmtime_r(&secs, &t);
  char b[16];
  strftime(b, sizeof b, "%H:%M:%S", &t);
  return b;
}

}  // namespace fdw
