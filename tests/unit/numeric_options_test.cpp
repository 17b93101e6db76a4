// Numeric options: every bad value is one line naming the option and the
// value; the top -b width follows top(1).
#include <gtest/gtest.h>

#include "cli/cli.h"
#include "cli/numeric.h"

using namespace fdw;

namespace {

// The ValidationError text of parsing `args` with `setup`, or "" if it parsed.
template <class Opts, class Setup>
std::string error_of(Setup setup, std::vector<std::string> args) {
  CLI::App app;
  Opts o;
  setup(app, o);
  std::reverse(args.begin(), args.end());
  try {
    app.parse(args);
  } catch (const CLI::ValidationError& e) {
    return e.what();
  }
  return "";
}

std::string watch_error(std::vector<std::string> a) { return error_of<WatchOptions>(setup_watch, std::move(a)); }
std::string top_error(std::vector<std::string> a) { return error_of<TopOptions>(setup_top, std::move(a)); }
std::string record_error(std::vector<std::string> a) {
  a.insert(a.begin(), {"-o", "x.jsonl"});
  return error_of<RecordOptions>(setup_record, std::move(a));
}
std::string report_error_of(std::vector<std::string> a) {
  a.insert(a.begin(), "x.jsonl");
  return error_of<ReportCmdOptions>(setup_report, std::move(a));
}

}  // namespace

TEST(NumericOptions, PidValues) {
  EXPECT_EQ(watch_error({"-p", "abc"}), "--pid: 'abc' is not a process id");
  EXPECT_EQ(watch_error({"-p", "0"}), "--pid: '0' is not a process id");
  EXPECT_EQ(watch_error({"-p", "-5"}), "--pid: '-5' is not a process id");
  EXPECT_EQ(watch_error({"-p", "4194305"}), "--pid: '4194305' is not a process id");
  EXPECT_EQ(watch_error({"-p", "99999999999999999999999"}), "--pid: '99999999999999999999999' is not a process id");
  EXPECT_EQ(watch_error({"-p", "12x"}), "--pid: '12x' is not a process id");
  EXPECT_EQ(watch_error({"-p", "1.5"}), "--pid: '1.5' is not a process id");
  EXPECT_EQ(watch_error({"-p", "4194304", "-p", "1"}), "");
  EXPECT_EQ(record_error({"-p", "abc"}), "--pid: 'abc' is not a process id");
  EXPECT_EQ(report_error_of({"-p", "-1"}), "--pid: '-1' is not a process id");
}

TEST(NumericOptions, Seconds) {
  EXPECT_EQ(watch_error({"-p", "1", "--duration", "abc"}), "--duration: 'abc' is not a number of seconds");
  EXPECT_EQ(watch_error({"-p", "1", "-d", "-1"}), "--duration: '-1' must be between 0 and 31536000 seconds");
  EXPECT_EQ(watch_error({"-p", "1", "-d", "1e300"}), "--duration: '1e300' must be between 0 and 31536000 seconds");
  EXPECT_EQ(watch_error({"-p", "1", "-d", "1e999"}), "--duration: '1e999' is not a number of seconds");
  EXPECT_EQ(watch_error({"-p", "1", "-d", "nan"}), "--duration: 'nan' is not a number of seconds");
  EXPECT_EQ(watch_error({"-p", "1", "-d", "0"}), "");
  EXPECT_EQ(watch_error({"-p", "1", "--interval", "0"}), "--interval: '0' must be between 0.05 and 3600 seconds");
  EXPECT_EQ(watch_error({"-p", "1", "-i", "1s"}), "--interval: '1s' is not a number of seconds");
  EXPECT_EQ(top_error({"-d", "0"}), "--delay: '0' must be between 0.1 and 3600 seconds");
  EXPECT_EQ(top_error({"-d", "0.5"}), "");
  EXPECT_EQ(record_error({"-a", "-d", "x"}), "--duration: 'x' is not a number of seconds");
  EXPECT_EQ(report_error_of({"--until", "-3"}), "--until: '-3' must be between 0 and 31536000 seconds");
}

TEST(NumericOptions, Counts) {
  EXPECT_EQ(top_error({"-n", "-1"}), "--iterations: '-1' must be between 0 and 1000000000");
  EXPECT_EQ(top_error({"-n", "two"}), "--iterations: 'two' is not a number of frames");
  EXPECT_EQ(top_error({"-n", "18446744073709551616"}),
            "--iterations: '18446744073709551616' must be between 0 and 1000000000");
  EXPECT_EQ(top_error({"--rows", "1.5"}), "--rows: '1.5' is not a number of rows");
  EXPECT_EQ(top_error({"-w", "wide"}), "--width: 'wide' is not a number of columns");
  EXPECT_EQ(top_error({"-n", "3", "--rows", "0", "-w", "0"}), "");
  EXPECT_EQ(watch_error({"-p", "1", "--stack-bytes", "16385"}), "--stack-bytes: '16385' must be between 0 and 16384");
  EXPECT_EQ(record_error({"-a", "--keep", "0"}), "--keep: '0' must be between 1 and 1000");
  EXPECT_EQ(record_error({"-a", "--max-size", "10M"}), "--max-size: '10M' is not a number of bytes");
  EXPECT_EQ(record_error({"-p", "1", "--stack-bytes", "16385"}), "--stack-bytes: '16385' must be between 0 and 16384");
}

// record resolves call sites as watch does: the same options, the same default.
TEST(NumericOptions, RecordTakesTheStackOptionsOfWatch) {
  auto parse = [](std::vector<std::string> args) {
    CLI::App app;
    RecordOptions o;
    setup_record(app, o);
    std::reverse(args.begin(), args.end());
    app.parse(args);
    return o;
  };
  RecordOptions d = parse({"-o", "x.jsonl", "-p", "1"});
  EXPECT_TRUE(trace_stacks(d));
  EXPECT_EQ(d.stack_bytes, 8192u);
  EXPECT_FALSE(trace_stacks(parse({"-o", "x.jsonl", "-a"})));
  RecordOptions on = parse({"-o", "x.jsonl", "-a", "--stacks", "--stack-bytes", "4096"});
  EXPECT_TRUE(trace_stacks(on));
  EXPECT_EQ(on.stack_bytes, 4096u);
  EXPECT_FALSE(trace_stacks(parse({"-o", "x.jsonl", "-p", "1", "--no-stacks"})));
  EXPECT_THROW(parse({"-o", "x.jsonl", "-p", "1", "--stacks", "--no-stacks"}), CLI::ExcludesError);
}

TEST(NumericOptions, ParsedValuesArriveConverted) {
  CLI::App app;
  TopOptions o;
  setup_top(app, o);
  app.parse(std::vector<std::string>{"132", "-w", "7", "-n", "0.25", "-d"});
  EXPECT_DOUBLE_EQ(o.delay_s, 0.25);
  EXPECT_EQ(o.iterations, 7u);
  ASSERT_TRUE(o.width);
  EXPECT_EQ(*o.width, 132u);
}

TEST(NumericOptions, TopBatchWidthLikeTop) {
  EXPECT_EQ(top_batch_width(std::nullopt, nullptr, 0), 80);      // piped, no COLUMNS
  EXPECT_EQ(top_batch_width(std::nullopt, nullptr, 150), 150);   // a terminal
  EXPECT_EQ(top_batch_width(std::nullopt, "200", 150), 200);     // COLUMNS wins over the terminal
  EXPECT_EQ(top_batch_width(std::nullopt, "junk", 0), 80);       // a bad COLUMNS is ignored
  EXPECT_EQ(top_batch_width(uint64_t(60), "200", 150), 60);      // -w wins over everything
  EXPECT_EQ(top_batch_width(uint64_t(0), nullptr, 0), 0);        // -w 0: unlimited
}
