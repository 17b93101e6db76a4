// End to end: the fdwatch binary on fixture programs that leak from known
// functions (tests/e2e/fixtures/stk_*), and on the demo.  The expected sites
// are read from the fixtures' sources (lines marked "// STK-..."), so the
// assertions are exact file:line values without hard-coding them here.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "common/fixture_source.h"
#include "common/temp_dir.h"
#include "common/require_root.h"

using nlohmann::json;

namespace {

using fdw::test::marked_line;
using fdw::test::site_at;
using fdw::test::slurp;
using fdw::test::TempDir;

struct Proc {
  pid_t pid = -1;
  std::string out_path, err_path;
};

// Starts argv with stdout/stderr into files of dir.
Proc start(const std::vector<std::string>& argv, const TempDir& dir, const std::string& tag) {
  Proc p;
  p.out_path = dir.path() + "/" + tag + ".out";
  p.err_path = dir.path() + "/" + tag + ".err";
  p.pid = fork();
  if (p.pid == 0) {
    int o = open(p.out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int e = open(p.err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (o < 0 || e < 0) _exit(126);
    dup2(o, 1);
    dup2(e, 2);
    std::vector<char*> a;
    for (auto& s : argv) a.push_back(const_cast<char*>(s.c_str()));
    a.push_back(nullptr);
    execv(a[0], a.data());
    _exit(127);
  }
  return p;
}

struct Result {
  int status = -1;  // exit code, 128+N for signal N
  std::string out, err;
};

Result finish(const Proc& p) {
  int st = 0;
  waitpid(p.pid, &st, 0);
  Result r;
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  r.out = slurp(p.out_path);
  r.err = slurp(p.err_path);
  return r;
}

Result run(const std::vector<std::string>& argv) {
  TempDir d;
  return finish(start(argv, d, "run"));
}


json parse_report(const Result& r) {
  try {
    return json::parse(r.out);
  } catch (const std::exception& e) {
    ADD_FAILURE() << "not JSON (" << e.what() << "): " << r.out.substr(0, 400) << "\nstderr: " << r.err;
    return json::object();
  }
}

const json* process_named(const json& rep, const std::string& comm) {
  if (!rep.contains("processes")) return nullptr;
  for (auto& p : rep["processes"])
    if (p["comm"] == comm) return &p;
  return nullptr;
}

// Index of `frame` in stack, or -1.
int index_of(const json& stack, const std::string& frame) {
  for (size_t i = 0; i < stack.size(); ++i)
    if (stack[i] == frame) return int(i);
  return -1;
}

json suspect(const std::string& kind, const std::string& site, const std::string& target, int count) {
  return {{"kind", kind}, {"site", site}, {"target", target}, {"count", count}};
}

// The suspects' groups, without ages, growth and verdicts (timing by nature;
// tests/e2e/sites_e2e_test.cpp checks verdicts where the fixture paces them).
json suspects_of(const json& p) {
  json out = json::array();
  for (auto& s : p["suspects"])
    out.push_back({{"kind", s["kind"]}, {"site", s["site"]}, {"target", s["target"]}, {"count", s["count"]}});
  return out;
}

const std::string kFdwatch = FDWATCH_BIN;
const std::string kFixtures = FIXTURE_DIR;

}  // namespace

TEST(StacksE2E, CFixtureLeaksFromItsTwoSitesWithFullStacks) {
  FDW_REQUIRE_ROOT();
  Result r = run({kFdwatch, "--json", "-q", "--", kFixtures + "/stk_leak"});
  ASSERT_EQ(r.status, 0) << r.err;  // -- CMD without --fail-on-leak: CMD's own status
  json rep = parse_report(r);
  const json* p = process_named(rep, "stk_leak");
  ASSERT_NE(p, nullptr) << r.out;
  EXPECT_TRUE((*p)["exited"].get<bool>());
  const std::string files = site_at("open_config", "stk_leak.c", "STK-SITE files");
  const std::string socks = site_at("connect_backend", "stk_leak.c", "STK-SITE sockets");
  EXPECT_EQ(suspects_of(*p), json::array({suspect("file", files, "/etc/hostname", 7),
                                          suspect("socket", socks, "udp ->127.0.0.1:9", 3)}));
  const json& leaked = (*p)["leaked_at_exit"];
  ASSERT_EQ(leaked.size(), 10u);
  int nfiles = 0, nsocks = 0;
  for (auto& f : leaked) {
    const json& st = f["stack"];
    if (f["kind"] == "file") {
      ++nfiles;
      int site = index_of(st, files);
      ASSERT_GE(site, 1) << st.dump();  // libc's open wrapper is innermost
      EXPECT_EQ(st[site + 1], site_at("leak_files", "stk_leak.c", "STK-CALL files")) << st.dump();
      EXPECT_EQ(st[site + 2], site_at("main", "stk_leak.c", "STK-MAIN files")) << st.dump();
    } else {
      ++nsocks;
      int site = index_of(st, socks);
      ASSERT_GE(site, 1) << st.dump();
      EXPECT_EQ(st[site + 1], site_at("leak_sockets", "stk_leak.c", "STK-CALL sockets")) << st.dump();
      EXPECT_EQ(st[site + 2], site_at("main", "stk_leak.c", "STK-MAIN sockets")) << st.dump();
    }
  }
  EXPECT_EQ(nfiles, 7);
  EXPECT_EQ(nsocks, 3);
}

TEST(StacksE2E, FailOnLeakExitsThreeAndNamesTheSites) {
  FDW_REQUIRE_ROOT();
  Result r = run({kFdwatch, "-q", "--fail-on-leak", "--", kFixtures + "/stk_leak"});
  EXPECT_EQ(r.status, 3) << r.out << r.err;
  const std::string files = site_at("open_config", "stk_leak.c", "STK-SITE files");
  const std::string socks = site_at("connect_backend", "stk_leak.c", "STK-SITE sockets");
  EXPECT_NE(r.out.find("\n    7 file from " + files + " -> /etc/hostname"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\n    3 socket from " + socks + " -> udp ->127.0.0.1:9"), std::string::npos) << r.out;
}

TEST(StacksE2E, CppFramesAreDemangled) {
  FDW_REQUIRE_ROOT();
  Result r = run({kFdwatch, "--json", "-q", "--", kFixtures + "/stk_cpp"});
  ASSERT_EQ(r.status, 0) << r.err;
  json rep = parse_report(r);
  const json* p = process_named(rep, "stk_cpp");
  ASSERT_NE(p, nullptr) << r.out;
  const std::string files = site_at("app::storage::Pool<app::Config>::acquire(int)", "stk_cpp.cpp", "STK-SITE files");
  const std::string socks = site_at("int app::net::listen_on<2>()", "stk_cpp.cpp", "STK-SITE sockets");
  EXPECT_EQ(suspects_of(*p), json::array({suspect("file", files, "/etc/hostname", 5),
                                          suspect("socket", socks, "tcp", 2)}));
  const json& leaked = (*p)["leaked_at_exit"];
  ASSERT_EQ(leaked.size(), 7u);
  for (auto& f : leaked) {
    const json& st = f["stack"];
    const std::string& site = f["kind"] == "file" ? files : socks;
    int i = index_of(st, site);
    ASSERT_GE(i, 1) << st.dump();
    EXPECT_EQ(st[i + 1], site_at("app::Service::start()", "stk_cpp.cpp",
                            f["kind"] == "file" ? "STK-CALL files" : "STK-CALL sockets"))
        << st.dump();
  }
}

TEST(StacksE2E, FramePointerBuildGivesTheSameKindOfStacks) {
  FDW_REQUIRE_ROOT();
  Result r = run({kFdwatch, "--json", "-q", "--", kFixtures + "/stk_fp"});
  ASSERT_EQ(r.status, 0) << r.err;
  json rep = parse_report(r);
  const json* p = process_named(rep, "stk_fp");
  ASSERT_NE(p, nullptr) << r.out;
  const std::string site = site_at("new_channel", "stk_fp.c", "STK-SITE pipes");
  EXPECT_EQ(suspects_of(*p), json::array({suspect("pipe", site, "pipe", 8)}));
  for (auto& f : (*p)["leaked_at_exit"]) {
    int i = index_of(f["stack"], site);
    ASSERT_GE(i, 1) << f["stack"].dump();
    EXPECT_EQ(f["stack"][i + 1], site_at("make_channels", "stk_fp.c", "STK-CALL pipes"));
    EXPECT_EQ(f["stack"][i + 2].get<std::string>().rfind("main (stk_fp.c:", 0), 0u);
  }
}

TEST(StacksE2E, StrippedBinaryGivesModulePlusOffsetInsideTheFunction) {
  FDW_REQUIRE_ROOT();
  TempDir d;
  const std::string bin = d.path() + "/stk_stripped";
  ASSERT_EQ(std::system(("cp " + kFixtures + "/stk_leak '" + bin + "' && strip '" + bin + "'").c_str()), 0);
  ASSERT_NE(slurp(bin).find("GCC"), std::string::npos);  // still an ELF with .comment
  Result syms = run({"/usr/bin/nm", "-S", kFixtures + "/stk_leak"});
  ASSERT_EQ(syms.status, 0);
  Result nosyms = run({"/usr/bin/nm", bin});
  EXPECT_NE(nosyms.err.find("no symbols"), std::string::npos);
  // [address, address + size) of a function of the unstripped build
  auto range = [&](const std::string& fn) {
    std::istringstream in(syms.out);
    unsigned long long a = 0, s = 0;
    char type;
    std::string name;
    for (std::string l; std::getline(in, l);) {
      std::istringstream ls(l);
      if (ls >> std::hex >> a >> s >> type >> name && (name == fn || name.rfind(fn + ".", 0) == 0))
        return std::make_pair(a, a + s);
    }
    ADD_FAILURE() << "nm has no " << fn;
    return std::make_pair(0ull, 0ull);
  };
  Result r = run({kFdwatch, "--json", "-q", "--", bin});
  ASSERT_EQ(r.status, 0) << r.err;
  json rep = parse_report(r);
  const json* p = process_named(rep, "stk_stripped");
  ASSERT_NE(p, nullptr) << r.out;
  const json& sus = (*p)["suspects"];
  ASSERT_EQ(sus.size(), 2u) << sus.dump();
  const std::regex mod_off("stk_stripped\\+0x([0-9a-f]+)");
  const char* fns[] = {"open_config", "connect_backend"};
  const int counts[] = {7, 3};
  for (int i = 0; i < 2; ++i) {
    std::smatch m;
    std::string site = sus[i]["site"];
    ASSERT_TRUE(std::regex_match(site, m, mod_off)) << site;
    unsigned long long off = std::stoull(m[1], nullptr, 16);
    auto [lo, hi] = range(fns[i]);
    EXPECT_GE(off, lo) << site << " not in " << fns[i];
    EXPECT_LT(off, hi) << site << " not in " << fns[i];
    EXPECT_EQ(sus[i]["count"], counts[i]);
  }
}

TEST(StacksE2E, CodeLoadedLaterIsUnwoundToo) {
  FDW_REQUIRE_ROOT();
  TempDir d;
  const std::string src = d.path() + "/plugin.c", so = d.path() + "/libstkplugin.so";
  {
    std::ofstream out(src);
    out << "#include <fcntl.h>\n"
           "__attribute__((noinline)) static int plugin_open(void) {\n"
           "  int fd = open(\"/etc/hostname\", O_RDONLY);\n"  // line 3
           "  __asm__ volatile(\"\" ::: \"memory\");\n"
           "  return fd;\n"
           "}\n"
           "int plugin_leak(int n) {\n"
           "  int k = 0;\n"
           "  for (int i = 0; i < n; i++) k += plugin_open() >= 0;\n"  // line 9
           "  return k;\n"
           "}\n";
  }
  ASSERT_EQ(std::system(("cc -g -O2 -shared -fPIC -o '" + so + "' '" + src + "'").c_str()), 0);
  Result r = run({kFdwatch, "--json", "-q", "--", kFixtures + "/stk_dlopen", so});
  ASSERT_EQ(r.status, 0) << r.err;
  json rep = parse_report(r);
  const json* p = process_named(rep, "stk_dlopen");
  ASSERT_NE(p, nullptr) << r.out;
  EXPECT_EQ(suspects_of(*p),
            json::array({suspect("file", "plugin_open (plugin.c:3)", "/etc/hostname", 4),
                         suspect("pipe", site_at("own_pipe", "stk_dlopen.c", "STK-SITE own"), "pipe", 4)}));
  for (auto& f : (*p)["leaked_at_exit"]) {
    if (f["kind"] != "file") continue;
    int i = index_of(f["stack"], "plugin_open (plugin.c:3)");
    ASSERT_GE(i, 1) << f["stack"].dump();
    EXPECT_EQ(f["stack"][i + 1], "plugin_leak (plugin.c:9)");
    EXPECT_EQ(f["stack"][i + 2].get<std::string>().rfind("main (stk_dlopen.c:", 0), 0u);
  }
}

TEST(StacksE2E, NoStacksMeansNoSitesButTheSameLeaks) {
  FDW_REQUIRE_ROOT();
  Result r = run({kFdwatch, "--json", "-q", "--no-stacks", "--fail-on-leak", "--", kFixtures + "/stk_leak"});
  EXPECT_EQ(r.status, 3) << r.err;
  json rep = parse_report(r);
  const json* p = process_named(rep, "stk_leak");
  ASSERT_NE(p, nullptr) << r.out;
  EXPECT_EQ(suspects_of(*p), json::array({suspect("file", "", "/etc/hostname", 7),
                                          suspect("socket", "", "udp ->127.0.0.1:9", 3)}));
  ASSERT_EQ((*p)["leaked_at_exit"].size(), 10u);
  for (auto& f : (*p)["leaked_at_exit"]) EXPECT_EQ(f["stack"], json::array());
}

TEST(StacksE2E, DemoLeakIsBlamedOnDialWithItsCallers) {
  FDW_REQUIRE_ROOT();
  Result r = run({kFdwatch, "--json", "-q", "--", std::string(DEMO_DIR) + "/fdwatch_demo", "--limit", "64",
                  "--rate", "1000", "--linger", "0"});
  ASSERT_EQ(r.status, 0) << r.err;
  std::smatch m;
  ASSERT_TRUE(std::regex_search(r.err, m, std::regex("; (\\d+) sockets never closed"))) << r.err;
  const int never_closed = std::stoi(m[1]);
  json rep = parse_report(r);
  const json* p = process_named(rep, "facade");
  ASSERT_NE(p, nullptr) << r.out;
  const json& top = (*p)["suspects"][0];
  EXPECT_EQ(top["kind"], "socket");
  EXPECT_EQ(top["site"].get<std::string>().rfind("dial (fdwatch_demo.c:", 0), 0u) << top.dump();
  EXPECT_EQ(top["target"].get<std::string>().rfind("tcp ->127.0.0.1:", 0), 0u) << top.dump();
  EXPECT_EQ(top["count"], never_closed);
  // The whole chain is there, in order.
  const json& st = (*p)["leaked_at_exit"][0]["stack"];
  std::vector<std::string> fns;
  for (auto& f : st) fns.push_back(f.get<std::string>().substr(0, f.get<std::string>().find(' ')));
  auto pos = [&](const std::string& fn) { return std::find(fns.begin(), fns.end(), fn) - fns.begin(); };
  EXPECT_LT(pos("dial"), pos("http_get")) << st.dump();
  EXPECT_LT(pos("http_get"), pos("call_backend")) << st.dump();
  EXPECT_LT(pos("call_backend"), pos("handle_request")) << st.dump();
  EXPECT_LT(pos("handle_request"), long(fns.size())) << st.dump();
}

TEST(StacksE2E, SystemWideHasStacksOnlyWhenAsked) {
  FDW_REQUIRE_ROOT();
  for (bool stacks : {false, true}) {
    TempDir d;
    std::vector<std::string> argv = {kFdwatch, "-a", "--json", "--duration", "4", "--interval", "10"};
    if (stacks) argv.push_back("--stacks");
    Proc fw = start(argv, d, "fw");
    bool attached = false;
    for (int i = 0; i < 600 && !attached; ++i) {
      attached = slurp(fw.err_path).find("attached") != std::string::npos;
      if (!attached) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    ASSERT_TRUE(attached) << slurp(fw.err_path);
    Result fx = run({kFixtures + "/stk_leak"});
    ASSERT_EQ(fx.status, 0);
    Result r = finish(fw);
    ASSERT_EQ(r.status, 0) << r.err;
    json rep = parse_report(r);
    // The fixture is the stk_leak that exited in the window (-a may list
    // another, live entry of that name: see the closing note of this change).
    const json* p = nullptr;
    for (auto& q : rep["processes"])
      if (q["comm"] == "stk_leak" && q["exited"].get<bool>()) p = &q;
    ASSERT_NE(p, nullptr) << r.out;
    // -a also saw the forked child open its output files before exec; only
    // the fixture's own groups are looked at.  With --stacks every process on
    // this (busy) machine is unwound; calls made while the reader lags get no
    // stack, and that must then be reported.
    const bool some_lost = r.err.find("call-stack records lost") != std::string::npos;
    const std::string files_site = stacks ? site_at("open_config", "stk_leak.c", "STK-SITE files") : "";
    const std::string socks_site = stacks ? site_at("connect_backend", "stk_leak.c", "STK-SITE sockets") : "";
    int files = 0, socks = 0;
    for (auto& su : (*p)["suspects"]) {
      const bool is_file = su["target"] == "/etc/hostname";
      if (!is_file && su["target"] != "udp ->127.0.0.1:9") continue;
      (is_file ? files : socks) += su["count"].get<int>();
      if (stacks && su["site"] == "" && some_lost) continue;
      EXPECT_EQ(su["site"], is_file ? files_site : socks_site) << r.err;
    }
    EXPECT_EQ(files, 7) << p->dump();
    EXPECT_EQ(socks, 3);
  }
}
