// DatasetWriter: shards written chunk by chunk (whole-chunk H5Dwrite calls),
// manifest.json last.
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "h5util.h"
#include "hpcai/base/fs.h"
#include "hpcai/io/checksum.h"
#include "hpcai/io/dataset.h"

namespace hpcai::io {

namespace {
std::string ShardName(int i) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "shard-%05d.h5", i);
  return buf;
}
int64_t FileSize(const std::string& path) {
  struct stat st{};
  return ::stat(path.c_str(), &st) == 0 ? static_cast<int64_t>(st.st_size) : 0;
}
}  // namespace

int64_t DefaultChunkSamples(int64_t row_bytes) {
  int64_t target = (int64_t{1} << 20) / std::max<int64_t>(1, row_bytes);
  int64_t p = 1;
  while (p * 2 <= target) p *= 2;
  return p;
}

struct DatasetWriter::Impl {
  std::string dir;
  int shard_index = -1;
  std::string shard_path;
  h5::Id file, x, y;
  int64_t shard_rows = 0;      // rows in the current shard file
  int64_t shard_written = 0;   // rows already written to it
  int64_t row_bytes = 0;
  int64_t chunk = 0;
  std::vector<uint8_t> xbuf;   // one chunk of pending rows
  std::vector<int32_t> ybuf;
  int64_t pending = 0;
};

DatasetWriter::~DatasetWriter() {
  if (impl_) {
    h5::Lock lock;
    impl_->x.reset();
    impl_->y.reset();
    impl_->file.reset();
  }
}

Result<std::unique_ptr<DatasetWriter>> DatasetWriter::Create(const std::string& dir, const DatasetLayout& layout,
                                                             int64_t total_samples, bool overwrite) {
  if (total_samples <= 0) return Status::InvalidArgument("cannot write an empty dataset to '" + dir + "' (0 samples)");
  if (layout.dtype != "float32" && layout.dtype != "uint8") {
    return Status::InvalidArgument("dtype '" + layout.dtype + "' is not float32 or uint8");
  }
  if (layout.compression != "none" && layout.compression != "gzip") {
    return Status::InvalidArgument("compression '" + layout.compression + "' is not none or gzip");
  }
  if (layout.sample_shape.empty()) return Status::InvalidArgument("sample_shape is empty");
  for (int64_t d : layout.sample_shape) {
    if (d <= 0) return Status::InvalidArgument("sample_shape has a non-positive dimension");
  }
  const std::string manifest = fs::Join(dir, "manifest.json");
  if (fs::Exists(manifest)) {
    if (!overwrite) {
      return Status::FailedPrecondition("'" + dir + "' already holds a dataset (manifest.json); hint: pass "
                                        "--overwrite or choose another --out");
    }
    // Remove the old manifest first: a crash from here on leaves a directory
    // without manifest (rejected), never a manifest pointing at new shards.
    if (::unlink(manifest.c_str()) != 0) return Status::IOError("cannot remove old '" + manifest + "'");
    auto names = fs::ListDir(dir);
    if (names.ok()) {
      for (const auto& n : *names) {
        if (n.rfind("shard-", 0) == 0 && n.size() > 3 && n.substr(n.size() - 3) == ".h5") {
          ::unlink(fs::Join(dir, n).c_str());
        }
      }
    }
  }
  HPCAI_RETURN_IF_ERROR(fs::MakeDirs(dir));
  std::unique_ptr<DatasetWriter> w(new DatasetWriter());
  w->layout_ = layout;
  w->total_ = total_samples;
  w->impl_ = std::make_unique<Impl>();
  w->impl_->dir = dir;
  DatasetInfo& info = w->info_;
  info.dir = dir;
  info.sample_shape = layout.sample_shape;
  info.dtype = layout.dtype;
  info.scale = layout.scale;
  info.offset = layout.offset;
  info.num_classes = layout.num_classes;
  info.compression = layout.compression;
  info.x_name = layout.x_name;
  info.y_name = layout.y_name;
  info.format_version = kDatasetFormatVersion;
  w->impl_->row_bytes = info.row_bytes();
  int64_t per_shard = layout.samples_per_shard > 0 ? std::min(layout.samples_per_shard, total_samples) : total_samples;
  w->layout_.samples_per_shard = per_shard;
  int64_t chunk = layout.chunk_samples > 0 ? layout.chunk_samples : DefaultChunkSamples(w->impl_->row_bytes);
  chunk = std::min(chunk, per_shard);
  info.chunk_samples = chunk;
  w->impl_->chunk = chunk;
  w->impl_->xbuf.resize(static_cast<size_t>(chunk * w->impl_->row_bytes));
  w->impl_->ybuf.resize(static_cast<size_t>(chunk));
  if (layout.num_classes > 0) w->label_counts_.assign(static_cast<size_t>(layout.num_classes), 0);
  return w;
}

Status DatasetWriter::OpenShard(int index) {
  Impl& m = *impl_;
  h5::Lock lock;
  m.shard_index = index;
  const std::string name = ShardName(index);
  m.shard_path = fs::Join(m.dir, name);
  int64_t start = static_cast<int64_t>(index) * layout_.samples_per_shard;
  m.shard_rows = std::min(layout_.samples_per_shard, total_ - start);
  m.shard_written = 0;
  // Superblock v2 / object header v2 (HDF5 >= 1.8 readers): metadata carries
  // checksums, so corruption of the file's structure is detected on open.
  h5::Id fapl(H5Pcreate(H5P_FILE_ACCESS));
  H5Pset_libver_bounds(fapl.get(), H5F_LIBVER_V18, H5F_LIBVER_V18);
  // No object timestamps (root group here, datasets below): the same input
  // gives byte-identical shards and manifest checksums, whenever converted.
  h5::Id fcpl(H5Pcreate(H5P_FILE_CREATE));
  H5Pset_obj_track_times(fcpl.get(), false);
  m.file.reset(H5Fcreate(m.shard_path.c_str(), H5F_ACC_TRUNC, fcpl.get(), fapl.get()));
  if (!m.file.valid()) return h5::Fail(Code::kIOError, "cannot create '" + m.shard_path + "'");
  HPCAI_RETURN_IF_ERROR(h5::WriteStringAttr(m.file.get(), "format", "hpcai-dataset-shard"));
  HPCAI_RETURN_IF_ERROR(h5::WriteDoubleAttr(m.file.get(), "format_version", kDatasetFormatVersion, H5T_STD_I32LE));
  HPCAI_RETURN_IF_ERROR(h5::WriteDoubleAttr(m.file.get(), "shard_index", index, H5T_STD_I32LE));
  HPCAI_RETURN_IF_ERROR(h5::WriteDoubleAttr(m.file.get(), "first_sample", static_cast<double>(start), H5T_STD_I64LE));

  auto make = [&](const std::string& dname, hid_t ftype, std::vector<hsize_t> dims) -> Result<h5::Id> {
    h5::Id space(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr));
    h5::Id dcpl(H5Pcreate(H5P_DATASET_CREATE));
    H5Pset_obj_track_times(dcpl.get(), false);
    std::vector<hsize_t> cd = dims;
    cd[0] = static_cast<hsize_t>(m.chunk);
    H5Pset_chunk(dcpl.get(), static_cast<int>(cd.size()), cd.data());
    if (layout_.compression == "gzip") {
      H5Pset_shuffle(dcpl.get());
      H5Pset_deflate(dcpl.get(), static_cast<unsigned>(layout_.gzip_level));
    }
    if (layout_.chunk_checksums) H5Pset_fletcher32(dcpl.get());
    h5::Id d(H5Dcreate2(m.file.get(), dname.c_str(), ftype, space.get(), H5P_DEFAULT, dcpl.get(), H5P_DEFAULT));
    if (!d.valid()) return h5::Fail(Code::kIOError, m.shard_path + ": cannot create dataset '" + dname + "'");
    return d;
  };
  std::vector<hsize_t> xdims{static_cast<hsize_t>(m.shard_rows)};
  for (int64_t d : layout_.sample_shape) xdims.push_back(static_cast<hsize_t>(d));
  HPCAI_ASSIGN_OR_RETURN(m.x, make(layout_.x_name, layout_.dtype == "uint8" ? H5T_STD_U8LE : H5T_IEEE_F32LE, xdims));
  HPCAI_ASSIGN_OR_RETURN(m.y, make(layout_.y_name, H5T_STD_I32LE, {static_cast<hsize_t>(m.shard_rows)}));
  HPCAI_RETURN_IF_ERROR(h5::WriteDoubleAttr(m.x.get(), "scale", layout_.scale, H5T_IEEE_F32LE));
  HPCAI_RETURN_IF_ERROR(h5::WriteDoubleAttr(m.x.get(), "offset", layout_.offset, H5T_IEEE_F32LE));
  info_.shards.push_back(ShardInfo{name, m.shard_rows, ""});
  return Status::OK();
}

// Writes the pending rows (one chunk or the shard's tail) with one H5Dwrite per dataset.
Status DatasetWriter::FlushPending() {
  Impl& m = *impl_;
  const std::string& dtype = layout_.dtype;
  const std::vector<int64_t>& shape = layout_.sample_shape;
  if (m.pending == 0) return Status::OK();
  h5::Lock lock;
  std::vector<hsize_t> start{static_cast<hsize_t>(m.shard_written)}, count{static_cast<hsize_t>(m.pending)};
  for (int64_t d : shape) {
    start.push_back(0);
    count.push_back(static_cast<hsize_t>(d));
  }
  auto write = [&](hid_t dset, hid_t mtype, const void* buf, int rank) -> Status {
    h5::Id fspace(H5Dget_space(dset));
    H5Sselect_hyperslab(fspace.get(), H5S_SELECT_SET, start.data(), nullptr, count.data(), nullptr);
    h5::Id mspace(H5Screate_simple(rank, count.data(), nullptr));
    if (H5Dwrite(dset, mtype, mspace.get(), fspace.get(), H5P_DEFAULT, buf) < 0) {
      return h5::Fail(Code::kIOError, m.shard_path + ": write failed (disk full?)");
    }
    return Status::OK();
  };
  HPCAI_RETURN_IF_ERROR(write(m.x.get(), dtype == "uint8" ? H5T_NATIVE_UINT8 : H5T_NATIVE_FLOAT, m.xbuf.data(),
                              static_cast<int>(count.size())));
  HPCAI_RETURN_IF_ERROR(write(m.y.get(), H5T_NATIVE_INT32, m.ybuf.data(), 1));
  m.shard_written += m.pending;
  m.pending = 0;
  return Status::OK();
}

Status DatasetWriter::CloseShard() {
  Impl& m = *impl_;
  HPCAI_RETURN_IF_ERROR(FlushPending());
  {
    h5::Lock lock;
    m.x.reset();
    m.y.reset();
    if (m.file.valid() && H5Fflush(m.file.get(), H5F_SCOPE_GLOBAL) < 0) {
      return h5::Fail(Code::kIOError, m.shard_path + ": flush failed");
    }
    m.file.reset();
  }
  HPCAI_ASSIGN_OR_RETURN(info_.shards.back().sha256, Sha256File(m.shard_path));
  bytes_on_disk_ += FileSize(m.shard_path);
  return Status::OK();
}

Status DatasetWriter::Append(const void* x, const int32_t* y, int64_t n) {
  Impl& m = *impl_;
  if (appended_ + n > total_) {
    return Status::Internal("DatasetWriter: appending beyond the declared " + std::to_string(total_) + " samples");
  }
  const auto* xp = static_cast<const uint8_t*>(x);
  for (int64_t i = 0; i < n; ++i) {
    int32_t label = y[i];
    if (label < 0 || (layout_.num_classes > 0 && label >= layout_.num_classes)) {
      return Status::InvalidArgument("sample " + std::to_string(appended_ + i) + " has label " +
                                     std::to_string(label) + ", outside [0, " +
                                     (layout_.num_classes > 0 ? std::to_string(layout_.num_classes) : "inf") + ")");
    }
    if (static_cast<size_t>(label) >= label_counts_.size()) label_counts_.resize(static_cast<size_t>(label) + 1, 0);
    ++label_counts_[static_cast<size_t>(label)];
    max_label_ = std::max(max_label_, label);
  }
  int64_t done = 0;
  while (done < n) {
    if (m.shard_index < 0 || (m.shard_written + m.pending == m.shard_rows)) {
      if (m.shard_index >= 0) HPCAI_RETURN_IF_ERROR(CloseShard());
      HPCAI_RETURN_IF_ERROR(OpenShard(m.shard_index + 1));
    }
    int64_t room_chunk = m.chunk - m.pending;
    int64_t room_shard = m.shard_rows - m.shard_written - m.pending;
    int64_t take = std::min({n - done, room_chunk, room_shard});
    std::memcpy(m.xbuf.data() + m.pending * m.row_bytes, xp + done * m.row_bytes,
                static_cast<size_t>(take * m.row_bytes));
    std::memcpy(m.ybuf.data() + m.pending, y + done, static_cast<size_t>(take) * sizeof(int32_t));
    m.pending += take;
    done += take;
    if (m.pending == m.chunk || m.shard_written + m.pending == m.shard_rows) {
      HPCAI_RETURN_IF_ERROR(FlushPending());
    }
  }
  appended_ += n;
  return Status::OK();
}

Status DatasetWriter::Finish() {
  if (appended_ != total_) {
    return Status::Internal("DatasetWriter: " + std::to_string(appended_) + " samples appended, " +
                            std::to_string(total_) + " declared");
  }
  HPCAI_RETURN_IF_ERROR(CloseShard());
  info_.num_samples = total_;
  if (info_.num_classes <= 0) info_.num_classes = max_label_ + 1;
  if (info_.num_classes <= max_label_) {
    return Status::InvalidArgument("num_classes " + std::to_string(info_.num_classes) + " but a label is " +
                                   std::to_string(max_label_));
  }
  label_counts_.resize(static_cast<size_t>(info_.num_classes), 0);
  Json manifest = ManifestJson(info_, label_counts_, layout_.source);
  const std::string path = fs::Join(impl_->dir, "manifest.json");
  std::string text = manifest.dump(2) + "\n";
  HPCAI_RETURN_IF_ERROR(fs::AtomicWriteFile(path, text));
  bytes_on_disk_ += static_cast<int64_t>(text.size());
  return Status::OK();
}

}  // namespace hpcai::io
