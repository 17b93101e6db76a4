// libFuzzer entry: any bytes as a ring-buffer record through every decoder of
// user/probe/decoder.cpp (the bytes a traced process shapes: its paths,
// comm, socket addresses, stack bytes, mapped file names, Python strings).
// Each input is decoded as given, then "shaped": its header's size field set
// to the input's length and its type to one the decoders know (chosen by the
// first byte), so that mutations reach the bodies.  Besides "no crash, no
// leak, no out-of-bounds read": a decoded name escapes to valid text.
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "fdwatch_abi.h"
#include "probe/decoder.h"
#include "util/escape.h"

namespace {

void check_text(const std::string& s) {
  const std::string t = fdw::escape_text(s);
  for (unsigned char c : t)
    if (c < 0x20 || c == 0x7f) __builtin_trap();
  if (fdw::escape_invalid_utf8(t) != t) __builtin_trap();
}

void decode_all(const uint8_t* data, size_t size) {
  if (auto e = fdw::decode_event(data, size)) {
    check_text(e->target);
    check_text(e->target2);
    check_text(e->comm);
  }
  (void)fdw::record_type(data, size);
  (void)fdw::record_tgid(data, size);
  (void)fdw::record_stack_id(data, size);
  (void)fdw::decode(data, size);
  if (auto v = fdw::decode_ustack(data, size)) {
    // Every byte of the view is readable (ASan checks the reads).
    uint8_t sum = 0;
    for (size_t i = 0; i < v->stack_len; ++i) sum = uint8_t(sum + v->stack[i]);
    asm volatile("" : : "r"(sum));
    (void)v->sample();
  }
  if (auto m = fdw::decode_umap(data, size)) check_text(m->maps_line());
  (void)fdw::decode_pystack(data, size);
  if (auto c = fdw::decode_pycode(data, size)) {
    check_text(c->function);
    check_text(c->file);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  decode_all(data, size);
  if (size < offsetof(fdw_event, flags)) return 0;
  static const uint16_t kTypes[] = {FDW_EV_OPEN,   FDW_EV_DUP,    FDW_EV_CLOSE,  FDW_EV_CLOSE_RANGE,
                                    FDW_EV_CLOEXEC, FDW_EV_FORK,  FDW_EV_EXEC,   FDW_EV_EXIT,
                                    FDW_EV_SOCKADDR, FDW_EV_LIMIT, FDW_EV_USTACK, FDW_EV_RENAME,
                                    FDW_EV_CALL,   FDW_EV_UMAP,   FDW_EV_PYSTACK, FDW_EV_PYCODE};
  // A copy of exactly `size` bytes: ASan sees a read past the record.
  std::vector<uint8_t> rec(data, data + size);
  const uint16_t type = kTypes[data[0] % (sizeof kTypes / sizeof kTypes[0])];
  const uint16_t len = static_cast<uint16_t>(size > 0xffff ? 0xffff : size);
  std::memcpy(rec.data() + offsetof(fdw_event, type), &type, sizeof type);
  std::memcpy(rec.data() + offsetof(fdw_event, size), &len, sizeof len);
  decode_all(rec.data(), rec.size());
  return 0;
}
