// util/private_file: what every file fdwatch writes gets — 0600 whatever the
// umask, staged and renamed into place, planted links and special files
// refused, the target untouched until published.
#include "util/private_file.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/require_root.h"
#include "common/temp_dir.h"

namespace fdw {
namespace {

namespace fs = std::filesystem;
using fdw::test::TempDir;

std::string slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

size_t entries(const std::string& dir) {
  size_t n = 0;
  for (auto& e : fs::directory_iterator(dir)) (void)e, ++n;
  return n;
}

mode_t mode_of(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(lstat(path.c_str(), &st), 0) << path;
  return st.st_mode & 07777;
}

TEST(PrivateFile, CreatedOwnerOnlyWhateverTheUmask) {
  TempDir d;
  mode_t old = umask(0);
  auto r = write_private_file(d.file("report.html"), "<html>");
  umask(old);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(slurp(d.file("report.html")), "<html>");
  EXPECT_EQ(mode_of(d.file("report.html")), 0600u);
  EXPECT_EQ(entries(d.path()), 1u);  // no staging file left
}

TEST(PrivateFile, PlantedSymlinkIsRefusedNotFollowed) {
  TempDir d;
  std::ofstream(d.file("victim")) << "victim";
  ASSERT_EQ(symlink(d.file("victim").c_str(), d.file("out.html").c_str()), 0);
  auto r = write_private_file(d.file("out.html"), "attacker-chosen");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message, "open " + d.file("out.html") + ": is a symbolic link; refusing to follow it");
  EXPECT_EQ(slurp(d.file("victim")), "victim");
  EXPECT_TRUE(fs::is_symlink(d.file("out.html")));
  EXPECT_EQ(entries(d.path()), 2u);
  // a dangling link is no better
  ASSERT_EQ(symlink(d.file("nowhere").c_str(), d.file("dangling").c_str()), 0);
  EXPECT_FALSE(write_private_file(d.file("dangling"), "x"));
  EXPECT_FALSE(fs::exists(d.file("nowhere")));
}

TEST(PrivateFile, SpecialFilesAndDirectoriesAreRefused) {
  TempDir d;
  ASSERT_EQ(mkfifo(d.file("fifo").c_str(), 0600), 0);
  auto r = write_private_file(d.file("fifo"), "x");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message, "open " + d.file("fifo") + ": not a regular file; refusing to replace it");
  r = write_private_file(d.path(), "x");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message, "open " + d.path() + ": is a directory");
  r = write_private_file("/dev/null", "x");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message, "open /dev/null: not a regular file; refusing to replace it");
  r = write_private_file(d.file("missing/x"), "x");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message, "open " + d.file("missing/x") + ": No such file or directory");
}

TEST(PrivateFile, ReplacesWholeOnlyWhenPublished) {
  TempDir d;
  std::string path = d.file("log");
  std::ofstream(path) << "old";
  {
    auto f = StagedFile::create(path);
    ASSERT_TRUE(f) << f.error().message;
    ASSERT_EQ(write(f->fd(), "new", 3), 3);
    EXPECT_EQ(slurp(path), "old");
    EXPECT_EQ(entries(d.path()), 2u);  // the hidden staging file
  }  // dropped unpublished
  EXPECT_EQ(slurp(path), "old");
  EXPECT_EQ(entries(d.path()), 1u);
  auto f = StagedFile::create(path);
  ASSERT_TRUE(f);
  ASSERT_TRUE(f->publish());
  ASSERT_EQ(write(f->fd(), "new", 3), 3);  // the fd writes the published file
  EXPECT_EQ(slurp(path), "new");
  EXPECT_EQ(mode_of(path), 0600u);
}

// In a sticky world-writable directory (/tmp, /var/tmp) a file of another
// user is not replaced, even by root.
TEST(PrivateFile, OtherUsersFileInStickyDirectoryIsRefused) {
  FDW_REQUIRE_ROOT();
  TempDir d;
  std::string shared = d.file("shared");
  ASSERT_EQ(mkdir(shared.c_str(), 0777), 0);
  ASSERT_EQ(chmod(shared.c_str(), 01777), 0);
  ASSERT_EQ(chown(shared.c_str(), 65534, 65534), 0);
  std::string theirs = shared + "/fdwatch.jsonl";
  std::ofstream(theirs) << "theirs";
  ASSERT_EQ(chown(theirs.c_str(), 65534, 65534), 0);
  auto r = write_private_file(theirs, "x");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message, "open " + theirs + ": belongs to uid 65534 in a shared directory; refusing to replace it");
  EXPECT_EQ(slurp(theirs), "theirs");
  EXPECT_TRUE(write_private_file(shared + "/mine.jsonl", "mine"));  // a new name is fine
}

}  // namespace
}  // namespace fdw
