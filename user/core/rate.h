// Robust net-growth estimate for a process's open-fd count.
//
// Samples (t, count) are kept in time buckets; when the series is full it is
// decimated (every other sample dropped, bucket doubled), so memory is bounded
// and the window still spans the whole run.  The slope is Theil-Sen (median of
// pairwise slopes): open/close churn gives ~0, a leak gives its true rate, and
// a single burst (a pool filling once) does not read as a steady leak.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

namespace fdw {

class SlopeEstimator {
 public:
  SlopeEstimator() : SlopeEstimator(96, 100'000'000) {}
  SlopeEstimator(size_t capacity, uint64_t bucket_ns);

  // Record the value at time t (monotonic ns, non-decreasing).
  void add(uint64_t t_ns, double value);
  // Units per second; 0 with fewer than two distinct sample times.
  double slope_per_s() const;
  // The slope once the series spans at least `min_span_ns` with at least
  // `min_samples` samples; until then a slope says nothing (a process that
  // lived half a second "grows" by thousands per second), so nullopt.
  std::optional<double> rate_per_s(uint64_t min_span_ns, size_t min_samples) const;
  size_t size() const { return t_.size(); }
  uint64_t span_ns() const { return t_.empty() ? 0 : t_.back() - t_.front(); }
  // The bucket width grows as the series is decimated.
  uint64_t bucket_ns() const { return bucket_ns_; }

 private:
  size_t cap_;
  uint64_t bucket_ns_;
  uint64_t bucket_start_ = 0;
  std::vector<uint64_t> t_;
  std::vector<double> v_;
  mutable bool dirty_ = true;
  mutable double cached_ = 0;
};

}  // namespace fdw
