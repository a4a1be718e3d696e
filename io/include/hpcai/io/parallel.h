// Multi-rank helpers for io/: agreeing on errors and the collective
// (MPI-IO) HDF5 read path.
#pragma once

#include <mpi.h>

#include <cstdint>
#include <string>

#include "hpcai/base/status.h"

namespace hpcai::io {

// Makes every rank of `comm` return the same Status: OK if all ranks are OK,
// else the Status of the lowest failing rank, with "rank <r>: " prepended
// to its message.  Collective: every rank of comm must call it, with its own
// local status, so a rank that failed early never leaves the others waiting
// in a later collective.
Status AgreeStatus(const Status& local, MPI_Comm comm);

// Reads rows [start, start+count) of the float32 or uint8 dataset `dataset`
// in HDF5 file `file` with the MPI-IO driver and a collective transfer
// (H5FD_MPIO_COLLECTIVE) into out (count * row elements, converted to float
// with the dataset's scale/offset attributes if present).  count may be 0.
// *was_collective (optional) receives whether HDF5 really performed the
// transfer collectively (H5Pget_mpio_actual_io_mode).  Collective: every rank
// of comm must call it with the same file and dataset; errors are agreed
// across ranks (AgreeStatus) so all ranks return the same Status.
Status ReadSlabCollective(const std::string& file, const std::string& dataset, MPI_Comm comm, int64_t start,
                          int64_t count, float* out, bool* was_collective = nullptr);

}  // namespace hpcai::io
