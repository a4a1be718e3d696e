// Data checks for a resolved spec (validate/submit time, on the login node).
// Lives in cli/ so configs/ stays free of HDF5: it opens the data set's
// manifest and shard headers through io::ReadDatasetInfo, reached through the
// on-demand library libhpcai_cli_io.so (cli_io.h).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "hpcai/base/status.h"
#include "hpcai/configs/model_plan.h"
#include "hpcai/configs/spec.h"

namespace hpcai::cli {

struct DataCheckReport {
  // True when data.train was reachable and checked.  False when the path does
  // not exist here (data may live only on the compute nodes' file system):
  // then `note` says so and nothing else is filled.
  bool checked = false;
  std::string note;
  int64_t train_samples = 0;
  int64_t val_samples = -1;          // -1: no data.val
  std::vector<int64_t> sample_shape;
  std::string dtype;
  int num_classes = 0;
  int64_t steps_per_epoch = 0;       // global batches per epoch (drop_last honoured)
  int64_t total_steps = 0;           // epochs * steps_per_epoch, capped by training.max_steps
  ModelPlan model;                   // shapes, parameters, checkpoint size estimate
};

// Checks that the data sets of `spec` exist and agree with each other and
// with the model: manifest and shards readable, datasets data.x / data.y
// present, train and val with the same sample shape, dtype and classes, the
// model fits the sample shape, at least one step per epoch.
//
// Returns OK and fills *report (checked = false if data.train is not
// reachable from this machine).  On a problem returns a Status whose
// message names the file and the mismatch: SpecError when the spec must
// change (model vs data shape, batch larger than the data set), NotFound or
// Corrupt when the data set is broken.
Status CheckSpecData(const ResolvedSpec& spec, DataCheckReport* report);

}  // namespace hpcai::cli
