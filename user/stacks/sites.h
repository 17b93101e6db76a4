// Symbolized frames -> what Event::stack and Event::site hold.
#pragma once

#include <string>
#include <vector>

#include "stacks/symbolizer.h"

namespace fdw {

// Frame texts, innermost first: file paths cut to their basename, GCC clone
// suffixes (".constprop.0", " [clone .isra.0]") removed.
std::vector<std::string> stack_texts(const std::vector<Frame>& frames);

// The site of a stack: the innermost frame of the program's own code or a
// library entry that owns the fd (stacks/runtimes.h); when every frame is a
// runtime's, the innermost frame with a name; "" for no frames.
std::string stack_site(const std::vector<Frame>& frames);

}  // namespace fdw
