// The HTML report in a real browser: headless Chromium must build the DOM we
// meant (chart elements survive parsing) and paint it (the screenshot shows
// the series colour and the red EMFILE markers).  Chromium is a Debian package
// (`apt-get install -y chromium`); without it the test skips locally and fails
// under CI=true.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "common/temp_dir.h"
#include "common/require_root.h"
#include "views/html_report.h"

namespace fdw {
namespace {

namespace fs = std::filesystem;
using fdw::test::TempDir;

std::string find_browser() {
  if (const char* env = std::getenv("FDWATCH_CHROMIUM"); env && *env) return env;
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path ? path : "/usr/bin:/bin");
  std::string dir;
  while (std::getline(dirs, dir, ':'))
    for (const char* name : {"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"})
      if (access((dir + "/" + name).c_str(), X_OK) == 0) return dir + "/" + name;
  return "";
}

#define REQUIRE_BROWSER(var)                                                              \
  std::string var = find_browser();                                                       \
  do {                                                                                    \
    if (var.empty()) {                                                                    \
      if (::fdw::test::in_ci()) FAIL() << "chromium not installed (apt-get install -y chromium), and CI=true"; \
      GTEST_SKIP() << "chromium not installed (apt-get install -y chromium)";             \
    }                                                                                     \
  } while (0)


// Runs the browser on `url` with `extra` flags; returns stdout.  A fresh
// profile and no background traffic: the page must render with no network.
std::string run_browser(const std::string& browser, const TempDir& dir, const std::string& extra,
                        const std::string& url, int* status) {
  std::string profile = dir.file("profile-" + std::to_string(rand()));
  fs::create_directories(profile);
  std::string cmd = "timeout 120 '" + browser +
                    "' --headless --no-sandbox --disable-gpu --disable-background-networking "
                    "--disable-component-update --disable-sync --no-first-run --hide-scrollbars "
                    "--user-data-dir='" + profile + "' " + extra + " '" + url + "' 2>'" + dir.file("browser.err") + "'";
  std::string out;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return out;
  char buf[65536];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  *status = pclose(p);
  return out;
}

size_t count(const std::string& hay, const std::string& needle) {
  size_t n = 0;
  for (size_t i = hay.find(needle); i != std::string::npos; i = hay.find(needle, i + 1)) ++n;
  return n;
}

HtmlInput demo_input() {
  HtmlInput in;
  in.title = "browser check <script>alert(1)</script>";
  ProcView a;
  a.pid = 4242;
  a.comm = "facade";
  a.open_fds = 1017;
  a.rlimit_nofile = 1024;
  a.failed = {{"EMFILE", 12}};
  Suspect su;
  su.kind = Kind::Socket;
  su.site = "main.callBackend";
  su.target = "tcp ->127.0.0.1:8081";
  su.count = 1003;
  su.oldest_age_s = 20.1;
  a.suspects = {su};
  ProcView b;
  b.pid = 4300;
  b.comm = "backend";
  b.open_fds = 40;
  b.rlimit_nofile = 1024;
  in.final.processes = {a, b};
  for (int i = 0; i <= 200; ++i) {
    double t = i * 0.1;
    uint64_t v = std::min<uint64_t>(1024, 10 + i * 6);
    in.open_fds_series[4242].push_back({t, v});
    in.open_fds_series[4300].push_back({t, 30 + i % 7});
    if (v == 1024 && i % 4 == 0) in.emfile_times[4242].push_back(t);
  }
  return in;
}

// ---- minimal PNG decoding (8-bit RGB/RGBA, non-interlaced) ---------------------------

struct Image {
  uint32_t width = 0, height = 0;
  std::vector<uint8_t> rgb;  // width*height*3
  std::string error;
};

uint32_t be32(const uint8_t* p) { return uint32_t(p[0]) << 24 | p[1] << 16 | p[2] << 8 | p[3]; }

Image decode_png(const std::string& data) {
  Image img;
  auto d = reinterpret_cast<const uint8_t*>(data.data());
  if (data.size() < 33 || memcmp(d, "\x89PNG\r\n\x1a\n", 8) != 0) return img.error = "not a PNG", img;
  std::string idat;
  int bpp = 0;
  for (size_t off = 8; off + 12 <= data.size();) {
    uint32_t len = be32(d + off);
    std::string type(data, off + 4, 4);
    if (off + 12 + len > data.size()) return img.error = "truncated chunk", img;
    const uint8_t* body = d + off + 8;
    if (type == "IHDR") {
      img.width = be32(body);
      img.height = be32(body + 4);
      if (body[8] != 8 || (body[9] != 2 && body[9] != 6) || body[12] != 0)
        return img.error = "unsupported PNG format", img;
      bpp = body[9] == 6 ? 4 : 3;
    } else if (type == "IDAT") {
      idat.append(reinterpret_cast<const char*>(body), len);
    }
    off += 12 + len;
  }
  if (!bpp) return img.error = "no IHDR", img;
  size_t stride = size_t(img.width) * bpp;
  std::vector<uint8_t> raw((stride + 1) * img.height);
  uLongf raw_len = raw.size();
  if (uncompress(raw.data(), &raw_len, reinterpret_cast<const Bytef*>(idat.data()), idat.size()) != Z_OK ||
      raw_len != raw.size())
    return img.error = "bad IDAT", img;
  std::vector<uint8_t> prev(stride, 0), cur(stride);
  img.rgb.reserve(size_t(img.width) * img.height * 3);
  for (uint32_t y = 0; y < img.height; ++y) {
    const uint8_t* row = raw.data() + y * (stride + 1);
    uint8_t filter = row[0];
    for (size_t x = 0; x < stride; ++x) {
      int a = x >= size_t(bpp) ? cur[x - bpp] : 0, b = prev[x], c = x >= size_t(bpp) ? prev[x - bpp] : 0;
      int v = row[1 + x], pred = 0;
      switch (filter) {
        case 0: pred = 0; break;
        case 1: pred = a; break;
        case 2: pred = b; break;
        case 3: pred = (a + b) / 2; break;
        case 4: {
          int p = a + b - c, pa = abs(p - a), pb = abs(p - b), pc = abs(p - c);
          pred = pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
          break;
        }
        default: return img.error = "bad filter", img;
      }
      cur[x] = uint8_t(v + pred);
    }
    for (size_t x = 0; x < stride; x += bpp) img.rgb.insert(img.rgb.end(), {cur[x], cur[x + 1], cur[x + 2]});
    std::swap(prev, cur);
  }
  return img;
}

size_t pixels_near(const Image& img, uint8_t r, uint8_t g, uint8_t b, int tol) {
  size_t n = 0;
  for (size_t i = 0; i + 2 < img.rgb.size(); i += 3)
    if (abs(img.rgb[i] - r) <= tol && abs(img.rgb[i + 1] - g) <= tol && abs(img.rgb[i + 2] - b) <= tol) ++n;
  return n;
}

// ---- tests -----------------------------------------------------------------------------

TEST(HtmlBrowser, DomHasTheChart) {
  REQUIRE_BROWSER(browser);
  TempDir dir;
  std::string page = dir.file("report.html");
  HtmlInput in = demo_input();
  std::ofstream(page) << render_html(in);
  int status = -1;
  std::string dom = run_browser(browser, dir, "--dump-dom", "file://" + page, &status);
  ASSERT_EQ(status, 0) << "browser failed; see " << dir.file("browser.err");
  EXPECT_EQ(count(dom, "<svg id=\"timeline\""), 1u) << dom.substr(0, 2000);
  EXPECT_EQ(count(dom, "<polyline class=\"series\""), 2u);
  EXPECT_EQ(count(dom, "class=\"rlimit\""), 2u);
  EXPECT_EQ(count(dom, "class=\"emfile\""), in.emfile_times[4242].size());
  EXPECT_EQ(count(dom, "<table id=\"suspects\""), 1u);
  EXPECT_EQ(count(dom, "<script"), 0u);  // the title's <script> stayed text
  EXPECT_NE(dom.find("browser check &lt;script&gt;alert(1)&lt;/script&gt;"), std::string::npos);
}

TEST(HtmlBrowser, ScreenshotShowsSeriesAndEmfileMarkers) {
  REQUIRE_BROWSER(browser);
  TempDir dir;
  std::string page = dir.file("report.html"), shot = dir.file("shot.png");
  std::ofstream(page) << render_html(demo_input());
  int status = -1;
  run_browser(browser, dir, "--window-size=1100,900 --screenshot='" + shot + "'", "file://" + page, &status);
  ASSERT_EQ(status, 0) << "browser failed; see " << dir.file("browser.err");
  std::ifstream f(shot, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  Image img = decode_png(ss.str());
  ASSERT_EQ(img.error, "");
  EXPECT_EQ(img.width, 1100u);
  EXPECT_EQ(img.height, 900u);
  size_t total = size_t(img.width) * img.height;
  EXPECT_GT(pixels_near(img, 255, 255, 255, 4), total / 2);  // mostly white page
  EXPECT_GT(pixels_near(img, 0x1f, 0x77, 0xb4, 40), 500u);   // pid 4242's line (first colour)
  EXPECT_GT(pixels_near(img, 0xe0, 0x00, 0x00, 40), 50u);    // EMFILE markers
  if (const char* keep = std::getenv("FDWATCH_KEEP_SCREENSHOT")) fs::copy_file(shot, keep, fs::copy_options::overwrite_existing);
}

}  // namespace
}  // namespace fdw
