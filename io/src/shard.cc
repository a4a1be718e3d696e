#include "shard.h"


#include "hpcai/base/fs.h"
#include "hpcai/io/dataset.h"

namespace hpcai::io {

namespace {
Result<h5::Id> OpenDataset(hid_t file, const std::string& name, const std::string& path) {
  h5::Lock lock;
  htri_t exists = H5Lexists(file, name.c_str(), H5P_DEFAULT);
  if (exists <= 0) {
    H5Eclear2(H5E_DEFAULT);
    std::string have;
    for (const auto& n : h5::ListNames(file)) have += (have.empty() ? "" : ", ") + n;
    return Status::Corrupt(fs::Basename(path) + ": no dataset '" + name + "' (the file has: " +
                           (have.empty() ? "nothing" : have) +
                           "); hint: set data.x / data.y (or --x-name/--y-name) to the names used in the file");
  }
  // No chunk cache: the reader reads every chunk whole and once per pass, so
  // caching only adds a copy (unfiltered chunks then go straight into the
  // caller's buffer).
  h5::Id dapl(H5Pcreate(H5P_DATASET_ACCESS));
  H5Pset_chunk_cache(dapl.get(), 0, 0, 1.0);
  h5::Id d(H5Dopen2(file, name.c_str(), dapl.get()));
  if (!d.valid()) return h5::Fail(Code::kCorrupt, fs::Basename(path) + ": cannot open dataset '" + name + "'");
  return d;
}
}  // namespace

Result<std::unique_ptr<Shard>> OpenShard(const std::string& path, const std::string& x_name,
                                         const std::string& y_name, hid_t fapl) {
  const std::string base = fs::Basename(path);
  if (!fs::Exists(path)) {
    return Status::NotFound("shard file '" + path + "' does not exist (listed in manifest.json); "
                            "hint: the dataset directory is incomplete, re-run `hpcai data convert`");
  }
  h5::Lock lock;
  auto s = std::make_unique<Shard>();
  s->path = path;
  htri_t is_h5 = H5Fis_hdf5(path.c_str());
  if (is_h5 <= 0) {
    H5Eclear2(H5E_DEFAULT);
    return Status::Corrupt(base + ": not an HDF5 file (no HDF5 signature found; the file is corrupt or was "
                           "replaced); hint: `hpcai data inspect DIR --verify`, then re-convert");
  }
  s->file.reset(H5Fopen(path.c_str(), H5F_ACC_RDONLY, fapl));
  if (!s->file.valid()) {
    return h5::Fail(Code::kCorrupt, base + ": cannot open as HDF5 (truncated or corrupt file?)");
  }
  HPCAI_ASSIGN_OR_RETURN(s->x, OpenDataset(s->file.get(), x_name, path));
  HPCAI_ASSIGN_OR_RETURN(auto xd, h5::Dims(s->x.get(), base + ": dataset '" + x_name + "'"));
  if (xd.empty()) return Status::Corrupt(base + ": dataset '" + x_name + "' is a scalar, expected (samples, ...)");
  if (!y_name.empty()) {
    HPCAI_ASSIGN_OR_RETURN(s->y, OpenDataset(s->file.get(), y_name, path));
    HPCAI_ASSIGN_OR_RETURN(auto yd, h5::Dims(s->y.get(), base + ": dataset '" + y_name + "'"));
    if (yd.size() != 1) {
      return Status::Corrupt(base + ": dataset '" + y_name + "' has shape " + ShapeString(yd) +
                             ", expected (samples,) of int32 labels");
    }
    if (xd[0] != yd[0]) {
      return Status::Corrupt(base + ": '" + x_name + "' has " + std::to_string(xd[0]) + " samples but '" + y_name +
                             "' has " + std::to_string(yd[0]));
    }
    h5::Id yt(H5Dget_type(s->y.get()));
    if (H5Tget_class(yt.get()) != H5T_INTEGER) {
      return Status::Corrupt(base + ": '" + y_name + "' has dtype " + h5::TypeName(yt.get()) +
                             ", expected int32 labels");
    }
  }
  s->num_samples = xd[0];
  s->sample_shape.assign(xd.begin() + 1, xd.end());
  if (s->sample_shape.empty()) s->sample_shape = {1};

  h5::Id xt(H5Dget_type(s->x.get()));
  H5T_class_t xc = H5Tget_class(xt.get());
  size_t xs = H5Tget_size(xt.get());
  if (xc == H5T_FLOAT && xs == 4) {
    s->dtype = "float32";
  } else if (xc == H5T_INTEGER && xs == 1 && H5Tget_sign(xt.get()) == H5T_SGN_NONE) {
    s->dtype = "uint8";
  } else {
    return Status::Corrupt(base + ": '" + x_name + "' has dtype " + h5::TypeName(xt.get()) +
                           ", expected float32 or uint8; hint: `hpcai data convert --from hdf5` converts it");
  }
  int64_t feat = 1;
  for (int64_t d : s->sample_shape) feat *= d;
  s->row_bytes = feat * (s->dtype == "uint8" ? 1 : 4);

  auto sc = h5::ReadDoubleAttr(s->x.get(), "scale");
  if (sc.ok()) { s->scale = *sc; s->has_scale = true; }
  auto of = h5::ReadDoubleAttr(s->x.get(), "offset");
  if (of.ok()) { s->offset = *of; s->has_offset = true; }
  H5Eclear2(H5E_DEFAULT);

  h5::Id dcpl(H5Dget_create_plist(s->x.get()));
  if (H5Pget_layout(dcpl.get()) == H5D_CHUNKED) {
    std::vector<hsize_t> cd(xd.size());
    if (H5Pget_chunk(dcpl.get(), static_cast<int>(cd.size()), cd.data()) >= 1) s->chunk_samples = cd[0];
  }
  return s;
}

Status ReadRows(const Shard& s, int64_t start, int64_t count, void* x_out, int32_t* y_out, hid_t dxpl,
                bool* x_collective) {
  h5::Lock lock;
  const std::string where = fs::Basename(s.path) + ": reading rows [" + std::to_string(start) + ", " +
                            std::to_string(start + count) + ")";
  if (start < 0 || count < 0 || start + count > s.num_samples) {
    return Status::Internal(where + " out of range (file has " + std::to_string(s.num_samples) + " samples)");
  }
  auto read = [&](hid_t dset, hid_t mem_type, void* out, int rank, const hsize_t* rest, bool* coll) -> Status {
    h5::Id fspace(H5Dget_space(dset));
    std::vector<hsize_t> st(rank, 0), cnt(rank);
    st[0] = static_cast<hsize_t>(start);
    cnt[0] = static_cast<hsize_t>(count);
    for (int i = 1; i < rank; ++i) cnt[i] = rest[i - 1];
    h5::Id mspace(H5Screate_simple(rank, cnt.data(), nullptr));
    if (count == 0) {
      H5Sselect_none(fspace.get());
      H5Sselect_none(mspace.get());
    } else if (H5Sselect_hyperslab(fspace.get(), H5S_SELECT_SET, st.data(), nullptr, cnt.data(), nullptr) < 0) {
      return h5::Fail(Code::kCorrupt, where + ": bad selection");
    }
    if (H5Dread(dset, mem_type, mspace.get(), fspace.get(), dxpl, out) < 0) {
      return h5::Fail(Code::kCorrupt, where + " (corrupt or truncated data?)");
    }
    if (coll != nullptr) {
      H5D_mpio_actual_io_mode_t mode = H5D_MPIO_NO_COLLECTIVE;
      if (dxpl != H5P_DEFAULT && H5Pget_mpio_actual_io_mode(dxpl, &mode) < 0) mode = H5D_MPIO_NO_COLLECTIVE;
      *coll = (mode == H5D_MPIO_CHUNK_COLLECTIVE || mode == H5D_MPIO_CONTIGUOUS_COLLECTIVE);
    }
    return Status::OK();
  };
  std::vector<hsize_t> rest(s.sample_shape.begin(), s.sample_shape.end());
  int xrank = 1 + static_cast<int>(rest.size());
  {
    // Shards may store a 1-D x (one feature); the dataspace rank must match the file.
    auto xd = h5::Dims(s.x.get(), where);
    if (xd.ok() && xd->size() == 1) xrank = 1;
  }
  hid_t xt = s.dtype == "uint8" ? H5T_NATIVE_UINT8 : H5T_NATIVE_FLOAT;
  if (x_out != nullptr) HPCAI_RETURN_IF_ERROR(read(s.x.get(), xt, x_out, xrank, rest.data(), x_collective));
  if (y_out != nullptr) {
    HPCAI_RETURN_IF_ERROR(read(s.y.get(), H5T_NATIVE_INT32, y_out, 1, nullptr, nullptr));
  }
  return Status::OK();
}

}  // namespace hpcai::io
