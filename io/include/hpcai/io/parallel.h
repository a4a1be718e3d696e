// Multi-rank helpers for io/: agreeing on errors and the collective
// (MPI-IO) HDF5 read path.
#pragma once

#include <mpi.h>

#include <cstdint>
#include <functional>
#include <string>

#include "hpcai/base/status.h"

namespace hpcai::io {

// What the status agreement needs from a group of ranks.  The one
// agreement protocol below runs over it, so io's MPI_Comm overload and
// runtime's Communicator overload (hpcai/runtime/communicator.h) behave alike.
struct AgreeTransport {
  int rank = 0;
  int size = 1;
  // In-place maximum of one value over all ranks (collective).
  std::function<Status(int64_t* value)> allreduce_max;
  // Root's string replaces *text on every rank (collective).
  std::function<Status(std::string* text, int root)> broadcast_string;
};

// Every rank passes its local outcome; every rank returns the SAME Status:
// OK when all were OK, else the failure of the lowest failing rank (its code,
// message prefixed with "rank R: " once: agreeing on an already agreed
// status does not stack prefixes; a single rank gets its own Status back
// unchanged).  Collective: every rank must call it, with its own local
// status, so a rank that failed early never leaves the others waiting in a
// later collective.  Cheap: one allreduce, and a broadcast only on failure.
// If the agreement itself fails, the communication error is returned.
Status AgreeStatus(const Status& local, const AgreeTransport& transport);

// AgreeStatus over an MPI communicator (every rank of comm must call it).
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
