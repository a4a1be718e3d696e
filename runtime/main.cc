// hpcai-train: the MPI program every rank of a job runs.  Implemented by issue 6.
#include <cstdio>

#include "hpcai/base/status.h"

int main(int argc, char** argv) {
  std::fprintf(stderr, "hpcai-train: error: not implemented in this build yet\n");
  return hpcai::exit_code::kNotImplemented;
}
