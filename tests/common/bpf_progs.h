// The BPF programs loaded on this machine, read through bpf_prog_get_next_id
// (root): for checks that a session's programs are gone, and for the
// verifier budget.
#pragma once

#include <bpf/bpf.h>
#include <unistd.h>

#include <cstdint>
#include <set>
#include <string>
#include <vector>

namespace fdw::test {

struct LoadedProg {
  uint32_t id = 0;
  std::string name;
  uint32_t verified_insns = 0;  // what the verifier walked (5.16+)
  uint32_t xlated_bytes = 0;
};

inline std::vector<LoadedProg> loaded_progs() {
  std::vector<LoadedProg> out;
  uint32_t id = 0;
  while (bpf_prog_get_next_id(id, &id) == 0) {
    int fd = bpf_prog_get_fd_by_id(id);
    if (fd < 0) continue;
    bpf_prog_info info{};
    uint32_t len = sizeof(info);
    if (bpf_obj_get_info_by_fd(fd, &info, &len) == 0)
      out.push_back({id, info.name, info.verified_insns, info.xlated_prog_len});
    close(fd);
  }
  return out;
}

// Ids of the programs every fdwatch session loads (names cut to 15 bytes).
inline std::set<uint32_t> session_prog_ids() {
  std::set<uint32_t> ids;
  for (auto& p : loaded_progs())
    if (p.name == "dispatch_sys_ex" || p.name == "stage_path" || p.name == "on_fork") ids.insert(p.id);
  return ids;
}

}  // namespace fdw::test
