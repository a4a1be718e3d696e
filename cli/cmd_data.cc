// `hpcai data`: convert inputs into hpcai HDF5 datasets, make synthetic ones,
// and inspect/verify them (format: docs/data-format.md).  The options live
// here; the command bodies need HDF5 and live in libhpcai_cli_io.so
// (io_module/data_run.cc), loaded only when a `data` command runs.
#include <memory>

#include "cli_io.h"
#include "common.h"
#include "data_args.h"

namespace hpcai::cli {

void SetupData(CLI::App& root) {
  auto* app = root.add_subcommand("data", "Convert, synthesise and inspect HDF5 datasets");
  app->require_subcommand(1);
  AddExample(app, "hpcai data convert --from idx /usr/share/datasets/fashion-mnist --out data/fmnist");

  // convert
  auto conv = std::make_shared<ConvertArgs>();
  auto* c = app->add_subcommand("convert", "Convert IDX / NumPy / CSV / HDF5 inputs into an hpcai dataset");
  c->add_option("--from", conv->opt.from, "Input format")->required()->check(CLI::IsMember({"idx", "npy", "csv", "hdf5"}));
  c->add_option("inputs", conv->opt.inputs,
                "Input files or directories (idx: a directory or *-images/*-labels files; npy: X.npy Y.npy; "
                "csv: files with a label column; hdf5: files or an hpcai dataset dir)")
      ->required();
  c->add_option("--out", conv->opt.out, "Output directory (one dataset, or DIR/<part> for train/test/splits)")->required();
  auto* shards = c->add_option("--shards", conv->opt.shards, "Number of shards per dataset");
  c->add_option("--shard-size", conv->opt.shard_size_mb, "Target MB of x per shard (default 256)")->excludes(shards);
  c->add_option("--chunk-samples", conv->opt.chunk_samples, "Samples per HDF5 chunk (default: about 1 MiB)");
  c->add_option("--compress", conv->opt.compression, "Chunk compression")->check(CLI::IsMember({"none", "gzip"}));
  c->add_option("--split", conv->split, "Carve a random subset out of the training part, e.g. val=0.1 (repeatable)");
  c->add_option("--seed", conv->opt.seed, "Seed of the split");
  c->add_option("--dtype", conv->opt.dtype, "Stored dtype of x (default: as the input; uint8 means x/255)")
      ->check(CLI::IsMember({"uint8", "float32"}));
  c->add_option("--classes", conv->opt.num_classes, "Number of classes (default: max label + 1)");
  c->add_option("--x-name", conv->opt.x_name, "hdf5 input: features dataset");
  c->add_option("--y-name", conv->opt.y_name, "hdf5 input: labels dataset");
  c->add_option("--label-column", conv->opt.label_column, "csv input: label column name or 0-based index");
  c->add_flag("--overwrite", conv->opt.overwrite, "Replace an existing dataset at --out");
  c->add_flag("--no-chunk-checksums", conv->no_checksums, "Do not add HDF5 Fletcher-32 checksums to chunks");
  c->add_flag("-q,--quiet", conv->quiet, "No progress bar");
  AddExample(c, "hpcai data convert --from idx /usr/share/datasets/fashion-mnist --out data/fmnist --split val=0.1");
  c->callback([conv] { SetExitCode(WithCliIo([&](const CliIoTable& t) { return t.data_convert(*conv); })); });

  // synth
  auto syn = std::make_shared<SynthArgs>();
  auto* s = app->add_subcommand("synth", "Write learnable synthetic data (Gaussian classes) for tests and benchmarks");
  s->add_option("--samples", syn->opt.samples, "Number of samples")->required();
  s->add_option("--features", syn->features, "Features per sample (flat)");
  s->add_option("--shape", syn->shape, "Sample shape C,H,W (instead of --features)");
  s->add_option("--classes", syn->opt.classes, "Number of classes")->required();
  s->add_option("--out", syn->opt.out, "Output directory")->required();
  s->add_option("--seed", syn->opt.seed, "Seed of the samples (use different seeds for train and val)");
  s->add_option("--task-seed", syn->opt.task_seed, "Seed of the class means: same task-seed = same problem (default 0)");
  s->add_option("--separation", syn->opt.separation, "Distance between class means in noise std units (default 3)");
  auto* ss = s->add_option("--shards", syn->opt.shards, "Number of shards");
  s->add_option("--shard-size", syn->opt.shard_size_mb, "Target MB per shard (default 256)")->excludes(ss);
  s->add_option("--chunk-samples", syn->opt.chunk_samples, "Samples per HDF5 chunk");
  s->add_option("--compress", syn->opt.compression, "Chunk compression")->check(CLI::IsMember({"none", "gzip"}));
  s->add_flag("--overwrite", syn->opt.overwrite, "Replace an existing dataset at --out");
  s->add_flag("-q,--quiet", syn->quiet, "No progress bar");
  AddExample(s, "hpcai data synth --samples 20000 --features 64 --classes 4 --out data/synth");
  s->callback([syn] { SetExitCode(WithCliIo([&](const CliIoTable& t) { return t.data_synth(*syn); })); });

  // inspect
  auto ins = std::make_shared<InspectArgs>();
  auto* i = app->add_subcommand("inspect", "Show a dataset's shards, shapes, label histogram; --verify checksums");
  i->add_option("dir", ins->dir, "Dataset directory (or a directory of datasets)")->required();
  i->add_flag("--verify", ins->verify, "Recompute every shard's sha256 (exit 3 naming the first bad shard)");
  i->add_flag("--json", ins->json, "Machine-readable output");
  i->add_option("--x-name", ins->x_name, "Features dataset name (default: from manifest.json)");
  i->add_option("--y-name", ins->y_name, "Labels dataset name (default: from manifest.json)");
  AddExample(i, "hpcai data inspect data/fmnist/train --verify");
  i->callback([ins] { SetExitCode(WithCliIo([&](const CliIoTable& t) { return t.data_inspect(*ins); })); });

  // bench
  auto ben = std::make_shared<BenchArgs>();
  auto* b = app->add_subcommand("bench", "Measure reader throughput against a raw read of the same files");
  b->add_option("dir", ben->dir, "Dataset directory")->required();
  b->add_option("--mode", ben->mode, "Reader mode")->check(CLI::IsMember({"cache", "stream"}));
  b->add_option("--batch", ben->batch, "Global batch size");
  b->add_option("--prefetch", ben->prefetch, "Batches read ahead");
  b->add_option("--gather-threads", ben->gather_threads, "Threads copying each batch's rows (default 1)")
      ->check(CLI::Range(1, 16));
  b->add_option("--repeats", ben->repeats, "Epochs measured (alternating with the raw read)");
  b->add_option("--window", ben->window, "Stream mode: chunks per shuffle window (0: from --budget-mb)");
  b->add_option("--budget-mb", ben->budget_mb, "Reader memory budget");
  b->add_option("--compute-ms", ben->compute_ms, "Busy work per batch (simulated step) to measure the data stall");
  b->add_flag("--no-map", ben->no_map,
              "Stream mode: read every row through H5Dread into a window buffer, never through a mapping of the shard");
  b->add_flag("--json", ben->json, "One JSON line");
  AddExample(b, "hpcai data bench data/fmnist/train --mode stream --repeats 5");
  b->callback([ben] { SetExitCode(WithCliIo([&](const CliIoTable& t) { return t.data_bench(*ben); })); });
}

}  // namespace hpcai::cli

