// AgreeStatus and the collective (MPI-IO) read of one slab.
#include "hpcai/io/parallel.h"

#include <climits>
#include <cstdlib>
#include <vector>

#include "h5util.h"
#include "shard.h"

namespace hpcai::io {

Status AgreeStatus(const Status& local, const AgreeTransport& t) {
  if (t.size == 1) return local;  // nothing to agree on; keep the message as is
  // The lowest failing rank wins: encode it as (size - rank) so MAX finds it.
  int64_t key = local.ok() ? 0 : static_cast<int64_t>(t.size - t.rank);
  HPCAI_RETURN_IF_ERROR(t.allreduce_max(&key));
  if (key == 0) return Status::OK();
  const int root = t.size - static_cast<int>(key);
  // Encode code and message in one string: "<code>\n<message>".
  std::string text;
  if (t.rank == root) text = std::to_string(static_cast<int>(local.code())) + "\n" + local.message();
  Status st = t.broadcast_string(&text, root);
  if (!st.ok()) return local.ok() ? st : local;
  const size_t nl = text.find('\n');
  int code = std::atoi(text.substr(0, nl).c_str());
  std::string message = nl == std::string::npos ? std::string() : text.substr(nl + 1);
  if (code <= 0 || code > static_cast<int>(Code::kInternal)) code = static_cast<int>(Code::kInternal);
  // Already agreed once (nested agreement): keep the first rank prefix only.
  if (message.rfind("rank ", 0) == 0) {
    const size_t colon = message.find(": ");
    if (colon != std::string::npos && colon > 5 && message.find_first_not_of("0123456789", 5) == colon) {
      return Status(static_cast<Code>(code), message);
    }
  }
  return Status(static_cast<Code>(code), "rank " + std::to_string(root) + ": " + message);
}

Status AgreeStatus(const Status& local, MPI_Comm comm) {
  auto check = [](int rc, const char* call) {
    return rc == MPI_SUCCESS ? Status::OK()
                             : Status::Internal(std::string(call) + " failed (MPI error " + std::to_string(rc) +
                                                ") while agreeing on a status");
  };
  AgreeTransport t;
  MPI_Comm_rank(comm, &t.rank);
  MPI_Comm_size(comm, &t.size);
  t.allreduce_max = [&](int64_t* value) {
    return check(MPI_Allreduce(MPI_IN_PLACE, value, 1, MPI_INT64_T, MPI_MAX, comm), "MPI_Allreduce");
  };
  t.broadcast_string = [&](std::string* text, int root) {
    // Status messages are short: one length and one payload broadcast.
    int64_t len = static_cast<int64_t>(text->size());
    HPCAI_RETURN_IF_ERROR(check(MPI_Bcast(&len, 1, MPI_INT64_T, root, comm), "MPI_Bcast"));
    if (len > INT_MAX) return Status::InvalidArgument("status message of " + std::to_string(len) + " bytes");
    text->resize(static_cast<size_t>(len));
    if (len == 0) return Status::OK();
    return check(MPI_Bcast(text->data(), static_cast<int>(len), MPI_CHAR, root, comm), "MPI_Bcast");
  };
  return AgreeStatus(local, t);
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
