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

// A shared, immutable string that reads like a std::string ("" when unset).
class Text {
 public:
  Text() = default;
  explicit Text(std::shared_ptr<const std::string> s) : s_(std::move(s)) {}

  const std::string& str() const { return s_ ? *s_ : none(); }
  operator const std::string&() const { return str(); }  // NOLINT: reads as the string

  friend bool operator==(const Text& a, const Text& b) { return a.s_ == b.s_ || a.str() == b.str(); }
  friend bool operator==(const Text& a, const std::string& b) { return a.str() == b; }

 private:
  static const std::string& none() {
    static const std::string e;
    return e;
  }
  std::shared_ptr<const std::string> s_;
};

// A shared, immutable call stack (frames innermost first) that reads like a
// std::vector<std::string> (empty when unknown); copies share the frames.
class Frames {
 public:
  Frames() = default;
  explicit Frames(std::shared_ptr<const std::vector<std::string>> f) : f_(std::move(f)) {}
  Frames(std::vector<std::string> f)  // NOLINT: a stack literal reads as one
      : f_(f.empty() ? nullptr : std::make_shared<const std::vector<std::string>>(std::move(f))) {}
  Frames(std::initializer_list<std::string> f) : Frames(std::vector<std::string>(f)) {}

  const std::vector<std::string>& get() const { return f_ ? *f_ : none(); }
  operator const std::vector<std::string>&() const { return get(); }  // NOLINT: reads as the frames
  bool empty() const { return get().empty(); }
  size_t size() const { return get().size(); }
  const std::string& operator[](size_t i) const { return get()[i]; }
  auto begin() const { return get().begin(); }
  auto end() const { return get().end(); }
  friend bool operator==(const Frames& a, const Frames& b) { return a.f_ == b.f_ || a.get() == b.get(); }

 private:
  static const std::vector<std::string>& none() {
    static const std::vector<std::string> e;
    return e;
  }
  std::shared_ptr<const std::vector<std::string>> f_;
};

// One copy of each distinct value held by someone; sweep() frees the values
// only the pool still holds.
template <class T, class Hash = std::hash<T>>
class InternPool {
 public:
  std::shared_ptr<const T> get(const T& v) {
    if (auto it = set_.find(v); it != set_.end()) return *it;
    return *set_.insert(std::make_shared<const T>(v)).first;
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

struct StackHash {
  size_t operator()(const std::vector<std::string>& v) const {
    size_t h = v.size();
    for (const std::string& s : v) h = h * 1000003u ^ std::hash<std::string>{}(s);
    return h;
  }
};

// Call stacks interned as Frames.
class StackPool {
 public:
  Frames get(const std::vector<std::string>& f) { return f.empty() ? Frames() : Frames(pool_.get(f)); }
  void sweep() { pool_.sweep(); }
  size_t size() const { return pool_.size(); }

 private:
  InternPool<std::vector<std::string>, StackHash> pool_;
};

// Strings interned as Text.
class TextPool {
 public:
  Text get(const std::string& s) { return s.empty() ? Text() : Text(pool_.get(s)); }
  void sweep() { pool_.sweep(); }
  size_t size() const { return pool_.size(); }

 private:
  InternPool<std::string> pool_;
};

}  // namespace fdw
