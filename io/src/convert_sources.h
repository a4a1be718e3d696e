// Private: sequential readers of the converter's input formats.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "hpcai/base/status.h"

namespace hpcai::io {

// One input "part": samples read front to back, x in `dtype` (uint8 or float32).
class Source {
 public:
  virtual ~Source() = default;
  // Reads the next n samples (n <= remaining): x (n, feature_dim), y (n).
  virtual Status Read(int64_t n, void* x, int32_t* y) = 0;

  int64_t num_samples = 0;
  std::vector<int64_t> shape;
  std::string dtype = "float32";
  int64_t file_bytes = 0;       // input bytes on disk
  std::string description;      // for manifest.json "source"
  int64_t feature_dim() const {
    int64_t f = 1;
    for (int64_t d : shape) f *= d;
    return f;
  }
};

struct NamedSource {
  std::string part;  // train | test | <prefix> | "" (a single unnamed part)
  std::unique_ptr<Source> source;
};

// Builds the parts of one conversion from the CLI inputs.
Result<std::vector<NamedSource>> OpenIdxSources(const std::vector<std::string>& inputs);
Result<std::vector<NamedSource>> OpenNpySources(const std::vector<std::string>& inputs);
Result<std::vector<NamedSource>> OpenCsvSources(const std::vector<std::string>& inputs, const std::string& label_column);
Result<std::vector<NamedSource>> OpenHdf5Sources(const std::vector<std::string>& inputs, const std::string& x_name,
                                                 const std::string& y_name);

}  // namespace hpcai::io
