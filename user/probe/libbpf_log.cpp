#include "probe/libbpf_log.h"

#include <bpf/libbpf.h>

#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <sstream>
#include <vector>

namespace fdw {

namespace {

constexpr size_t kLogMax = 64 * 1024;

std::mutex g_mu;
std::string g_log;

int print(enum libbpf_print_level level, const char* fmt, va_list ap) {
  static const bool debug = getenv("FDWATCH_DEBUG") != nullptr;
  if (debug) {
    va_list copy;
    va_copy(copy, ap);
    vfprintf(stderr, fmt, copy);
    va_end(copy);
  }
  if (level != LIBBPF_WARN) return 0;
  // one message can be a whole verifier log: size it first
  va_list copy;
  va_copy(copy, ap);
  int n = vsnprintf(nullptr, 0, fmt, copy);
  va_end(copy);
  if (n <= 0) return 0;
  std::string msg(size_t(n) + 1, '\0');
  vsnprintf(msg.data(), msg.size(), fmt, ap);
  msg.pop_back();
  std::lock_guard<std::mutex> lock(g_mu);
  g_log += msg;
  if (g_log.size() > kLogMax) g_log.erase(0, g_log.size() - kLogMax);
  return 0;
}

bool statistics(const std::string& l) {
  return l.rfind("processed ", 0) == 0 || l.rfind("verification time", 0) == 0 ||
         l.rfind("stack depth", 0) == 0 || l.find("max_states_per_insn") != std::string::npos;
}

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == ' ' || s.back() == '\n' || s.back() == '\r')) s.pop_back();
  size_t i = 0;
  while (i < s.size() && s[i] == ' ') ++i;
  return s.substr(i);
}

}  // namespace

void libbpf_log_begin() {
  libbpf_set_print(print);
  std::lock_guard<std::mutex> lock(g_mu);
  g_log.clear();
}

std::string libbpf_log_text() {
  std::lock_guard<std::mutex> lock(g_mu);
  return g_log;
}

std::string verifier_reason(const std::string& log) {
  std::vector<std::string> lines;
  std::istringstream in(log);
  for (std::string l; std::getline(in, l);) lines.push_back(trim(l));
  // The log may have lost its start (64 KiB cap), so a block is the lines
  // before an END marker, back to the previous marker.
  std::string candidate, in_block, last_libbpf;
  for (const std::string& l : lines) {
    if (l.find("-- BEGIN PROG LOAD LOG --") != std::string::npos) {
      candidate.clear();
      continue;
    }
    if (l.find("-- END PROG LOAD LOG --") != std::string::npos) {
      if (!candidate.empty()) in_block = candidate;
      candidate.clear();
      continue;
    }
    if (l.empty() || statistics(l)) continue;
    if (l.rfind("libbpf: ", 0) == 0) {
      if (l.find("failed") != std::string::npos) last_libbpf = l.substr(8);
      candidate.clear();
    } else {
      candidate = l;
    }
  }
  return in_block.empty() ? last_libbpf : in_block;
}

}  // namespace fdw
