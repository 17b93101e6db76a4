// The one line a failed BPF load is explained by.
#include <gtest/gtest.h>

#include "probe/libbpf_log.h"

using fdw::verifier_reason;

TEST(LibbpfLog, LastMeaningfulVerifierLine) {
  std::string log =
      "libbpf: prog 'exit_openat': BPF program load failed: Permission denied\n"
      "libbpf: prog 'exit_openat': -- BEGIN PROG LOAD LOG --\n"
      "0: R1=ctx() R10=fp0\n"
      "; int exit_openat(struct trace_event_raw_sys_exit *ctx) @ fdwatch.bpf.c:120\n"
      "12: (61) r2 = *(u32 *)(r1 +0)\n"
      "R1 invalid mem access 'scalar'\n"
      "processed 12 insns (limit 1000000) max_states_per_insn 0 total_states 1 peak_states 1 mark_read 1\n"
      "\n"
      "-- END PROG LOAD LOG --\n"
      "libbpf: prog 'exit_openat': failed to load: -13\n"
      "libbpf: failed to load object 'fdwatch_bpf'\n";
  EXPECT_EQ(verifier_reason(log), "R1 invalid mem access 'scalar'");
}

TEST(LibbpfLog, BlockWhoseStartWasCut) {
  std::string log =
      "15: (85) call bpf_loop#181\n"
      "unknown func bpf_loop#181\n"
      "verification time 42 usec\n"
      "stack depth 64\n"
      "-- END PROG LOAD LOG --\n"
      "libbpf: failed to load object 'fdwatch_bpf'\n";
  EXPECT_EQ(verifier_reason(log), "unknown func bpf_loop#181");
}

TEST(LibbpfLog, WithoutVerifierLogTheLibbpfFailure) {
  EXPECT_EQ(verifier_reason("libbpf: map 'events': failed to create: Operation not permitted(-1)\n"),
            "map 'events': failed to create: Operation not permitted(-1)");
  EXPECT_EQ(verifier_reason("libbpf: loading kernel BTF\n"), "");
  EXPECT_EQ(verifier_reason(""), "");
}
