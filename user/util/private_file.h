// Every file fdwatch writes (event logs, postmortem bundles, HTML reports)
// goes through here, because they name other users' files and peers and are
// often written to shared directories such as /var/tmp.  The contract:
//   - the data is written to a new file next to the target, created 0600 with
//     O_EXCL (mkostemp), and renamed over the target only when published: a
//     run that fails before publishing never touches what was there;
//   - the target is refused, never opened, when it is a symbolic link (a link
//     planted in a shared directory is not followed), not a regular file
//     (/dev/*, a FIFO), or, in a sticky directory, a file of another user.
#pragma once

#include <string>

#include "util/result.h"

namespace fdw {

// Empty when `path` may be created or replaced, else why not
// ("is a symbolic link; refusing to follow it", ...).
std::string replace_refusal(const std::string& path);

class StagedFile {
 public:
  // Creates the hidden staging file ".<name>.XXXXXX" in path's directory.
  // Errors read "open PATH: <why>".
  static Result<StagedFile> create(const std::string& path);
  StagedFile(StagedFile&& o) noexcept;
  StagedFile& operator=(StagedFile&& o) noexcept;
  StagedFile(const StagedFile&) = delete;
  StagedFile& operator=(const StagedFile&) = delete;
  // Closes the fd; an unpublished staging file is removed.
  ~StagedFile();

  int fd() const { return fd_; }
  const std::string& path() const { return path_; }
  bool published() const { return published_; }
  // Renames the staging file over the target (checked again); idempotent.
  // The fd stays open and keeps writing to the published file.
  Result<void> publish();
  // Closes the fd, keeping the file as it is; 0 or close(2)'s errno.
  int close_fd();

 private:
  StagedFile() = default;
  void reset();
  int fd_ = -1;
  std::string path_, temp_;
  bool published_ = false;
};

// Writes `data` to `path` by the contract above, in one go.
Result<void> write_private_file(const std::string& path, const std::string& data);

}  // namespace fdw
