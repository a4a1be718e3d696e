#include "spec_data_check.h"

#include <map>
#include <optional>
#include <tuple>

#include "hpcai/base/fs.h"
#include "cli_io.h"

namespace hpcai::cli {

namespace {

// Sweep points usually share their data sets: read each (dir, x, y) once per
// process (the CLI is single-threaded).
// HDF5 is reached through libhpcai_cli_io.so (cli_io.h), loaded only here,
// i.e. only when data.train exists on this machine.
Result<DataShapeInfo> CachedInfo(const std::string& dir, const std::string& x, const std::string& y) {
  static std::map<std::tuple<std::string, std::string, std::string>, Result<DataShapeInfo>> cache;
  auto key = std::make_tuple(dir, x, y);
  auto it = cache.find(key);
  if (it == cache.end()) {
    auto lib = LoadCliIo();
    if (!lib.ok()) return lib.status();
    it = cache.emplace(key, (*lib)->read_dataset_info(dir, x, y)).first;
  }
  return it->second;
}

}  // namespace

Status CheckSpecData(const ResolvedSpec& spec, DataCheckReport* report) {
  *report = DataCheckReport{};
  const DataSpec& d = spec.data;
  if (!fs::Exists(d.train)) {
    report->note = "not checked: " + d.train +
                   " is not reachable from here (fine if it exists only on the compute nodes)";
    return Status::OK();
  }
  auto train = CachedInfo(d.train, d.x, d.y);
  if (!train.ok()) return train.status().WithContext("data.train");
  const DataShapeInfo& t = *train;

  if (d.val) {
    // The training set is here, so the validation set should be too.
    auto val = CachedInfo(*d.val, d.x, d.y);
    if (!val.ok()) return val.status().WithContext("data.val");
    const DataShapeInfo& v = *val;
    if (v.sample_shape != t.sample_shape) {
      return Status::Corrupt("data.val " + *d.val + " has samples of shape " + ShapeText(v.sample_shape) +
                             " but data.train " + d.train + " has " + ShapeText(t.sample_shape) +
                             "; both must come from the same conversion");
    }
    if (v.num_classes > t.num_classes) {
      return Status::Corrupt("data.val " + *d.val + " has " + std::to_string(v.num_classes) +
                             " classes but data.train " + d.train + " has " + std::to_string(t.num_classes) +
                             "; the model has one output per training class");
    }
    report->val_samples = v.num_samples;
  }

  auto plan = PlanModel(spec, t.sample_shape, t.num_classes);
  if (!plan.ok()) {
    return Status::SpecError("the model does not fit data.train " + d.train + " (samples " + ShapeText(t.sample_shape) +
                             ", " + std::to_string(t.num_classes) + " classes): " + plan.status().message());
  }
  const int64_t n = t.num_samples, b = spec.training.global_batch;
  const int64_t steps = d.drop_last ? n / b : (n + b - 1) / b;
  if (steps == 0) {
    return Status::SpecError("training.global_batch " + std::to_string(b) + " is larger than the " +
                             std::to_string(n) + " samples of data.train " + d.train +
                             " and data.drop_last is true, so an epoch has no step; lower global_batch or set "
                             "drop_last: false");
  }
  report->checked = true;
  report->train_samples = n;
  report->sample_shape = t.sample_shape;
  report->dtype = t.dtype;
  report->num_classes = t.num_classes;
  report->steps_per_epoch = steps;
  report->total_steps = steps * spec.training.epochs;
  if (spec.training.max_steps && *spec.training.max_steps < report->total_steps) {
    report->total_steps = *spec.training.max_steps;
  }
  report->model = *plan;
  return Status::OK();
}

}  // namespace hpcai::cli
