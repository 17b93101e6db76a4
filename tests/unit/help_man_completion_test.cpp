// The three descriptions of the command line agree: `fdwatch [SUB] --help`
// (the binary), fdwatch(8) (docs/man/fdwatch.8.scd) and the bash completion
// (completion/fdwatch.bash, run in a real bash).
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include "common/subprocess.h"
#include "common/temp_dir.h"

using fdw::test::Subprocess;

namespace {

const std::string kFdwatch = FDWATCH_BIN;
const std::string kSource = SOURCE_DIR;

std::vector<std::string> lines_of(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

std::string help(const std::string& sub) {
  std::vector<std::string> argv = {kFdwatch};
  if (!sub.empty()) argv.push_back(sub);
  argv.push_back("--help");
  Subprocess p(argv);
  EXPECT_EQ(p.wait(20), 0) << p.err();
  return p.out();
}

// The entries of a "Title:" section of CLI11's help, first word of each.
std::vector<std::string> help_section(const std::string& text, const std::string& title) {
  std::vector<std::string> out;
  bool in = false;
  for (const std::string& l : lines_of(text)) {
    if (!l.empty() && l[0] != ' ') in = l == title;
    else if (in && l.size() > 2 && l[2] != ' ') out.push_back(l.substr(2, l.find(' ', 2) - 2));
  }
  return out;
}

std::set<std::string> help_options(const std::string& sub) {
  std::set<std::string> out;
  for (const std::string& names : help_section(help(sub), "Options:")) {
    std::istringstream in(names);
    for (std::string n; std::getline(in, n, ',');) out.insert(n);
  }
  if (!sub.empty()) out.erase("-h"), out.erase("--help");  // every subcommand has them
  return out;
}

// Option names of the man page's "# <TITLE> OPTIONS" section: the bold
// terms of its item lines ("*-p, --pid* _PID_").
std::set<std::string> man_options(const std::string& title) {
  std::ifstream in(kSource + "/docs/man/fdwatch.8.scd");
  std::set<std::string> out;
  bool inside = false;
  const std::regex opt("(^|[ *,])(--?[A-Za-z][A-Za-z-]*)");
  for (std::string l; std::getline(in, l);) {
    if (l.rfind("# ", 0) == 0) inside = l == "# " + title + " OPTIONS";
    else if (inside && l.rfind("*-", 0) == 0)
      for (std::sregex_iterator it(l.begin(), l.end(), opt), end; it != end; ++it) out.insert((*it)[2]);
  }
  return out;
}

std::set<std::string> man_option_sections() {
  std::ifstream in(kSource + "/docs/man/fdwatch.8.scd");
  std::set<std::string> out;
  std::smatch m;
  for (std::string l; std::getline(in, l);)
    if (std::regex_match(l, m, std::regex("# ([A-Z]+) OPTIONS"))) out.insert(m[1]);
  return out;
}

std::string upper(std::string s) {
  for (char& c : s) c = char(toupper(static_cast<unsigned char>(c)));
  return s;
}

// COMPREPLY of completing `words` (the last one is the word under the cursor).
std::vector<std::string> complete(const std::vector<std::string>& words, const std::string& cwd = "") {
  std::string script = "source '" + kSource + "/completion/fdwatch.bash' || exit 9\n";
  if (!cwd.empty()) script += "cd '" + cwd + "' || exit 9\n";
  script += "COMP_WORDS=(";
  for (auto& w : words) script += " '" + w + "'";
  script += " ); COMP_CWORD=" + std::to_string(words.size() - 1) +
            "; COMPREPLY=(); _fdwatch; printf '%s\\n' \"${COMPREPLY[@]}\"\n";
  Subprocess b({"/bin/bash", "--norc", "-c", script});
  EXPECT_EQ(b.wait(30), 0) << b.err();
  EXPECT_EQ(b.err(), "");
  std::vector<std::string> out;
  for (auto& l : lines_of(b.out()))
    if (!l.empty()) out.push_back(l);
  return out;
}

std::set<std::string> as_set(const std::vector<std::string>& v) { return {v.begin(), v.end()}; }

const std::vector<std::string> kSubcommands = {"top", "record", "report", "doctor", "exporter"};

}  // namespace

TEST(HelpMan, SubcommandsAgree) {
  EXPECT_EQ(help_section(help(""), "Subcommands:"), kSubcommands);
  std::set<std::string> want = {"WATCH"};
  for (auto& s : kSubcommands) want.insert(upper(s));
  EXPECT_EQ(man_option_sections(), want);
}

TEST(HelpMan, EveryOptionInBothAndOnlyThere) {
  EXPECT_EQ(man_options("WATCH"), help_options(""));
  for (const std::string& sub : kSubcommands) EXPECT_EQ(man_options(upper(sub)), help_options(sub)) << sub;
  // not vacuous
  EXPECT_TRUE(help_options("").count("--fail-on-leak"));
  EXPECT_TRUE(help_options("top").count("-w"));
}

TEST(HelpMan, VersionComesFromCMake) {
  Subprocess v({kFdwatch, "--version"});
  ASSERT_EQ(v.wait(20), 0);
  std::ifstream cm(kSource + "/CMakeLists.txt");
  std::stringstream ss;
  ss << cm.rdbuf();
  std::smatch m;
  std::string text = ss.str();
  ASSERT_TRUE(std::regex_search(text, m, std::regex("project\\(fdwatch VERSION ([0-9.]+)")));
  EXPECT_EQ(v.out(), "fdwatch " + m[1].str() + "\n");
}

TEST(Completion, SubcommandsAndOptions) {
  EXPECT_EQ(as_set(complete({kFdwatch, ""})), as_set(kSubcommands));
  EXPECT_EQ(complete({kFdwatch, "--fail"}), (std::vector<std::string>{"--fail-on-leak"}));
  EXPECT_EQ(complete({kFdwatch, "top", "--so"}), (std::vector<std::string>{"--sort"}));
  for (const std::string& sub : {std::string(""), std::string("top"), std::string("record")}) {
    std::vector<std::string> words = {kFdwatch};
    if (!sub.empty()) words.push_back(sub);
    words.push_back("-");
    std::set<std::string> got = as_set(complete(words));
    for (const std::string& o : help_options(sub)) EXPECT_TRUE(got.count(o)) << sub << " " << o;
  }
}

// --cgroup offers the directories of the cgroup v2 mount, relative to it.
TEST(Completion, CgroupDirectories) {
  std::ifstream mi("/proc/self/mountinfo");
  std::string mnt;
  for (std::string l; std::getline(mi, l);) {
    std::smatch m;
    if (std::regex_search(l, m, std::regex(R"(^\S+ \S+ \S+ \S+ (\S+) .* - cgroup2 )"))) mnt = m[1];
  }
  if (mnt.empty()) GTEST_SKIP() << "no cgroup v2 mount";
  std::set<std::string> want;
  for (auto& de : std::filesystem::directory_iterator(mnt))
    if (de.is_directory()) want.insert(de.path().filename().string() + "/");
  for (const std::string& sub : {std::string(""), std::string("top"), std::string("record"), std::string("exporter")}) {
    std::vector<std::string> words = {kFdwatch};
    if (!sub.empty()) words.push_back(sub);
    words.push_back("--cgroup");
    words.push_back("");
    EXPECT_EQ(as_set(complete(words)), want) << sub;
  }
}

TEST(Completion, SortKeys) {
  EXPECT_EQ(complete({kFdwatch, "top", "--sort", "n"}), (std::vector<std::string>{"net/s"}));
  EXPECT_EQ(as_set(complete({kFdwatch, "top", "-s", "o"})), (std::set<std::string>{"oldest", "open/s"}));
  EXPECT_EQ(complete({kFdwatch, "top", "-s", ""}).size(), 12u);
}

TEST(Completion, PidsWithTheirNames) {
  const std::string self = std::to_string(getpid());
  std::ifstream c("/proc/self/comm");
  std::string comm;
  std::getline(c, comm);
  auto got = complete({kFdwatch, "-p", self});
  ASSERT_FALSE(got.empty());
  if (got.size() == 1) EXPECT_EQ(got[0], self);  // the only pid starting so: just the number
  else EXPECT_TRUE(as_set(got).count(self + " " + comm)) << got[0];
  std::set<std::string> all = as_set(complete({kFdwatch, "record", "-o", "x", "--pid", ""}));
  EXPECT_TRUE(all.count(self + " " + comm));
  EXPECT_TRUE(all.count("1 " + [] {
    std::ifstream i("/proc/1/comm");
    std::string s;
    std::getline(i, s);
    return s;
  }()));
}

TEST(Completion, ReportCompletesLogFiles) {
  fdw::test::TempDir tmp;
  for (const char* f : {"a.jsonl", "b.jsonl.zst", "b.jsonl.1", "notes.txt"}) std::ofstream(tmp.file(f)) << "x";
  ASSERT_EQ(mkdir(tmp.file("old").c_str(), 0700), 0);
  EXPECT_EQ(as_set(complete({kFdwatch, "report", ""}, tmp.path())),
            (std::set<std::string>{"a.jsonl", "b.jsonl.zst", "b.jsonl.1", "old/"}));
  EXPECT_EQ(complete({kFdwatch, "report", "a"}, tmp.path()), (std::vector<std::string>{"a.jsonl"}));
}

TEST(Completion, CommandAfterDoubleDash) {
  auto got = as_set(complete({kFdwatch, "--fail-on-leak", "--", "ech"}));
  EXPECT_TRUE(got.count("echo"));
}
