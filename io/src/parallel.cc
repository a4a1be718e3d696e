// AgreeStatus and the collective (MPI-IO) read of one slab.
#include "hpcai/io/parallel.h"


#include <vector>

#include "h5util.h"
#include "shard.h"

namespace hpcai::io {

Status AgreeStatus(const Status& local, MPI_Comm comm) {
  int rank = 0, size = 1;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &size);
  int mine = local.ok() ? size : rank;
  int first = size;
  MPI_Allreduce(&mine, &first, 1, MPI_INT, MPI_MIN, comm);
  if (first == size) return Status::OK();
  // The first failing rank broadcasts its code and message.
  int header[2] = {static_cast<int>(local.code()), static_cast<int>(local.message().size())};
  MPI_Bcast(header, 2, MPI_INT, first, comm);
  std::string msg(static_cast<size_t>(header[1]), '\0');
  if (rank == first) msg = local.message();
  if (header[1] > 0) MPI_Bcast(msg.data(), header[1], MPI_CHAR, first, comm);
  if (size > 1) msg = "rank " + std::to_string(first) + ": " + msg;
  return Status(static_cast<Code>(header[0]), msg);
}

Status ReadSlabCollective(const std::string& file, const std::string& dataset, MPI_Comm comm, int64_t start,
                          int64_t count, float* out, bool* was_collective) {
  if (was_collective != nullptr) *was_collective = false;
  // Validate with the default driver first: a missing/corrupt file must not
  // leave other ranks inside the collective H5Fopen.
  Status st;
  {
    auto probe = OpenShard(file, dataset, "");
    st = probe.status();
    if (st.ok() && (start < 0 || count < 0 || start + count > (*probe)->num_samples)) {
      st = Status::InvalidArgument(file + ": rows [" + std::to_string(start) + ", " + std::to_string(start + count) +
                                   ") outside the " + std::to_string((*probe)->num_samples) + " rows of '" + dataset +
                                   "'");
    }
  }
  HPCAI_RETURN_IF_ERROR(AgreeStatus(st, comm));
  h5::Id fapl, dxpl;
  {
    h5::Lock lock;
    fapl.reset(H5Pcreate(H5P_FILE_ACCESS));
    H5Pset_fapl_mpio(fapl.get(), comm, MPI_INFO_NULL);
    dxpl.reset(H5Pcreate(H5P_DATASET_XFER));
    H5Pset_dxpl_mpio(dxpl.get(), H5FD_MPIO_COLLECTIVE);
  }
  auto opened = OpenShard(file, dataset, "", fapl.get());
  HPCAI_RETURN_IF_ERROR(AgreeStatus(opened.status(), comm));
  const Shard& s = **opened;
  int64_t feat = s.row_bytes / (s.dtype == "uint8" ? 1 : 4);
  bool coll = false;
  if (s.dtype == "float32") {
    // Read straight into out: no type conversion, which would break collective I/O.
    st = ReadRows(s, start, count, out, nullptr, dxpl.get(), &coll);
  } else {
    std::vector<uint8_t> buf(static_cast<size_t>(count * feat));
    st = ReadRows(s, start, count, buf.data(), nullptr, dxpl.get(), &coll);
    for (size_t i = 0; st.ok() && i < buf.size(); ++i) out[i] = static_cast<float>(buf[i]);
  }
  if (st.ok() && (s.scale != 1.0 || s.offset != 0.0)) {
    const float sc = static_cast<float>(s.scale), of = static_cast<float>(s.offset);
    for (int64_t i = 0; i < count * feat; ++i) out[i] = out[i] * sc + of;
  }
  {
    h5::Lock lock;
    opened = Status::Internal("closed");  // closes the file (collective) on every rank
  }
  HPCAI_RETURN_IF_ERROR(AgreeStatus(st, comm));
  if (was_collective != nullptr) *was_collective = coll;
  return Status::OK();
}

}  // namespace hpcai::io
