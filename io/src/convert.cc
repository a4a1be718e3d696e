// hpcai data convert / synth: inputs -> DatasetWriter(s).
#include "hpcai/io/convert.h"

#include <algorithm>
#include <chrono>
#include <cmath>

#include "convert_sources.h"
#include "hpcai/base/fs.h"
#include "hpcai/base/json.h"
#include "hpcai/base/rng.h"
#include "hpcai/io/dataset.h"

namespace hpcai::io {

namespace {

using Clock = std::chrono::steady_clock;

constexpr double kDefaultShardMB = 256;

int64_t SamplesPerShard(int64_t n, int64_t row_bytes, int64_t shards, double shard_size_mb) {
  if (shards > 0) return (n + shards - 1) / shards;
  double mb = shard_size_mb > 0 ? shard_size_mb : kDefaultShardMB;
  return std::max<int64_t>(1, static_cast<int64_t>(mb * 1e6 / static_cast<double>(row_bytes)));
}

struct Output {
  std::string name;
  std::string dir;
  int64_t samples = 0;
  std::unique_ptr<DatasetWriter> writer;
  // Rows pending for this output in the current block.
  std::vector<uint8_t> xbuf;
  std::vector<int32_t> ybuf;
  int64_t pending = 0;
};

Status CheckSplit(const std::vector<std::pair<std::string, double>>& split) {
  double total = 0;
  for (const auto& [name, frac] : split) {
    if (name.empty() || name.find('/') != std::string::npos) {
      return Status::InvalidArgument("--split needs NAME=FRACTION, e.g. val=0.1");
    }
    if (!(frac > 0 && frac < 1)) {
      return Status::InvalidArgument("--split " + name + "=" + std::to_string(frac) + ": fraction must be in (0, 1)");
    }
    total += frac;
  }
  if (total >= 1) return Status::InvalidArgument("--split fractions add up to >= 1: nothing left for training");
  return Status::OK();
}

}  // namespace

Result<ConvertSummary> Convert(const ConvertOptions& o) {
  auto t0 = Clock::now();
  if (o.out.empty()) return Status::InvalidArgument("--out DIR is required");
  if (o.inputs.empty()) return Status::InvalidArgument("no inputs given");
  if (!o.dtype.empty() && o.dtype != "uint8" && o.dtype != "float32") {
    return Status::InvalidArgument("--dtype '" + o.dtype + "' must be uint8 or float32");
  }
  HPCAI_RETURN_IF_ERROR(CheckSplit(o.split));
  Result<std::vector<NamedSource>> opened = Status::Internal("unset");
  if (o.from == "idx") {
    opened = OpenIdxSources(o.inputs);
  } else if (o.from == "npy") {
    opened = OpenNpySources(o.inputs);
  } else if (o.from == "csv") {
    opened = OpenCsvSources(o.inputs, o.label_column);
  } else if (o.from == "hdf5") {
    opened = OpenHdf5Sources(o.inputs, o.x_name, o.y_name);
  } else {
    return Status::InvalidArgument("--from '" + o.from + "' must be one of idx, npy, csv, hdf5");
  }
  if (!opened.ok()) return opened.status();
  std::vector<NamedSource>& parts = *opened;

  // Which part the split carves from: "train" if present, else the only part.
  int split_part = -1;
  if (!o.split.empty()) {
    for (size_t i = 0; i < parts.size(); ++i) {
      if (parts[i].part == "train") split_part = static_cast<int>(i);
    }
    if (split_part < 0 && parts.size() == 1) split_part = 0;
    if (split_part < 0) return Status::InvalidArgument("--split: no 'train' part among the inputs to split");
    if (parts[static_cast<size_t>(split_part)].part.empty()) parts[static_cast<size_t>(split_part)].part = "train";
  }
  const bool single = parts.size() == 1 && o.split.empty();
  ConvertSummary sum;
  int64_t total = 0;
  for (const auto& p : parts) {
    total += p.source->num_samples;
    sum.bytes_in_files += p.source->file_bytes;
  }

  std::vector<std::vector<Output>> outputs(parts.size());
  std::vector<std::vector<uint8_t>> assign(parts.size());  // split: per sample output index
  for (size_t pi = 0; pi < parts.size(); ++pi) {
    Source& src = *parts[pi].source;
    std::vector<std::pair<std::string, int64_t>> outs = {{parts[pi].part, src.num_samples}};
    if (static_cast<int>(pi) == split_part) {
      // Random subsets of the part, by a permutation from the seed; each
      // output keeps the input order (so reading stays sequential).
      const int64_t n = src.num_samples;
      std::vector<int64_t> perm(static_cast<size_t>(n));
      for (int64_t i = 0; i < n; ++i) perm[static_cast<size_t>(i)] = i;
      Rng rng(MixSeed(o.seed, 0x5b117));
      for (int64_t i = n - 1; i > 0; --i) {
        std::swap(perm[static_cast<size_t>(i)], perm[rng.Below(static_cast<uint64_t>(i + 1))]);
      }
      assign[pi].assign(static_cast<size_t>(n), 0);
      int64_t at = 0;
      for (size_t s = 0; s < o.split.size(); ++s) {
        int64_t k = static_cast<int64_t>(std::llround(o.split[s].second * static_cast<double>(n)));
        k = std::min(k, n - at);
        for (int64_t j = at; j < at + k; ++j) assign[pi][static_cast<size_t>(perm[static_cast<size_t>(j)])] = static_cast<uint8_t>(s + 1);
        outs.emplace_back(o.split[s].first, k);
        outs[0].second -= k;
        at += k;
      }
    }
    const std::string out_dtype = o.dtype.empty() ? src.dtype : o.dtype;
    for (const auto& [name, count] : outs) {
      Output out;
      out.name = single ? "" : name;
      out.dir = single ? o.out : fs::Join(o.out, name);
      out.samples = count;
      for (const auto& prev : outputs) {
        for (const auto& q : prev) {
          if (q.dir == out.dir) return Status::InvalidArgument("two outputs would both be written to '" + out.dir + "'");
        }
      }
      if (count == 0) {
        return Status::InvalidArgument("output '" + name + "' would be empty (" + src.description + ")");
      }
      DatasetLayout layout;
      layout.sample_shape = src.shape;
      layout.dtype = out_dtype;
      layout.scale = out_dtype == "uint8" ? 1.0f / 255.0f : 1.0f;
      layout.num_classes = o.num_classes;
      layout.chunk_samples = o.chunk_samples;
      layout.compression = o.compression;
      layout.chunk_checksums = o.chunk_checksums;
      DatasetInfo tmp;
      tmp.sample_shape = src.shape;
      tmp.dtype = out_dtype;
      layout.samples_per_shard = SamplesPerShard(count, tmp.row_bytes(), o.shards, o.shard_size_mb);
      Json source = Json::MakeObject();
      source.set("from", o.from);
      source.set("inputs", src.description);
      if (static_cast<int>(pi) == split_part) {
        source.set("split", name);
        source.set("seed", static_cast<int64_t>(o.seed));
      }
      layout.source = source;
      HPCAI_ASSIGN_OR_RETURN(out.writer, DatasetWriter::Create(out.dir, layout, count, o.overwrite));
      outputs[pi].push_back(std::move(out));
    }
  }

  // Copy, block by block.
  int64_t done = 0, bytes_in = 0;
  for (size_t pi = 0; pi < parts.size(); ++pi) {
    Source& src = *parts[pi].source;
    const int64_t feat = src.feature_dim();
    const int64_t src_rb = feat * (src.dtype == "uint8" ? 1 : 4);
    const std::string out_dtype = o.dtype.empty() ? src.dtype : o.dtype;
    const int64_t out_rb = feat * (out_dtype == "uint8" ? 1 : 4);
    const int64_t block = std::max<int64_t>(1, (int64_t{4} << 20) / src_rb);
    std::vector<uint8_t> xs(static_cast<size_t>(block * src_rb)), xo;
    std::vector<int32_t> ys(static_cast<size_t>(block));
    if (out_dtype != src.dtype) xo.resize(static_cast<size_t>(block * out_rb));
    for (auto& out : outputs[pi]) {
      out.xbuf.resize(static_cast<size_t>(block * out_rb));
      out.ybuf.resize(static_cast<size_t>(block));
    }
    for (int64_t at = 0; at < src.num_samples; at += block) {
      const int64_t n = std::min(block, src.num_samples - at);
      Status st = src.Read(n, xs.data(), ys.data());
      if (!st.ok()) return st;
      const uint8_t* x = xs.data();
      if (out_dtype != src.dtype) {
        if (out_dtype == "float32") {  // uint8 -> float32 with the uint8 convention x/255
          auto* f = reinterpret_cast<float*>(xo.data());
          for (int64_t i = 0; i < n * feat; ++i) f[i] = static_cast<float>(xs[static_cast<size_t>(i)]) * (1.0f / 255.0f);
        } else {  // float32 -> uint8 only when exact
          const auto* f = reinterpret_cast<const float*>(xs.data());
          for (int64_t i = 0; i < n * feat; ++i) {
            float v = f[i];
            if (!(v >= 0 && v <= 255 && v == std::floor(v))) {
              return Status::InvalidArgument(src.description + ": sample " + std::to_string(at + i / feat) +
                                             " has value " + std::to_string(v) +
                                             "; --dtype uint8 needs integers in [0, 255] (stored with scale 1/255)");
            }
            xo[static_cast<size_t>(i)] = static_cast<uint8_t>(v);
          }
        }
        x = xo.data();
      }
      if (assign[pi].empty()) {
        HPCAI_RETURN_IF_ERROR(outputs[pi][0].writer->Append(x, ys.data(), n));
      } else {
        for (int64_t i = 0; i < n; ++i) {
          Output& out = outputs[pi][assign[pi][static_cast<size_t>(at + i)]];
          std::copy_n(x + i * out_rb, out_rb, out.xbuf.data() + out.pending * out_rb);
          out.ybuf[static_cast<size_t>(out.pending)] = ys[static_cast<size_t>(i)];
          ++out.pending;
        }
        for (auto& out : outputs[pi]) {
          if (out.pending > 0) HPCAI_RETURN_IF_ERROR(out.writer->Append(out.xbuf.data(), out.ybuf.data(), out.pending));
          out.pending = 0;
        }
      }
      done += n;
      bytes_in += n * src_rb;
      if (o.progress) o.progress(done, total, bytes_in);
    }
  }
  // One class count for all outputs (a small split may miss the top class).
  int classes = o.num_classes;
  if (classes <= 0) {
    for (const auto& po : outputs) {
      for (const auto& out : po) classes = std::max(classes, out.writer->max_label() + 1);
    }
  }
  for (auto& po : outputs) {
    for (auto& out : po) {
      out.writer->set_num_classes(classes);
      HPCAI_RETURN_IF_ERROR(out.writer->Finish());
      ConvertedPart cp;
      cp.name = out.name;
      cp.dir = out.dir;
      cp.samples = out.samples;
      cp.shards = static_cast<int64_t>(out.writer->info().shards.size());
      cp.bytes_out = out.writer->bytes_on_disk();
      sum.bytes_out += cp.bytes_out;
      sum.parts.push_back(cp);
    }
  }
  sum.samples = total;
  sum.bytes_in_raw = bytes_in;
  sum.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  return sum;
}

Result<ConvertSummary> Synth(const SynthOptions& o) {
  auto t0 = Clock::now();
  if (o.samples <= 0) return Status::InvalidArgument("--samples must be > 0");
  if (o.classes < 2) return Status::InvalidArgument("--classes must be >= 2");
  if (o.shape.empty()) return Status::InvalidArgument("give --features F or --shape C,H,W");
  if (o.out.empty()) return Status::InvalidArgument("--out DIR is required");
  DatasetLayout layout;
  layout.sample_shape = o.shape;
  layout.dtype = "float32";
  layout.num_classes = o.classes;
  layout.chunk_samples = o.chunk_samples;
  layout.compression = o.compression;
  DatasetInfo tmp;
  tmp.sample_shape = o.shape;
  const int64_t feat = tmp.feature_dim();
  layout.samples_per_shard = SamplesPerShard(o.samples, feat * 4, o.shards, o.shard_size_mb);
  Json source = Json::MakeObject();
  source.set("from", "synth");
  source.set("seed", static_cast<int64_t>(o.seed));
  source.set("task_seed", static_cast<int64_t>(o.task_seed));
  source.set("separation", o.separation);
  layout.source = source;
  HPCAI_ASSIGN_OR_RETURN(auto writer, DatasetWriter::Create(o.out, layout, o.samples, o.overwrite));

  // Class means ~ N(0, s^2) per feature with s = separation / sqrt(2F), so
  // two means are `separation` noise standard deviations apart on average.
  const float s = static_cast<float>(o.separation / std::sqrt(2.0 * static_cast<double>(feat)));
  std::vector<float> means(static_cast<size_t>(o.classes * feat));
  Rng mrng(MixSeed(o.task_seed, 1));
  for (auto& m : means) m = s * mrng.Normal();
  Rng rng(MixSeed(o.seed, 2));
  const int64_t block = std::max<int64_t>(1, (int64_t{4} << 20) / (feat * 4));
  std::vector<float> x(static_cast<size_t>(block * feat));
  std::vector<int32_t> y(static_cast<size_t>(block));
  for (int64_t at = 0; at < o.samples; at += block) {
    const int64_t n = std::min(block, o.samples - at);
    for (int64_t i = 0; i < n; ++i) {
      int32_t c = static_cast<int32_t>(rng.Below(static_cast<uint64_t>(o.classes)));
      y[static_cast<size_t>(i)] = c;
      const float* mu = means.data() + c * feat;
      float* xi = x.data() + i * feat;
      for (int64_t j = 0; j < feat; ++j) xi[j] = mu[j] + rng.Normal();
    }
    HPCAI_RETURN_IF_ERROR(writer->Append(x.data(), y.data(), n));
    if (o.progress) o.progress(at + n, o.samples, 0);
  }
  HPCAI_RETURN_IF_ERROR(writer->Finish());
  ConvertSummary sum;
  ConvertedPart cp;
  cp.dir = o.out;
  cp.samples = o.samples;
  cp.shards = static_cast<int64_t>(writer->info().shards.size());
  cp.bytes_out = writer->bytes_on_disk();
  sum.parts.push_back(cp);
  sum.samples = o.samples;
  sum.bytes_out = cp.bytes_out;
  sum.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  return sum;
}

}  // namespace hpcai::io
