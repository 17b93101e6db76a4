#include "stacks/sites.h"

#include <algorithm>

#include "stacks/runtimes.h"

namespace fdw {

namespace {

// GCC's clone suffixes ("open_config.constprop.0", "f(int) [clone .isra.0]")
// name an optimisation, not a function the user wrote.
std::string plain_function(std::string f) {
  if (auto c = f.find(" [clone "); c != std::string::npos) f.erase(c);
  size_t cut = std::string::npos;
  for (const char* sfx : {".constprop.", ".isra.", ".part.", ".cold", ".lto_priv.", ".localalias"})
    if (auto p = f.find(sfx); p != std::string::npos && p > 0) cut = std::min(cut, p);
  if (cut != std::string::npos) f.erase(cut);
  return f;
}

std::string frame_text(const Frame& f) {
  Frame s = f;
  s.function = plain_function(std::move(s.function));
  if (auto slash = s.file.rfind('/'); slash != std::string::npos) s.file.erase(0, slash + 1);
  return s.text();
}

}  // namespace

std::vector<std::string> stack_texts(const std::vector<Frame>& frames) {
  std::vector<std::string> out;
  out.reserve(frames.size());
  for (const Frame& f : frames) out.push_back(frame_text(f));
  return out;
}

std::string stack_site(const std::vector<Frame>& frames) {
  const auto on = runtimes_on(frames);
  for (const Frame& f : frames)
    if (frame_role(f, on) != FrameRole::Runtime) return frame_text(f);
  for (const Frame& f : frames)
    if (!f.function.empty()) return frame_text(f);
  return "";
}

}  // namespace fdw
