// CPython frames (user/stacks/python.h, the PYSTACK/PYCODE decoders and the
// Python rows of the runtime and hint tables): location tables of real code
// objects, the splice of Python frames into C frames, the interpreter's ELF
// symbols, and site and hint choice on Python stacks.  Pure, except for
// reading /usr/bin/python3.11 when it is there.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <tuple>

#include "core/hints.h"
#include "fdwatch_abi.h"
#include "probe/decoder.h"
#include "stacks/python.h"
#include "stacks/runtimes.h"
#include "stacks/sites.h"

using namespace fdw;

namespace {

Frame cframe(std::string fn, std::string module = "python3.11") {
  Frame f;
  f.function = std::move(fn);
  f.module = std::move(module);
  return f;
}

PyFrame pyframe(std::string fn, std::string file, int line, bool entry = false) {
  PyFrame p;
  p.frame.function = std::move(fn);
  p.frame.file = std::move(file);
  p.frame.line = line;
  p.frame.module = std::string(kPythonModule);
  p.entry = entry;
  return p;
}

}  // namespace

// co_linetable and co_lines() of this function as Debian's python3.11
// compiles it (def on line 2; entry codes 0, 1, 2, 11 and 14, negative line
// deltas included):
//
//   def loop(d):
//       total = 0
//       for i in range(3):
//           total += (i *
//                     2)
//   (three empty lines)
//           total -= 1
//       return total
TEST(PythonLines, EveryInstructionOfARealCodeObject) {
  const std::string table(
      "\x80\x00\xd8\x0c\x0d\x80\x45\xdd\x0d\x12\x90\x31\x89\x58\x8c\x58\xf0\x00\x06\x05\x13\xf0\x00\x06\x05\x13"
      "\x88\x01\xd8\x08\x0d\x90\x21\xd8\x12\x13\xf1\x03\x01\x13\x14\xf1\x00\x01\x09\x15\x88\x05\xf0\x0a\x00\x09"
      "\x0e\x90\x11\x89\x0a\x88\x05\x88\x05\xd8\x0b\x10\x80\x4c",
      66);
  const int first = 2;
  const std::vector<std::tuple<int, int, int>> ranges = {
      {0, 2, 2},    {2, 4, 3},    {4, 6, 3},    {6, 18, 4},   {18, 20, 4},  {20, 24, 4},
      {24, 34, 4},  {34, 36, 4},  {36, 38, 4},  {38, 40, 4},  {40, 42, 5},  {42, 44, 5},
      {44, 46, 6},  {46, 50, 5},  {50, 54, 5},  {54, 56, 5},  {56, 58, 10}, {58, 60, 10},
      {60, 64, 10}, {64, 66, 10}, {66, 68, 10}, {68, 70, 11}, {70, 72, 11}};
  for (auto [start, end, line] : ranges)
    for (int byte = start; byte < end; byte += 2)
      EXPECT_EQ(python_line(table, first, byte / 2), line) << "code unit " << byte / 2;
  EXPECT_EQ(python_line(table, first, -1), first);   // before the first instruction
  EXPECT_EQ(python_line(table, first, 36), 0);  // past the table (cut by the kernel's copy): not known
  // Cut inside its long-form entry of code unit 17: that entry is not trusted.
  EXPECT_EQ(python_line(table.substr(0, 20), first, 16, true), 4);
  EXPECT_EQ(python_line(table.substr(0, 20), first, 17, true), 0);
  EXPECT_EQ(python_line(table.substr(0, 21), first, 17, false), 4);
  EXPECT_EQ(python_line("", 7, 3), 0);
}

// A table the traced process forged: line deltas of 2^29 - 1 (the largest a
// varint holds) from the largest first line, and deltas below line 1.  Found
// by tests/fuzz/python_fuzz: the sum overflowed an int.
TEST(PythonLines, ForgedTablesGiveUnknownLines) {
  std::string up;
  for (int i = 0; i < 8; ++i) up += std::string("\xe8\x7e\x7f\x7f\x7f\x3f", 6);  // code 13, one unit, +2^29-1
  EXPECT_EQ(python_line(up, INT32_MAX, 7), 0);
  EXPECT_EQ(python_line(up, 1, 2), 3 * ((1 << 29) - 1) + 1);
  const std::string down("\xe8\x03", 2);  // code 13, one unit, -1
  EXPECT_EQ(python_line(down, 1, 0), 0);
  EXPECT_EQ(python_line(down, 2, 0), 1);
  EXPECT_EQ(python_line("", -5, -1), 0);
}

TEST(PythonLines, NoLocationAndLongForm) {
  // 0xf8: code 15 (no location), one unit; 0xf1 0x14 ...: code 14 over two
  // units, line +10, then columns; 0xe8 0x07: code 13 (no columns), line -3.
  const std::string t("\xf8\xf1\x14\x00\x01\x02\xe8\x07", 8);
  EXPECT_EQ(python_line(t, 100, 0), -1);
  EXPECT_EQ(python_line(t, 100, 1), 110);
  EXPECT_EQ(python_line(t, 100, 2), 110);
  EXPECT_EQ(python_line(t, 100, 3), 107);
}

TEST(PythonFrames, SplicedIntoTheEvalCallsThatRanThem) {
  // C: open <- builtin <- eval (runs b, a; a entered from C) <- call <- eval (runs main) <- main
  std::vector<Frame> c = {cframe("__open64", "libc.so.6"), cframe("_io_open"),
                          cframe("_PyEval_EvalFrameDefault"), cframe("PyObject_Call"),
                          cframe("_PyEval_EvalFrameDefault"), cframe("Py_BytesMain")};
  std::vector<PyFrame> py = {pyframe("b", "/app/x.py", 3), pyframe("a", "/app/x.py", 9, true),
                             pyframe("<module>", "/app/x.py", 20, true)};
  auto m = stack_texts(merge_python(c, py, "_PyEval_EvalFrameDefault"));
  EXPECT_EQ(m, (std::vector<std::string>{"__open64", "_io_open", "b (x.py:3)", "a (x.py:9)",
                                         "_PyEval_EvalFrameDefault", "PyObject_Call", "<module> (x.py:20)",
                                         "_PyEval_EvalFrameDefault", "Py_BytesMain"}));
  // The C unwind stopped early: the Python frames left over go last.
  auto cut = stack_texts(merge_python({c[0], c[1]}, py, "_PyEval_EvalFrameDefault"));
  EXPECT_EQ(cut, (std::vector<std::string>{"__open64", "_io_open", "b (x.py:3)", "a (x.py:9)", "<module> (x.py:20)"}));
}

TEST(PythonFrames, SiteIsTheProgramsPythonFrameNotTheStandardLibrarys) {
  std::vector<Frame> c = {cframe("__open64", "libc.so.6"), cframe("_PyEval_EvalFrameDefault"),
                          cframe("Py_BytesMain")};
  std::vector<PyFrame> py = {pyframe("open", "<frozen codecs>", 900),
                             pyframe("FileHandler._open", "/usr/lib/python3.11/logging/__init__.py", 1200),
                             pyframe("Store.load", "/usr/lib/python3/dist-packages/store/db.py", 40),
                             pyframe("rotate_log", "/srv/app/app.py", 88, true)};
  auto all = merge_python(c, py, "_PyEval_EvalFrameDefault");
  EXPECT_EQ(stack_site(all), "Store.load (db.py:40)");  // third-party code is the program's
  py.erase(py.begin() + 2);
  EXPECT_EQ(stack_site(merge_python(c, py, "_PyEval_EvalFrameDefault")), "rotate_log (app.py:88)");
  // A Python frame whose code object was not described is never the site.
  PyFrame lost;
  lost.frame.function = "<python frame>";
  EXPECT_EQ(frame_role(lost.frame, runtimes_on(all)), FrameRole::Runtime);
}

TEST(PythonHints, OpenOutsideWithIsKeyedByTheBuiltinsPathUnderAPythonSite) {
  // Debian's python3.11: _io_open itself has no symbol, the calls it makes do.
  const std::vector<std::string> open_call = {
      "__open (open64.c:41)", "python3.11+0x5acfe0", "_PyObject_MakeTpCall", "_PyObject_CallFunction_SizeT",
      "python3.11+0x5ac4ee", "PyObject_Vectorcall", "rotate_log (app.py:15)", "main (app.py:29)",
      "_PyEval_EvalFrameDefault"};
  EXPECT_NE(suspect_hint(Kind::File, open_call, "rotate_log (app.py:15)").find("`with open(...) as f:`"),
            std::string::npos);
  // The site is not the Python frame that called open() (a library's code
  // did, e.g. logging's FileHandler): no hint.
  EXPECT_EQ(suspect_hint(Kind::File, open_call, "main (app.py:29)"), "");
  // os.open: no type call on the way.
  EXPECT_EQ(suspect_hint(Kind::File, {"__open (open64.c:41)", "python3.11+0x5a0000", "PyObject_Vectorcall",
                                      "rotate_log (app.py:15)"},
                         "rotate_log (app.py:15)"),
            "");
  EXPECT_EQ(suspect_hint(Kind::Socket, open_call, "rotate_log (app.py:15)"), "");
}

TEST(PythonRecords, PystackAndPycodeDecode) {
  fdw_pystack s{};
  s.tgid = 7;
  s.tid = 8;
  s.type = FDW_EV_PYSTACK;
  s.key = 1234;
  s.nframes = 2;
  s.flags = FDW_F_TRUNC;
  s.frames[0] = {0x7f0000001000, 21, FDW_PYF_ENTRY};
  s.frames[1] = {0x7f0000002000, -1, 0};
  s.size = offsetof(fdw_pystack, frames) + 2 * sizeof(fdw_pyframe);
  auto p = decode_pystack(&s, s.size);
  ASSERT_TRUE(p) << p.error().message;
  EXPECT_EQ(p->pid, 7u);
  EXPECT_EQ(p->key, 1234);
  EXPECT_TRUE(p->truncated);
  EXPECT_FALSE(p->no_thread);
  ASSERT_EQ(p->frames.size(), 2u);
  EXPECT_EQ(p->frames[0].lasti, 21);
  EXPECT_EQ(p->frames[1].code, 0x7f0000002000u);
  s.nframes = 40;  // more than it can hold
  EXPECT_FALSE(decode_pystack(&s, s.size));
  EXPECT_FALSE(decode_pystack(&s, 10));

  fdw_pycode c{};
  c.tgid = 7;
  c.type = FDW_EV_PYCODE;
  c.size = sizeof c;
  c.code = 0x7f0000001000;
  c.firstlineno = 12;
  std::memcpy(c.name, "Store.load", 10);
  c.name_len = 10;
  c.name_kind = 1;
  const char16_t file[] = u"/srv/\u00e9t\u00e9.py";  // UCS-2 as CPython stores it
  std::memcpy(c.file, file, sizeof file - 2);
  c.file_len = sizeof file - 2;
  c.file_kind = 2;
  c.table[0] = 0x80;
  c.table_len = 2;
  auto code = decode_pycode(&c, sizeof c);
  ASSERT_TRUE(code) << code.error().message;
  EXPECT_EQ(code->function, "Store.load");
  EXPECT_EQ(code->file, "/srv/\xc3\xa9t\xc3\xa9.py");
  EXPECT_EQ(code->firstlineno, 12);
  EXPECT_EQ(code->linetable, std::string("\x80\x00", 2));
  EXPECT_FALSE(decode_pycode(&c, sizeof c - 1));
  EXPECT_EQ(python_str("caf\xe9", 4, 1), "caf\xc3\xa9");  // Latin-1
}

TEST(PythonElf, DebiansInterpreterNamesItsRuntimeAndVersion) {
  const std::string py = "/usr/bin/python3.11";
  if (access(py.c_str(), R_OK) != 0) GTEST_SKIP() << "no " << py;
  auto e = read_python_elf(py);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->major, 3);
  EXPECT_EQ(e->minor, 11);
  EXPECT_TRUE(e->executable);
  EXPECT_NE(e->runtime, 0u);
  EXPECT_NE(e->text_vaddr, 0u);
  EXPECT_FALSE(read_python_elf("/bin/true"));  // no _PyRuntime
  PythonFrames pf;
  auto bin = pf.interpreter(py);
  ASSERT_TRUE(bin);
  EXPECT_EQ(bin->second.runtime, e->runtime - e->text_vaddr);
  EXPECT_EQ(bin->second.tstate_native_tid, python_layout(3, 11)->kernel.tstate_native_tid);
  EXPECT_FALSE(pf.interpreter(py));  // once per file
  // As a process maps it (non-PIE: at its own addresses), nothing for the
  // kernel per process (py_bins knows it), but the pid's frames are readable.
  EXPECT_FALSE(pf.on_mapping(42, py, e->loads[0].vaddr & ~0xfffull, e->loads[0].offset & ~0xfffull));
  EXPECT_EQ(pf.eval_function(42), "_PyEval_EvalFrameDefault");
  EXPECT_TRUE(pf.take_notes().empty());
  EXPECT_TRUE(pf.forget(42));
  EXPECT_EQ(pf.eval_function(42), "");
}

TEST(PythonElf, AddressesFollowTheMapping) {
  PyElf e;
  e.loads = {{0, 0, 0x1000}, {0x1000, 0x1000, 0x5000}, {0x7000, 0x6000, 0x100}};
  // A library mapped at 0x7f0000000000 from offset 0, and from its text
  // segment's offset (a run that starts there).
  EXPECT_EQ(e.address(0x7010, 0x7f0000000000, 0), 0x7f0000007010u);
  EXPECT_EQ(e.address(0x7010, 0x7f0000001000, 0x1000), 0x7f0000007010u);
  EXPECT_EQ(e.address(0x7010, 0x7f0000000000, 0x9000), 0u);  // offset in no segment
}
