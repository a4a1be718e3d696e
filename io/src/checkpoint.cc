// HDF5 checkpoints: crash-safe writer, verifying reader, fallback search,
// async writer (contract: checkpoint.h, format: docs/checkpoint-format.md).
#include "hpcai/io/checkpoint.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>

#include "h5util.h"
#include "hpcai/base/fs.h"
#include "hpcai/io/checksum.h"
#include "hpcai/io/dataset.h"
#include "hpcai/io/parallel.h"

namespace hpcai::io {

namespace {

constexpr const char* kTmpSuffix = ".tmp";

int64_t Elements(const std::vector<int64_t>& shape) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

// "ckpt-123.h5" -> 123; -1 for anything else (including "ckpt-123.h5.tmp").
int64_t StepOf(const std::string& name) {
  const std::string pre = "ckpt-", suf = ".h5";
  if (name.size() <= pre.size() + suf.size() || name.rfind(pre, 0) != 0 ||
      name.compare(name.size() - suf.size(), suf.size(), suf) != 0) {
    return -1;
  }
  std::string digits = name.substr(pre.size(), name.size() - pre.size() - suf.size());
  if (digits.empty() || digits.size() > 18) return -1;
  for (char c : digits) {
    if (c < '0' || c > '9') return -1;
  }
  return std::stoll(digits);
}

bool EndsWith(const std::string& s, const std::string& suf) {
  return s.size() >= suf.size() && s.compare(s.size() - suf.size(), suf.size(), suf) == 0;
}

Status CheckName(const std::string& name) {
  if (name.empty() || name.front() == '/' || name.back() == '/' || name.find("//") != std::string::npos) {
    return Status::InvalidArgument("checkpoint tensor name '" + name + "' must be non-empty segments separated by '/'");
  }
  return Status::OK();
}

Status WriteI64Attr(hid_t obj, const char* name, int64_t v) {
  h5::Lock lock;
  h5::Id space(H5Screate(H5S_SCALAR));
  h5::Id attr(H5Acreate2(obj, name, H5T_STD_I64LE, space.get(), H5P_DEFAULT, H5P_DEFAULT));
  if (!attr.valid() || H5Awrite(attr.get(), H5T_NATIVE_INT64, &v) < 0) {
    return h5::Fail(Code::kIOError, std::string("write attribute '") + name + "'");
  }
  return Status::OK();
}

Result<int64_t> ReadI64Attr(hid_t obj, const char* name) {
  h5::Lock lock;
  if (H5Aexists(obj, name) <= 0) {
    H5Eclear2(H5E_DEFAULT);
    return Status::NotFound(std::string("no attribute '") + name + "'");
  }
  h5::Id attr(H5Aopen(obj, name, H5P_DEFAULT));
  int64_t v = 0;
  if (!attr.valid() || H5Aread(attr.get(), H5T_NATIVE_INT64, &v) < 0) {
    return h5::Fail(Code::kCorrupt, std::string("read attribute '") + name + "'");
  }
  return v;
}

Status WriteU32Attr(hid_t obj, const char* name, uint32_t v) {
  h5::Lock lock;
  h5::Id space(H5Screate(H5S_SCALAR));
  h5::Id attr(H5Acreate2(obj, name, H5T_STD_U32LE, space.get(), H5P_DEFAULT, H5P_DEFAULT));
  if (!attr.valid() || H5Awrite(attr.get(), H5T_NATIVE_UINT32, &v) < 0) {
    return h5::Fail(Code::kIOError, std::string("write attribute '") + name + "'");
  }
  return Status::OK();
}

Result<uint32_t> ReadU32Attr(hid_t obj, const char* name) {
  h5::Lock lock;
  if (H5Aexists(obj, name) <= 0) {
    H5Eclear2(H5E_DEFAULT);
    return Status::Corrupt(std::string("no attribute '") + name + "'");
  }
  h5::Id attr(H5Aopen(obj, name, H5P_DEFAULT));
  uint32_t v = 0;
  if (!attr.valid() || H5Aread(attr.get(), H5T_NATIVE_UINT32, &v) < 0) {
    return h5::Fail(Code::kCorrupt, std::string("read attribute '") + name + "'");
  }
  return v;
}

Status FsyncFile(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) return Status::IOError("cannot open '" + path + "' to fsync: " + std::strerror(errno));
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  if (rc != 0) return Status::IOError("fsync '" + path + "': " + std::strerror(err));
  return Status::OK();
}

// Writes the HDF5 file itself (everything before the rename).
Status WriteFile(const std::string& tmp, const CheckpointData& data) {
  h5::Lock lock;
  const std::string base = fs::Basename(tmp);
  // Superblock v2 and v2 object headers carry checksums: damaged metadata is
  // detected when the file is opened, the CRC-32Cs cover the tensor data.
  h5::Id fapl(H5Pcreate(H5P_FILE_ACCESS));
  H5Pset_libver_bounds(fapl.get(), H5F_LIBVER_V18, H5F_LIBVER_V18);
  h5::Id file(H5Fcreate(tmp.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl.get()));
  if (!file.valid()) return h5::Fail(Code::kIOError, "cannot create checkpoint '" + tmp + "'");
  const hid_t f = file.get();
  const CheckpointMeta& m = data.meta;
  HPCAI_RETURN_IF_ERROR(h5::WriteStringAttr(f, "magic", kCheckpointMagic));
  HPCAI_RETURN_IF_ERROR(WriteI64Attr(f, "format_version", kCheckpointFormatVersion));
  HPCAI_RETURN_IF_ERROR(WriteI64Attr(f, "step", m.step));
  HPCAI_RETURN_IF_ERROR(WriteI64Attr(f, "epoch", m.epoch));
  HPCAI_RETURN_IF_ERROR(WriteI64Attr(f, "data_cursor", m.data_cursor));
  HPCAI_RETURN_IF_ERROR(WriteI64Attr(f, "world_size", m.world_size));
  HPCAI_RETURN_IF_ERROR(WriteI64Attr(f, "optimizer_step", m.optimizer_step));
  HPCAI_RETURN_IF_ERROR(h5::WriteStringAttr(f, "spec_hash", m.spec_hash));
  HPCAI_RETURN_IF_ERROR(h5::WriteStringAttr(f, "hpcai_version", m.hpcai_version.empty() ? HPCAI_VERSION : m.hpcai_version));
  HPCAI_RETURN_IF_ERROR(h5::WriteStringAttr(f, "schedule", m.schedule.dump()));
  HPCAI_RETURN_IF_ERROR(h5::WriteStringAttr(f, "extra", m.extra.dump()));
  double now = m.created_unix > 0 ? m.created_unix
                                  : std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  HPCAI_RETURN_IF_ERROR(h5::WriteDoubleAttr(f, "created_unix", now, H5T_IEEE_F64LE));
  Json names = Json::MakeArray();
  for (const auto& t : data.tensors) names.push_back(t.name);
  HPCAI_RETURN_IF_ERROR(h5::WriteStringAttr(f, "tensor_names", names.dump()));

  h5::Id lcpl(H5Pcreate(H5P_LINK_CREATE));
  H5Pset_create_intermediate_group(lcpl.get(), 1);
  for (const auto& t : data.tensors) {
    const int64_t n = Elements(t.shape);
    std::vector<hsize_t> dims(t.shape.begin(), t.shape.end());
    h5::Id space(dims.empty() ? H5Screate(H5S_SCALAR)
                              : H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr));
    const std::string path = "tensors/" + t.name;
    h5::Id d(H5Dcreate2(f, path.c_str(), H5T_IEEE_F32LE, space.get(), lcpl.get(), H5P_DEFAULT, H5P_DEFAULT));
    if (!d.valid()) return h5::Fail(Code::kIOError, base + ": cannot create tensor '" + t.name + "'");
    if (n > 0 && H5Dwrite(d.get(), H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, t.data) < 0) {
      return h5::Fail(Code::kIOError, base + ": writing tensor '" + t.name + "' failed (disk full?)");
    }
    HPCAI_RETURN_IF_ERROR(WriteU32Attr(d.get(), "crc32c", Crc32c(t.data, static_cast<size_t>(n) * sizeof(float))));
  }
  {
    hsize_t dims[2] = {static_cast<hsize_t>(data.rng.size()), 2};
    std::vector<uint64_t> flat;
    for (const auto& r : data.rng) {
      flat.push_back(r.s0);
      flat.push_back(r.s1);
    }
    h5::Id space(H5Screate_simple(2, dims, nullptr));
    h5::Id d(H5Dcreate2(f, "rng", H5T_STD_U64LE, space.get(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
    if (!d.valid() || (!flat.empty() && H5Dwrite(d.get(), H5T_NATIVE_UINT64, H5S_ALL, H5S_ALL, H5P_DEFAULT,
                                                 flat.data()) < 0)) {
      return h5::Fail(Code::kIOError, base + ": writing rng states failed");
    }
    HPCAI_RETURN_IF_ERROR(WriteU32Attr(d.get(), "crc32c", Crc32c(flat.data(), flat.size() * sizeof(uint64_t))));
  }
  // Everything else is on its way to disk before the marker is written.
  if (H5Fflush(f, H5F_SCOPE_GLOBAL) < 0) return h5::Fail(Code::kIOError, base + ": flush failed");
  HPCAI_RETURN_IF_ERROR(WriteI64Attr(f, "complete", 1));
  if (H5Fflush(f, H5F_SCOPE_GLOBAL) < 0) return h5::Fail(Code::kIOError, base + ": flush failed");
  file.reset();
  return Status::OK();
}

// Keeps `keep_last` checkpoints with step <= `newest` (the one just written
// always survives); newer files (an abandoned trajectory) are left alone.
void Prune(const std::string& dir, int keep_last, int64_t newest) {
  if (keep_last <= 0) return;
  auto names = fs::ListDir(dir);
  if (!names.ok()) return;
  std::vector<int64_t> steps;
  for (const auto& n : *names) {
    int64_t s = StepOf(n);
    if (s >= 0 && s <= newest) steps.push_back(s);
  }
  std::sort(steps.rbegin(), steps.rend());
  for (size_t i = static_cast<size_t>(keep_last); i < steps.size(); ++i) {
    ::unlink(fs::Join(dir, CheckpointFileName(steps[i])).c_str());
  }
}

}  // namespace

std::string CheckpointFileName(int64_t step) { return "ckpt-" + std::to_string(step) + ".h5"; }

const Tensor* Checkpoint::Find(const std::string& name) const {
  for (const auto& t : tensors) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

Result<std::string> WriteCheckpoint(const std::string& dir, const CheckpointData& data, int keep_last) {
  HPCAI_ASSIGN_OR_RETURN(std::string path, WriteCheckpointDurable(dir, data));
  Prune(dir, keep_last, data.meta.step);
  return path;
}

void PruneCheckpoints(const std::string& dir, int keep_last, int64_t newest_step) { Prune(dir, keep_last, newest_step); }

Result<std::string> WriteCheckpointDurable(const std::string& dir, const CheckpointData& data) {
  if (data.meta.step < 0) return Status::InvalidArgument("checkpoint step must be >= 0");
  if (static_cast<int>(data.rng.size()) != data.meta.world_size) {
    return Status::InvalidArgument("checkpoint has " + std::to_string(data.rng.size()) + " RNG states for world size " +
                                   std::to_string(data.meta.world_size) + " (gather every rank's state first)");
  }
  for (size_t i = 0; i < data.tensors.size(); ++i) {
    const auto& t = data.tensors[i];
    HPCAI_RETURN_IF_ERROR(CheckName(t.name));
    for (int64_t d : t.shape) {
      if (d < 0) return Status::InvalidArgument("tensor '" + t.name + "' has a negative dimension");
    }
    if (t.data == nullptr && Elements(t.shape) > 0) return Status::InvalidArgument("tensor '" + t.name + "' has no data");
    for (size_t j = 0; j < i; ++j) {
      if (data.tensors[j].name == t.name) return Status::InvalidArgument("tensor '" + t.name + "' appears twice");
    }
  }
  HPCAI_RETURN_IF_ERROR(fs::MakeDirs(dir));
  // Leftovers of a writer killed mid-write are never read; clear them.
  if (auto names = fs::ListDir(dir); names.ok()) {
    for (const auto& n : *names) {
      if (n.rfind("ckpt-", 0) == 0 && EndsWith(n, std::string(".h5") + kTmpSuffix)) ::unlink(fs::Join(dir, n).c_str());
    }
  }
  const std::string name = CheckpointFileName(data.meta.step);
  const std::string final_path = fs::Join(dir, name), tmp = final_path + kTmpSuffix;
  Status st = WriteFile(tmp, data);
  if (st.ok()) st = FsyncFile(tmp);
  if (st.ok() && ::rename(tmp.c_str(), final_path.c_str()) != 0) {
    st = Status::IOError("rename '" + tmp + "' -> '" + final_path + "': " + std::strerror(errno));
  }
  if (!st.ok()) {
    ::unlink(tmp.c_str());
    return st;
  }
  HPCAI_RETURN_IF_ERROR(fs::FsyncDir(dir));
  HPCAI_RETURN_IF_ERROR(fs::AtomicWriteFile(fs::Join(dir, "LATEST"), name + "\n"));
  return final_path;
}

Result<Checkpoint> ReadCheckpoint(const std::string& path, const ReadCheckpointOptions& options) {
  const std::string base = fs::Basename(path);
  if (EndsWith(path, kTmpSuffix)) {
    return Status::InvalidArgument(base + " is an unfinished checkpoint write (.tmp) and is never loaded");
  }
  if (!fs::Exists(path)) return Status::NotFound("checkpoint '" + path + "' does not exist");
  h5::Lock lock;
  if (H5Fis_hdf5(path.c_str()) <= 0) {
    H5Eclear2(H5E_DEFAULT);
    return Status::Corrupt(base + ": not an HDF5 file (corrupt or truncated checkpoint)");
  }
  h5::Id file(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT));
  if (!file.valid()) return h5::Fail(Code::kCorrupt, base + ": cannot open (truncated or corrupt checkpoint)");
  const hid_t f = file.get();
  auto magic = h5::ReadStringAttr(f, "magic");
  if (!magic.ok() || *magic != kCheckpointMagic) {
    return Status::Corrupt(base + ": not an hpcai checkpoint (no '" + std::string(kCheckpointMagic) + "' magic)");
  }
  Checkpoint ck;
  ck.path = path;
  CheckpointMeta& m = ck.meta;
  auto i64 = [&](const char* key, int64_t* out) -> Status {
    auto v = ReadI64Attr(f, key);
    if (!v.ok()) return Status::Corrupt(base + ": " + v.status().message());
    *out = *v;
    return Status::OK();
  };
  int64_t version = 0, world = 0;
  HPCAI_RETURN_IF_ERROR(i64("format_version", &version));
  if (version > kCheckpointFormatVersion || version < 1) {
    return Status::FailedPrecondition(base + ": checkpoint format version " + std::to_string(version) +
                                      " is not supported by this hpcai (reads version " +
                                      std::to_string(kCheckpointFormatVersion) + "); hint: use a newer hpcai");
  }
  m.format_version = static_cast<int>(version);
  auto complete = ReadI64Attr(f, "complete");
  if (!complete.ok() || *complete != 1) {
    return Status::Corrupt(base + ": incomplete checkpoint (no 'complete' marker: the write was interrupted)");
  }
  HPCAI_RETURN_IF_ERROR(i64("step", &m.step));
  HPCAI_RETURN_IF_ERROR(i64("epoch", &m.epoch));
  HPCAI_RETURN_IF_ERROR(i64("data_cursor", &m.data_cursor));
  HPCAI_RETURN_IF_ERROR(i64("world_size", &world));
  HPCAI_RETURN_IF_ERROR(i64("optimizer_step", &m.optimizer_step));
  m.world_size = static_cast<int>(world);
  auto str = [&](const char* key, std::string* out) -> Status {
    auto v = h5::ReadStringAttr(f, key);
    if (!v.ok()) return Status::Corrupt(base + ": " + v.status().message());
    *out = *v;
    return Status::OK();
  };
  std::string schedule, extra, names_text;
  HPCAI_RETURN_IF_ERROR(str("spec_hash", &m.spec_hash));
  HPCAI_RETURN_IF_ERROR(str("hpcai_version", &m.hpcai_version));
  HPCAI_RETURN_IF_ERROR(str("schedule", &schedule));
  HPCAI_RETURN_IF_ERROR(str("extra", &extra));
  HPCAI_RETURN_IF_ERROR(str("tensor_names", &names_text));
  auto created = h5::ReadDoubleAttr(f, "created_unix");
  m.created_unix = created.ok() ? *created : 0;
  auto sj = Json::Parse(schedule), ej = Json::Parse(extra), nj = Json::Parse(names_text);
  if (!sj.ok() || !ej.ok() || !nj.ok() || !nj->is_array()) {
    return Status::Corrupt(base + ": malformed JSON in the schedule/extra/tensor_names attributes");
  }
  m.schedule = *sj;
  m.extra = *ej;
  if (!options.expect_spec_hash.empty() && m.spec_hash != options.expect_spec_hash) {
    return Status::FailedPrecondition(base + ": written for spec " + m.spec_hash.substr(0, 12) +
                                      "..., this run's spec is " + options.expect_spec_hash.substr(0, 12) +
                                      "...; the model/optimizer layout may differ; hint: resume with the spec the run "
                                      "was started with, or start a new run");
  }
  std::vector<float> scratch;
  for (const auto& nv : nj->as_array()) {
    Tensor t;
    t.name = nv.as_string();
    const std::string dpath = "tensors/" + t.name;
    if (H5Lexists(f, "tensors", H5P_DEFAULT) <= 0 || H5Lexists(f, dpath.c_str(), H5P_DEFAULT) <= 0) {
      H5Eclear2(H5E_DEFAULT);
      return Status::Corrupt(base + ": tensor '" + t.name + "' listed but missing");
    }
    h5::Id d(H5Dopen2(f, dpath.c_str(), H5P_DEFAULT));
    if (!d.valid()) return h5::Fail(Code::kCorrupt, base + ": cannot open tensor '" + t.name + "'");
    HPCAI_ASSIGN_OR_RETURN(t.shape, h5::Dims(d.get(), base + ": tensor '" + t.name + "'"));
    h5::Id type(H5Dget_type(d.get()));
    if (H5Tget_class(type.get()) != H5T_FLOAT || H5Tget_size(type.get()) != 4) {
      return Status::Corrupt(base + ": tensor '" + t.name + "' is " + h5::TypeName(type.get()) + ", expected float32");
    }
    const int64_t n = Elements(t.shape);
    std::vector<float>& buf = options.load_tensors ? t.data : scratch;
    buf.resize(static_cast<size_t>(n));
    if (n > 0 && H5Dread(d.get(), H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf.data()) < 0) {
      return h5::Fail(Code::kCorrupt, base + ": reading tensor '" + t.name + "' failed (truncated file?)");
    }
    auto want = ReadU32Attr(d.get(), "crc32c");
    if (!want.ok()) return Status::Corrupt(base + ": tensor '" + t.name + "': " + want.status().message());
    uint32_t got = Crc32c(buf.data(), static_cast<size_t>(n) * sizeof(float));
    if (got != *want) {
      char msg[96];
      std::snprintf(msg, sizeof msg, " (stored crc32c %08x, computed %08x)", *want, got);
      return Status::Corrupt(base + ": tensor '" + t.name + "' " + ShapeString(t.shape) + " fails its checksum" + msg);
    }
    ck.tensors.push_back(std::move(t));
  }
  {
    if (H5Lexists(f, "rng", H5P_DEFAULT) <= 0) {
      H5Eclear2(H5E_DEFAULT);
      return Status::Corrupt(base + ": no 'rng' dataset");
    }
    h5::Id d(H5Dopen2(f, "rng", H5P_DEFAULT));
    HPCAI_ASSIGN_OR_RETURN(auto dims, h5::Dims(d.get(), base + ": rng"));
    if (dims.size() != 2 || dims[1] != 2 || dims[0] != m.world_size) {
      return Status::Corrupt(base + ": rng has shape " + ShapeString(dims) + ", expected [" +
                             std::to_string(m.world_size) + ",2]");
    }
    std::vector<uint64_t> flat(static_cast<size_t>(dims[0] * 2));
    if (!flat.empty() && H5Dread(d.get(), H5T_NATIVE_UINT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, flat.data()) < 0) {
      return h5::Fail(Code::kCorrupt, base + ": reading rng states failed");
    }
    auto want = ReadU32Attr(d.get(), "crc32c");
    if (!want.ok() || *want != Crc32c(flat.data(), flat.size() * sizeof(uint64_t))) {
      return Status::Corrupt(base + ": rng states fail their checksum");
    }
    for (size_t i = 0; i < flat.size(); i += 2) ck.rng.push_back(RngState{flat[i], flat[i + 1]});
  }
  return ck;
}

Result<FoundCheckpoint> FindLatestValid(const std::string& dir, const ReadCheckpointOptions& options) {
  if (!fs::IsDir(dir)) return Status::NotFound("no checkpoint directory '" + dir + "'");
  HPCAI_ASSIGN_OR_RETURN(auto names, fs::ListDir(dir));
  std::vector<int64_t> steps;
  for (const auto& n : names) {
    int64_t s = StepOf(n);
    if (s >= 0) steps.push_back(s);
  }
  std::sort(steps.rbegin(), steps.rend());
  FoundCheckpoint found;
  std::vector<int64_t> order;
  auto latest_text = fs::ReadFile(fs::Join(dir, "LATEST"), 4096);
  int64_t latest = -1;
  if (latest_text.ok()) {
    std::string name = *latest_text;
    while (!name.empty() && (name.back() == '\n' || name.back() == ' ' || name.back() == '\r')) name.pop_back();
    latest = StepOf(name);
    if (latest < 0) {
      found.warnings.push_back(dir + "/LATEST names '" + name + "', not a checkpoint file; ignoring it");
    } else if (std::find(steps.begin(), steps.end(), latest) == steps.end()) {
      found.warnings.push_back(dir + "/LATEST names " + name + ", which does not exist");
    }
  }
  if (latest >= 0 && std::find(steps.begin(), steps.end(), latest) != steps.end()) {
    // LATEST wins; fall back to older steps only (newer files belong to an
    // abandoned trajectory, e.g. after a resume from an earlier checkpoint).
    order.push_back(latest);
    for (int64_t s : steps) {
      if (s < latest) order.push_back(s);
    }
  } else {
    order = steps;
  }
  if (order.empty()) return Status::NotFound("no checkpoints (ckpt-<step>.h5) in '" + dir + "'");
  std::string reasons;
  for (size_t i = 0; i < order.size(); ++i) {
    const std::string name = CheckpointFileName(order[i]);
    auto ck = ReadCheckpoint(fs::Join(dir, name), options);
    if (ck.ok()) {
      if (i > 0) found.warnings.push_back("falling back to " + name + " (step " + std::to_string(order[i]) + ")");
      found.checkpoint = std::move(ck).value();
      return found;
    }
    // An incompatible spec or a newer format is not damage: do not silently
    // fall back past it.
    if (ck.status().code() == Code::kFailedPrecondition) return ck.status();
    found.warnings.push_back(name + " is not loadable: " + ck.status().message());
    reasons += "\n  " + name + ": " + ck.status().message();
  }
  return Status::NotFound("no valid checkpoint in '" + dir + "':" + reasons);
}

namespace {
void BcastString(std::string* s, int root, MPI_Comm comm) {
  int n = static_cast<int>(s->size());
  MPI_Bcast(&n, 1, MPI_INT, root, comm);
  s->resize(static_cast<size_t>(n));
  if (n > 0) MPI_Bcast(s->data(), n, MPI_CHAR, root, comm);
}
}  // namespace

Result<std::string> AgreeLatestValid(const std::string& dir, const ReadCheckpointOptions& options, MPI_Comm comm,
                                     int root, std::vector<std::string>* warnings) {
  int rank = 0;
  MPI_Comm_rank(comm, &rank);
  int code = 0;
  std::string text, warn;
  if (rank == root) {
    ReadCheckpointOptions meta_only = options;
    meta_only.load_tensors = false;
    auto found = FindLatestValid(dir, meta_only);
    code = static_cast<int>(found.status().code());
    text = found.ok() ? found->checkpoint.path : found.status().message();
    if (found.ok()) {
      Json w = Json::MakeArray();
      for (const auto& s : found->warnings) w.push_back(s);
      warn = w.dump();
    }
  }
  MPI_Bcast(&code, 1, MPI_INT, root, comm);
  BcastString(&text, root, comm);
  BcastString(&warn, root, comm);
  if (warnings != nullptr && !warn.empty()) {
    auto w = Json::Parse(warn);
    if (w.ok()) {
      for (const auto& s : w->as_array()) warnings->push_back(s.as_string());
    }
  }
  if (code != 0) return Status(static_cast<Code>(code), text);
  return text;
}

Result<std::vector<CheckpointEntry>> ListCheckpoints(const std::string& dir) {
  if (!fs::IsDir(dir)) return Status::NotFound("no checkpoint directory '" + dir + "'");
  HPCAI_ASSIGN_OR_RETURN(auto names, fs::ListDir(dir));
  std::string latest;
  if (auto l = fs::ReadFile(fs::Join(dir, "LATEST"), 4096); l.ok()) {
    latest = *l;
    while (!latest.empty() && (latest.back() == '\n' || latest.back() == '\r')) latest.pop_back();
  }
  std::vector<CheckpointEntry> out;
  for (const auto& n : names) {
    int64_t s = StepOf(n);
    if (s < 0) continue;
    CheckpointEntry e;
    e.path = fs::Join(dir, n);
    e.step = s;
    e.latest = n == latest;
    struct stat st{};
    if (::stat(e.path.c_str(), &st) == 0) e.bytes = st.st_size;
    ReadCheckpointOptions o;
    o.load_tensors = false;
    auto ck = ReadCheckpoint(e.path, o);
    e.valid = ck.ok();
    if (ck.ok()) {
      e.meta = ck->meta;
    } else {
      e.error = ck.status().message();
    }
    out.push_back(std::move(e));
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.step < b.step; });
  return out;
}

// ---- async writer ---------------------------------------------------------------------

AsyncCheckpointWriter::AsyncCheckpointWriter(std::string dir, int keep_last)
    : dir_(std::move(dir)), keep_last_(keep_last) {
  thread_ = std::thread([this] { Run(); });
}

AsyncCheckpointWriter::~AsyncCheckpointWriter() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

Status AsyncCheckpointWriter::Submit(const CheckpointData& data) {
  auto t0 = std::chrono::steady_clock::now();
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [&] { return !pending_ && !busy_; });
  Status previous = last_status_;
  last_status_ = Status::OK();
  // Copy into the writer's own buffers (their capacity is reused).
  meta_ = data.meta;
  rng_ = data.rng;
  const size_t k = data.tensors.size();
  names_.resize(k);
  shapes_.resize(k);
  buffers_.resize(k);
  for (size_t i = 0; i < k; ++i) {
    const TensorRef& t = data.tensors[i];
    names_[i] = t.name;
    shapes_[i] = t.shape;
    const int64_t n = Elements(t.shape);
    buffers_[i].resize(static_cast<size_t>(std::max<int64_t>(0, n)));
    if (n > 0 && t.data != nullptr) std::memcpy(buffers_[i].data(), t.data, static_cast<size_t>(n) * sizeof(float));
  }
  pending_ = true;
  stall_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  lock.unlock();
  cv_.notify_all();
  return previous;
}

Status AsyncCheckpointWriter::Wait() {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [&] { return !pending_ && !busy_; });
  return last_status_;
}

bool AsyncCheckpointWriter::busy() const {
  std::lock_guard<std::mutex> lock(mu_);
  return pending_ || busy_;
}

std::string AsyncCheckpointWriter::last_path() const {
  std::lock_guard<std::mutex> lock(mu_);
  return last_path_;
}

double AsyncCheckpointWriter::TakeStallSeconds() {
  std::lock_guard<std::mutex> lock(mu_);
  double s = stall_;
  stall_ = 0;
  return s;
}

void AsyncCheckpointWriter::Run() {
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    cv_.wait(lock, [&] { return pending_ || stop_; });
    if (!pending_) break;  // stop requested and nothing left to write
    pending_ = false;
    busy_ = true;
    CheckpointData data;
    data.meta = meta_;
    data.rng = rng_;
    for (size_t i = 0; i < names_.size(); ++i) {
      data.tensors.push_back(TensorRef{names_[i], shapes_[i], buffers_[i].data()});
    }
    // The buffers are not touched by Submit while busy_ is set.
    lock.unlock();
    auto written = WriteCheckpoint(dir_, data, keep_last_);
    lock.lock();
    last_status_ = written.status();
    if (written.ok()) last_path_ = *written;
    busy_ = false;
    cv_.notify_all();
  }
}

}  // namespace hpcai::io
