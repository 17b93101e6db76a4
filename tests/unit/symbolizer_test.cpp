// fdw::Symbolizer on real stacks: this test process captures its own
// registers and stack the way the BPF side does (pt_regs + a copy of the
// stack from rsp), and fixture processes are unwound from what
// /proc/PID/syscall and process_vm_readv give about a task blocked in read().
#include "stacks/symbolizer.h"

#include "common/subprocess.h"
#include "common/temp_dir.h"

#include <gelf.h>
#include <gtest/gtest.h>
#include <fcntl.h>
#include <libelf.h>
#include <signal.h>
#include <sys/auxv.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

using fdw::Frame;
using fdw::StackSample;
using fdw::Symbolizer;

#if defined(__clang__)
#define SYMTEST_NOINLINE __attribute__((noinline))
#else
// noclone too: an IPA clone would be named "f [clone .constprop.0]".
#define SYMTEST_NOINLINE __attribute__((noinline, noclone))
#endif

// rip (via lea), rsp and the callee-saved registers, stored in DWARF order
// (UserRegs::r offsets: rbx 3, rbp 6, rsp 7, r12..r15 12..15, rip 16).
#define SYMTEST_CAPTURE(regs)                                                            \
  asm volatile("lea 0(%%rip), %%rax\n\tmov %%rax, 128(%0)\n\t"                           \
               "mov %%rsp, 56(%0)\n\tmov %%rbp, 48(%0)\n\tmov %%rbx, 24(%0)\n\t"         \
               "mov %%r12, 96(%0)\n\tmov %%r13, 104(%0)\n\tmov %%r14, 112(%0)\n\t"       \
               "mov %%r15, 120(%0)\n\t"                                                  \
               :                                                                         \
               : "r"(regs)                                                               \
               : "rax", "memory")

namespace symtest {

constexpr size_t kStackCopy = 16 * 1024;

// Reads like bpf_probe_read_user would, but keeps what precedes a fault:
// split at page boundaries, process_vm_readv returns the readable prefix.
size_t read_memory(pid_t pid, uint64_t addr, uint8_t* buf, size_t len) {
  std::vector<iovec> remote;
  for (uint64_t a = addr, left = len; left > 0;) {
    uint64_t chunk = std::min<uint64_t>(left, 4096 - a % 4096);
    remote.push_back({reinterpret_cast<void*>(a), chunk});
    a += chunk;
    left -= chunk;
  }
  iovec local{buf, len};
  ssize_t n = process_vm_readv(pid, &local, 1, remote.data(), remote.size(), 0);
  return n < 0 ? 0 : static_cast<size_t>(n);
}

// After SYMTEST_CAPTURE: copy the stack from the captured rsp. Calls made
// from here only touch memory below that rsp.
void copy_stack(StackSample* s) {
  s->pid = static_cast<uint32_t>(getpid());
  s->tid = static_cast<uint32_t>(gettid());
  s->stack.resize(kStackCopy);
  s->stack.resize(read_memory(getpid(), s->regs.r[fdw::kRegSp], s->stack.data(), kStackCopy));
}

SYMTEST_NOINLINE int leaf(StackSample* out, int* lines) {
  lines[0] = __LINE__; SYMTEST_CAPTURE(out->regs.r);
  copy_stack(out);
  return static_cast<int>(out->stack.size() & 1);
}

SYMTEST_NOINLINE int middle(StackSample* out, int* lines) {
  lines[1] = __LINE__; int r = leaf(out, lines);
  asm volatile("" ::: "memory");  // no tail call: middle stays on the stack
  return r + 1;
}

SYMTEST_NOINLINE int outer(StackSample* out, int* lines) {
  lines[2] = __LINE__; int r = middle(out, lines);
  asm volatile("" ::: "memory");
  return r + 1;
}

// qsort comparator that captures once: glibc's msort code between it and
// caller_through_libc() has no frame pointers, only .eh_frame.
StackSample* g_cmp_sample = nullptr;
int* g_cmp_lines = nullptr;

SYMTEST_NOINLINE int compare_and_capture(const void* a, const void* b) {
  if (g_cmp_sample != nullptr) {
    g_cmp_lines[0] = __LINE__; SYMTEST_CAPTURE(g_cmp_sample->regs.r);
    copy_stack(g_cmp_sample);
    g_cmp_sample = nullptr;
  }
  int x = *static_cast<const int*>(a), y = *static_cast<const int*>(b);
  return (x > y) - (x < y);
}

SYMTEST_NOINLINE int caller_through_libc(StackSample* out, int* lines) {
  int v[6] = {5, 3, 1, 4, 0, 2};
  g_cmp_sample = out;
  g_cmp_lines = lines;
  lines[1] = __LINE__; qsort(v, 6, sizeof v[0], compare_and_capture);
  asm volatile("" ::: "memory");
  return v[0] + v[5];
}

// Captures inside code the compiler must inline into its caller.
__attribute__((always_inline)) inline int inlined_capture(StackSample* out, int* lines) {
  lines[0] = __LINE__; SYMTEST_CAPTURE(out->regs.r);
  copy_stack(out);
  return static_cast<int>(out->stack.size() & 1);
}

SYMTEST_NOINLINE int calls_inlined(StackSample* out, int* lines) {
  lines[1] = __LINE__; int r = inlined_capture(out, lines);
  asm volatile("" ::: "memory");
  return r + 1;
}

std::string dump(const std::vector<Frame>& frames) {
  std::ostringstream os;
  for (size_t i = 0; i < frames.size(); ++i)
    os << "  #" << i << " " << frames[i].module << " " << frames[i].text()
       << (frames[i].inlined ? " [inlined]" : "") << "\n";
  return os.str();
}

// Value and size of a symbol in an ELF's .symtab, through libelf.
bool elf_symbol(const std::string& path, const std::string& name, uint64_t* value, uint64_t* size) {
  elf_version(EV_CURRENT);
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  Elf* elf = elf_begin(fd, ELF_C_READ, nullptr);
  bool found = false;
  for (Elf_Scn* scn = nullptr; elf && !found && (scn = elf_nextscn(elf, scn)) != nullptr;) {
    GElf_Shdr sh;
    if (gelf_getshdr(scn, &sh) == nullptr || sh.sh_type != SHT_SYMTAB) continue;
    Elf_Data* data = elf_getdata(scn, nullptr);
    for (size_t i = 0; data && i < sh.sh_size / sh.sh_entsize; ++i) {
      GElf_Sym sym;
      if (gelf_getsym(data, static_cast<int>(i), &sym) == nullptr) continue;
      const char* n = elf_strptr(elf, sh.sh_link, sym.st_name);
      if (n != nullptr && name == n) {
        *value = sym.st_value;
        *size = sym.st_size;
        found = true;
        break;
      }
    }
  }
  if (elf) elf_end(elf);
  close(fd);
  return found;
}

// A fixture process with stdin/stdout on pipes; killed and reaped on scope exit.
class Child {
 public:
  explicit Child(const std::string& path) {
    int in[2], out[2];
    if (pipe2(in, O_CLOEXEC) != 0) return;
    if (pipe2(out, O_CLOEXEC) != 0) {
      close(in[0]);
      close(in[1]);
      return;
    }
    pid_ = fork();
    if (pid_ == 0) {
      dup2(in[0], 0);
      dup2(out[1], 1);
      execl(path.c_str(), path.c_str(), static_cast<char*>(nullptr));
      _exit(127);
    }
    close(in[0]);
    close(out[1]);
    in_ = in[1];
    out_ = fdopen(out[0], "r");
  }
  ~Child() { reap(); }
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  pid_t pid() const { return pid_; }
  std::string read_line() {
    char buf[512];
    if (out_ == nullptr || fgets(buf, sizeof buf, out_) == nullptr) return {};
    return buf;
  }
  void reap() {
    if (in_ >= 0) close(in_);
    in_ = -1;
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    pid_ = -1;
    if (out_ != nullptr) fclose(out_);
    out_ = nullptr;
  }

 private:
  pid_t pid_ = -1;
  int in_ = -1;
  FILE* out_ = nullptr;
};

// Waits (bounded) until pid is blocked in syscall nr, then builds the sample
// BPF would take there, with the two registers /proc/PID/syscall shows (sp,
// pc); -O2 code keeps its CFA in rsp, so they suffice for these fixtures.
bool sample_blocked(pid_t pid, int nr, StackSample* s) {
  const std::string path = "/proc/" + std::to_string(pid) + "/syscall";
  for (int i = 0; i < 10000; ++i) {
    std::ifstream f(path);
    std::vector<std::string> tok;
    for (std::string t; f >> t;) tok.push_back(t);
    if (tok.size() == 9 && tok[0] == std::to_string(nr)) {
      *s = StackSample{};
      s->pid = s->tid = static_cast<uint32_t>(pid);
      s->regs.r[fdw::kRegSp] = std::stoull(tok[7], nullptr, 16);
      s->regs.r[fdw::kRegIp] = std::stoull(tok[8], nullptr, 16);
      s->stack.resize(kStackCopy);
      s->stack.resize(read_memory(pid, s->regs.r[fdw::kRegSp], s->stack.data(), kStackCopy));
      return !s->stack.empty();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return false;
}

// Index of the first frame whose function is name, or -1.
int find_function(const std::vector<Frame>& frames, const std::string& name, size_t from = 0) {
  for (size_t i = from; i < frames.size(); ++i)
    if (frames[i].function == name) return static_cast<int>(i);
  return -1;
}

std::string test_body(const char* test) {
  return std::string("SymbolizerTest_") + test + "_Test::TestBody()";
}

}  // namespace symtest

using namespace symtest;

TEST(SymbolizerTest, UnwindsCallChainWithLines) {
  StackSample s;
  int lines[4] = {};
  lines[3] = __LINE__; outer(&s, lines);
  ASSERT_GT(s.stack.size(), 256u);

  Symbolizer sym;
  auto frames = sym.unwind(s);
  ASSERT_GE(frames.size(), 4u) << dump(frames);
  EXPECT_EQ(frames[0].function, "symtest::leaf(fdw::StackSample*, int*)") << dump(frames);
  EXPECT_EQ(frames[1].function, "symtest::middle(fdw::StackSample*, int*)") << dump(frames);
  EXPECT_EQ(frames[2].function, "symtest::outer(fdw::StackSample*, int*)") << dump(frames);
  EXPECT_EQ(frames[3].function, test_body("UnwindsCallChainWithLines")) << dump(frames);
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(frames[i].file, __FILE__) << i;
    EXPECT_EQ(frames[i].line, lines[i]) << i << "\n" << dump(frames);
    EXPECT_FALSE(frames[i].inlined);
    EXPECT_EQ(frames[i].module, std::filesystem::path(program_invocation_name).filename());
  }
  EXPECT_EQ(frames[0].ip, s.regs.r[fdw::kRegIp]);
  EXPECT_EQ(frames[1].text(), "symtest::middle(fdw::StackSample*, int*) (" + std::string(__FILE__) +
                                  ":" + std::to_string(lines[1]) + ")");

  // The chain goes on to gtest and main; the stack copy ends somewhere there.
  EXPECT_NE(find_function(frames, "main"), -1) << dump(frames);

  // max_frames caps the result.
  EXPECT_EQ(sym.unwind(s, 2).size(), 2u);
  EXPECT_TRUE(sym.unwind(s, 0).empty());
}

TEST(SymbolizerTest, UnwindsThroughGlibcWithoutFramePointers) {
  StackSample s;
  int lines[3] = {};
  lines[2] = __LINE__; caller_through_libc(&s, lines);
  ASSERT_GT(s.stack.size(), 256u);

  Symbolizer sym;
  auto frames = sym.unwind(s);
  std::printf("qsort stack:\n%s", dump(frames).c_str());
  ASSERT_GE(frames.size(), 4u) << dump(frames);
  EXPECT_EQ(frames[0].function, "symtest::compare_and_capture(void const*, void const*)");
  EXPECT_EQ(frames[0].line, lines[0]);
  const int k = find_function(frames, "symtest::caller_through_libc(fdw::StackSample*, int*)");
  ASSERT_GE(k, 2) << "no libc frame between comparator and caller:\n" << dump(frames);
  for (int i = 1; i < k; ++i) EXPECT_EQ(frames[i].module, "libc.so.6") << i << "\n" << dump(frames);
  EXPECT_EQ(frames[k].line, lines[1]);
  EXPECT_EQ(frames[k].file, __FILE__);
  ASSERT_GT(frames.size(), static_cast<size_t>(k) + 1);
  EXPECT_EQ(frames[k + 1].function, test_body("UnwindsThroughGlibcWithoutFramePointers"));
  EXPECT_EQ(frames[k + 1].line, lines[2]);
  // The walk ends at crt1's _start, which no CU covers: no line is
  // borrowed from the CU linked before it.
  const int st = find_function(frames, "_start");
  ASSERT_NE(st, -1) << dump(frames);
  EXPECT_EQ(frames[st].file, "");
  EXPECT_EQ(frames[st].line, 0);
}

TEST(SymbolizerTest, ExpandsInlinedFrames) {
  StackSample s;
  int lines[3] = {};
  lines[2] = __LINE__; calls_inlined(&s, lines);

  Symbolizer sym;
  auto frames = sym.unwind(s);
  ASSERT_GE(frames.size(), 3u) << dump(frames);
  // One physical frame, two logical ones with the same ip.
  EXPECT_EQ(frames[0].function, "symtest::inlined_capture(fdw::StackSample*, int*)") << dump(frames);
  EXPECT_TRUE(frames[0].inlined);
  EXPECT_EQ(frames[0].line, lines[0]);
  EXPECT_EQ(frames[1].function, "symtest::calls_inlined(fdw::StackSample*, int*)") << dump(frames);
  EXPECT_FALSE(frames[1].inlined);
  EXPECT_EQ(frames[1].line, lines[1]);
  EXPECT_EQ(frames[1].ip, frames[0].ip);
  EXPECT_EQ(frames[2].function, test_body("ExpandsInlinedFrames"));
  EXPECT_EQ(frames[2].line, lines[2]);
}

TEST(SymbolizerTest, SymbolizesKnownIpsFromCache) {
  StackSample s;
  int lines[4] = {};
  outer(&s, lines);
  Symbolizer sym;
  auto frames = sym.unwind(s);
  ASSERT_GE(frames.size(), 3u);
  std::vector<uint64_t> ips{frames[0].ip, frames[1].ip, frames[2].ip};
  // As a call stack the return addresses are looked up at ip-1: the same
  // lines as the unwinder found.
  auto again = sym.symbolize(s.pid, ips, true);
  ASSERT_EQ(again.size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(again[i].text(), frames[i].text());
    EXPECT_EQ(again[i].module_offset, frames[i].module_offset);
  }
  EXPECT_EQ(sym.symbolize(s.pid, ips, true)[1].text(), frames[1].text());
  // Looked up as exact ips, a return address may belong to the next line,
  // but never to another function.
  auto exact = sym.symbolize(s.pid, ips);
  EXPECT_EQ(exact[1].function, frames[1].function);
  EXPECT_EQ(sym.tracked(), 1u);
  sym.forget(s.pid);
  EXPECT_EQ(sym.tracked(), 0u);
}

TEST(SymbolizerTest, StrippedBinaryGivesModuleOffset) {
  const std::string built = std::string(FIXTURE_DIR) + "/sym_sleeper";
  char tmpl[] = "/tmp/fdw_symtest_XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  const std::string dir = tmpl;
  const std::string stripped = dir + "/sym_stripped";
  std::filesystem::copy_file(built, stripped);
  ASSERT_EQ(std::system(("strip --strip-all " + stripped).c_str()), 0);
  uint64_t fn_value = 0, fn_size = 0, main_value = 0, main_size = 0, dummy = 0;
  ASSERT_TRUE(elf_symbol(built, "sym_wait_here", &fn_value, &fn_size));
  ASSERT_TRUE(elf_symbol(built, "main", &main_value, &main_size));
  ASSERT_FALSE(elf_symbol(stripped, "sym_wait_here", &dummy, &dummy));

  Child child(stripped);
  ASSERT_GT(child.pid(), 0);
  std::istringstream ready(child.read_line());
  std::string word, addr_text;
  ready >> word >> addr_text;
  ASSERT_EQ(word, "ready");
  const uint64_t fn_addr = std::stoull(addr_text, nullptr, 16);

  Symbolizer sym;
  auto f = sym.symbolize(child.pid(), {fn_addr});
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].function, "");
  EXPECT_EQ(f[0].module, "sym_stripped");
  EXPECT_EQ(f[0].module_offset, fn_value);
  char hex[32];
  std::snprintf(hex, sizeof hex, "+0x%llx", static_cast<unsigned long long>(fn_value));
  EXPECT_EQ(f[0].text(), "sym_stripped" + std::string(hex));

  // Unwinding the stripped process works too (.eh_frame survives strip).
  StackSample s;
  ASSERT_TRUE(sample_blocked(child.pid(), 0 /* read */, &s));
  auto frames = sym.unwind(s);
  ASSERT_GE(frames.size(), 3u) << dump(frames);
  EXPECT_EQ(frames[0].module, "libc.so.6") << dump(frames);
  size_t i = 0;
  while (i < frames.size() && frames[i].module == "libc.so.6") ++i;
  ASSERT_LT(i + 1, frames.size()) << dump(frames);
  EXPECT_EQ(frames[i].module, "sym_stripped") << dump(frames);
  EXPECT_EQ(frames[i].function, "");
  EXPECT_GE(frames[i].module_offset, fn_value);
  EXPECT_LT(frames[i].module_offset, fn_value + fn_size);
  EXPECT_EQ(frames[i + 1].module, "sym_stripped");
  EXPECT_GE(frames[i + 1].module_offset, main_value);
  EXPECT_LT(frames[i + 1].module_offset, main_value + main_size);

  // After the process is gone, what was reported while it lived still
  // resolves (fdwatch symbolizes late); an unseen ip needs no /proc.
  child.reap();
  auto late = sym.symbolize(s.pid, {fn_addr + 1});
  ASSERT_EQ(late.size(), 1u);
  EXPECT_EQ(late[0].module, "sym_stripped");
  EXPECT_EQ(late[0].module_offset, fn_value + 1);
  EXPECT_EQ(sym.unwind(s).size(), frames.size());
  // A fresh symbolizer knows nothing about the dead pid.
  Symbolizer fresh;
  EXPECT_TRUE(fresh.unwind(s).empty());
  std::filesystem::remove_all(dir);
}

// Symbols of a stripped binary come from its separate debug file, found by
// its .gnu_debuglink in .debug/ beside it, and only when the debug file's
// build-id is the binary's; a dwz'd debug file brings its common file along.
// Nothing is asked of debuginfod: libdebuginfod (and libcurl with it) is
// never loaded, even with DEBUGINFOD_URLS set.
TEST(SymbolizerTest, DebuglinkFileGivesNamesAndDebuginfodIsNeverLoaded) {
  const std::string built = std::string(FIXTURE_DIR) + "/sym_sleeper";
  fdw::test::TempDir tmp;
  ASSERT_FALSE(tmp.path().empty());
  const std::string dir = tmp.path();
  const std::string linked = dir + "/sym_linked", wrong = dir + "/sym_wrong", alt = dir + "/sym_alt";
  std::filesystem::create_directory(dir + "/.debug");
  auto sh = [](const std::string& cmd) { return std::system(cmd.c_str()); };
  // A stripped copy of sym_sleeper whose .gnu_debuglink names .debug/NAME.debug.
  auto strip_linked = [&](const std::string& bin) {
    const std::string name = bin.substr(bin.rfind('/') + 1) + ".debug";
    return sh("strip --strip-all -o " + bin + " " + built) == 0 &&
           sh("cd " + dir + "/.debug && objcopy --add-gnu-debuglink=" + name + " " + bin) == 0;
  };
  // sym_wait_here of a started copy, symbolized from its "ready" line
  // (nothing when it did not start or say so).
  auto wait_here = [](Symbolizer& sym, Child& c) {
    std::istringstream ready(c.read_line());
    std::string word, addr;
    ready >> word >> addr;
    if (c.pid() <= 0 || word != "ready") return std::vector<Frame>{};
    return sym.symbolize(c.pid(), {std::stoull(addr, nullptr, 16)});
  };
  uint64_t fn_value = 0, fn_size = 0;
  ASSERT_TRUE(elf_symbol(built, "sym_wait_here", &fn_value, &fn_size));
  setenv("DEBUGINFOD_URLS", "http://127.0.0.1:9", 1);  // a closed port, were it asked

  // sym_linked: its debug file in .debug/
  ASSERT_EQ(sh("objcopy --only-keep-debug " + built + " " + dir + "/.debug/sym_linked.debug"), 0);
  ASSERT_TRUE(strip_linked(linked));
  Symbolizer sym;
  Child good(linked);
  auto f = wait_here(sym, good);
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].function, "sym_wait_here") << f[0].text();
  EXPECT_EQ(f[0].module, "sym_linked");

  // sym_wrong: its link names a debug file of another binary (another
  // build-id).  A Symbolizer of its own: files are shared by build-id, and
  // sym_wrong is the same build as sym_linked.
  ASSERT_EQ(sh("objcopy --only-keep-debug " + std::string(FIXTURE_DIR) + "/sym_leaker " + dir +
               "/.debug/sym_wrong.debug"),
            0);
  ASSERT_TRUE(strip_linked(wrong));
  Symbolizer other;
  Child bad(wrong);
  f = wait_here(other, bad);
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].function, "") << f[0].text();
  EXPECT_EQ(f[0].module_offset, fn_value);

  // sym_alt: its debug file went through dwz, which moved the shared DWARF
  // to a common file named by an absolute .gnu_debugaltlink
  ASSERT_EQ(sh("objcopy --only-keep-debug " + built + " " + dir + "/.debug/sym_alt.debug"), 0);
  ASSERT_EQ(sh("cp " + dir + "/.debug/sym_wrong.debug " + dir + "/other.debug"), 0);
  ASSERT_EQ(sh("cd " + dir + " && dwz -m " + dir + "/common.debug -M " + dir +
               "/common.debug .debug/sym_alt.debug other.debug"),
            0);
  ASSERT_TRUE(strip_linked(alt));
  Symbolizer third;
  Child dwz(alt);
  f = wait_here(third, dwz);
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].function, "sym_wait_here") << f[0].text();
  EXPECT_NE(f[0].file.find("sym_sleeper.c"), std::string::npos) << f[0].text();
  EXPECT_GT(f[0].line, 0) << f[0].text();
  unsetenv("DEBUGINFOD_URLS");

  const std::string maps = fdw::test::slurp("/proc/self/maps");
  EXPECT_NE(maps.find(dir + "/common.debug"), std::string::npos);  // the altlink was followed
  EXPECT_EQ(maps.find("libdebuginfod"), std::string::npos);
  EXPECT_EQ(maps.find("libcurl"), std::string::npos);
}

TEST(SymbolizerTest, DeletedBinaryStillUnwinds) {
  // A binary replaced or removed while running (an upgrade): its image is
  // read back from the process while it lives.
  uint64_t fn_value = 0, fn_size = 0;
  const std::string built = std::string(FIXTURE_DIR) + "/sym_sleeper";
  ASSERT_TRUE(elf_symbol(built, "sym_wait_here", &fn_value, &fn_size));
  char tmpl[] = "/tmp/fdw_symtest_XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  const std::string copy = std::string(tmpl) + "/sym_deleted";
  std::filesystem::copy_file(built, copy);
  Child child(copy);
  ASSERT_GT(child.pid(), 0);
  ASSERT_TRUE(child.read_line().starts_with("ready "));
  std::filesystem::remove_all(tmpl);
  StackSample s;
  ASSERT_TRUE(sample_blocked(child.pid(), 0, &s));

  Symbolizer sym;
  auto frames = sym.unwind(s);
  auto it = std::find_if(frames.begin(), frames.end(),
                         [](const Frame& f) { return f.module == "sym_deleted"; });
  ASSERT_NE(it, frames.end()) << dump(frames);
  EXPECT_GE(it->module_offset, fn_value) << dump(frames);
  EXPECT_LT(it->module_offset, fn_value + fn_size) << dump(frames);
  ASSERT_NE(it + 1, frames.end()) << dump(frames);
  EXPECT_EQ((it + 1)->module, "sym_deleted") << dump(frames);
}

TEST(SymbolizerTest, NamesTheVdso) {
  const uint64_t vdso = getauxval(AT_SYSINFO_EHDR);
  ASSERT_NE(vdso, 0u);
  Symbolizer sym;
  auto f = sym.symbolize(static_cast<uint32_t>(getpid()), {vdso + 0x10});
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].module, "[vdso]");
  EXPECT_EQ(f[0].module_offset, 0x10u);
  EXPECT_EQ(f[0].text(), "[vdso]+0x10");
}

TEST(SymbolizerTest, UnwindsAnotherProcessWithLines) {
  Child child(std::string(FIXTURE_DIR) + "/sym_sleeper");
  ASSERT_GT(child.pid(), 0);
  std::istringstream ready(child.read_line());
  std::string word, addr;
  int read_line = 0, call_line = 0;
  ready >> word >> addr >> read_line >> call_line;
  ASSERT_EQ(word, "ready");
  StackSample s;
  ASSERT_TRUE(sample_blocked(child.pid(), 0, &s));

  Symbolizer sym;
  auto frames = sym.unwind(s);
  const int k = find_function(frames, "sym_wait_here");
  ASSERT_GE(k, 1) << dump(frames);
  EXPECT_EQ(frames[k].line, read_line);
  EXPECT_TRUE(frames[k].file.ends_with("/tests/e2e/fixtures/sym_sleeper.c")) << frames[k].file;
  ASSERT_GT(frames.size(), static_cast<size_t>(k) + 1);
  EXPECT_EQ(frames[k + 1].function, "main");
  EXPECT_EQ(frames[k + 1].line, call_line);
  EXPECT_EQ(frames[k + 1].module, "sym_sleeper");
}

TEST(SymbolizerTest, DemanglesCppFixture) {
  Child child(std::string(FIXTURE_DIR) + "/sym_leaker");
  ASSERT_GT(child.pid(), 0);
  std::istringstream ready(child.read_line());
  std::string word;
  int read_line = 0;
  ready >> word >> read_line;
  ASSERT_EQ(word, "ready");
  StackSample s;
  ASSERT_TRUE(sample_blocked(child.pid(), 0, &s));

  Symbolizer sym;
  auto frames = sym.unwind(s);
  const int k = find_function(frames, "ns::Leaker::open_socket(int)");
  ASSERT_GE(k, 1) << dump(frames);
  EXPECT_EQ(frames[k].line, read_line);
  EXPECT_EQ(frames[k].module, "sym_leaker");
  EXPECT_TRUE(frames[k].file.ends_with("/sym_leaker.cpp")) << frames[k].file;
  ASSERT_GT(frames.size(), static_cast<size_t>(k) + 1);
  EXPECT_EQ(frames[k + 1].function, "main");
}

TEST(SymbolizerTest, GarbageInputNeverCrashes) {
  Symbolizer sym;
  const uint32_t self = static_cast<uint32_t>(getpid());
  std::mt19937_64 rng(12345);

  // Random registers over a random stack, and a real stack under random registers.
  StackSample real;
  int lines[4] = {};
  outer(&real, lines);
  for (int i = 0; i < 300; ++i) {
    StackSample s;
    s.pid = self;
    for (auto& r : s.regs.r) r = rng();
    if (i % 3 == 0) {
      s.stack = real.stack;
      s.regs.r[fdw::kRegSp] = real.regs.r[fdw::kRegSp];
    } else {
      s.stack.resize(rng() % 4096);
      for (auto& b : s.stack) b = static_cast<uint8_t>(rng());
    }
    if (i % 2 == 0) s.regs.r[fdw::kRegIp] = real.regs.r[fdw::kRegIp] + rng() % 64;
    EXPECT_LE(sym.unwind(s, 16).size(), 16u);
  }

  // A real sample whose stack copy was cut short: the innermost frame is
  // still right, the rest is whatever the copy allows.
  StackSample cut = real;
  cut.stack.resize(24);
  auto partial = sym.unwind(cut);
  ASSERT_FALSE(partial.empty());
  EXPECT_EQ(partial[0].function, "symtest::leaf(fdw::StackSample*, int*)");
  EXPECT_LT(partial.size(), sym.unwind(real).size());

  StackSample zero;
  zero.pid = self;
  EXPECT_TRUE(sym.unwind(zero).empty());
  StackSample nopid = real;
  nopid.pid = 0;
  EXPECT_TRUE(sym.unwind(nopid).empty());

  // A pid that has exited before we ever looked: nothing known, no crash.
  pid_t dead = fork();
  if (dead == 0) _exit(0);
  ASSERT_GT(dead, 0);
  waitpid(dead, nullptr, 0);
  StackSample gone = real;
  gone.pid = gone.tid = static_cast<uint32_t>(dead);
  EXPECT_TRUE(sym.unwind(gone).empty());
  auto unknown = sym.symbolize(static_cast<uint32_t>(dead), {0x401000, 0});
  ASSERT_EQ(unknown.size(), 2u);
  EXPECT_EQ(unknown[0].text(), "0x401000");
  EXPECT_EQ(unknown[1].text(), "0x0");

  // Addresses outside every mapping of a live process.
  auto odd = sym.symbolize(self, {0, 1, ~0ull, 0xffffffff81000000ull}, true);
  ASSERT_EQ(odd.size(), 4u);
  for (const Frame& f : odd) {
    EXPECT_EQ(f.module, "");
    EXPECT_EQ(f.function, "");
  }
}

TEST(SymbolizerTest, FileDescriptorsDoNotGrowWithProcesses) {
  auto fds = [] {
    std::vector<std::pair<int, std::string>> out;
    for (auto& e : std::filesystem::directory_iterator("/proc/self/fd")) {
      std::error_code ec;
      out.emplace_back(std::stoi(e.path().filename().string()),
                       std::filesystem::read_symlink(e.path(), ec).string());
    }
    return out;
  };
  const size_t before = fds().size();
  {
    Symbolizer sym;
    StackSample s;
    int lines[3] = {};
    caller_through_libc(&s, lines);
    ASSERT_GE(sym.unwind(s).size(), 4u);
    // Mapped files are read through mmap with no fd; what libdwfl keeps open
    // is separate debug files (one per build, when installed), close-on-exec.
    const auto held = fds();
    for (const auto& [fd, target] : held) {
      if (target.find("/usr/lib/debug/") != std::string::npos) {
        EXPECT_TRUE(fcntl(fd, F_GETFD) & FD_CLOEXEC) << target;
      }
    }
    // More processes running the same libraries cost no more fds.
    Child a(std::string(FIXTURE_DIR) + "/sym_sleeper");
    Child b(std::string(FIXTURE_DIR) + "/sym_leaker");
    ASSERT_TRUE(a.read_line().starts_with("ready"));
    ASSERT_TRUE(b.read_line().starts_with("ready"));
    StackSample sa, sb;
    ASSERT_TRUE(sample_blocked(a.pid(), 0, &sa));
    ASSERT_TRUE(sample_blocked(b.pid(), 0, &sb));
    const size_t with_children = fds().size();  // their pipes: 2 each
    EXPECT_GE(sym.unwind(sa).size(), 3u);
    EXPECT_GE(sym.unwind(sb).size(), 3u);
    EXPECT_EQ(fds().size(), with_children);
    EXPECT_EQ(sym.tracked(), 3u);
  }
  EXPECT_EQ(fds().size(), before);
}
