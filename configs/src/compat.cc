#include "hpcai/configs/spec.h"

namespace hpcai {

std::string CheckpointCompatKey(const ResolvedSpec& spec) {
  ResolvedSpec key;  // defaults everywhere except what shapes the tensors
  key.model = spec.model;
  key.optimizer.type = spec.optimizer.type;
  return SpecHash(key);
}

}  // namespace hpcai
