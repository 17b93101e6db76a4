// The CPython offsets table (user/stacks/python.cpp) against CPython's own
// headers, when the python3.X-dev package of a row is installed: an entry
// copied wrong, or a version whose layout moved, fails here.

#include <gtest/gtest.h>

#include <cstddef>

#include "stacks/python.h"

#ifdef FDW_PY311_HEADERS  // tests/CMakeLists.txt: python3.11-dev is installed
extern "C" fdw_py_proc fdw_py311_from_headers(void);

TEST(PythonLayout, Row311MatchesTheHeaders) {
  const fdw::PyLayout* l = fdw::python_layout(3, 11);
  ASSERT_NE(l, nullptr);
  const fdw_py_proc& k = l->kernel;
  const fdw_py_proc h = fdw_py311_from_headers();
  EXPECT_EQ(k.runtime_interp_head, h.runtime_interp_head);
  EXPECT_EQ(k.interp_next, h.interp_next);
  EXPECT_EQ(k.interp_threads_head, h.interp_threads_head);
  EXPECT_EQ(k.tstate_next, h.tstate_next);
  EXPECT_EQ(k.tstate_native_tid, h.tstate_native_tid);
  EXPECT_EQ(k.tstate_cframe, h.tstate_cframe);
  EXPECT_EQ(k.cframe_current_frame, h.cframe_current_frame);
  EXPECT_EQ(k.frame_code, h.frame_code);
  EXPECT_EQ(k.frame_previous, h.frame_previous);
  EXPECT_EQ(k.frame_prev_instr, h.frame_prev_instr);
  EXPECT_EQ(k.frame_is_entry, h.frame_is_entry);
  EXPECT_EQ(k.code_adaptive, h.code_adaptive);
  EXPECT_EQ(k.code_filename, h.code_filename);
  EXPECT_EQ(k.code_qualname, h.code_qualname);
  EXPECT_EQ(k.code_linetable, h.code_linetable);
  EXPECT_EQ(k.code_firstlineno, h.code_firstlineno);
  EXPECT_EQ(k.str_length, h.str_length);
  EXPECT_EQ(k.str_state, h.str_state);
  EXPECT_EQ(k.str_ascii_data, h.str_ascii_data);
  EXPECT_EQ(k.str_compact_data, h.str_compact_data);
  EXPECT_EQ(k.bytes_size, h.bytes_size);
  EXPECT_EQ(k.bytes_data, h.bytes_data);
}
#endif

TEST(PythonLayout, EveryRowIsComplete) {
  for (const fdw::PyLayout& l : fdw::python_layouts()) {
    EXPECT_EQ(l.major, 3);
    EXPECT_GE(l.minor, 11);
    EXPECT_EQ(fdw::python_layout(l.major, l.minor), &l);
    EXPECT_GT(l.kernel.tstate_native_tid, 0);
    EXPECT_GT(l.kernel.code_adaptive, l.kernel.code_linetable);
    EXPECT_FALSE(l.eval_function.empty());
  }
  EXPECT_EQ(fdw::python_layout(3, 10), nullptr);  // 3.10 and older: no co_qualname / frame chain of this shape
}
