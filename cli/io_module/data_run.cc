// `hpcai data` command bodies (convert, synth, inspect, bench).  Built into
// libhpcai_cli_io.so, the part of the CLI that links HDF5 + MPI; the options
// are declared in ../cmd_data.cc and the `hpcai` executable loads this
// library only when one of these commands runs (see ../cli_io.h).
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <sstream>

#include "../common.h"
#include "../data_args.h"
#include "../cli_io.h"
#include "hpcai/base/fs.h"
#include "hpcai/base/json.h"
#include "hpcai/io/convert.h"
#include "hpcai/io/dataset.h"
#include "hpcai/io/reader.h"

namespace hpcai::cli {

namespace {

std::string Mb(double bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f MB", bytes / 1e6);
  return buf;
}

// A one-line progress bar on stderr, only on a terminal, at most 10 times a second.
class Progress {
 public:
  explicit Progress(bool quiet) : on_(!quiet && ::isatty(STDERR_FILENO) == 1) {}
  ~Progress() { Done(); }
  void Update(int64_t done, int64_t total, int64_t bytes) {
    if (!on_) return;
    auto now = std::chrono::steady_clock::now();
    if (done < total && now - last_ < std::chrono::milliseconds(100)) return;
    last_ = now;
    double secs = std::chrono::duration<double>(now - t0_).count();
    int width = 30, fill = total > 0 ? static_cast<int>(width * done / total) : width;
    std::string bar(static_cast<size_t>(fill), '#');
    bar += std::string(static_cast<size_t>(width - fill), '-');
    std::fprintf(stderr, "\r  [%s] %3d%%  %lld/%lld samples", bar.c_str(),
                 total > 0 ? static_cast<int>(100 * done / total) : 100, static_cast<long long>(done),
                 static_cast<long long>(total));
    if (bytes > 0 && secs > 0) std::fprintf(stderr, "  %.1f MB/s in", bytes / 1e6 / secs);
    std::fflush(stderr);
    shown_ = true;
  }
  void Done() {
    if (shown_) std::fprintf(stderr, "\n");
    shown_ = false;
  }

 private:
  bool on_;
  bool shown_ = false;
  std::chrono::steady_clock::time_point t0_ = std::chrono::steady_clock::now(), last_{};
};

void PrintParts(const io::ConvertSummary& s) {
  for (const auto& p : s.parts) {
    std::printf("  %-6s %-28s %8lld samples  %3lld shard%s  %s\n", p.name.empty() ? "-" : p.name.c_str(),
                p.dir.c_str(), static_cast<long long>(p.samples), static_cast<long long>(p.shards),
                p.shards == 1 ? " " : "s", Mb(static_cast<double>(p.bytes_out)).c_str());
  }
}

int RunConvert(ConvertArgs& a) {
  for (const auto& s : a.split) {
    size_t eq = s.find('=');
    if (eq == std::string::npos) return ReportError(Status::InvalidArgument("--split '" + s + "': expected NAME=FRACTION, e.g. val=0.1"));
    char* end = nullptr;
    double f = std::strtod(s.c_str() + eq + 1, &end);
    if (end == s.c_str() + eq + 1 || *end != '\0') {
      return ReportError(Status::InvalidArgument("--split '" + s + "': '" + s.substr(eq + 1) + "' is not a number"));
    }
    a.opt.split.emplace_back(s.substr(0, eq), f);
  }
  a.opt.chunk_checksums = !a.no_checksums;
  Progress bar(a.quiet);
  a.opt.progress = [&](int64_t d, int64_t t, int64_t b) { bar.Update(d, t, b); };
  auto r = io::Convert(a.opt);
  bar.Done();
  if (!r.ok()) return ReportError(r.status());
  const auto& s = *r;
  double secs = std::max(s.seconds, 1e-9);
  std::printf("converted %lld samples (--from %s) in %.2f s\n", static_cast<long long>(s.samples), a.opt.from.c_str(),
              s.seconds);
  PrintParts(s);
  std::printf("  in:  %s on disk (%s decoded), %.1f MB/s\n", Mb(static_cast<double>(s.bytes_in_files)).c_str(),
              Mb(static_cast<double>(s.bytes_in_raw)).c_str(), static_cast<double>(s.bytes_in_files) / 1e6 / secs);
  std::printf("  out: %s, %.1f MB/s\n", Mb(static_cast<double>(s.bytes_out)).c_str(),
              static_cast<double>(s.bytes_out) / 1e6 / secs);
  return 0;
}

int RunSynth(SynthArgs& a) {
  if ((a.features > 0) == !a.shape.empty()) {
    return ReportError(Status::InvalidArgument("give exactly one of --features F or --shape C,H,W"));
  }
  if (a.features > 0) {
    a.opt.shape = {a.features};
  } else {
    std::stringstream ss(a.shape);
    std::string tok;
    while (std::getline(ss, tok, ',')) {
      char* end = nullptr;
      long long v = std::strtoll(tok.c_str(), &end, 10);
      if (tok.empty() || *end != '\0' || v <= 0) {
        return ReportError(Status::InvalidArgument("--shape '" + a.shape + "': expected positive integers like 1,28,28"));
      }
      a.opt.shape.push_back(v);
    }
  }
  Progress bar(a.quiet);
  a.opt.progress = [&](int64_t d, int64_t t, int64_t b) { bar.Update(d, t, b); };
  auto r = io::Synth(a.opt);
  bar.Done();
  if (!r.ok()) return ReportError(r.status());
  std::printf("wrote %lld synthetic samples (%d classes) in %.2f s\n", static_cast<long long>(r->samples),
              a.opt.classes, r->seconds);
  PrintParts(*r);
  return 0;
}

Json SummaryJson(const io::DatasetSummary& s, const Status* verify) {
  const auto& info = s.info;
  Json j = Json::MakeObject();
  j.set("dir", info.dir);
  io::SetDatasetFields(info, s.label_counts, &j);
  j.set("bytes_on_disk", s.bytes_on_disk);
  Json shards = Json::MakeArray();
  for (size_t i = 0; i < info.shards.size(); ++i) {
    Json e = Json::MakeObject();
    e.set("file", info.shards[i].file);
    e.set("num_samples", info.shards[i].num_samples);
    e.set("bytes", s.shard_bytes[i]);
    e.set("sha256", info.shards[i].sha256);
    shards.push_back(e);
  }
  j.set("shards", shards);
  if (!s.source.is_null()) j.set("source", s.source);
  if (verify != nullptr) {
    j.set("verified", verify->ok());
    if (!verify->ok()) j.set("verify_error", verify->message());
  }
  return j;
}

void PrintSummary(const io::DatasetSummary& s) {
  const auto& info = s.info;
  std::printf("dataset %s  (hpcai-dataset format %d)\n", info.dir.c_str(), info.format_version);
  std::printf("  samples       %lld in %zu shard%s\n", static_cast<long long>(info.num_samples), info.shards.size(),
              info.shards.size() == 1 ? "" : "s");
  std::printf("  x             '%s' %s %s", info.x_name.c_str(), info.dtype.c_str(), io::ShapeString(info.sample_shape).c_str());
  if (info.dtype == "uint8" || info.scale != 1.0f || info.offset != 0.0f) {
    std::printf("  (read as float32: x * %.9g + %g)", static_cast<double>(info.scale), static_cast<double>(info.offset));
  }
  std::printf("\n  y             '%s' int32, %d classes\n", info.y_name.c_str(), info.num_classes);
  std::printf("  chunks        %lld samples, compression %s\n", static_cast<long long>(info.chunk_samples),
              info.compression.c_str());
  std::printf("  size on disk  %s\n", Mb(static_cast<double>(s.bytes_on_disk)).c_str());
  if (!s.source.is_null()) std::printf("  source        %s\n", s.source.dump().c_str());
  std::printf("  shards:\n");
  for (size_t i = 0; i < info.shards.size(); ++i) {
    std::printf("    %-16s %9lld samples  %10s  sha256 %.16s...\n", info.shards[i].file.c_str(),
                static_cast<long long>(info.shards[i].num_samples), Mb(static_cast<double>(s.shard_bytes[i])).c_str(),
                info.shards[i].sha256.c_str());
  }
  std::printf("  labels:\n");
  int64_t maxc = 1;
  for (int64_t c : s.label_counts) maxc = std::max(maxc, c);
  for (size_t c = 0; c < s.label_counts.size(); ++c) {
    int bar = static_cast<int>(30 * s.label_counts[c] / maxc);
    std::printf("    %4zu %9lld  %5.1f%%  %s\n", c, static_cast<long long>(s.label_counts[c]),
                100.0 * static_cast<double>(s.label_counts[c]) / static_cast<double>(std::max<int64_t>(1, info.num_samples)),
                std::string(static_cast<size_t>(bar), '#').c_str());
  }
}

int RunInspect(const InspectArgs& a) {
  // A directory of datasets (e.g. data/fmnist with train/ and test/) inspects each.
  std::vector<std::string> dirs;
  if (fs::IsDir(a.dir) && !fs::Exists(fs::Join(a.dir, "manifest.json"))) {
    auto names = fs::ListDir(a.dir);
    if (names.ok()) {
      for (const auto& n : *names) {
        if (fs::Exists(fs::Join(fs::Join(a.dir, n), "manifest.json"))) dirs.push_back(fs::Join(a.dir, n));
      }
    }
  }
  if (dirs.empty()) dirs.push_back(a.dir);
  Json all = Json::MakeArray();
  Status first_error;
  for (const auto& d : dirs) {
    auto s = io::InspectDataset(d, a.x_name, a.y_name);
    if (!s.ok()) return ReportError(s.status().WithContext(d));
    Status verify;
    if (a.verify) {
      bool tty = !a.json && ::isatty(STDERR_FILENO) == 1;
      verify = io::VerifyDataset(s->info, [&](size_t i, bool ok) {
        if (tty) std::fprintf(stderr, "\r  verifying %zu/%zu shards", i + 1, s->info.shards.size());
      });
      if (tty) std::fprintf(stderr, "\n");
      if (!verify.ok() && first_error.ok()) first_error = verify.WithContext(d);
    }
    if (a.json) {
      all.push_back(SummaryJson(*s, a.verify ? &verify : nullptr));
    } else {
      PrintSummary(*s);
      if (a.verify) {
        bool color = UseColor(STDOUT_FILENO);
        if (verify.ok()) {
          std::printf("  verify        %s\n",
                      Colorize("OK: " + std::to_string(s->info.shards.size()) + " shard(s) match their sha256", "32",
                               color).c_str());
        } else {
          std::printf("  verify        %s\n", Colorize("FAILED: " + verify.message(), "31", color).c_str());
        }
      }
    }
  }
  if (a.json) std::printf("%s\n", (all.as_array().size() == 1 ? all.as_array()[0] : all).dump(2).c_str());
  std::fflush(stdout);
  if (!first_error.ok()) return ReportError(first_error);
  return 0;
}


// ---- bench ------------------------------------------------------------------------------


double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : (v.size() % 2 ? v[v.size() / 2] : 0.5 * (v[v.size() / 2 - 1] + v[v.size() / 2]));
}

// The reference: read(2) of every shard file, front to back, 4 MiB at a time.
Result<double> RawReadSeconds(const std::vector<std::string>& files, std::vector<char>* buf, uint64_t* sink) {
  auto t0 = std::chrono::steady_clock::now();
  for (const auto& f : files) {
    int fd = ::open(f.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return Status::IOError("cannot open '" + f + "'");
    ssize_t r;
    while ((r = ::read(fd, buf->data(), buf->size())) > 0) *sink += static_cast<unsigned char>((*buf)[r / 2]);
    ::close(fd);
  }
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// CPU seconds used by the whole process (all threads) so far.
double ProcessCpuSeconds() {
  struct rusage ru{};
  ::getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         1e-6 * static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}

// Busy work standing in for a training step (keeps one core busy like compute does).
void Spin(double ms) {
  auto until = std::chrono::steady_clock::now() + std::chrono::duration<double, std::milli>(ms);
  while (std::chrono::steady_clock::now() < until) {
  }
}

int RunBench(const BenchArgs& a) {
  auto info = io::ReadDatasetInfo(a.dir);
  if (!info.ok()) return ReportError(info.status());
  std::vector<std::string> files;
  int64_t file_bytes = 0;
  for (const auto& s : info->shards) {
    files.push_back(fs::Join(a.dir, s.file));
    struct stat st{};
    if (::stat(files.back().c_str(), &st) == 0) file_bytes += st.st_size;
  }
  const double x_float_bytes = static_cast<double>(info->num_samples) * static_cast<double>(info->feature_dim()) * 4.0;
  io::ReaderOptions o;
  o.global_batch = a.batch;
  o.prefetch = a.prefetch;
  o.gather_threads = a.gather_threads;
  o.mode = a.mode == "cache" ? io::ReadMode::kCache : io::ReadMode::kStream;
  o.memory_budget_mb = a.budget_mb;
  o.window_chunks = a.window;
  o.map_rows = !a.no_map;
  std::vector<char> buf(4 << 20);
  uint64_t sink = 0;
  (void)RawReadSeconds(files, &buf, &sink);  // warm the page cache
  auto t_open = std::chrono::steady_clock::now();
  auto reader = io::ShardReader::Open(a.dir, o);
  if (!reader.ok()) return ReportError(reader.status());
  double open_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_open).count();
  std::vector<double> raw_s, rd_s, stall_frac, raw_cpu, rd_cpu;
  double first_s = 0;
  io::Batch b;
  for (int rep = 0; rep < a.repeats; ++rep) {
    // Alternate reference and reader in the same run (noise hits both).
    double c0 = ProcessCpuSeconds();
    auto raw = RawReadSeconds(files, &buf, &sink);
    if (!raw.ok()) return ReportError(raw.status());
    raw_s.push_back(*raw);
    raw_cpu.push_back(ProcessCpuSeconds() - c0);
    c0 = ProcessCpuSeconds();
    auto t0 = std::chrono::steady_clock::now();
    (*reader)->Seek(rep, 0);
    (*reader)->TakeStallSeconds();
    while (true) {
      auto more = (*reader)->Next(&b);
      if (!more.ok()) return ReportError(more.status());
      if (!*more) break;
      if (a.compute_ms > 0) Spin(a.compute_ms);
      sink += b.y.empty() ? 0 : static_cast<uint64_t>(b.y[0]);
    }
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    rd_s.push_back(secs);
    if (rep == 0) first_s = secs;  // includes checksum checks and page faults of a first use
    rd_cpu.push_back(ProcessCpuSeconds() - c0);
    stall_frac.push_back((*reader)->TakeStallSeconds() / secs);
  }
  const double raw_mbs = static_cast<double>(file_bytes) / 1e6 / Median(raw_s);
  const double rd_mbs = x_float_bytes / 1e6 / Median(rd_s);
  if (a.json) {
    Json j = Json::MakeObject();
    j.set("dir", a.dir);
    j.set("mode", (*reader)->mode() == io::ReadMode::kCache ? "cache" : "stream");
    j.set("dtype", info->dtype);
    j.set("samples", info->num_samples);
    j.set("batch", a.batch);
    j.set("prefetch", a.prefetch);
    j.set("gather_threads", a.gather_threads);
    j.set("map_rows", !a.no_map);
    j.set("compute_ms", a.compute_ms);
    j.set("repeats", a.repeats);
    j.set("file_mb", static_cast<double>(file_bytes) / 1e6);
    j.set("x_float_mb", x_float_bytes / 1e6);
    j.set("open_s", open_s);
    j.set("raw_mb_s", raw_mbs);
    j.set("reader_mb_s", rd_mbs);
    j.set("ratio", rd_mbs / raw_mbs);
    j.set("first_epoch_mb_s", x_float_bytes / 1e6 / std::max(1e-9, first_s));
    j.set("mapped_shards", (*reader)->mapped_shards());
    j.set("consumer_gather_share", (*reader)->gather_stats().consumer_share());
    // CPU cost per byte (all threads), robust on a busy machine; excludes the
    // busy "step" when --compute-ms is set only if that is 0.
    j.set("raw_cpu_mb_s", static_cast<double>(file_bytes) / 1e6 / std::max(1e-9, Median(raw_cpu)));
    j.set("reader_cpu_mb_s", x_float_bytes / 1e6 / std::max(1e-9, Median(rd_cpu)));
    j.set("cpu_ratio", (x_float_bytes / std::max(1e-9, Median(rd_cpu))) /
                           (static_cast<double>(file_bytes) / std::max(1e-9, Median(raw_cpu))));
    j.set("stall_fraction", Median(stall_frac));
    std::printf("%s\n", j.dump().c_str());
  } else {
    std::printf("reader bench: %s (%s, %lld samples, %s mode, batch %lld, prefetch %d, %d gather thread(s), %d repeats, medians)\n",
                a.dir.c_str(), info->dtype.c_str(), static_cast<long long>(info->num_samples),
                (*reader)->mode() == io::ReadMode::kCache ? "cache" : "stream", static_cast<long long>(a.batch),
                a.prefetch, a.gather_threads, a.repeats);
    std::printf("  raw read(2) of the shard files : %8.1f MB/s  (%.1f MB)\n", raw_mbs, file_bytes / 1e6);
    std::printf("  reader, float32 x delivered    : %8.1f MB/s  (%.1f MB per epoch)\n", rd_mbs, x_float_bytes / 1e6);
    std::printf("  ratio reader / raw             : %8.2f\n", rd_mbs / raw_mbs);
    std::printf("  reader, first epoch            : %8.1f MB/s  (%d of %zu shards read through a mapping)\n",
                x_float_bytes / 1e6 / std::max(1e-9, first_s), (*reader)->mapped_shards(), info->shards.size());
    std::printf("  rows copied by the waiting consumer: %.0f%%\n", 100 * (*reader)->gather_stats().consumer_share());
    std::printf("  per CPU-second (all threads)   : raw %.1f MB, reader %.1f MB, ratio %.2f\n",
                static_cast<double>(file_bytes) / 1e6 / std::max(1e-9, Median(raw_cpu)),
                x_float_bytes / 1e6 / std::max(1e-9, Median(rd_cpu)),
                (x_float_bytes / std::max(1e-9, Median(rd_cpu))) /
                    (static_cast<double>(file_bytes) / std::max(1e-9, Median(raw_cpu))));
    std::printf("  open (incl. cache load)        : %8.3f s\n", open_s);
    if (a.compute_ms > 0) std::printf("  data stall                     : %8.1f %% of the loop\n", 100 * Median(stall_frac));
  }
  return sink == 42 ? 0 : 0;  // sink keeps the reads from being optimised away
}


}  // namespace

int DataRunConvert(ConvertArgs& a) { return RunConvert(a); }
int DataRunSynth(SynthArgs& a) { return RunSynth(a); }
int DataRunInspect(const InspectArgs& a) { return RunInspect(a); }
int DataRunBench(const BenchArgs& a) { return RunBench(a); }

}  // namespace hpcai::cli
