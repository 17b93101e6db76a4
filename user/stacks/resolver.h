// The record side of call stacks: USTACK, UMAP, PYSTACK and PYCODE records in,
// Event::stack and Event::site out.  The Session hands it those records and
// asks it to fill each successful OPEN/DUP event; everything about mappings, pairing,
// unwinding and the unwinding memo stays here.
#pragma once

#include <cstddef>
#include <cstdint>
#include <future>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/event.h"
#include "fdwatch_abi.h"
#include "probe/decoder.h"
#include "stacks/python.h"
#include "stacks/symbolizer.h"

namespace fdw {

struct StackStats {
  uint64_t captured = 0;   // USTACK records submitted by the kernel side
  uint64_t lost = 0;       // USTACK/UMAP records lost (ring buffer full)
  uint64_t unwound = 0;    // fd events that got a non-empty stack
  uint64_t unpaired = 0;   // fd events whose USTACK record never arrived
  uint64_t reused = 0;     // of `unwound`, taken from an identical earlier sample
};

class StackResolver {
 public:
  explicit StackResolver(size_t max_frames) : max_frames_(max_frames) {}

  // Loads fdwatch's own libc into the Symbolizer (modules are shared by
  // build-id), so the first traced stacks do not pay for it.  That takes a
  // second on a slow machine: it runs beside the attach, and the first stack
  // waits for it.
  void warm();
  // The kernel sends no UMAP records: read the mappings from /proc.
  void set_maps_from_proc(bool on) { maps_from_proc_ = on; }

  // The call-stack records.  A USTACK is unwound at once (its bytes live
  // only in the ring buffer) and kept for the next fd event of its thread;
  // a PYSTACK joins it; UMAP and PYCODE describe a process's code.
  void on_ustack(const UStackView& u);
  void on_pystack(const PyStack& ps);
  void on_umap(UMap m);
  void on_pycode(const PyCode& c);
  // Fills e.stack/e.site from its thread's pending USTACK when `key` (the fd
  // record's stack_id) matches it, or with `memo` from the kernel's stack
  // memo entry `key`.
  void attach(Event& e, int32_t key, bool memo = false);

  // Registers unwound stacks in the kernel's stack memo (live tracing only:
  // someone must apply take_memo()).
  void set_kernel_memo(bool on) { kernel_memo_on_ = on; }
  // Entries to add to and delete from the kernel's stack memo; taken once.
  struct MemoUpdates {
    std::vector<std::pair<fdw_memo_key, fdw_memo>> put;
    std::vector<fdw_memo_key> drop;
    bool empty() const { return put.empty() && drop.empty(); }
  };
  MemoUpdates take_memo() { return std::exchange(memo_updates_, {}); }

  // The kernel side holds per-process stack state for pid (set_stacks).
  void note_kernel_state(uint32_t pid) { kernel_state_.insert(pid); }
  // Exec (exited = false) or exit: drops pid's mappings, pending stacks and
  // memo.  True when pid's kernel-side state should be forgotten too.
  bool drop(uint32_t pid, bool exited);

  // What the kernel side must learn about CPython processes (register for
  // PYSTACK records, or stop after exec/exit), and notes for the user; taken
  // once.
  struct PythonUpdates {
    std::vector<std::pair<fdw_py_bin, fdw_py_proc>> bins;
    std::vector<std::pair<uint32_t, fdw_py_proc>> add;
    std::vector<uint32_t> remove;
    std::vector<std::string> notes;
    bool empty() const { return bins.empty() && add.empty() && remove.empty() && notes.empty(); }
  };
  PythonUpdates take_python();
  // Interpreter executables to make known before anything runs them (a
  // process is then read from its first call): the CPython ones of `paths`.
  void preload_python(const std::vector<std::string>& paths);

  // Counts of this side; captured/lost come from the probe.
  uint64_t unwound() const { return unwound_; }
  uint64_t kernel_memo_size() const { return kmemo_.size(); }
  uint64_t unpaired() const { return unpaired_; }
  uint64_t reused() const { return reused_; }

 private:
  struct Resolved {
    std::vector<Frame> frames;  // for Python processes: the C frames PYSTACK frames join
    std::vector<std::string> stack;
    std::string site;
  };
  using Slots = std::vector<std::pair<uint32_t, uint64_t>>;  // (offset from sp, return address)
  std::shared_ptr<const Resolved> resolve(const UStackView& u);
  void add_umap(UMap m);
  void note_mapping(uint32_t pid, const std::string& path, uint64_t start, uint64_t pgoff);
  void sync_maps(uint32_t pid);
  void maps_from_proc(uint32_t pid);
  Symbolizer& symbolizer();  // sym_, once warm

  size_t max_frames_;
  std::unique_ptr<Symbolizer> sym_;  // made at warm() or the first stack
  std::future<std::unique_ptr<Symbolizer>> warming_;  // sym_, being warmed up
  bool maps_from_proc_ = false;
  struct Pending {
    uint32_t pid = 0;
    int32_t key = -1;
    std::shared_ptr<const Resolved> res;  // null: nothing could be unwound
    std::vector<PyFrame> py;              // from its PYSTACK record
  };
  std::unordered_map<uint32_t, Pending> pending_;  // tid -> its last USTACK
  // The UMAP records of a process image, as sym_ should know them.
  struct Maps {
    std::map<uint64_t, UMap> all;  // by start address; a newer overlapping one replaces
    std::string fresh;             // maps lines sym_ has not been given yet
    bool rebuild = false;          // something was replaced: give sym_ `all` anew
  };
  std::unordered_map<uint32_t, Maps> maps_;  // by pid
  std::set<uint32_t> kernel_state_;          // pids with per-process stack state in the kernel
  PythonFrames python_;
  PythonUpdates python_updates_;
  uint64_t unwound_ = 0, unpaired_ = 0, reused_ = 0;

  // Unwinding memo.  A loop that leaks from one place gives samples with the
  // same ip, sp and frame pointer and the same return addresses in the same
  // stack slots; those unwind alike, so the texts are reused once the slots
  // match.
  struct MemoKey {
    uint64_t ip, sp, fp_off;  // fp_off: rbp - sp, or ~0 when rbp is not in the copy
    bool operator==(const MemoKey&) const = default;
  };
  struct MemoHash {
    size_t operator()(const MemoKey& k) const {
      return std::hash<uint64_t>()(k.ip * 0x9e3779b97f4a7c15ull ^ k.sp ^ (k.fp_off << 17));
    }
  };
  struct Memo {
    Slots slots;
    std::shared_ptr<const Resolved> res;
  };
  std::unordered_map<uint32_t, std::unordered_map<MemoKey, Memo, MemoHash>> memo_;  // by pid

  // The kernel's copy of the memo (fdwatch_abi.h "Stack memo").
  void remember_in_kernel(uint32_t pid, const MemoKey& mk, const Slots& slots,
                          std::shared_ptr<const Resolved> res);
  void forget_in_kernel(uint32_t pid);
  bool kernel_memo_on_ = false;
  int32_t next_memo_id_ = 1;
  std::unordered_map<int32_t, std::shared_ptr<const Resolved>> kmemo_;  // by memo id
  struct KernelKeys {
    std::vector<fdw_memo_key> keys;
    std::vector<int32_t> ids;
  };
  std::unordered_map<uint32_t, KernelKeys> kmemo_by_pid_;
  MemoUpdates memo_updates_;
};

}  // namespace fdw
