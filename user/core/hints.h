// Hints that name the fix for a known leak pattern: one small table keyed by
// the frames of a leaking suspect's stack.  Each rule is backed by an
// end-to-end test on a real program (tests/e2e/sites_e2e_test.cpp); a stack
// no rule knows gets no hint, which is better than a wrong one.  Pure.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/event.h"

namespace fdw {

struct HintRule {
  std::string_view runtime;                // the row of stacks/runtimes.h it belongs to
  std::vector<Kind> kinds;                 // the suspect's kind is one of these
  std::vector<std::string_view> frames;    // some frame's function is one of these, or ...
  std::string_view hint;
  // ... these functions are, innermost first, among the frames inside the
  // site, and the site is a Python frame (a *.py file): the C path of one
  // builtin that the program's own Python code called.
  std::vector<std::string_view> python_call = {};
};

const std::vector<HintRule>& hint_rules();

// The function part of a frame text ("dial (demo.c:275)" -> "dial").
std::string_view frame_function(std::string_view text);

// The hint of the first rule matching kind and stack (frame texts,
// innermost first) with its site, or "".
std::string suspect_hint(Kind kind, const std::vector<std::string>& stack, std::string_view site = {});

}  // namespace fdw
