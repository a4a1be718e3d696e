// Shapes and sizes a spec implies for a given data set, without building the
// model: used by `hpcai validate` / `submit` to check the model against the
// data (CNN input 1x28x28 vs the data's sample shape) and to estimate the
// checkpoint size.  Pure arithmetic; no I/O.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "hpcai/base/status.h"
#include "hpcai/configs/spec.h"

namespace hpcai {

// "1x28x28": a sample shape in plans, `hpcai validate` output and data errors.
std::string ShapeText(const std::vector<int64_t>& shape);

struct ModelPlan {
  std::string summary;            // e.g. "mlp 784-256-128-10", "cnn 1x28x28 -> 32x14x14 -> 64x7x7 -> 128 -> 10"
  int64_t input_features = 0;     // product of the sample shape
  int64_t parameters = 0;         // weights + biases
  int optimizer_slots = 0;        // per-parameter state tensors (sgd momentum: 1, adam: 2)
  int64_t checkpoint_bytes = 0;   // estimate: fp32 params + optimizer state + 64 KiB metadata
};

// Plans `spec.model` for samples of `sample_shape` (per sample, e.g. {784}
// or {1, 28, 28}) and `num_classes` outputs.
//
// Conventions (shared with the runtime's CPU reference): a conv layer maps
// HxW to floor((H + 2*padding - kernel) / stride) + 1, then max-pool with
// window = stride = pool maps it to floor(H / pool).  A cnn needs a sample
// shape of rank 3 (CxHxW), as the runtime's model does.
//
// SpecError naming the layer when the model does not fit the data (a rank-1
// sample for a cnn, a feature map that shrinks below 1x1, num_classes < 2).
Result<ModelPlan> PlanModel(const ResolvedSpec& spec, const std::vector<int64_t>& sample_shape,
                            int num_classes);

}  // namespace hpcai
