#include "shard.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <mutex>

#include "hpcai/base/fs.h"
#include "hpcai/io/checksum.h"
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

// ---- mapped rows ------------------------------------------------------------------

namespace {

// The SIGBUS handler's view of the live mappings: plain atomics only, so the
// handler never touches an object another thread may be destroying.
struct MapSlot {
  std::atomic<uintptr_t> begin{0}, end{0};
  std::atomic<bool> damaged{false};
};
constexpr int kMapSlots = 4096;
MapSlot g_slots[kMapSlots];
std::atomic<uint64_t> g_faults{0};
std::mutex g_slot_mu;  // claims and releases (not the handler)
struct sigaction g_previous{};

void ChainToPrevious(int sig, siginfo_t* info, void* ctx) {
  if ((g_previous.sa_flags & SA_SIGINFO) != 0 && g_previous.sa_sigaction != nullptr) {
    g_previous.sa_sigaction(sig, info, ctx);
  } else if (g_previous.sa_handler != SIG_DFL && g_previous.sa_handler != SIG_IGN) {
    g_previous.sa_handler(sig);
  } else {
    // Default (or ignored, which a fault cannot be): put the default back
    // and deliver it again, so the process dies of SIGBUS as it would have.
    struct sigaction dfl{};
    dfl.sa_handler = SIG_DFL;
    sigemptyset(&dfl.sa_mask);
    ::sigaction(SIGBUS, &dfl, nullptr);
    ::raise(SIGBUS);
  }
}

// Async-signal-safe: atomics, sysconf, sigaction, raise and mmap (a plain
// system call on Linux).
void OnSigbus(int sig, siginfo_t* info, void* ctx) {
  const auto addr = reinterpret_cast<uintptr_t>(info->si_addr);
  for (MapSlot& s : g_slots) {
    const uintptr_t b = s.begin.load(std::memory_order_acquire), e = s.end.load(std::memory_order_acquire);
    if (b == 0 || addr < b || addr >= e) continue;
    const uintptr_t page = static_cast<uintptr_t>(::sysconf(_SC_PAGESIZE));
    void* at = reinterpret_cast<void*>(addr & ~(page - 1));
    if (::mmap(at, page, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) == MAP_FAILED) break;
    s.damaged.store(true, std::memory_order_release);
    g_faults.fetch_add(1, std::memory_order_acq_rel);
    return;  // the access runs again and reads zeros
  }
  ChainToPrevious(sig, info, ctx);
}

// Installed once, the first time a shard is mapped (after MPI_Init in
// hpcai-train, so Open MPI's own SIGBUS handler is the one chained to).
void InstallSigbusHandler() {
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction sa{};
    sa.sa_sigaction = OnSigbus;
    sa.sa_flags = SA_SIGINFO | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    ::sigaction(SIGBUS, &sa, &g_previous);
  });
}

int ClaimSlot(uintptr_t begin, uintptr_t end) {
  std::lock_guard<std::mutex> lock(g_slot_mu);
  for (int i = 0; i < kMapSlots; ++i) {
    if (g_slots[i].begin.load() != 0) continue;
    g_slots[i].damaged.store(false);
    g_slots[i].end.store(end);
    g_slots[i].begin.store(begin, std::memory_order_release);
    return i;
  }
  return -1;
}

void ReleaseSlot(int i) {
  std::lock_guard<std::mutex> lock(g_slot_mu);
  g_slots[i].begin.store(0, std::memory_order_release);
  g_slots[i].end.store(0);
}

}  // namespace

Result<std::unique_ptr<MappedRows>> MappedRows::Map(const Shard& s) {
  std::unique_ptr<MappedRows> none;
  if (s.num_samples <= 0 || s.row_bytes <= 0) return none;
  auto m = std::unique_ptr<MappedRows>(new MappedRows());
  m->row_bytes_ = s.row_bytes;
  {
    h5::Lock lock;
    // Anything unusual (another driver, a filter, a foreign byte order, a
    // compact or partly unallocated x) keeps the HDF5 read path.
    auto plain = [&]() -> bool {
      h5::Id fapl(H5Fget_access_plist(s.file.get()));
      if (!fapl.valid() || H5Pget_driver(fapl.get()) != H5FD_SEC2) return false;
      h5::Id fcpl(H5Fget_create_plist(s.file.get()));
      // A user block shifts HDF5's addresses from the file's offsets: such
      // (rare) files keep the H5Dread path rather than risk wrong offsets.
      hsize_t userblock = 0;
      if (!fcpl.valid() || H5Pget_userblock(fcpl.get(), &userblock) < 0 || userblock != 0) return false;
      h5::Id xt(H5Dget_type(s.x.get()));
      if (H5Tequal(xt.get(), s.dtype == "uint8" ? H5T_NATIVE_UINT8 : H5T_NATIVE_FLOAT) <= 0) return false;
      h5::Id dcpl(H5Dget_create_plist(s.x.get()));
      if (!dcpl.valid()) return false;
      const int filters = H5Pget_nfilters(dcpl.get());
      if (filters == 1) {  // only HDF5's chunk checksum: verified here instead (Populate)
        unsigned flags = 0, config = 0;
        size_t nvalues = 0;
        if (H5Pget_filter2(dcpl.get(), 0, &flags, &nvalues, nullptr, 0, nullptr, &config) != H5Z_FILTER_FLETCHER32) {
          return false;
        }
        m->fletcher32_ = true;
      } else if (filters != 0) {
        return false;
      }
      const H5D_layout_t layout = H5Pget_layout(dcpl.get());
      if (layout == H5D_CONTIGUOUS && !m->fletcher32_) {
        const haddr_t a = H5Dget_offset(s.x.get());
        if (a == HADDR_UNDEF) return false;
        m->chunk_rows_ = s.num_samples;
        m->chunk_offset_.push_back(static_cast<int64_t>(a));
        return true;
      }
      if (layout != H5D_CHUNKED) return false;
      auto dims = h5::Dims(s.x.get(), s.path);
      if (!dims.ok()) return false;
      const int rank = static_cast<int>(dims->size());
      std::vector<hsize_t> cd(static_cast<size_t>(rank)), coord(static_cast<size_t>(rank), 0);
      if (H5Pget_chunk(dcpl.get(), rank, cd.data()) != rank || cd[0] == 0) return false;
      for (int i = 1; i < rank; ++i) {
        if (cd[static_cast<size_t>(i)] != static_cast<hsize_t>((*dims)[static_cast<size_t>(i)])) return false;
      }
      m->chunk_rows_ = static_cast<int64_t>(cd[0]);
      const hsize_t stored = cd[0] * static_cast<hsize_t>(s.row_bytes) + (m->fletcher32_ ? 4 : 0);
      for (int64_t row = 0; row < s.num_samples; row += m->chunk_rows_) {
        coord[0] = static_cast<hsize_t>(row);
        unsigned mask = 0;  // filters skipped for this chunk
        haddr_t addr = HADDR_UNDEF;
        hsize_t size = 0;
        if (H5Dget_chunk_info_by_coord(s.x.get(), coord.data(), &mask, &addr, &size) < 0 || addr == HADDR_UNDEF ||
            size != stored || mask != 0) {
          return false;
        }
        m->chunk_offset_.push_back(static_cast<int64_t>(addr));
      }
      return true;
    };
    const bool ok = plain();
    H5Eclear2(H5E_DEFAULT);
    if (!ok) return none;
  }
  const int fd = ::open(s.path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return none;
  struct stat st{};
  if (::fstat(fd, &st) != 0) {
    ::close(fd);
    return none;
  }
  for (size_t c = 0; c < m->chunk_offset_.size(); ++c) {
    // A checksummed chunk is stored whole (the checksum covers all its rows).
    const int64_t rows = m->fletcher32_ ? m->chunk_rows_
                                        : std::min(m->chunk_rows_, s.num_samples - static_cast<int64_t>(c) * m->chunk_rows_);
    if (m->chunk_offset_[c] < 0 || m->chunk_offset_[c] + rows * s.row_bytes + (m->fletcher32_ ? 4 : 0) > st.st_size) {
      ::close(fd);
      return Status::Corrupt(fs::Basename(s.path) + ": the data of rows from " +
                             std::to_string(static_cast<int64_t>(c) * m->chunk_rows_) +
                             " lies past the end of the file (" + std::to_string(st.st_size) +
                             " bytes): truncated file; hint: `hpcai data inspect DIR --verify`, then re-convert");
    }
  }
  void* p = ::mmap(nullptr, static_cast<size_t>(st.st_size), PROT_READ, MAP_SHARED, fd, 0);
  ::close(fd);
  if (p == MAP_FAILED) return none;
  InstallSigbusHandler();
  const auto begin = reinterpret_cast<uintptr_t>(p);
  m->slot_ = ClaimSlot(begin, begin + static_cast<uintptr_t>(st.st_size));
  if (m->slot_ < 0) {  // thousands of shards mapped at once: the rest use H5Dread
    ::munmap(p, static_cast<size_t>(st.st_size));
    return none;
  }
  m->base_ = static_cast<const uint8_t*>(p);
  m->length_ = static_cast<size_t>(st.st_size);
  m->rows_ = s.num_samples;
  m->name_ = fs::Basename(s.path);
  m->populated_.assign(m->chunk_offset_.size(), 0);
  return m;
}

MappedRows::~MappedRows() {
  if (slot_ >= 0) ReleaseSlot(slot_);  // before the pages go: no fault can be ours after this
  if (base_ != nullptr) ::munmap(const_cast<uint8_t*>(base_), length_);
}

bool MappedRows::damaged() const { return slot_ >= 0 && g_slots[slot_].damaged.load(std::memory_order_acquire); }

Status MappedRows::Damaged() const {
  return Status::Corrupt(name_ + ": the file shrank while this job read it (rewritten or truncated in place); the "
                         "rows read since are not used; hint: never modify a dataset that jobs are reading: write "
                         "a new one (`hpcai data convert --out NEW_DIR`) and point the spec at it");
}

uint64_t MappedRows::Faults() { return g_faults.load(std::memory_order_acquire); }

Status MappedRows::Populate(int64_t start, int64_t count) {
  static const int64_t page = ::sysconf(_SC_PAGESIZE);
  for (int64_t c = start / chunk_rows_; c * chunk_rows_ < start + count; ++c) {
    if (populated_[static_cast<size_t>(c)]) continue;
    const uint8_t* first = Row(c * chunk_rows_);
    if (fletcher32_) {
      // What HDF5's filter does on every read, done once per chunk: its
      // checksum over the whole chunk, stored little-endian after it (HDF5
      // also accepts the byte-pair-swapped value files before 1.6.3 hold).
      // Reading the chunk faults its pages in as well.
      const size_t bytes = static_cast<size_t>(chunk_rows_ * row_bytes_);
      const uint32_t sum = Fletcher32(first, bytes);
      const uint8_t* t = first + bytes;
      const uint32_t stored = static_cast<uint32_t>(t[0]) | static_cast<uint32_t>(t[1]) << 8 |
                              static_cast<uint32_t>(t[2]) << 16 | static_cast<uint32_t>(t[3]) << 24;
      const uint32_t swapped = (sum & 0x00ff00ffu) << 8 | (sum & 0xff00ff00u) >> 8;
      if (damaged()) return Damaged();  // zeros where the file shrank, not a checksum problem
      if (stored != sum && stored != swapped) {
        char detail[96];
        std::snprintf(detail, sizeof detail, "stored 0x%08x, computed 0x%08x", stored, sum);
        return Status::Corrupt(name_ + ": reading rows [" + std::to_string(c * chunk_rows_) + ", " +
                               std::to_string(std::min(rows_, (c + 1) * chunk_rows_)) +
                               "): the chunk fails its Fletcher-32 checksum (" + detail +
                               "): corrupt data; hint: `hpcai data inspect DIR --verify`, then re-convert");
      }
    } else {
      // A read per page faults it in (the kernel's fault-around maps 16
      // pages at a time); measured cheaper than MADV_POPULATE_READ here.
      const int64_t bytes = std::min(chunk_rows_, rows_ - c * chunk_rows_) * row_bytes_;
      uint8_t sum = 0;
      for (int64_t o = 0; o < bytes; o += page) sum = static_cast<uint8_t>(sum + first[o]);
      sink_ = sum;
      if (damaged()) return Damaged();
    }
    populated_[static_cast<size_t>(c)] = 1;
  }
  return Status::OK();
}

}  // namespace hpcai::io
