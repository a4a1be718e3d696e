// The resumable state of a training run beyond its tensors: where it is in
// the data, the open logging window and counters.  Stored in a checkpoint's
// `extra` metadata (doubles bit-exact, as hex) so that a resumed run writes
// the same metrics.jsonl values as an uninterrupted one.
#pragma once

#include <cstdint>
#include <string>

#include "hpcai/base/json.h"
#include "hpcai/base/status.h"
#include "hpcai/configs/spec.h"

namespace hpcai::runtime {

struct TrainState {
  int64_t step = 0;     // optimizer steps completed
  int64_t epoch = 0;    // epoch of the next batch (0-based)
  int64_t cursor = 0;   // next global batch within that epoch
  // Logging window since the last metrics line.
  int64_t window_steps = 0, window_loss_steps = 0;
  double window_loss = 0;
  int64_t window_samples = 0;
  int64_t skipped = 0;  // non-finite steps skipped so far
  double last_norm = 0;
  double last_loss = -1;
  double last_val_loss = -1, last_val_acc = -1;
  int64_t last_eval_step = -1;
};

Json TrainStateToJson(const TrainState& s);
// Corrupt naming the key when a field is missing or malformed.
Result<TrainState> TrainStateFromJson(const Json& j);

// The checkpoint compatibility key is hpcai::CheckpointCompatKey (configs/spec.h),
// shared with `hpcai resume`.

}  // namespace hpcai::runtime
