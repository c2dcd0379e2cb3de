// qsim sweep: the cartesian grid of hardware parameters, one CSV row per point.
//
// The grid, its validation and the evaluation of one point are app/sweep.h's
// SweepPlan; this file runs the points on every local core, keeps the journal that
// makes a sweep resumable, shows progress, and writes the outputs.
//
// Journal (<out>.journal, docs/sweeps.md): a header naming the sweep's fingerprint,
// then one line per finished point with every metric in shortest round-trip digits.
// A sweep killed at any point (even SIGKILL) and re-run with the same arguments
// reads it back, simulates only the missing points, and writes exactly the rows an
// uninterrupted run writes; the journal is removed once the outputs are in place.
// Each line is appended with one write(2) under a lock, so a killed run leaves at
// most a torn last line, which the next run drops.
//
// An invalid point fails the whole sweep before anything is simulated or written
// (the message names the point): a sweep is usually scripted, and a silently
// skipped row would read as a result.
//
// Each row carries the point's area (sim/area_model.h, empty without synthesized
// RTL). --area-budget-kge X is the co-design search's area budget: points above it
// are not simulated and have no row, and stderr says how many were left out; a
// point without an area figure cannot be held to a budget and fails the sweep.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <chrono>
#include <cstring>
#include <exception>
#include <iostream>
#include <mutex>
#include <thread>

#include <fmt/format.h>

#include "app/html_report.h"
#include "app/report.h"
#include "app/sweep.h"
#include "graph/error.h"
#include "graph/file_util.h"

namespace qsim::app {

namespace {

// A grid above this many points runs only with --yes; without it the sweep stops
// and prints its estimated time.
constexpr std::size_t kConfirmPoints = 100'000;
constexpr std::string_view kJournalMagic = "qsim-sweep-journal 1";

using Clock = std::chrono::steady_clock;

std::string format_duration(double seconds) {
  if (seconds < 90) return fmt::format("{:.1f} s", seconds);
  if (seconds < 5400) return fmt::format("{:.1f} min", seconds / 60);
  return fmt::format("{:.1f} h", seconds / 3600);
}

// The finished points of one sweep, on disk.
class Journal {
 public:
  // Reads back the points a previous run with the same fingerprint finished (into
  // `results`/`done`). Throws qsim::Error when the file belongs to another sweep or
  // a complete line is malformed. Creates nothing: start() does.
  Journal(std::string path, const std::string& fingerprint, std::size_t n_points, std::vector<SweepMetrics>& results,
          std::vector<char>& done)
      : path_(std::move(path)), header_(fmt::format("{} {} {}\n", kJournalMagic, fingerprint, n_points)) {
    if (::access(path_.c_str(), F_OK) != 0) return;
    const std::string text = read_file(path_);
    const std::size_t newline = text.rfind('\n');
    complete_ = newline == std::string::npos ? 0 : newline + 1;  // bytes of complete lines
    if (complete_ == 0) return;  // killed before its header was complete: start again
    if (text.compare(0, header_.size(), header_) != 0)
      fail("{}: the journal of a different sweep (other arguments, or input files changed since); remove it to "
           "start again, or pass --no-journal",
           path_);
    std::size_t line_no = 2;
    for (std::size_t pos = header_.size(); pos < complete_; ++line_no) {
      const std::size_t eol = text.find('\n', pos);
      parse_line(std::string_view(text).substr(pos, eol - pos), line_no, n_points, results, done);
      pos = eol + 1;
    }
  }
  // Opens the journal for appending: a torn last line is dropped, a new journal gets
  // its header.
  void start() {
    fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd_ < 0) fail("{}: cannot write the sweep journal: {}", path_, std::strerror(errno));
    if (::ftruncate(fd_, static_cast<off_t>(complete_)) != 0)
      fail("{}: cannot write the sweep journal: {}", path_, std::strerror(errno));
    if (complete_ == 0) append(header_);
  }
  ~Journal() {
    if (fd_ >= 0) ::close(fd_);
  }
  Journal(const Journal&) = delete;
  Journal& operator=(const Journal&) = delete;

  void record(std::size_t point, const SweepMetrics& m) {
    std::string line = std::to_string(point);
    for (std::size_t c = 0; c < kSweepMetricCount; ++c) {
      line += ' ';
      line += std::isnan(m[c]) ? std::string("nan") : format_metric(c, m[c]);  // area_kge without a figure
    }
    line += "\n";
    const std::lock_guard lock(mu_);
    append(line);
  }
  // The outputs are in place: the journal has served its purpose.
  void remove() {
    ::close(fd_);
    fd_ = -1;
    ::unlink(path_.c_str());
  }

 private:
  void append(std::string_view s) {
    while (!s.empty()) {
      const ssize_t n = ::write(fd_, s.data(), s.size());
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) fail("{}: cannot write the sweep journal: {}", path_, std::strerror(errno));
      s.remove_prefix(static_cast<std::size_t>(n));
    }
  }
  void parse_line(std::string_view line, std::size_t line_no, std::size_t n_points,
                  std::vector<SweepMetrics>& results, std::vector<char>& done) const {
    const auto bad = [&] {
      fail("{}:{}: malformed journal line; remove the file to start the sweep again", path_, line_no);
    };
    const char* p = line.data();
    const char* const e = line.data() + line.size();
    std::size_t point = 0;
    auto r = std::from_chars(p, e, point);
    if (r.ec != std::errc() || point >= n_points) bad();
    p = r.ptr;
    SweepMetrics m{};
    for (double& v : m) {
      if (p == e || *p != ' ') bad();
      r = std::from_chars(p + 1, e, v);
      if (r.ec != std::errc()) bad();
      p = r.ptr;
    }
    if (p != e) bad();
    if (!done[point]) {
      results[point] = m;
      done[point] = 1;
    }
  }

  std::string path_;
  std::string header_;
  std::size_t complete_ = 0;  // bytes of complete lines already in the file
  int fd_ = -1;
  std::mutex mu_;
};

// Rows for people: the point, its axis values and the main metrics, rounded.
std::string format_points_table(const SweepPlan& plan, const std::vector<SweepMetrics>& results,
                                std::span<const std::size_t> points, std::span<const std::size_t> extra_columns) {
  std::vector<std::size_t> columns;
  for (std::string_view name : {"latency_ms", "energy_uj", "energy_mac_uj", "energy_sram_uj", "energy_dram_uj",
                                "pes", "total_sram_kib"})
    columns.push_back(sweep_column(name, "column"));
  for (std::size_t c : extra_columns)
    if (std::find(columns.begin(), columns.end(), c) == columns.end()) columns.push_back(c);

  std::vector<std::vector<std::string>> cells;
  std::vector<std::string> head = {"point"};
  for (const SweepAxis& a : plan.axes()) head.push_back(a.key);
  for (std::size_t c : columns) head.emplace_back(kSweepColumns[c].name);
  cells.push_back(head);
  for (std::size_t p : points) {
    std::vector<std::string> row = {std::to_string(p + 1)};
    const auto picked = plan.pick(p);
    for (std::size_t i = 0; i < plan.axes().size(); ++i) row.push_back(plan.axes()[i].values[picked[i]]);
    for (std::size_t c : columns)
      row.push_back(kSweepColumns[c].integer ? format_metric(c, results[p][c]) : format_rounded(results[p][c]));
    cells.push_back(std::move(row));
  }
  std::vector<std::size_t> width(head.size(), 0);
  for (const auto& row : cells)
    for (std::size_t i = 0; i < row.size(); ++i) width[i] = std::max(width[i], row[i].size());
  std::string out;
  for (const auto& row : cells) {
    out += " ";
    for (std::size_t i = 0; i < row.size(); ++i) out += fmt::format(" {:>{}}", row[i], width[i]);
    out += "\n";
  }
  return out;
}

nlohmann::json sweep_json(const SweepPlan& plan, const SweepOptions& o, const std::vector<SweepMetrics>& results,
                          const std::vector<bool>& front, std::optional<std::size_t> best) {
  nlohmann::json j;
  j["kind"] = "sweep";
  j["provenance"] = plan.provenance(o);
  auto axes = nlohmann::json::array();
  for (const SweepAxis& a : plan.axes()) axes.push_back({{"key", a.key}, {"values", a.values}});
  j["axes"] = std::move(axes);
  auto columns = nlohmann::json::array();
  for (const SweepColumn& c : kSweepColumns) columns.push_back(c.name);
  j["columns"] = std::move(columns);
  j["pareto_columns"] = o.pareto;
  if (best) j["best"] = {{"column", o.best}, {"point", *best}};
  if (o.area_budget_kge) j["area_budget_kge"] = *o.area_budget_kge;
  auto points = nlohmann::json::array();
  for (const std::size_t p : plan.points()) {
    nlohmann::json row;
    row["point"] = p;
    const auto picked = plan.pick(p);
    nlohmann::json values = nlohmann::json::object();
    for (std::size_t i = 0; i < plan.axes().size(); ++i) values[plan.axes()[i].key] = plan.axes()[i].values[picked[i]];
    row["values"] = std::move(values);
    for (std::size_t c = 0; c < kSweepMetricCount; ++c) {
      if (std::isnan(results[p][c]))
        row[std::string(kSweepColumns[c].name)] = nullptr;  // area_kge without an area figure
      else if (kSweepColumns[c].integer)
        row[std::string(kSweepColumns[c].name)] = static_cast<int64_t>(results[p][c]);
      else
        row[std::string(kSweepColumns[c].name)] = results[p][c];
    }
    if (!o.pareto.empty()) row["pareto"] = static_cast<bool>(front[p]);
    points.push_back(std::move(row));
  }
  j["points"] = std::move(points);
  return j;
}

}  // namespace

int run_sweep(const SweepOptions& o) {
  OutputFiles out = check_sweep_files(o);
  // Column names are checked before any work (write_sweep_outputs uses them).
  for (const std::string& c : o.pareto) (void)sweep_column(c, "--pareto");
  if (!o.best.empty()) (void)sweep_column(o.best, "--best");

  const SweepPlan plan(o);
  const std::size_t n_points = plan.size();
  std::vector<SweepMetrics> results(n_points);
  std::vector<char> done(n_points, 0);

  std::unique_ptr<Journal> journal;
  if (!o.out.empty() && !o.no_journal)
    journal = std::make_unique<Journal>(sweep_journal_path(o.out), plan.fingerprint(), n_points, results, done);
  std::vector<std::size_t> todo;
  for (const std::size_t p : plan.points())
    if (!done[p]) todo.push_back(p);
  if (todo.size() < plan.points().size())
    std::cerr << fmt::format("qsim sweep: resuming {}: {} of {} points already done\n", sweep_journal_path(o.out),
                             plan.points().size() - todo.size(), plan.points().size());

  std::size_t n_threads = o.threads > 0 ? static_cast<std::size_t>(o.threads)
                                        : std::max(1u, std::thread::hardware_concurrency());
  n_threads = std::max<std::size_t>(1, std::min(n_threads, todo.size()));

  // Big grids: time one point to estimate the whole, and ask for --yes.
  std::atomic<std::size_t> next{0};
  if (todo.size() > kConfirmPoints) {
    const auto t0 = Clock::now();
    const std::size_t p = todo[next++];
    results[p] = plan.evaluate(p);
    const double per_point = std::chrono::duration<double>(Clock::now() - t0).count();
    const std::string estimate = format_duration(per_point * static_cast<double>(todo.size()) /
                                                 static_cast<double>(n_threads));
    if (!o.yes)
      fail("--set: the grid has {} points to simulate, estimated {} on {} threads; add --yes to run it", todo.size(),
           estimate, n_threads);
    std::cerr << fmt::format("qsim sweep: {} points, estimated {} on {} threads\n", todo.size(), estimate, n_threads);
  }
  if (journal) {
    journal->start();
    if (next > 0) journal->record(todo[0], results[todo[0]]);
  }

  // Workers take points from a shared counter; results land in their own slots.
  std::atomic<std::size_t> finished{next.load()};
  std::atomic<bool> stop{false};
  std::mutex error_mu;
  std::string error;
  const auto work = [&] {
    for (std::size_t i; !stop && (i = next.fetch_add(1)) < todo.size();) {
      try {
        const std::size_t p = todo[i];
        results[p] = plan.evaluate(p);
        if (journal) journal->record(p, results[p]);
      } catch (const std::exception& e) {
        const std::lock_guard lock(error_mu);
        if (error.empty()) error = e.what();
        stop = true;
      }
      ++finished;
    }
  };
  const bool progress = ::isatty(STDERR_FILENO) == 1 && !todo.empty();
  std::vector<std::thread> pool;
  for (std::size_t t = progress ? 0 : 1; t < n_threads; ++t) pool.emplace_back(work);
  if (progress) {
    // A progress line on a terminal: points done, rate, time left.
    const auto t0 = Clock::now();
    const std::size_t start = finished;
    for (;;) {
      const std::size_t f = finished;
      const double s = std::chrono::duration<double>(Clock::now() - t0).count();
      const double rate = s > 0 ? static_cast<double>(f - start) / s : 0;
      const std::string eta =
          rate > 0 ? format_duration(static_cast<double>(todo.size() - f) / rate) : std::string("?");
      std::cerr << fmt::format("\rqsim sweep: {}/{} points, {}/s, ETA {}   ",
                               f + plan.points().size() - todo.size(), plan.points().size(), format_rounded(rate, 3),
                               eta)
                << std::flush;
      if (f >= todo.size() || stop) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    std::cerr << "\n";
  } else {
    work();
  }
  for (std::thread& t : pool) t.join();
  if (!error.empty()) fail("{}", error);

  write_sweep_outputs(plan, o, results, fmt::format("{} threads", n_threads), out);
  if (journal) journal->remove();
  return 0;
}

void write_sweep_outputs(const SweepPlan& plan, const SweepOptions& o, const std::vector<SweepMetrics>& results,
                         std::string_view workers, OutputFiles& out) {
  const std::size_t n_points = plan.size();
  const std::vector<std::size_t>& points = plan.points();  // the rows: within --area-budget-kge
  std::vector<std::size_t> pareto_columns;
  for (const std::string& c : o.pareto) pareto_columns.push_back(sweep_column(c, "--pareto"));
  std::optional<std::size_t> best_column;
  if (!o.best.empty()) best_column = sweep_column(o.best, "--best");
  // Outputs: exact CSV/JSON; the chosen points rounded on screen.
  std::vector<bool> front;  // by grid point
  if (!pareto_columns.empty()) {
    std::vector<SweepMetrics> rows;
    for (const std::size_t p : points) rows.push_back(results[p]);
    const std::vector<bool> on = pareto_front(rows, pareto_columns);
    front.assign(n_points, false);
    for (std::size_t i = 0; i < points.size(); ++i) front[points[i]] = on[i];
  }
  std::optional<std::size_t> best;
  if (best_column) {
    best = points.front();
    for (const std::size_t p : points)
      if (results[p][*best_column] < results[*best][*best_column]) best = p;
  }
  std::string text = plan.csv_header(!front.empty());
  for (const std::size_t p : points)
    text += plan.csv_row(p, results[p], front.empty() ? std::nullopt : std::optional<bool>(front[p]));
  std::string summary;
  if (best) {
    summary += fmt::format("best {} (point {} of {}):\n", o.best, *best + 1, n_points);
    const std::size_t one[] = {*best};
    const std::size_t col[] = {*best_column};
    summary += format_points_table(plan, results, one, col);
  }
  if (!front.empty()) {
    std::vector<std::size_t> members;
    for (const std::size_t p : points)
      if (front[p]) members.push_back(p);
    std::sort(members.begin(), members.end(), [&](std::size_t a, std::size_t b) {
      return results[a][pareto_columns[0]] < results[b][pareto_columns[0]] ||
             (results[a][pareto_columns[0]] == results[b][pareto_columns[0]] && a < b);
    });
    summary += fmt::format("pareto front over {}: {} of {} points\n", fmt::join(o.pareto, ", "), members.size(),
                           points.size());
    summary += format_points_table(plan, results, members, pareto_columns);
  }

  if (!o.out.empty()) out.set(o.out, text);
  if (!o.json.empty() || !o.report.empty()) {
    const nlohmann::json j = sweep_json(plan, o, results, front, best);
    if (!o.json.empty()) out.set(o.json, j.dump(2) + "\n");
    if (!o.report.empty()) {
      const ReportInput in[] = {{"sweep", j}};
      out.set(o.report, render_html_report(in));
    }
  }
  out.commit();
  if (o.out.empty()) {
    std::cout << text;
    std::cerr << summary;
  } else {
    std::cerr << fmt::format("qsim sweep: {} points on {} -> {}\n", points.size(), workers, o.out);
    std::cout << summary;
  }
  if (points.size() < n_points)
    std::cerr << fmt::format("qsim sweep: {} of {} points above the area budget of {} kGE left out\n",
                             n_points - points.size(), n_points, *o.area_budget_kge);
}

}  // namespace qsim::app
