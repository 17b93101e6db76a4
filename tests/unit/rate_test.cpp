#include <gtest/gtest.h>

#include "core/rate.h"

using fdw::SlopeEstimator;

TEST(Slope, ExactLinearGrowth) {
  SlopeEstimator s;
  for (int i = 0; i <= 100; ++i) s.add(uint64_t(i) * 100'000'000ull, 10 + 4.0 * i);  // 40/s
  EXPECT_NEAR(s.slope_per_s(), 40.0, 1e-9);
}

TEST(Slope, FewerThanTwoSamplesIsZero) {
  SlopeEstimator s;
  EXPECT_EQ(s.slope_per_s(), 0.0);
  s.add(5, 3);
  EXPECT_EQ(s.slope_per_s(), 0.0);
}

TEST(Slope, RobustToOutliersAndOneBurst) {
  SlopeEstimator s;
  // flat at 50 for 60 s, one spike to 900 at 30 s
  for (int i = 0; i <= 600; ++i) s.add(uint64_t(i) * 100'000'000ull, i == 300 ? 900 : 50);
  EXPECT_NEAR(s.slope_per_s(), 0.0, 1e-9);
  // a one-off burst at the very start (pool filling) is not a steady leak
  SlopeEstimator b;
  b.add(0, 0);
  for (int i = 1; i <= 600; ++i) b.add(uint64_t(i) * 100'000'000ull, 200);
  EXPECT_NEAR(b.slope_per_s(), 0.0, 1e-9);
}

TEST(Slope, BoundedMemoryOverLongRuns) {
  SlopeEstimator s(96, 100'000'000ull);
  for (int i = 0; i <= 100000; ++i) s.add(uint64_t(i) * 100'000'000ull, 2.0 * i / 10);  // 2/s
  EXPECT_LE(s.size(), 97u);
  EXPECT_NEAR(s.slope_per_s(), 2.0, 1e-6);
}

TEST(Slope, SamplesWithinABucketKeepTheLatest) {
  SlopeEstimator s(96, 1'000'000'000ull);
  s.add(0, 0);
  s.add(1'000'000'000ull, 10);
  s.add(1'500'000'000ull, 15);  // same bucket as t=1s: replaces it
  EXPECT_EQ(s.size(), 2u);
  EXPECT_NEAR(s.slope_per_s(), 10.0, 1e-9);
}
