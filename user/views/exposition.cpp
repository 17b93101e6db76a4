#include "views/exposition.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace fdw {

namespace {

std::string_view trim(std::string_view v) {
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
  return v;
}

// The q of a media range ("type/sub;version=1;q=0.5"): 1 unless given.
double quality(std::string_view range) {
  double q = 1;
  for (size_t at = range.find(';'); at != std::string_view::npos; at = range.find(';', at + 1)) {
    std::string_view param = trim(range.substr(at + 1, range.find(';', at + 1) - at - 1));
    if (param.substr(0, 2) == "q=") q = std::strtod(std::string(param.substr(2)).c_str(), nullptr);
  }
  return q;
}

void escaped(std::string& out, std::string_view s, bool quote) {
  for (char c : s) {
    if (c == '\\') out += "\\\\";
    else if (c == '\n') out += "\\n";
    else if (c == '"' && quote) out += "\\\"";
    else out += c;
  }
}

void number(std::string& out, double v) {
  char buf[32];
  if (std::isnan(v)) out += "NaN";
  else if (std::isinf(v)) out += v > 0 ? "+Inf" : "-Inf";
  else out.append(buf, size_t(snprintf(buf, sizeof buf, "%.17g", v)));
}

using Labels = std::vector<prometheus::ClientMetric::Label>;

// name{labels[,extra="value"]} v
void sample(std::string& out, std::string_view name, const Labels& labels, double v,
            std::string_view extra = {}, double extra_value = 0) {
  out += name;
  if (!labels.empty() || !extra.empty()) {
    out += '{';
    bool first = true;
    for (auto& l : labels) {
      if (!first) out += ',';
      first = false;
      out += l.name;
      out += "=\"";
      escaped(out, l.value, true);
      out += '"';
    }
    if (!extra.empty()) {
      if (!first) out += ',';
      out += extra;
      out += "=\"";
      number(out, extra_value);
      out += '"';
    }
    out += '}';
  }
  out += ' ';
  number(out, v);
  out += '\n';
}

void family(std::string& out, const prometheus::MetricFamily& f) {
  using prometheus::MetricType;
  std::string name = f.name;
  const bool counter = f.type == MetricType::Counter;
  if (counter && name.size() > 6 && name.compare(name.size() - 6, 6, "_total") == 0) name.resize(name.size() - 6);
  const char* type = counter                              ? "counter"
                     : f.type == MetricType::Gauge        ? "gauge"
                     : f.type == MetricType::Summary      ? "summary"
                     : f.type == MetricType::Histogram    ? "histogram"
                                                          : "unknown";
  out += "# TYPE " + name + " " + type + "\n";
  if (!f.help.empty()) {
    out += "# HELP " + name + " ";
    escaped(out, f.help, true);
    out += '\n';
  }
  for (const auto& m : f.metric) {
    switch (f.type) {
      case MetricType::Counter: sample(out, name + "_total", m.label, m.counter.value); break;
      case MetricType::Gauge: sample(out, name, m.label, m.gauge.value); break;
      case MetricType::Summary:
        for (auto& q : m.summary.quantile) sample(out, name, m.label, q.value, "quantile", q.quantile);
        sample(out, name + "_sum", m.label, m.summary.sample_sum);
        sample(out, name + "_count", m.label, double(m.summary.sample_count));
        break;
      case MetricType::Histogram:
        for (auto& b : m.histogram.bucket)
          sample(out, name + "_bucket", m.label, double(b.cumulative_count), "le", b.upper_bound);
        sample(out, name + "_sum", m.label, m.histogram.sample_sum);
        sample(out, name + "_count", m.label, double(m.histogram.sample_count));
        break;
      default: sample(out, name, m.label, m.untyped.value); break;
    }
  }
}

}  // namespace

Exposition choose_exposition(std::string_view accept) {
  if (trim(accept).empty()) return Exposition::Text;
  double text = 0, om = 0;
  while (!accept.empty()) {
    size_t comma = accept.find(',');
    std::string_view range = accept.substr(0, comma);
    accept = comma == std::string_view::npos ? std::string_view() : accept.substr(comma + 1);
    std::string_view type = trim(range.substr(0, range.find(';')));
    double q = quality(range);
    if (type == "text/plain" || type == "text/*" || type == "*/*") text = std::max(text, q);
    if (type == "application/openmetrics-text") om = std::max(om, q);
  }
  if (om > 0 && om >= text) return Exposition::OpenMetrics;
  return text > 0 ? Exposition::Text : Exposition::NotAcceptable;
}

std::string openmetrics_text(const std::vector<prometheus::MetricFamily>& families) {
  std::string out;
  for (const auto& f : families) family(out, f);
  out += "# EOF\n";
  return out;
}

}  // namespace fdw
