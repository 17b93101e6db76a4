#include "log/reader.h"

#include <cstring>

#include "log/codec.h"
#include "log/json_text.h"
#include "log/stack_table.h"
#include "log/zstd_stream.h"

namespace fdw {

using nlohmann::json;

namespace {

// The parse of one line, its message trimmed to what helps: column and reason.
Result<json> parse(const std::string& line) {
  try {
    return json::parse(line);
  } catch (const json::parse_error& e) {
    std::string w = e.what();
    auto at = w.find("column ");
    auto colon = at == std::string::npos ? at : w.find(": ", at);
    std::string msg = colon == std::string::npos ? w : "at " + w.substr(at, colon - at) + ": " + w.substr(colon + 2);
    if (auto lr = msg.find("; last read:"); lr != std::string::npos) msg.resize(lr);
    return log_error(msg);
  } catch (const std::exception& e) {
    return log_error(e.what());
  }
}

std::string not_a_log(const std::string& why) { return "line 1: not an fdwatch event log (" + why + ")"; }

}  // namespace

struct LogReader::Impl {
  LogReaderOptions opts;
  LogInput input;
  std::vector<char> buf = std::vector<char>(kLogIoChunk);  // decoded text
  size_t pos = 0, len = 0;
  bool done = false;            // end of stream or stopped
  bool unusable = false;        // bad header: nothing after it is trusted
  bool zstd_truncated = false;  // the input ended inside a zstd frame; not reported yet
  std::optional<Error> stopped;  // why the stream ended early
  std::string line;
  LogHeader header;
  uint64_t line_no = 0, events = 0, unknown = 0, problems_total = 0;
  std::vector<LogProblem> problems;
  std::optional<LogEnd> end;  // the last record, if it was a closing one
  StackTableReader table;     // of the current file

  void problem(uint64_t line_nr, const std::string& msg) {
    ++problems_total;
    if (problems.size() < opts.max_problems_kept)
      problems.push_back({line_nr, "line " + std::to_string(line_nr) + ": " + msg});
  }
  void note(uint64_t line_nr, const Result<void>& r) {
    if (!r) problem(line_nr, r.error().message);
  }

  // Refills `buf`; false when no decoded bytes remain.
  bool fill() {
    pos = len = 0;
    if (done) return false;
    auto n = input.read(buf.data(), buf.size());
    if (!n) {
      problem(line_no + 1, n.error().message);
      stopped = log_error("line " + std::to_string(line_no + 1) + ": " + n.error().message);
    } else if (*n > 0) {
      len = *n;
      return true;
    }
    zstd_truncated = n && input.truncated_frame();
    done = true;
    return false;
  }

  enum class Got { Line, Unterminated, End };

  // One line into `line` (without '\n'); `overlong` when it exceeded the cap
  // (then `line` is empty and the rest of it was skipped).
  Got get_line(bool& overlong) {
    line.clear();
    overlong = false;
    bool any = false;
    for (;;) {
      if (pos == len && !fill()) return any ? Got::Unterminated : Got::End;
      const char* start = buf.data() + pos;
      size_t avail = len - pos;
      auto nl = static_cast<const char*>(memchr(start, '\n', avail));
      size_t seg = nl ? static_cast<size_t>(nl - start) : avail;
      any = true;
      if (!overlong) {
        if (line.size() + seg > opts.max_line_bytes) {
          overlong = true;
          line.clear();
        } else {
          line.append(start, seg);
        }
      }
      pos += seg + (nl ? 1 : 0);
      if (nl) return Got::Line;
    }
  }

  bool is_blank() const { return line.find_first_not_of(" \t\r") == std::string::npos; }

  Result<void> read_header();
  Result<void> check_header(Got got, bool overlong);
  std::optional<Event> take_line(Got got, bool overlong, uint64_t n);
  std::optional<Event> take_record(const json& j, uint64_t n);
  void read_end(const json& j, uint64_t n);
};

// Line 1: the header, or an Error saying why the file is unusable (listed
// as the problem of line 1 unless the input stopped before it).
Result<void> LogReader::Impl::read_header() {
  bool overlong;
  auto got = get_line(overlong);
  if (got == Got::End && stopped) return *stopped;  // read error or corrupt zstd, already listed
  auto r = check_header(got, overlong);
  if (r) return r;
  // Listed even beyond max_problems_kept: it is the one thing to say.
  line_no = 1;
  done = true;
  zstd_truncated = false;
  ++problems_total;
  problems.push_back({1, r.error().message});
  return r;
}

Result<void> LogReader::Impl::check_header(Got got, bool overlong) {
  if (got == Got::End)
    return log_error(zstd_truncated ? "line 1: zstd frame truncated before any data" : not_a_log("empty file"));
  if (overlong) return log_error(not_a_log("line 1 longer than " + std::to_string(opts.max_line_bytes) + " bytes"));
  auto j = parse(line);
  if (!j && got == Got::Unterminated)
    return log_error(zstd_truncated ? "line 1: truncated header (zstd frame ends inside it)"
                                : "line 1: truncated header (no newline at end of file)");
  if (!j) return log_error(not_a_log("not JSON: " + j.error().message));
  auto h = header_from_json(*j);
  if (!h) return log_error(not_a_log(h.error().message));
  header = std::move(h->header);
  line_no = 1;
  if (!h->problem.empty()) problem(1, "header " + h->problem);
  return {};
}

// The event on line n, or nullopt when it holds none: a problem (listed), a
// blank line, a table or closing record, a type of a newer fdwatch.
std::optional<Event> LogReader::Impl::take_line(Got got, bool overlong, uint64_t n) {
  if (overlong) {
    problem(n, "longer than " + std::to_string(opts.max_line_bytes) + " bytes, skipped");
    return std::nullopt;
  }
  if (is_blank()) return std::nullopt;
  auto j = parse(line);
  if (j) return take_record(*j, n);
  if (got == Got::Unterminated && zstd_truncated) {
    problem(n, "truncated: zstd frame ends inside this line (file cut short)");
    zstd_truncated = false;
  } else if (got == Got::Unterminated) {
    problem(n, "truncated last line (no newline at end of file)");
  } else {
    problem(n, "malformed JSON " + j.error().message);
  }
  return std::nullopt;
}

std::optional<Event> LogReader::Impl::take_record(const json& j, uint64_t n) {
  if (!j.is_object()) {
    problem(n, "expected a JSON object, got " + type_of(j));
    return std::nullopt;
  }
  const json* type = find(j, "type");
  if (!type && find(j, "schema")) {
    // Rotated files concatenated (cat FILE.2 FILE.1 FILE) repeat the header.
    if (auto h = header_from_json(j); !h) problem(n, "another log's header: " + h.error().message);
    end.reset();
    table.clear();  // another file: its own stack table
    return std::nullopt;
  }
  const bool named = type && type->is_string();
  const std::string_view name = named ? std::string_view(type->get_ref<const std::string&>()) : "";
  if (name == kEndType) {
    read_end(j, n);
  } else if (name == kFrameType) {
    note(n, table.read_frame(j));
  } else if (name == kStackType) {
    note(n, table.read_stack(j));
  } else if (named && !evtype_from_name(name)) {
    ++unknown;  // from a newer fdwatch: skipping is the contract
  } else if (auto e = event_from_json(j); !e) {
    problem(n, e.error().message);
  } else {
    note(n, table.attach(j, *e));
    return std::move(*e);
  }
  return std::nullopt;
}

// A closing record's fields; a wrong-typed one is a problem (the record
// still counts as the end: it was written by a clean stop).
void LogReader::Impl::read_end(const json& j, uint64_t n) {
  LogEnd e;
  e.line = n;
  auto u64 = [&](const char* k, uint64_t& out) {
    const json* f = find(j, k);
    if (!f) return true;
    if (!f->is_number_unsigned()) return false;
    out = f->get<uint64_t>();
    return true;
  };
  uint64_t lost = 0;
  bool ok = u64("ts", e.ts_ns) && u64("events", e.events) && u64("events_total", e.events_total) &&
            u64("lost", lost);
  if (find(j, "lost")) e.lost = lost;
  if (const json* r = find(j, "rotated"); r && r->is_boolean()) e.rotated = r->get<bool>();
  if (!ok) problem(n, "closing record: a count is not a non-negative integer");
  end = e;
}

LogReader::LogReader() = default;
LogReader::~LogReader() = default;
LogReader::LogReader(LogReader&&) noexcept = default;
LogReader& LogReader::operator=(LogReader&&) noexcept = default;

Result<void> LogReader::open(const std::string& path, const LogReaderOptions& opts) {
  impl_ = std::make_unique<Impl>();
  Impl& m = *impl_;
  m.opts = opts;
  if (auto r = m.input.open(path); !r) {
    m.done = m.unusable = true;
    return r;
  }
  auto r = m.read_header();
  m.unusable = !r;
  return r;
}

const LogHeader& LogReader::header() const {
  static const LogHeader empty;
  return impl_ ? impl_->header : empty;
}

Result<std::optional<Event>> LogReader::next() {
  if (!impl_ || impl_->unusable) return std::optional<Event>();
  Impl& m = *impl_;
  for (;;) {
    bool overlong;
    auto got = m.get_line(overlong);
    if (got == Impl::Got::End) break;
    if (auto e = m.take_line(got, overlong, ++m.line_no)) {
      ++m.events;
      m.end.reset();
      return e;
    }
  }
  if (m.zstd_truncated) {
    m.problem(m.line_no + 1, "zstd frame truncated at end of file; anything after line " +
                                 std::to_string(m.line_no) + " is lost");
    m.zstd_truncated = false;
  }
  if (m.stopped) return *m.stopped;
  return std::optional<Event>();
}

const std::vector<LogProblem>& LogReader::problems() const {
  static const std::vector<LogProblem> none;
  return impl_ ? impl_->problems : none;
}
uint64_t LogReader::problems_total() const { return impl_ ? impl_->problems_total : 0; }
uint64_t LogReader::lines() const { return impl_ ? impl_->line_no : 0; }
uint64_t LogReader::events() const { return impl_ ? impl_->events : 0; }
uint64_t LogReader::skipped_unknown() const { return impl_ ? impl_->unknown : 0; }
uint64_t LogReader::stacks_defined() const { return impl_ ? impl_->table.stacks_defined() : 0; }
bool LogReader::compressed() const { return impl_ && impl_->input.compressed(); }
const std::optional<LogEnd>& LogReader::end() const {
  static const std::optional<LogEnd> none;
  return impl_ ? impl_->end : none;
}

}  // namespace fdw
