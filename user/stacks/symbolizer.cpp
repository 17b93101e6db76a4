#include "stacks/symbolizer.h"

#include <cxxabi.h>
#include <dwarf.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwelf.h>
#include <elfutils/libdwfl.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#if !defined(__x86_64__)
#error "fdw::Symbolizer unwinds x86_64 register sets only"
#endif

namespace fdw {

std::string Frame::text() const {
  char hex[32];
  if (!function.empty()) {
    if (file.empty()) return function;
    if (line <= 0) return function + " (" + file + ")";
    return function + " (" + file + ":" + std::to_string(line) + ")";
  }
  if (!module.empty()) {
    std::snprintf(hex, sizeof hex, "+0x%" PRIx64, module_offset);
    return module + hex;
  }
  std::snprintf(hex, sizeof hex, "0x%" PRIx64, ip);
  return hex;
}

namespace {

// What an address means, independent of where its module is loaded; shared
// by every process that maps the same build of a file.
struct Sym {
  std::string function, file;
  int line = 0;
  bool inlined = false;
};

std::string demangle(const char* name) {
  if (name == nullptr) return {};
  if (name[0] == '_' && name[1] == 'Z') {
    int status = -1;
    char* out = abi::__cxa_demangle(name, nullptr, nullptr, &status);
    if (status == 0 && out != nullptr) {
      std::string s(out);
      std::free(out);
      return s;
    }
    std::free(out);
  }
  return name;
}

// --- Dwfl callbacks -------------------------------------------------------

// libdwfl calls find_elf lazily and has no way to tell it the pid, so the
// report step (the only place modules are added) sets this around its work.
thread_local pid_t t_reporting_pid = 0;

int open_regular_file(const std::string& path) {
  // O_NONBLOCK: a mapped FIFO or device must not hang us on open.
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
  if (fd < 0) return -1;
  struct stat st;
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// Opens mapped files through /proc/PID/root (the target may live in another
// mount namespace) and hands libdwfl an mmap-backed Elf with the fd already
// closed: an fd-leak tool must not hold one fd per library per process.
int find_elf(Dwfl_Module* mod, void** userdata, const char* name, Dwarf_Addr base,
             char** file_name, Elf** elfp) {
  std::string_view n(name ? name : "");
  if (n.empty() || n.front() != '/' || n.ends_with(" (deleted)"))
    return dwfl_linux_proc_find_elf(mod, userdata, name, base, file_name, elfp);
  std::string path;
  int fd = -1;
  if (t_reporting_pid > 0) {
    path = "/proc/" + std::to_string(t_reporting_pid) + "/root" + std::string(n);
    fd = open_regular_file(path);
  }
  if (fd < 0) {
    path = std::string(n);
    fd = open_regular_file(path);
  }
  if (fd < 0) return -1;
  Elf* elf = elf_begin(fd, ELF_C_READ_MMAP, nullptr);
  // FDREAD first: if libelf could not mmap, it reads the file in now, so
  // giving up the fd below is safe either way.
  if (elf == nullptr || elf_kind(elf) != ELF_K_ELF || elf_cntl(elf, ELF_C_FDREAD) != 0) {
    if (elf != nullptr) elf_end(elf);
    ::close(fd);
    return -1;
  }
  elf_cntl(elf, ELF_C_FDDONE);
  ::close(fd);
  *file_name = ::strdup(path.c_str());
  *elfp = elf;
  return -1;
}

// Per-process Dwfls unwind and map addresses to modules; they never look for
// separate debug files, which libdwfl keeps open for the Dwfl's lifetime
// (one fd per library per process). Symbols come from SharedFile instead.
int no_debuginfo(Dwfl_Module*, void**, const char*, Dwarf_Addr, const char*, const char*,
                 GElf_Word, char**) {
  return -1;
}

// A debuglink candidate is the module's debug file when its build-id is the
// module's (a module without one: when its CRC is the link's).
bool is_debug_file_of(Dwfl_Module* mod, int fd, GElf_Word crc) {
  const unsigned char* want = nullptr;
  GElf_Addr vaddr;
  int want_len = dwfl_module_build_id(mod, &want, &vaddr);
  if (want_len <= 0) {
    uLong c = crc32(0, nullptr, 0);
    std::vector<unsigned char> buf(1 << 16);
    ssize_t n;
    while ((n = ::read(fd, buf.data(), buf.size())) > 0) c = crc32(c, buf.data(), uInt(n));
    return n == 0 && ::lseek(fd, 0, SEEK_SET) == 0 && GElf_Word(c) == crc;
  }
  Elf* elf = elf_begin(fd, ELF_C_READ_MMAP, nullptr);
  if (elf == nullptr) return false;
  const void* got = nullptr;
  ssize_t got_len = dwelf_elf_gnu_build_id(elf, &got);
  bool same = got_len == want_len && std::memcmp(got, want, size_t(want_len)) == 0;
  elf_end(elf);
  return same;
}

// The file's .gnu_debuglink (a bare file name), looked for where GDB and
// libdwfl look: beside it, in .debug/ beside it, and under /usr/lib/debug.
// (A dwz file's .gnu_debugaltlink is libdw's to follow.)
int find_debuglink(Dwfl_Module* mod, const char* file_name, const char* link, GElf_Word crc,
                   char** debuginfo_file_name) {
  if (file_name == nullptr || link == nullptr || *link == 0 || std::strchr(link, '/')) return -1;
  std::string file(file_name), dir = file.substr(0, file.rfind('/') + 1);
  const std::string candidates[] = {dir + link, dir + ".debug/" + link, "/usr/lib/debug" + dir + link};
  for (const std::string& c : candidates) {
    if (c == file) continue;
    int fd = open_regular_file(c);
    if (fd < 0) continue;
    if (is_debug_file_of(mod, fd, crc)) {
      *debuginfo_file_name = ::strdup(c.c_str());
      return fd;
    }
    ::close(fd);
  }
  return -1;
}

// Separate debug files come from this machine only: by build-id under the
// debuginfo path, else through the debuglink.  Never debuginfod
// (dwfl_standard_find_debuginfo's last resort): a download would hold the
// reader up for as long as it takes, and merely asking loads libcurl.
int find_debuginfo(Dwfl_Module* mod, void** userdata, const char* modname, Dwarf_Addr base,
                   const char* file_name, const char* debuglink_file, GElf_Word debuglink_crc,
                   char** debuginfo_file_name) {
  int fd = dwfl_build_id_find_debuginfo(mod, userdata, modname, base, file_name, debuglink_file,
                                        debuglink_crc, debuginfo_file_name);
  if (fd < 0) fd = find_debuglink(mod, file_name, debuglink_file, debuglink_crc, debuginfo_file_name);
  // libdwfl opens without O_CLOEXEC; a child fdwatch spawns must not inherit it.
  if (fd >= 0) ::fcntl(fd, F_SETFD, FD_CLOEXEC);
  return fd;
}

// One build of one ELF file, for symbolization, shared by every process
// that maps it: its own Dwfl holding the file at bias 0, so lookups use
// ELF addresses. The Elf is the one a process Dwfl opened (libelf counts
// references), so it also works for the vDSO, deleted files and files seen
// through /proc/PID/root, and outlives that process.
struct SharedFile {
  Dwfl* dwfl = nullptr;
  Dwfl_Module* mod = nullptr;
  Dwarf_Addr bias = 0;
  Elf* source = nullptr;  // borrowed while the module is being reported
  std::string path;       // where the process Dwfl found it (debuglink lookups)

  SharedFile() = default;
  SharedFile(const SharedFile&) = delete;
  SharedFile& operator=(const SharedFile&) = delete;
  ~SharedFile() {
    if (dwfl != nullptr) dwfl_end(dwfl);
  }
};

int shared_find_elf(Dwfl_Module*, void** userdata, const char*, Dwarf_Addr, char** file_name,
                    Elf** elfp) {
  auto* sf = static_cast<SharedFile*>(*userdata);
  if (sf == nullptr || sf->source == nullptr) return -1;
  Elf* elf = elf_begin(-1, ELF_C_READ, sf->source);  // another reference, same Elf
  if (elf == nullptr) return -1;
  *file_name = ::strdup(sf->path.c_str());
  *elfp = elf;
  return -1;
}

char* g_debuginfo_path = nullptr;  // libdwfl's default: ":.debug:/usr/lib/debug"

const Dwfl_Callbacks kProcCallbacks = {
    .find_elf = find_elf,
    .find_debuginfo = no_debuginfo,
    .section_address = dwfl_offline_section_address,
    .debuginfo_path = &g_debuginfo_path,
};

const Dwfl_Callbacks kSharedCallbacks = {
    .find_elf = shared_find_elf,
    .find_debuginfo = find_debuginfo,
    .section_address = dwfl_offline_section_address,
    .debuginfo_path = &g_debuginfo_path,
};

// Everything known about one process.
struct Proc {
  uint32_t pid = 0;
  Dwfl* dwfl = nullptr;  // null: maps could not be read at first sight
  bool attached = false;
  bool attach_failed = false;
  const StackSample* current = nullptr;  // the sample being unwound
  std::chrono::steady_clock::time_point reported{};
  // (ip, looked up at ip-1) -> frames; the "second time is a map lookup" cache.
  std::map<std::pair<uint64_t, bool>, std::vector<Frame>> frames;

  Proc() = default;
  Proc(const Proc&) = delete;
  Proc& operator=(const Proc&) = delete;
  ~Proc() {
    if (dwfl != nullptr) dwfl_end(dwfl);
  }
};

}  // namespace

struct Symbolizer::Impl {
  std::unordered_map<uint32_t, std::unique_ptr<Proc>> procs;
  // build-id hex -> the file (null: could not be set up).
  std::unordered_map<std::string, std::unique_ptr<SharedFile>> files;
  // (build-id hex, ELF address) -> symbols, across processes.
  std::map<std::pair<std::string, uint64_t>, std::vector<Sym>> shared;

  static constexpr size_t kMaxFramesCached = 1 << 16;
  static constexpr size_t kMaxSharedCached = 1 << 18;

  Proc* proc(uint32_t pid);
  // Reads /proc/PID/maps into p.dwfl (add: keep what is known, add new).
  static bool report(Proc& p, bool add);
  static bool attach(Proc& p);
  std::vector<Frame> lookup(Proc& p, uint64_t ip, bool adjust);
  SharedFile* shared_file(Dwfl_Module* pmod, const std::string& id);
  static std::vector<Sym> symbols(Dwfl_Module* mod, Dwarf_Addr addr);
};

namespace {

// --- Dwfl thread callbacks: registers and stack come from the sample ----------

pid_t next_thread(Dwfl*, void*, void**) {
  return 0;  // never enumerated: get_thread answers for the sample's tid
}

bool get_thread(Dwfl*, pid_t, void* dwfl_arg, void** thread_argp) {
  auto* p = static_cast<Proc*>(dwfl_arg);
  *thread_argp = p;
  return p->current != nullptr;
}

bool memory_read(Dwfl*, Dwarf_Addr addr, Dwarf_Word* result, void* dwfl_arg) {
  auto* p = static_cast<Proc*>(dwfl_arg);
  const StackSample* s = p->current;
  if (s == nullptr) return false;
  const uint64_t sp = s->regs.r[kRegSp];
  const size_t n = s->stack.size();
  if (addr < sp || n < sizeof(Dwarf_Word) || addr - sp > n - sizeof(Dwarf_Word)) return false;
  std::memcpy(result, s->stack.data() + (addr - sp), sizeof(Dwarf_Word));
  return true;
}

bool set_initial_registers(Dwfl_Thread* thread, void* thread_arg) {
  auto* p = static_cast<Proc*>(thread_arg);
  if (p->current == nullptr) return false;
  Dwarf_Word regs[17];
  for (int i = 0; i < 17; ++i) regs[i] = p->current->regs.r[i];
  if (!dwfl_thread_state_registers(thread, 0, 17, regs)) return false;
  dwfl_thread_state_register_pc(thread, regs[kRegIp]);
  return true;
}

const Dwfl_Thread_Callbacks kThreadCallbacks = {
    .next_thread = next_thread,
    .get_thread = get_thread,
    .memory_read = memory_read,
    .set_initial_registers = set_initial_registers,
    .detach = nullptr,
    .thread_detach = nullptr,
};

struct UnwindCtx {
  std::vector<std::pair<uint64_t, bool>> pcs;  // (pc, looked up at pc-1)
  size_t max = 0;
};

int frame_cb(Dwfl_Frame* state, void* arg) {
  auto* ctx = static_cast<UnwindCtx*>(arg);
  Dwarf_Addr pc = 0;
  bool activation = false;
  if (!dwfl_frame_pc(state, &pc, &activation) || pc == 0) return DWARF_CB_ABORT;
  ctx->pcs.emplace_back(pc, !activation);
  return ctx->pcs.size() >= ctx->max ? DWARF_CB_ABORT : DWARF_CB_OK;
}

int load_module_elf(Dwfl_Module* mod, void**, const char*, Dwarf_Addr, void*) {
  Dwarf_Addr bias = 0;
  (void)dwfl_module_getelf(mod, &bias);
  return DWARF_CB_OK;
}

// dwfl_addrmodule answers the last module for any address above it; only
// an address inside the module's reported range counts.
Dwfl_Module* module_at(Dwfl* dwfl, Dwarf_Addr addr) {
  Dwfl_Module* mod = dwfl ? dwfl_addrmodule(dwfl, addr) : nullptr;
  Dwarf_Addr start = 0, end = 0;
  if (mod == nullptr ||
      dwfl_module_info(mod, nullptr, &start, &end, nullptr, nullptr, nullptr, nullptr) == nullptr ||
      addr < start || addr >= end)
    return nullptr;
  return mod;
}

std::string module_basename(const char* name) {
  if (name == nullptr) return {};
  std::string_view n(name);
  if (n.starts_with("[vdso")) return "[vdso]";
  if (n.ends_with(" (deleted)")) n.remove_suffix(10);
  size_t slash = n.rfind('/');
  return std::string(slash == std::string_view::npos ? n : n.substr(slash + 1));
}

std::string build_id_hex(Dwfl_Module* mod) {
  const unsigned char* bits = nullptr;
  GElf_Addr vaddr = 0;
  int len = dwfl_module_build_id(mod, &bits, &vaddr);
  if (len <= 0 || bits == nullptr) return {};
  std::string out;
  char b[3];
  for (int i = 0; i < len; ++i) {
    std::snprintf(b, sizeof b, "%02x", bits[i]);
    out += b;
  }
  return out;
}

// Linkage name (demangled) when there is one, so inlined C++ functions read
// like their out-of-line symbols; the plain DW_AT_name otherwise (C).
std::string die_function_name(Dwarf_Die* die) {
  Dwarf_Attribute attr;
  const char* name = dwarf_formstring(dwarf_attr_integrate(die, DW_AT_linkage_name, &attr));
  if (name == nullptr)
    name = dwarf_formstring(dwarf_attr_integrate(die, DW_AT_MIPS_linkage_name, &attr));
  if (name != nullptr) return demangle(name);
  name = dwarf_diename(die);
  return name ? name : "";
}

// Where the inlined instance DIE was called from.
std::pair<std::string, int> call_site(Dwarf_Die* inlined) {
  Dwarf_Attribute attr;
  Dwarf_Word file_idx = 0, line = 0;
  std::pair<std::string, int> out{"", 0};
  Dwarf_Die cu;
  Dwarf_Files* files = nullptr;
  size_t nfiles = 0;
  if (dwarf_formudata(dwarf_attr(inlined, DW_AT_call_file, &attr), &file_idx) != 0) return out;
  if (dwarf_diecu(inlined, &cu, nullptr, nullptr) == nullptr ||
      dwarf_getsrcfiles(&cu, &files, &nfiles) != 0 || file_idx >= nfiles)
    return out;
  const char* src = dwarf_filesrc(files, file_idx, nullptr, nullptr);
  if (src == nullptr) return out;
  out.first = src;
  if (dwarf_formudata(dwarf_attr(inlined, DW_AT_call_line, &attr), &line) == 0)
    out.second = static_cast<int>(line);
  return out;
}

}  // namespace

Symbolizer::Symbolizer() : impl_(std::make_unique<Impl>()) {}
Symbolizer::~Symbolizer() = default;

size_t Symbolizer::tracked() const { return impl_->procs.size(); }

void Symbolizer::forget(uint32_t pid) { impl_->procs.erase(pid); }

bool Symbolizer::add_maps(uint32_t pid, const std::string& maps) {
  if (pid == 0 || maps.empty()) return false;
  auto& slot = impl_->procs[pid];
  if (!slot) {
    slot = std::make_unique<Proc>();
    slot->pid = pid;
  }
  Proc& p = *slot;
  const bool fresh = p.dwfl == nullptr;
  if (fresh) {
    p.dwfl = dwfl_begin(&kProcCallbacks);
    p.attached = p.attach_failed = false;
    if (p.dwfl == nullptr) return false;
  }
  FILE* f = ::fmemopen(const_cast<char*>(maps.data()), maps.size(), "r");
  if (f == nullptr) return false;
  t_reporting_pid = static_cast<pid_t>(pid);
  if (fresh)
    dwfl_report_begin(p.dwfl);
  else
    dwfl_report_begin_add(p.dwfl);
  int rc = dwfl_linux_proc_maps_report(p.dwfl, f);
  bool ok = dwfl_report_end(p.dwfl, nullptr, nullptr) == 0 && rc == 0;
  std::fclose(f);
  if (ok) {
    Impl::attach(p);
    dwfl_getmodules(p.dwfl, load_module_elf, nullptr, 0);
  }
  t_reporting_pid = 0;
  p.reported = std::chrono::steady_clock::now();
  p.frames.clear();  // a replaced mapping may change what an address means
  return ok;
}

bool Symbolizer::Impl::report(Proc& p, bool add) {
  t_reporting_pid = static_cast<pid_t>(p.pid);
  if (add)
    dwfl_report_begin_add(p.dwfl);
  else
    dwfl_report_begin(p.dwfl);
  int rc = dwfl_linux_proc_report(p.dwfl, static_cast<pid_t>(p.pid));
  bool ok = dwfl_report_end(p.dwfl, nullptr, nullptr) == 0 && rc == 0;
  // Attached before the modules are loaded: libdwfl reads the images of
  // deleted files (an upgraded library, a removed binary) from /proc/PID/mem
  // only when it knows the pid.
  if (ok) attach(p);
  // Open every ELF now, while /proc/PID still exists: afterwards only the
  // files opened here can be used (the vDSO is even read from the process).
  if (ok) dwfl_getmodules(p.dwfl, load_module_elf, nullptr, 0);
  t_reporting_pid = 0;
  p.reported = std::chrono::steady_clock::now();
  return ok;
}

Proc* Symbolizer::Impl::proc(uint32_t pid) {
  if (pid == 0) return nullptr;
  auto it = procs.find(pid);
  if (it != procs.end()) return it->second.get();
  auto p = std::make_unique<Proc>();
  p->pid = pid;
  p->dwfl = dwfl_begin(&kProcCallbacks);
  if (p->dwfl != nullptr && !report(*p, false)) {
    // Remembered as unknown (dwfl == null) until forget(): a pid whose maps
    // cannot be read now will not become readable as the same process.
    dwfl_end(p->dwfl);
    p->dwfl = nullptr;
  }
  Proc* raw = p.get();
  procs.emplace(pid, std::move(p));
  return raw;
}

bool Symbolizer::Impl::attach(Proc& p) {
  if (p.attached) return true;
  if (p.attach_failed || p.dwfl == nullptr) return false;
  // Once per Dwfl (libdwfl allows no second attach); every sample reuses it
  // by pointing p.current at itself.
  p.attached = dwfl_attach_state(p.dwfl, nullptr, static_cast<pid_t>(p.pid), &kThreadCallbacks, &p);
  p.attach_failed = !p.attached;
  return p.attached;
}

namespace {

// Go (1.19) writes no .debug_aranges, and libdw before 0.189 finds no CU by
// address without them: then the CUs' own ranges are searched.  Results are
// cached by the caller (per build and address).
Dwarf_Die* cu_by_ranges(Dwfl_Module* mod, Dwarf_Addr addr, Dwarf_Addr* bias, Dwarf_Die* out) {
  Dwarf* dw = dwfl_module_getdwarf(mod, bias);
  Dwarf_Aranges* ar = nullptr;
  size_t n = 0;
  if (dw == nullptr || (dwarf_getaranges(dw, &ar, &n) == 0 && n > 0)) return nullptr;
  size_t head = 0;
  for (Dwarf_Off off = 0, next = 0; dwarf_nextcu(dw, off, &next, &head, nullptr, nullptr, nullptr) == 0;
       off = next)
    if (dwarf_offdie(dw, off + head, out) != nullptr && dwarf_haspc(out, addr - *bias) == 1) return out;
  return nullptr;
}

// The function DIEs around pc, innermost first: inlined subroutines, then the
// subprogram they were inlined into, for a CU whose functions are its
// children (Go).  dwarf_getscopes() finds nothing in Go 1.19's DWARF.
std::vector<Dwarf_Die> function_chain(Dwarf_Die* cu, Dwarf_Addr pc) {
  std::vector<Dwarf_Die> chain;
  Dwarf_Die d;
  if (dwarf_child(cu, &d) != 0) return chain;
  for (;;) {
    const int tag = dwarf_tag(&d);
    if ((tag == DW_TAG_subprogram || tag == DW_TAG_inlined_subroutine || tag == DW_TAG_lexical_block) &&
        dwarf_haspc(&d, pc) == 1) {
      if (tag != DW_TAG_lexical_block) chain.insert(chain.begin(), d);
      Dwarf_Die child;
      if (dwarf_child(&d, &child) != 0) break;
      d = child;
      continue;
    }
    if (dwarf_siblingof(&d, &d) != 0) break;
  }
  return chain;
}

}  // namespace

std::vector<Sym> Symbolizer::Impl::symbols(Dwfl_Module* mod, Dwarf_Addr addr) {
  std::vector<Sym> out;
  Sym phys;
  GElf_Off off = 0;
  GElf_Sym sym;
  const char* name = dwfl_module_addrinfo(mod, addr, &off, &sym, nullptr, nullptr, nullptr);
  if (name != nullptr && *name != '\0') {
    // .symtab spells versioned symbols "__libc_start_main@@GLIBC_2.34".
    std::string plain(name, std::strcspn(name, "@"));
    phys.function = demangle(plain.c_str());
  }
  // libdwfl attributes an address no CU covers (crt1's _start, hand-written
  // asm) to the CU before it; such a line would be a lie.
  Dwarf_Addr bias = 0;
  Dwarf_Die cu;
  Dwarf_Die* cudie = dwfl_module_addrdie(mod, addr, &bias);
  if (cudie == nullptr) cudie = cu_by_ranges(mod, addr, &bias, &cu);
  if (cudie != nullptr && dwarf_haspc(cudie, addr - bias) == 0) cudie = nullptr;
  if (Dwarf_Line* ln = cudie ? dwarf_getsrc_die(cudie, addr - bias) : nullptr) {
    int line = 0;
    const char* src = dwarf_linesrc(ln, nullptr, nullptr);
    if (src != nullptr && dwarf_lineno(ln, &line) == 0) {
      phys.file = src;
      phys.line = line;
    }
  }

  // Inline expansion: the line table names the innermost inlined code, so
  // without this the leak site would read "outer (inner.h:12)".
  Dwarf_Die* scopes = nullptr;
  int n = cudie ? dwarf_getscopes(cudie, addr - bias, &scopes) : 0;
  Dwarf_Die fn;
  bool have_fn = false;
  for (int i = 0; i < n && !have_fn; ++i) {
    int tag = dwarf_tag(&scopes[i]);
    if (tag == DW_TAG_inlined_subroutine || tag == DW_TAG_subprogram || tag == DW_TAG_entry_point) {
      fn = scopes[i];
      have_fn = true;
    }
  }
  std::free(scopes);
  if (!have_fn && cudie) {  // Go's DWARF: see function_chain
    std::vector<Dwarf_Die> chain = function_chain(cudie, addr - bias);
    std::string file = phys.file;
    int line = phys.line;
    for (Dwarf_Die& d : chain) {
      if (dwarf_tag(&d) != DW_TAG_inlined_subroutine) {
        if (phys.function.empty()) phys.function = die_function_name(&d);
        break;
      }
      out.push_back(Sym{die_function_name(&d), file, line, true});
      std::tie(file, line) = call_site(&d);
    }
    phys.file = file;
    phys.line = line;
  }
  if (have_fn) {
    Dwarf_Die* chain = nullptr;
    int m = dwarf_getscopes_die(&fn, &chain);
    std::string file = phys.file;
    int line = phys.line;
    for (int i = 0; i < m; ++i) {
      int tag = dwarf_tag(&chain[i]);
      if (tag == DW_TAG_inlined_subroutine) {
        out.push_back(Sym{die_function_name(&chain[i]), file, line, true});
        std::tie(file, line) = call_site(&chain[i]);
      } else if (tag == DW_TAG_subprogram || tag == DW_TAG_entry_point) {
        if (phys.function.empty()) phys.function = die_function_name(&chain[i]);
        break;
      }
    }
    std::free(chain);
    phys.file = file;
    phys.line = line;
  }
  out.push_back(std::move(phys));
  return out;
}

SharedFile* Symbolizer::Impl::shared_file(Dwfl_Module* pmod, const std::string& id) {
  auto it = files.find(id);
  if (it != files.end()) return it->second.get();
  std::unique_ptr<SharedFile> sf;
  Dwarf_Addr start = 0, end = 0, pbias = 0;
  const char* mainfile = nullptr;
  const char* name =
      dwfl_module_info(pmod, nullptr, &start, &end, nullptr, nullptr, &mainfile, nullptr);
  Elf* elf = dwfl_module_getelf(pmod, &pbias);
  if (name != nullptr && elf != nullptr) {
    sf = std::make_unique<SharedFile>();
    sf->source = elf;
    sf->path = mainfile ? mainfile : name;
    sf->dwfl = dwfl_begin(&kSharedCallbacks);
    if (sf->dwfl != nullptr) {
      dwfl_report_begin(sf->dwfl);
      // At the ELF's own addresses: the process module's range minus its bias.
      sf->mod = dwfl_report_module(sf->dwfl, name, start - pbias, end - pbias);
      void** userdata = nullptr;
      if (sf->mod != nullptr)
        dwfl_module_info(sf->mod, &userdata, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr);
      if (userdata != nullptr) *userdata = sf.get();
      dwfl_report_end(sf->dwfl, nullptr, nullptr);
    }
    // Take the Elf reference now, while the borrowed one is alive.
    if (sf->mod == nullptr || dwfl_module_getelf(sf->mod, &sf->bias) == nullptr) sf.reset();
    if (sf) sf->source = nullptr;
  }
  SharedFile* raw = sf.get();
  files.emplace(id, std::move(sf));
  return raw;
}

std::vector<Frame> Symbolizer::Impl::lookup(Proc& p, uint64_t ip, bool adjust) {
  const auto key = std::make_pair(ip, adjust);
  if (auto it = p.frames.find(key); it != p.frames.end()) return it->second;

  Frame base;
  base.ip = ip;
  std::vector<Frame> result;
  const Dwarf_Addr addr = adjust ? ip - 1 : ip;
  Dwfl_Module* mod = module_at(p.dwfl, addr);
  // Code mapped after the first look (dlopen): read the maps again, at most
  // once a second per process so a stream of garbage ips stays cheap.
  if (mod == nullptr && p.dwfl != nullptr &&
      std::chrono::steady_clock::now() - p.reported > std::chrono::seconds(1)) {
    report(p, true);
    mod = module_at(p.dwfl, addr);
  }
  if (mod == nullptr) {
    // Not cached: the code may be mapped by the next look at the maps.
    result.push_back(base);
    return result;
  }
  {
    Dwarf_Addr start = 0;
    const char* mname = dwfl_module_info(mod, nullptr, &start, nullptr, nullptr, nullptr, nullptr, nullptr);
    Dwarf_Addr bias = 0;
    Elf* elf = dwfl_module_getelf(mod, &bias);
    base.module = module_basename(mname);
    base.module_offset = ip - (elf ? bias : start);
    const uint64_t rel = addr - (elf ? bias : start);

    // Symbols through the shared file when the build can be identified;
    // otherwise from this process's module, main file only (.symtab, DWARF).
    std::string id = build_id_hex(mod);
    std::vector<Sym> syms;
    auto sk = std::make_pair(id, rel);
    auto sit = id.empty() ? shared.end() : shared.find(sk);
    if (sit != shared.end()) {
      syms = sit->second;
    } else if (SharedFile* sf = id.empty() ? nullptr : shared_file(mod, id)) {
      syms = symbols(sf->mod, rel + sf->bias);
      if (shared.size() >= kMaxSharedCached) shared.clear();
      shared.emplace(std::move(sk), syms);
    } else {
      syms = symbols(mod, addr);
    }
    for (Sym& s : syms) {
      Frame f = base;
      f.function = std::move(s.function);
      f.file = std::move(s.file);
      f.line = s.line;
      f.inlined = s.inlined;
      result.push_back(std::move(f));
    }
  }
  if (p.frames.size() >= kMaxFramesCached) p.frames.clear();
  p.frames.emplace(key, result);
  return result;
}

std::vector<Frame> Symbolizer::unwind(const StackSample& s, size_t max_frames) {
  std::vector<Frame> out;
  if (max_frames == 0) return out;
  Proc* p = impl_->proc(s.pid);
  if (p == nullptr || !impl_->attach(*p)) return out;

  UnwindCtx ctx;
  ctx.max = max_frames;
  p->current = &s;
  const pid_t tid = static_cast<pid_t>(s.tid != 0 ? s.tid : s.pid);
  // The result only says why the walk ended (outermost frame, unreadable
  // stack beyond the copy, no CFI); what was unwound up to there is kept.
  (void)dwfl_getthread_frames(p->dwfl, tid, frame_cb, &ctx);
  p->current = nullptr;

  for (const auto& [pc, adjust] : ctx.pcs) {
    for (Frame& f : impl_->lookup(*p, pc, adjust)) {
      if (out.size() >= max_frames) return out;
      out.push_back(std::move(f));
    }
  }
  return out;
}

std::vector<Frame> Symbolizer::symbolize(uint32_t pid, const std::vector<uint64_t>& ips,
                                         bool call_stack) {
  std::vector<Frame> out;
  out.reserve(ips.size());
  Proc* p = impl_->proc(pid);
  for (size_t i = 0; i < ips.size(); ++i) {
    const bool adjust = call_stack && i > 0 && ips[i] != 0;
    if (p == nullptr) {
      Frame f;
      f.ip = ips[i];
      out.push_back(std::move(f));
      continue;
    }
    for (Frame& f : impl_->lookup(*p, ips[i], adjust)) out.push_back(std::move(f));
  }
  return out;
}

}  // namespace fdw
