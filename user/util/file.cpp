#include "util/file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

namespace fdw {

Result<void> write_private_file(const std::string& path, const std::string& text) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return Error::from_errno("cannot write " + path, errno);
  // an existing file keeps its mode through O_CREAT: make it 0600 too
  int e = fchmod(fd, 0600) == 0 ? 0 : errno;
  for (size_t off = 0; !e && off < text.size();) {
    ssize_t n = ::write(fd, text.data() + off, text.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) e = n < 0 ? errno : EIO;
    else off += size_t(n);
  }
  if (::close(fd) != 0 && !e) e = errno;
  if (e) return Error::from_errno("cannot write " + path, e);
  return {};
}

}  // namespace fdw
