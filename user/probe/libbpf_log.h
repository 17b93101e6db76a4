// What libbpf says while fdwatch loads its programs.  libbpf's warnings go
// to a bounded in-memory log instead of stderr (FDWATCH_DEBUG=1 prints every
// message as well), so a failed load can be explained in one line: the
// verifier's last meaningful line.
#pragma once

#include <string>

namespace fdw {

// Installs the print callback (idempotent) and forgets what was logged.
void libbpf_log_begin();
// The warnings logged since libbpf_log_begin(), at most the last 64 KiB.
std::string libbpf_log_text();

// The line of a libbpf/verifier log that says why a program was refused:
// the last line of the last "-- BEGIN/END PROG LOAD LOG --" block that is not
// statistics ("processed N insns", "verification time", "stack depth") or
// blank; without a verifier block, the last "libbpf: ..." line that names
// the failure.  "" when there is none.
std::string verifier_reason(const std::string& log);

}  // namespace fdw
