#include "core/rate.h"

#include <algorithm>

namespace fdw {

SlopeEstimator::SlopeEstimator(size_t capacity, uint64_t bucket_ns)
    : cap_(std::max<size_t>(capacity, 4)), bucket_ns_(bucket_ns) {}

void SlopeEstimator::add(uint64_t t_ns, double value) {
  dirty_ = true;
  // Within the newest bucket, the bucket holds its latest sample.  The first
  // sample is never overwritten so the series keeps its true start.
  if (t_.size() >= 2 && t_ns < bucket_start_ + bucket_ns_) {
    t_.back() = t_ns;
    v_.back() = value;
    return;
  }
  t_.push_back(t_ns);
  v_.push_back(value);
  bucket_start_ = t_ns;
  if (t_.size() > cap_) {
    // keep the first, every other one after it, and always the newest
    size_t w = 1;
    for (size_t r = 2; r + 1 < t_.size(); r += 2, ++w) {
      t_[w] = t_[r];
      v_[w] = v_[r];
    }
    t_[w] = t_.back();
    v_[w] = v_.back();
    t_.resize(w + 1);
    v_.resize(w + 1);
    bucket_ns_ *= 2;
  }
}

std::optional<double> SlopeEstimator::rate_per_s(uint64_t min_span_ns, size_t min_samples) const {
  if (t_.size() < min_samples || span_ns() < min_span_ns) return std::nullopt;
  return slope_per_s();
}

double SlopeEstimator::slope_per_s() const {
  if (!dirty_) return cached_;
  dirty_ = false;
  cached_ = 0;
  std::vector<double> slopes;
  slopes.reserve(t_.size() * (t_.size() - (t_.empty() ? 0 : 1)) / 2);
  for (size_t i = 0; i < t_.size(); ++i)
    for (size_t j = i + 1; j < t_.size(); ++j) {
      if (t_[j] <= t_[i]) continue;
      slopes.push_back((v_[j] - v_[i]) / (double(t_[j] - t_[i]) / 1e9));
    }
  if (slopes.empty()) return cached_;
  size_t mid = slopes.size() / 2;
  std::nth_element(slopes.begin(), slopes.begin() + mid, slopes.end());
  double m = slopes[mid];
  if (slopes.size() % 2 == 0) {
    double lo = *std::max_element(slopes.begin(), slopes.begin() + mid);
    m = (m + lo) / 2;
  }
  cached_ = m;
  return cached_;
}

}  // namespace fdw
