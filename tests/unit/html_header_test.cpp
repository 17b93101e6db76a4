// The HTML page says where and when the log was taken, and its time axis
// reads in wall-clock time too.
#include <gtest/gtest.h>

#include "views/html_report.h"

using namespace fdw;

namespace {

HtmlInput input(int64_t start_unix_ns) {
  HtmlInput in;
  in.host = "web-3";
  in.kernel = "6.1.0-18-amd64";
  in.start_unix_ns = start_unix_ns;
  in.open_fds_series[42] = {{0, 3}, {5, 12}, {10, 20}};
  in.comm[42] = "facade";
  in.final.elapsed_s = 10;
  return in;
}

}  // namespace

TEST(HtmlHeader, HostKernelAndWallClockStart) {
  const int64_t start = 1764621082'250000000;  // 2025-12-01 20:31:22.25 UTC
  std::string h = render_html(input(start));
  EXPECT_NE(h.find("<div class=\"meta\">host web-3 &#183; kernel 6.1.0-18-amd64 &#183; started 2025-12-01 "
                   "20:31:22 UTC &#183; window"),
            std::string::npos)
      << h.substr(0, 2000);
  EXPECT_NE(h.find("text-anchor=\"middle\" fill=\"#777\">20:31:22</text>"), std::string::npos);
  EXPECT_NE(h.find(">20:31:32</text>"), std::string::npos);  // the axis ends at 10 s
  EXPECT_NE(h.find("UTC time of day (below)"), std::string::npos);
}

TEST(HtmlHeader, UnknownStartKeepsTheSecondsAxisOnly) {
  HtmlInput in = input(0);
  in.host.clear();
  std::string h = render_html(in);
  EXPECT_EQ(h.find("class=\"xclock\""), std::string::npos);
  EXPECT_EQ(h.find("started "), std::string::npos);
  EXPECT_NE(h.find("<div class=\"meta\">kernel 6.1.0-18-amd64 &#183; window"), std::string::npos);
  EXPECT_EQ(utc_datetime(0), "1970-01-01 00:00:00 UTC");
  EXPECT_EQ(utc_time_of_day(86399'000000000), "23:59:59");
}
