// The exporter's view: a Snapshot as Prometheus metric families
// (docs/exporter.md lists every metric).  Pure: the HTTP side serializes
// what this returns; unit tests assert on it directly.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include <prometheus/metric_family.h>

#include "core/snapshot.h"

namespace fdw {

struct MetricsOptions {
  // Processes with their own series; the rest are summed per container
  // under comm="other" (pid="" cgroup="").  Half the slots go to the fastest
  // growing processes, the rest to those with the most open fds.
  size_t max_processes = 200;
  std::string version;  // fdwatch_build_info{version}
  std::string kernel;   // fdwatch_build_info{kernel}
};

// The processes that get their own series, in pid order; one that has no
// fds and created, closed or failed none never does.
std::vector<const ProcView*> metrics_selected(const Snapshot& s, size_t max_processes);

std::vector<prometheus::MetricFamily> metric_families(const Snapshot& s, const MetricsOptions& o);

}  // namespace fdw
