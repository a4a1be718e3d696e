#include "build_info.h"

namespace hpcai::cli {

bool BuildHasCuda() {
#if defined(HPCAI_WITH_CUDA)
  return true;
#else
  return false;
#endif
}

std::vector<std::string> BuildBackends() {
  std::vector<std::string> b{"cpu"};
  if (BuildHasCuda()) b.push_back("cuda");
  return b;
}

}  // namespace hpcai::cli
