// Interning: equal immutable values share one copy.  The fd table holds one
// target, site and call stack per fd, and thousands of fds of a leak name the
// same ones; each entry keeps a pointer instead of a copy.  Pure, single
// threaded, like the aggregator that owns the pools.
#pragma once

#include <functional>
#include <initializer_list>
#include <memory>
#include <string>
#include <unordered_set>
#include <vector>

namespace fdw {

// A shared, immutable value that reads like a T (an empty T when unset);
// copies share the one value.
template <class T>
class Shared {
 public:
  using value_type = T;

  Shared() = default;
  explicit Shared(std::shared_ptr<const T> v) : v_(std::move(v)) {}

  const T& get() const { return v_ ? *v_ : none(); }
  operator const T&() const { return get(); }  // NOLINT: reads as the value

  friend bool operator==(const Shared& a, const Shared& b) { return a.v_ == b.v_ || a.get() == b.get(); }
  friend bool operator==(const Shared& a, const T& b) { return a.get() == b; }

 private:
  static const T& none() {
    static const T e;
    return e;
  }
  std::shared_ptr<const T> v_;
};

// A target or a site.
class Text : public Shared<std::string> {
 public:
  using Shared::Shared;
  const std::string& str() const { return get(); }
};

// A call stack, frames innermost first, that reads like the vector.
class Frames : public Shared<std::vector<std::string>> {
 public:
  using Shared::Shared;
  Frames(std::vector<std::string> f)  // NOLINT: a stack literal reads as one
      : Shared(f.empty() ? nullptr : std::make_shared<const std::vector<std::string>>(std::move(f))) {}
  Frames(std::initializer_list<std::string> f) : Frames(std::vector<std::string>(f)) {}

  bool empty() const { return get().empty(); }
  size_t size() const { return get().size(); }
  const std::string& operator[](size_t i) const { return get()[i]; }
  auto begin() const { return get().begin(); }
  auto end() const { return get().end(); }
};

struct StackHash {
  size_t operator()(const std::vector<std::string>& v) const {
    size_t h = v.size();
    for (const std::string& s : v) h = h * 1000003u ^ std::hash<std::string>{}(s);
    return h;
  }
};

// One copy of each distinct non-empty value held by someone, handed out as
// Handle (Text, Frames); sweep() frees the values only the pool still holds.
template <class Handle, class Hash = std::hash<typename Handle::value_type>>
class InternPool {
  using T = typename Handle::value_type;

 public:
  Handle get(const T& v) {
    if (v.empty()) return Handle();
    if (auto it = set_.find(v); it != set_.end()) return Handle(*it);
    return Handle(*set_.insert(std::make_shared<const T>(v)).first);
  }
  void sweep() { std::erase_if(set_, [](const std::shared_ptr<const T>& p) { return p.use_count() == 1; }); }
  size_t size() const { return set_.size(); }

 private:
  struct DerefHash {
    using is_transparent = void;
    size_t operator()(const T& v) const { return Hash{}(v); }
    size_t operator()(const std::shared_ptr<const T>& p) const { return Hash{}(*p); }
  };
  struct DerefEq {
    using is_transparent = void;
    static const T& ref(const T& v) { return v; }
    static const T& ref(const std::shared_ptr<const T>& p) { return *p; }
    template <class A, class B>
    bool operator()(const A& a, const B& b) const { return ref(a) == ref(b); }
  };
  std::unordered_set<std::shared_ptr<const T>, DerefHash, DerefEq> set_;
};

using TextPool = InternPool<Text>;
using StackPool = InternPool<Frames, StackHash>;

}  // namespace fdw
