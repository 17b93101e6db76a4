#include "stacks/python.h"

#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <utility>

namespace fdw {

const std::vector<PyLayout>& python_layouts() {
  // Offsets from CPython's own headers (Include/internal/pycore_*.h,
  // Include/cpython/code.h, Include/cpython/unicodeobject.h) with
  // Py_BUILD_CORE, x86_64; tests/unit/python_test.cpp checks them against the
  // installed headers when python3.X-dev is there.  Add a row per version.
  static const std::vector<PyLayout> table = {
      {.major = 3,
       .minor = 11,
       .kernel = {.runtime = 0,
                  .runtime_interp_head = 40,
                  .interp_next = 0,
                  .interp_threads_head = 16,
                  .tstate_next = 8,
                  .tstate_native_tid = 160,
                  .tstate_cframe = 56,
                  .cframe_current_frame = 8,
                  .frame_code = 32,
                  .frame_previous = 48,
                  .frame_prev_instr = 56,
                  .frame_is_entry = 68,
                  .code_adaptive = 184,
                  .code_filename = 112,
                  .code_qualname = 128,
                  .code_linetable = 136,
                  .code_firstlineno = 72,
                  .str_length = 16,
                  .str_state = 32,
                  .str_ascii_data = 48,
                  .str_compact_data = 72,
                  .bytes_size = 16,
                  .bytes_data = 32,
                  ._pad = 0,
                  .mm = 0},
       .eval_function = "_PyEval_EvalFrameDefault"},
  };
  return table;
}

const PyLayout* python_layout(int major, int minor) {
  for (const PyLayout& l : python_layouts())
    if (l.major == major && l.minor == minor) return &l;
  return nullptr;
}

namespace {

// Location-table varints: 6-bit chunks, least significant first, 0x40 = more.
unsigned read_varint(std::string_view t, size_t* i) {
  unsigned v = 0, shift = 0;
  while (*i < t.size()) {
    unsigned char b = t[(*i)++];
    v |= unsigned(b & 63) << shift;
    shift += 6;
    if (!(b & 64) || shift > 24) break;
  }
  return v;
}

int read_svarint(std::string_view t, size_t* i) {
  unsigned u = read_varint(t, i);
  return (u & 1) ? -int(u >> 1) : int(u >> 1);
}

}  // namespace

// Each entry starts with a byte 1CCCCLLL: code C, L+1 code units.  Codes:
// 15 no location, 14 long form and 13 no columns (a signed line delta
// follows), 10..12 one line with delta C-10, 0..9 the same line.
int python_line(std::string_view t, int firstlineno, int lasti, bool cut) {
  // A table the process forged may step anywhere: lines below 1 are unknown.
  auto known = [](int64_t l) { return l >= 1 && l <= INT32_MAX ? int(l) : 0; };
  if (lasti < 0) return known(firstlineno);
  if (cut)  // the last entry may have lost its bytes: drop it
    while (!t.empty() && !(static_cast<unsigned char>(t.back()) & 0x80)) t.remove_suffix(1);
  if (cut && !t.empty()) t.remove_suffix(1);
  int64_t line = firstlineno;  // deltas are below 2^30: int64 cannot overflow
  long addr = 0;
  size_t i = 0;
  while (i < t.size()) {
    unsigned char head = t[i++];
    if (!(head & 0x80)) continue;  // resynchronise on the next entry
    int code = (head >> 3) & 15, len = (head & 7) + 1;
    size_t arg = i;
    if (code == 13 || code == 14)
      line += read_svarint(t, &arg);
    else if (code >= 10 && code <= 12)
      line += code - 10;
    while (i < t.size() && !(static_cast<unsigned char>(t[i]) & 0x80)) ++i;
    if (lasti < addr + len) return code == 15 ? -1 : known(line);
    addr += len;
  }
  return 0;  // past the table (the kernel copies its start only): not known
}

uint64_t PyElf::address(uint64_t vaddr, uint64_t start, uint64_t pgoff) const {
  for (const Load& l : loads)
    if (pgoff >= (l.offset & ~0xfffull) && pgoff < l.offset + l.filesz)
      return vaddr - (l.vaddr - l.offset) + start - pgoff;
  return 0;
}

bool python_candidate(std::string_view path) {
  auto slash = path.rfind('/');
  std::string_view base = slash == std::string_view::npos ? path : path.substr(slash + 1);
  return base.rfind("python3", 0) == 0 || base.rfind("libpython3", 0) == 0;
}

namespace {

// "python3.11", "libpython3.11.so.1.0" -> 3, 11.
bool version_from_name(std::string_view path, int* major, int* minor) {
  auto p = path.rfind("python");
  if (p == std::string_view::npos) return false;
  return sscanf(std::string(path.substr(p + 6)).c_str(), "%d.%d", major, minor) == 2;
}

// The 4 bytes at ELF address vaddr in the file (Py_Version's low half).
bool read_u32_at(Elf* e, uint64_t vaddr, uint32_t* out) {
  Elf_Scn* scn = nullptr;
  while ((scn = elf_nextscn(e, scn))) {
    GElf_Shdr sh;
    if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_PROGBITS) continue;
    if (vaddr < sh.sh_addr || vaddr + 4 > sh.sh_addr + sh.sh_size) continue;
    Elf_Data* d = elf_getdata(scn, nullptr);
    if (!d || !d->d_buf || vaddr - sh.sh_addr + 4 > d->d_size) return false;
    std::memcpy(out, static_cast<const char*>(d->d_buf) + (vaddr - sh.sh_addr), 4);
    return true;
  }
  return false;
}

void read_symbols(Elf* e, PyElf* out, uint64_t* version_addr) {
  Elf_Scn* scn = nullptr;
  while ((scn = elf_nextscn(e, scn))) {
    GElf_Shdr sh;
    if (!gelf_getshdr(scn, &sh) || (sh.sh_type != SHT_DYNSYM && sh.sh_type != SHT_SYMTAB)) continue;
    Elf_Data* d = elf_getdata(scn, nullptr);
    if (!d || !sh.sh_entsize) continue;
    for (size_t i = 0, n = sh.sh_size / sh.sh_entsize; i < n; ++i) {
      GElf_Sym s;
      if (!gelf_getsym(d, int(i), &s) || !s.st_value) continue;
      const char* name = elf_strptr(e, sh.sh_link, s.st_name);
      if (!name) continue;
      if (!strcmp(name, "_PyRuntime")) out->runtime = s.st_value;
      else if (!strcmp(name, "Py_Version")) *version_addr = s.st_value;
    }
  }
}

}  // namespace

std::optional<PyElf> read_python_elf(const std::string& path) {
  elf_version(EV_CURRENT);
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  Elf* e = elf_begin(fd, ELF_C_READ_MMAP, nullptr);
  PyElf out;
  uint64_t version_addr = 0;
  size_t nph = 0;
  if (e && elf_kind(e) == ELF_K_ELF && elf_getphdrnum(e, &nph) == 0) {
    for (size_t i = 0; i < nph; ++i) {
      GElf_Phdr ph;
      if (!gelf_getphdr(e, int(i), &ph)) continue;
      if (ph.p_type == PT_INTERP) out.executable = true;
      if (ph.p_type != PT_LOAD) continue;
      out.loads.push_back({ph.p_vaddr, ph.p_offset, ph.p_filesz});
      if ((ph.p_flags & PF_X) && (!out.text_vaddr || ph.p_vaddr < out.text_vaddr)) out.text_vaddr = ph.p_vaddr;
    }
    read_symbols(e, &out, &version_addr);
    uint32_t hex = 0;  // PY_VERSION_HEX: 0xMMmmppRS
    if (version_addr && read_u32_at(e, version_addr, &hex)) {
      out.major = int(hex >> 24);
      out.minor = int((hex >> 16) & 0xff);
    } else if (!version_from_name(path, &out.major, &out.minor)) {
      out.major = out.minor = 0;
    }
  }
  if (e) elf_end(e);
  close(fd);
  if (!out.runtime) return std::nullopt;
  return out;
}

std::vector<Frame> merge_python(const std::vector<Frame>& c, const std::vector<PyFrame>& py,
                                std::string_view eval_function) {
  std::vector<Frame> out;
  out.reserve(c.size() + py.size());
  size_t next = 0;
  for (const Frame& f : c) {
    if (f.function == eval_function && !f.inlined)
      while (next < py.size()) {
        out.push_back(py[next].frame);
        if (py[next++].entry) break;
      }
    out.push_back(f);
  }
  for (; next < py.size(); ++next) out.push_back(py[next].frame);
  return out;
}

const PyElf* PythonFrames::elf(const std::string& path) {
  auto it = elves_.find(path);
  if (it == elves_.end()) it = elves_.emplace(path, read_python_elf(path)).first;
  return it->second ? &*it->second : nullptr;
}

std::optional<std::pair<fdw_py_bin, fdw_py_proc>> PythonFrames::interpreter(const std::string& path) {
  struct stat st;
  if (!python_candidate(path) || stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return std::nullopt;
  const PyElf* e = elf(path);
  const PyLayout* l = e ? python_layout(e->major, e->minor) : nullptr;
  if (!l || !e->executable || !e->text_vaddr || !bins_.insert({st.st_dev, st.st_ino}).second)
    return std::nullopt;
  fdw_py_bin key{};
  key.ino = st.st_ino;
  key.dev = (major(st.st_dev) << 20) | minor(st.st_dev);
  fdw_py_proc k = l->kernel;
  k.runtime = e->runtime - e->text_vaddr;  // from mm->start_code (fdwatch_abi.h)
  return std::make_pair(key, k);
}

std::optional<fdw_py_proc> PythonFrames::on_mapping(uint32_t pid, const std::string& path,
                                                    uint64_t start, uint64_t pgoff) {
  if (procs_.count(pid) || !python_candidate(path)) return std::nullopt;
  const PyElf* e = elf(path);
  if (!e) return std::nullopt;
  const PyLayout* l = python_layout(e->major, e->minor);
  if (!l) {
    if (noted_.insert({e->major, e->minor}).second)
      notes_.push_back("pid " + std::to_string(pid) + " runs CPython " +
                       (e->major ? std::to_string(e->major) + "." + std::to_string(e->minor)
                                 : std::string("of an unknown version")) +
                       " (" + path + "), whose frames fdwatch cannot read: its call sites are C frames");
    return std::nullopt;
  }
  const uint64_t runtime = e->address(e->runtime, start, pgoff);
  if (!runtime) return std::nullopt;
  procs_[pid] = l;
  struct stat st;
  if (e->executable && stat(path.c_str(), &st) == 0 && bins_.count({st.st_dev, st.st_ino}))
    return std::nullopt;  // the kernel side knows it from py_bins
  fdw_py_proc k = l->kernel;
  k.runtime = runtime;
  return k;
}

void PythonFrames::on_code(const PyCode& c) {
  auto& codes = codes_[c.pid];
  if (codes.size() >= 65536) codes.clear();
  codes[c.code] = c;
}

std::vector<PyFrame> PythonFrames::resolve(uint32_t pid, const fdw_pyframe* frames, size_t n) const {
  std::vector<PyFrame> out;
  auto codes = codes_.find(pid);
  for (size_t i = 0; i < n; ++i) {
    const PyCode* c = nullptr;
    if (codes != codes_.end())
      if (auto it = codes->second.find(frames[i].code); it != codes->second.end()) c = &it->second;
    PyFrame f;
    f.entry = frames[i].flags & FDW_PYF_ENTRY;
    if (c) {
      f.frame.module = std::string(kPythonModule);
      f.frame.function = c->function;
      f.frame.file = c->file;
      f.frame.line = python_line(c->linetable, c->firstlineno, frames[i].lasti,
                                 c->linetable.size() >= FDW_PY_TABLE_MAX);
    } else {
      f.frame.function = "<python frame>";  // its PYCODE record was lost; no module: never a site
      f.frame.ip = frames[i].code;
    }
    out.push_back(std::move(f));
  }
  return out;
}

std::string_view PythonFrames::eval_function(uint32_t pid) const {
  auto it = procs_.find(pid);
  return it == procs_.end() ? std::string_view() : it->second->eval_function;
}

bool PythonFrames::forget(uint32_t pid) {
  codes_.erase(pid);
  return procs_.erase(pid) > 0;
}

std::vector<std::string> PythonFrames::take_notes() { return std::exchange(notes_, {}); }

}  // namespace fdw
