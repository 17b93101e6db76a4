// The .deb: built with CPack from this build tree, inspected with dpkg-deb,
// unpacked into a throw-away root whose fdwatch must run (--version, doctor).
// Also `cmake --install --prefix` with DESTDIR.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <sstream>

#include "common/require_root.h"
#include "common/subprocess.h"
#include "common/temp_dir.h"
#include "version.h"

using fdw::test::Subprocess;

namespace {

const std::string kBuild = BUILD_DIR;

struct Ran {
  int rc;
  std::string out, err;
};

Ran run(std::vector<std::string> argv, double timeout = 300) {
  Subprocess p(std::move(argv));
  int rc = p.wait(timeout);
  return {rc, p.out(), p.err()};
}

std::string deb_arch() {
  Ran r = run({"/usr/bin/dpkg", "--print-architecture"});
  return r.out.substr(0, r.out.find('\n'));
}

bool has_line(const std::string& text, const std::string& needle) {
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);)
    if (l.find(needle) != std::string::npos) return true;
  return false;
}

}  // namespace

TEST(PackageE2E, DebInstallsAndRuns) {
  FDW_REQUIRE_ROOT();  // doctor must load the BPF object from the unpacked binary
  fdw::test::TempDir tmp;
  Ran pack = run({"/usr/bin/cpack", "--config", kBuild + "/CPackConfig.cmake", "-B", tmp.path()});
  ASSERT_EQ(pack.rc, 0) << pack.out << pack.err;
  const std::string deb = tmp.file("fdwatch_" FDWATCH_VERSION "_" + deb_arch() + ".deb");
  struct stat st{};
  ASSERT_EQ(stat(deb.c_str(), &st), 0) << pack.out;

  Ran f = run({"/usr/bin/dpkg-deb", "-f", deb, "Package", "Version", "Section", "Depends"});
  ASSERT_EQ(f.rc, 0) << f.err;
  EXPECT_TRUE(has_line(f.out, "Package: fdwatch")) << f.out;
  EXPECT_TRUE(has_line(f.out, "Version: " FDWATCH_VERSION)) << f.out;
  EXPECT_TRUE(has_line(f.out, "Section: admin")) << f.out;
  // computed by dpkg-shlibdeps from the binary's libraries, with versions
  EXPECT_TRUE(has_line(f.out, "libbpf1 (>=")) << f.out;
  EXPECT_TRUE(has_line(f.out, "libc6 (>=")) << f.out;

  Ran c = run({"/usr/bin/dpkg-deb", "-c", deb});
  ASSERT_EQ(c.rc, 0) << c.err;
  for (const char* path : {"./usr/sbin/fdwatch", "./usr/share/man/man8/fdwatch.8.gz",
                           "./usr/share/bash-completion/completions/fdwatch",
                           "./usr/share/doc/fdwatch/README.md", "./usr/share/doc/fdwatch/event-log.md"})
    EXPECT_TRUE(has_line(c.out, std::string(" ") + path + "\n") || has_line(c.out, std::string(" ") + path))
        << path << "\n" << c.out;
  EXPECT_TRUE(has_line(c.out, "-rwxr-xr-x root/root")) << c.out;
  EXPECT_FALSE(has_line(c.out, "fixtures")) << c.out;  // no test programs
  EXPECT_FALSE(has_line(c.out, "fdwatch_demo")) << c.out;

  const std::string root = tmp.file("root");
  Ran x = run({"/usr/bin/dpkg", "-x", deb, root});
  ASSERT_EQ(x.rc, 0) << x.err;
  const std::string bin = root + "/usr/sbin/fdwatch";
  Ran v = run({bin, "--version"});
  EXPECT_EQ(v.rc, 0);
  EXPECT_EQ(v.out, "fdwatch " FDWATCH_VERSION "\n");
  Ran d = run({bin, "doctor"});
  EXPECT_EQ(d.rc, 0) << d.out << d.err;
  EXPECT_TRUE(has_line(d.out, "fdwatch " FDWATCH_VERSION ": tracing works on this host")) << d.out;
  Ran man = run({"/usr/bin/man", "-l", root + "/usr/share/man/man8/fdwatch.8.gz"});
  EXPECT_EQ(man.rc, 0) << man.err;
  EXPECT_TRUE(has_line(man.out, "fdwatch - find file-descriptor leaks")) << man.out.substr(0, 400);
  EXPECT_TRUE(has_line(man.out, "fdwatch.report.v1"));
}

TEST(PackageE2E, CmakeInstallHonoursPrefixAndDestdir) {
  fdw::test::TempDir tmp;
  Ran i = run({"/usr/bin/env", "DESTDIR=" + tmp.file("dest"), "/usr/bin/cmake", "--install", kBuild, "--prefix",
               "/usr/local"});
  ASSERT_EQ(i.rc, 0) << i.out << i.err;
  for (const char* path : {"/usr/local/sbin/fdwatch", "/usr/local/share/man/man8/fdwatch.8.gz",
                           "/usr/local/share/bash-completion/completions/fdwatch",
                           "/usr/local/share/doc/fdwatch/README.md"}) {
    struct stat st{};
    EXPECT_EQ(stat((tmp.file("dest") + path).c_str(), &st), 0) << path;
  }
  Ran v = run({tmp.file("dest") + "/usr/local/sbin/fdwatch", "--version"});
  EXPECT_EQ(v.out, "fdwatch " FDWATCH_VERSION "\n");
}
