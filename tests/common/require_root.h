// Privileged tests need root and a working BPF setup.  Locally, without root,
// they skip; under CI (CI=true) a test that cannot run is a failure, because a
// skipped BPF test proves nothing.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>

namespace fdw::test {

inline bool in_ci() {
  const char* ci = std::getenv("CI");
  return ci && (std::strcmp(ci, "true") == 0 || std::strcmp(ci, "1") == 0);
}

}  // namespace fdw::test

#define FDW_REQUIRE_ROOT()                                                 \
  do {                                                                     \
    if (geteuid() != 0) {                                                  \
      if (::fdw::test::in_ci()) FAIL() << "needs root, and CI=true";        \
      GTEST_SKIP() << "needs root (set CI=true to make this a failure)";    \
    }                                                                      \
  } while (0)
