// libFuzzer entry: CPython records shaped like the kernel's (struct
// fdw_pycode, then struct fdw_pystack naming it) built from the input, through
// decode_pycode/decode_pystack, PythonFrames (the line-table decoder and
// frame naming of user/stacks/python.cpp) and merge_python.  A traced Python
// program chooses every byte of them: its function and file names, its line
// table, the instruction offsets.  Besides "no crash, no leak, no undefined
// behaviour": every frame's text escapes to valid text.
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "fdwatch_abi.h"
#include "probe/decoder.h"
#include "stacks/python.h"
#include "util/escape.h"

namespace {

constexpr size_t kBody = sizeof(fdw_pycode) - offsetof(fdw_pycode, code);

void check_text(const std::string& s) {
  const std::string t = fdw::escape_text(s);
  for (unsigned char c : t)
    if (c < 0x20 || c == 0x7f) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // The PYCODE record: the header as the kernel writes it, the body (code
  // address, first line, lengths, kinds, name, file, table) from the input.
  fdw_pycode code{};
  code.tgid = 7;
  code.type = FDW_EV_PYCODE;
  code.size = sizeof code;
  const size_t body = size < kBody ? size : kBody;
  std::memcpy(reinterpret_cast<char*>(&code) + offsetof(fdw_pycode, code), data, body);
  data += body, size -= body;

  // The PYSTACK record: its frames from the rest; a frame whose code is 0
  // names the code object above (as a real stack mostly does).
  fdw_pystack st{};
  st.tgid = 7;
  st.tid = 7;
  st.type = FDW_EV_PYSTACK;
  const size_t n = std::min<size_t>(size / sizeof(fdw_pyframe), FDW_PY_FRAMES_MAX);
  st.nframes = static_cast<uint32_t>(n);
  std::memcpy(st.frames, data, n * sizeof(fdw_pyframe));
  for (size_t i = 0; i < n; ++i)
    if (st.frames[i].code == 0) st.frames[i].code = code.code;
  st.size = static_cast<uint16_t>(offsetof(fdw_pystack, frames) + n * sizeof(fdw_pyframe));

  auto c = fdw::decode_pycode(&code, sizeof code);
  auto s = fdw::decode_pystack(&st, st.size);
  if (!c || !s) __builtin_trap();  // well-formed records must decode
  fdw::PythonFrames py;
  py.on_code(*c);
  std::vector<fdw::PyFrame> frames = py.resolve(s->pid, s->frames.data(), s->frames.size());
  for (const fdw::PyFrame& f : frames) {
    if (f.frame.line < -1) __builtin_trap();
    check_text(f.frame.text());
  }
  std::vector<fdw::Frame> native(3);
  native[1].function = "_PyEval_EvalFrameDefault";
  const auto merged = fdw::merge_python(native, frames, "_PyEval_EvalFrameDefault");
  if (merged.size() != native.size() + frames.size()) __builtin_trap();
  for (int lasti : {-1, 0, 1, 7, 1000, INT32_MAX}) (void)fdw::python_line(c->linetable, c->firstlineno, lasti, true);
  return 0;
}
