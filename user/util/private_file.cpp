#include "util/private_file.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <utility>

namespace fdw {

namespace {

std::string dir_of(const std::string& path) {
  auto slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

std::string base_of(const std::string& path) {
  auto slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

}  // namespace

std::string replace_refusal(const std::string& path) {
  struct stat st {};
  if (lstat(path.c_str(), &st) != 0) return "";  // absent (or unreadable: creating will say)
  if (S_ISLNK(st.st_mode)) return "is a symbolic link; refusing to follow it";
  if (S_ISDIR(st.st_mode)) return "is a directory";
  if (!S_ISREG(st.st_mode)) return "not a regular file; refusing to replace it";
  struct stat dir {};
  const uid_t me = geteuid();
  if (stat(dir_of(path).c_str(), &dir) == 0 && (dir.st_mode & S_ISVTX) && st.st_uid != me &&
      dir.st_uid != me)
    return "belongs to uid " + std::to_string(st.st_uid) +
           " in a shared directory; refusing to replace it";
  return "";
}

Result<StagedFile> StagedFile::create(const std::string& path) {
  if (std::string why = replace_refusal(path); !why.empty())
    return Error{"open " + path + ": " + why, "", EEXIST, 1};
  std::string tmpl = dir_of(path) + "/." + base_of(path) + ".XXXXXX";
  int fd = mkostemp(tmpl.data(), O_CLOEXEC);  // O_EXCL, mode 0600
  if (fd < 0) return Error::from_errno("open " + path, errno);
  StagedFile f;
  f.fd_ = fd;
  f.path_ = path;
  f.temp_ = std::move(tmpl);
  return f;
}

StagedFile::StagedFile(StagedFile&& o) noexcept
    : fd_(std::exchange(o.fd_, -1)),
      path_(std::move(o.path_)),
      temp_(std::exchange(o.temp_, {})),
      published_(o.published_) {}

StagedFile& StagedFile::operator=(StagedFile&& o) noexcept {
  if (this != &o) {
    reset();
    fd_ = std::exchange(o.fd_, -1);
    path_ = std::move(o.path_);
    temp_ = std::exchange(o.temp_, {});
    published_ = o.published_;
  }
  return *this;
}

StagedFile::~StagedFile() { reset(); }

void StagedFile::reset() {
  (void)close_fd();
  if (!published_ && !temp_.empty()) unlink(temp_.c_str());
  temp_.clear();
}

int StagedFile::close_fd() {
  int e = 0;
  if (fd_ >= 0 && ::close(fd_) != 0 && errno != EINTR) e = errno;
  fd_ = -1;
  return e;
}

Result<void> StagedFile::publish() {
  if (published_) return {};
  if (std::string why = replace_refusal(path_); !why.empty())
    return Error{"open " + path_ + ": " + why, "", EEXIST, 1};
  // rename(2) replaces whatever is at path_ and never follows a link there
  if (rename(temp_.c_str(), path_.c_str()) != 0) return Error::from_errno("rename to " + path_, errno);
  published_ = true;
  return {};
}

Result<void> write_private_file(const std::string& path, const std::string& data) {
  auto f = StagedFile::create(path);
  if (!f) return f.error();
  const char* p = data.data();
  size_t n = data.size();
  while (n > 0) {
    ssize_t w = ::write(f->fd(), p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) return Error::from_errno("write " + path, errno);
    p += w;
    n -= size_t(w);
  }
  if (int e = f->close_fd()) return Error::from_errno("write " + path, e);
  return f->publish();
}

}  // namespace fdw
