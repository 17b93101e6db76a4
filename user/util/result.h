// Recoverable errors are values (as bpftrace's Result<T>): a message that reads
// as "<what failed>: <why>", an optional hint line, and the errno if any.
// Only the CLI layer turns an Error into output and an exit status.
#pragma once

#include <cerrno>
#include <cstring>
#include <string>
#include <utility>
#include <variant>

namespace fdw {

struct Error {
  std::string message;  // "<what failed>: <why>", no "fdwatch:" prefix
  std::string hint = {};  // "" or how to fix it
  int err = 0;          // errno, 0 if none
  int exit_code = 1;    // 1 runtime failure, 2 usage

  static Error from_errno(std::string what, int e, std::string hint = {}) {
    return Error{std::move(what) + ": " + std::strerror(e), std::move(hint), e, 1};
  }
};

template <class T>
class [[nodiscard]] Result {
 public:
  Result(T v) : v_(std::move(v)) {}
  Result(Error e) : v_(std::move(e)) {}
  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() { return std::get<0>(v_); }
  const T& value() const { return std::get<0>(v_); }
  T& operator*() { return value(); }
  T* operator->() { return &value(); }
  const Error& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error e) : err_(std::move(e)), ok_(false) {}
  bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  const Error& error() const { return err_; }

 private:
  Error err_;
  bool ok_ = true;
};

}  // namespace fdw
