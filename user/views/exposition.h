// How the exporter's metric families go over HTTP: which format a client's
// Accept header asks for, and the OpenMetrics 1.0 text of the families
// (prometheus-cpp writes only Prometheus text format 0.0.4).  Pure.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <prometheus/metric_family.h>

namespace fdw {

enum class Exposition {
  Text,          // Prometheus text format 0.0.4 (text/plain, text/*, */*, or no header)
  OpenMetrics,   // application/openmetrics-text, when preferred at least as much as text
  NotAcceptable  // neither
};

Exposition choose_exposition(std::string_view accept);

constexpr const char* kOpenMetricsType = "application/openmetrics-text; version=1.0.0; charset=utf-8";

// The families in OpenMetrics text: counters typed by their name without
// `_total`, untyped ones as `unknown`, ending in "# EOF".
std::string openmetrics_text(const std::vector<prometheus::MetricFamily>& families);

}  // namespace fdw
