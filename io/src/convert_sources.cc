// Readers for the converter inputs: IDX (MNIST, optionally gzipped), NumPy
// .npy, CSV and foreign HDF5 files.  Each reads front to back in blocks.
#include "convert_sources.h"

#include <sys/stat.h>
#include <zlib.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>

#include "h5util.h"
#include "hpcai/base/fs.h"
#include "hpcai/base/json.h"
#include "hpcai/io/dataset.h"

namespace hpcai::io {

namespace {

int64_t FileSize(const std::string& path) {
  struct stat st{};
  return ::stat(path.c_str(), &st) == 0 ? static_cast<int64_t>(st.st_size) : 0;
}

// Concatenation of sources with the same sample shape and dtype.
class ConcatSource : public Source {
 public:
  explicit ConcatSource(std::vector<std::unique_ptr<Source>> parts) : parts_(std::move(parts)) {
    shape = parts_[0]->shape;
    dtype = parts_[0]->dtype;
    for (const auto& p : parts_) {
      num_samples += p->num_samples;
      file_bytes += p->file_bytes;
      description += (description.empty() ? "" : ", ") + p->description;
    }
  }
  Status Read(int64_t n, void* x, int32_t* y) override {
    auto* xp = static_cast<uint8_t*>(x);
    const int64_t rb = feature_dim() * (dtype == "uint8" ? 1 : 4);
    while (n > 0) {
      Source& s = *parts_[cur_];
      int64_t take = std::min(n, s.num_samples - used_);
      if (take > 0) HPCAI_RETURN_IF_ERROR(s.Read(take, xp, y));
      xp += take * rb;
      y += take;
      n -= take;
      used_ += take;
      if (used_ == s.num_samples) {
        ++cur_;
        used_ = 0;
      }
    }
    return Status::OK();
  }

 private:
  std::vector<std::unique_ptr<Source>> parts_;
  size_t cur_ = 0;
  int64_t used_ = 0;
};

Result<std::unique_ptr<Source>> Concat(std::vector<std::unique_ptr<Source>> parts) {
  if (parts.size() == 1) return std::move(parts[0]);
  for (const auto& p : parts) {
    if (p->shape != parts[0]->shape || p->dtype != parts[0]->dtype) {
      return Status::InvalidArgument("inputs differ: " + parts[0]->description + " has samples of " +
                                     ShapeString(parts[0]->shape) + " " + parts[0]->dtype + " but " + p->description +
                                     " has " + ShapeString(p->shape) + " " + p->dtype);
    }
  }
  return std::unique_ptr<Source>(new ConcatSource(std::move(parts)));
}

// ---- IDX -------------------------------------------------------------------------------

class GzFile {
 public:
  ~GzFile() {
    if (f_ != nullptr) gzclose(f_);
  }
  Status Open(const std::string& path) {
    path_ = path;
    if (!fs::Exists(path)) return Status::NotFound("input file '" + path + "' does not exist");
    f_ = gzopen(path.c_str(), "rb");
    if (f_ == nullptr) return Status::IOError("cannot open '" + path + "'");
    gzbuffer(f_, 1 << 20);
    return Status::OK();
  }
  Status ReadExact(void* buf, int64_t n, const std::string& what) {
    auto* p = static_cast<char*>(buf);
    while (n > 0) {
      unsigned take = static_cast<unsigned>(std::min<int64_t>(n, 1 << 30));
      int r = gzread(f_, p, take);
      if (r < 0) {
        int err = 0;
        const char* msg = gzerror(f_, &err);
        return Status::Corrupt(fs::Basename(path_) + ": cannot decompress " + what + ": " + (msg ? msg : "zlib error"));
      }
      if (r == 0) {
        return Status::Corrupt(fs::Basename(path_) + ": file ends early while reading " + what +
                               " (truncated download?)");
      }
      p += r;
      n -= r;
    }
    return Status::OK();
  }
  const std::string& path() const { return path_; }

 private:
  gzFile f_ = nullptr;
  std::string path_;
};

struct IdxHeader {
  int type = 0;
  std::vector<int64_t> dims;
};

Result<IdxHeader> ReadIdxHeader(GzFile& f) {
  uint8_t magic[4];
  HPCAI_RETURN_IF_ERROR(f.ReadExact(magic, 4, "the IDX header"));
  if (magic[0] != 0 || magic[1] != 0 || magic[3] == 0 || magic[3] > 4) {
    return Status::Corrupt(fs::Basename(f.path()) + ": not an IDX file (bad magic number); hint: --from idx expects "
                           "MNIST-format *-idx3-ubyte / *-idx1-ubyte files, gzipped or not");
  }
  IdxHeader h;
  h.type = magic[2];
  for (int i = 0; i < magic[3]; ++i) {
    uint8_t d[4];
    HPCAI_RETURN_IF_ERROR(f.ReadExact(d, 4, "the IDX header"));
    h.dims.push_back((int64_t{d[0]} << 24) | (int64_t{d[1]} << 16) | (int64_t{d[2]} << 8) | int64_t{d[3]});
  }
  return h;
}

class IdxSource : public Source {
 public:
  Status Open(const std::string& images, const std::string& labels) {
    HPCAI_RETURN_IF_ERROR(img_.Open(images));
    HPCAI_RETURN_IF_ERROR(lab_.Open(labels));
    HPCAI_ASSIGN_OR_RETURN(IdxHeader ih, ReadIdxHeader(img_));
    HPCAI_ASSIGN_OR_RETURN(IdxHeader lh, ReadIdxHeader(lab_));
    if (ih.type != 0x08 && ih.type != 0x0D) {
      return Status::InvalidArgument(fs::Basename(images) + ": IDX element type 0x" + std::to_string(ih.type) +
                                     " is not supported (only unsigned byte 0x08 and float 0x0D)");
    }
    if (lh.type != 0x08 || lh.dims.size() != 1) {
      return Status::InvalidArgument(fs::Basename(labels) + ": expected a 1-D unsigned-byte IDX label file");
    }
    if (ih.dims[0] != lh.dims[0]) {
      return Status::Corrupt(fs::Basename(images) + " has " + std::to_string(ih.dims[0]) + " images but " +
                             fs::Basename(labels) + " has " + std::to_string(lh.dims[0]) + " labels");
    }
    num_samples = ih.dims[0];
    if (ih.dims.size() == 1) {
      shape = {1};
    } else if (ih.dims.size() == 3) {
      shape = {1, ih.dims[1], ih.dims[2]};  // one channel: (C, H, W) for convolutions
    } else {
      shape.assign(ih.dims.begin() + 1, ih.dims.end());
    }
    type_ = ih.type;
    dtype = type_ == 0x08 ? "uint8" : "float32";
    file_bytes = FileSize(images) + FileSize(labels);
    description = fs::Basename(images) + " + " + fs::Basename(labels);
    return Status::OK();
  }
  Status Read(int64_t n, void* x, int32_t* y) override {
    const int64_t elems = n * feature_dim();
    HPCAI_RETURN_IF_ERROR(img_.ReadExact(x, elems * (type_ == 0x08 ? 1 : 4), "images"));
    if (type_ == 0x0D) {  // IDX is big-endian
      auto* p = static_cast<uint32_t*>(x);
      for (int64_t i = 0; i < elems; ++i) p[i] = __builtin_bswap32(p[i]);
    }
    tmp_.resize(static_cast<size_t>(n));
    HPCAI_RETURN_IF_ERROR(lab_.ReadExact(tmp_.data(), n, "labels"));
    for (int64_t i = 0; i < n; ++i) y[i] = tmp_[static_cast<size_t>(i)];
    return Status::OK();
  }

 private:
  GzFile img_, lab_;
  int type_ = 0x08;
  std::vector<uint8_t> tmp_;
};

// "train-images-idx3-ubyte.gz" -> {"train", true}; labels -> {"train", false}.
bool ParseIdxName(const std::string& name, std::string* prefix, bool* images) {
  for (const char* kind : {"images", "labels"}) {
    for (const char* sep : {"-", "_", "."}) {
      std::string key = std::string(sep) + kind + "-idx";
      size_t pos = name.find(key);
      if (pos != std::string::npos) {
        *prefix = name.substr(0, pos);
        *images = kind[0] == 'i';
        return true;
      }
    }
  }
  return false;
}

std::string PartName(const std::string& prefix) {
  if (prefix == "train") return "train";
  if (prefix == "t10k" || prefix == "test") return "test";
  return prefix;
}

}  // namespace

Result<std::vector<NamedSource>> OpenIdxSources(const std::vector<std::string>& inputs) {
  std::vector<std::string> files;
  for (const auto& in : inputs) {
    if (fs::IsDir(in)) {
      HPCAI_ASSIGN_OR_RETURN(auto names, fs::ListDir(in));
      for (const auto& n : names) {
        std::string p;
        bool im;
        if (ParseIdxName(n, &p, &im)) files.push_back(fs::Join(in, n));
      }
    } else if (fs::Exists(in)) {
      files.push_back(in);
    } else {
      return Status::NotFound("input '" + in + "' does not exist");
    }
  }
  // Pair images with labels by prefix (train-*, t10k-*, ...).
  std::map<std::string, std::pair<std::string, std::string>> pairs;
  std::vector<std::string> order;
  for (const auto& f : files) {
    std::string prefix;
    bool images = false;
    if (!ParseIdxName(fs::Basename(f), &prefix, &images)) {
      return Status::InvalidArgument("'" + f + "': cannot tell images from labels by the name (expected "
                                     "<prefix>-images-idx3-ubyte[.gz] and <prefix>-labels-idx1-ubyte[.gz])");
    }
    std::string key = fs::Join(fs::Dirname(f), prefix);
    if (!pairs.count(key)) order.push_back(key);
    (images ? pairs[key].first : pairs[key].second) = f;
  }
  if (pairs.empty()) {
    return Status::NotFound("no IDX files (*-images-idx3-ubyte[.gz] / *-labels-idx1-ubyte[.gz]) in the inputs");
  }
  std::vector<NamedSource> out;
  for (const auto& key : order) {
    const auto& [img, lab] = pairs[key];
    if (img.empty() || lab.empty()) {
      return Status::NotFound("IDX " + std::string(img.empty() ? "images" : "labels") + " file missing for '" +
                              (img.empty() ? lab : img) + "'");
    }
    auto s = std::make_unique<IdxSource>();
    HPCAI_RETURN_IF_ERROR(s->Open(img, lab));
    std::string part = PartName(fs::Basename(key));
    for (const auto& o : out) {
      if (o.part == part) return Status::InvalidArgument("two IDX inputs both map to part '" + part + "'");
    }
    out.push_back(NamedSource{part, std::move(s)});
  }
  std::sort(out.begin(), out.end(), [](const NamedSource& a, const NamedSource& b) { return a.part > b.part; });
  return out;
}

// ---- NPY --------------------------------------------------------------------------------

namespace {

struct NpyHeader {
  char kind = 0;   // f, i, u, b
  int size = 0;    // bytes per element
  std::vector<int64_t> shape;
  long data_offset = 0;
};

Result<NpyHeader> ReadNpyHeader(FILE* f, const std::string& path) {
  const std::string base = fs::Basename(path);
  char magic[8];
  if (std::fread(magic, 1, 8, f) != 8 || std::memcmp(magic, "\x93NUMPY", 6) != 0) {
    return Status::Corrupt(base + ": not a .npy file (bad magic)");
  }
  uint32_t hlen = 0;
  if (magic[6] == 1) {
    uint8_t b[2];
    if (std::fread(b, 1, 2, f) != 2) return Status::Corrupt(base + ": truncated header");
    hlen = b[0] | (b[1] << 8);
  } else {
    uint8_t b[4];
    if (std::fread(b, 1, 4, f) != 4) return Status::Corrupt(base + ": truncated header");
    hlen = b[0] | (b[1] << 8) | (b[2] << 16) | (uint32_t{b[3]} << 24);
  }
  std::string h(hlen, '\0');
  if (std::fread(h.data(), 1, hlen, f) != hlen) return Status::Corrupt(base + ": truncated header");
  NpyHeader out;
  out.data_offset = std::ftell(f);
  auto value_of = [&](const std::string& key) -> std::string {
    size_t p = h.find("'" + key + "'");
    if (p == std::string::npos) return "";
    p = h.find(':', p);
    if (p == std::string::npos) return "";
    ++p;
    while (p < h.size() && std::isspace(static_cast<unsigned char>(h[p]))) ++p;
    return h.substr(p);
  };
  std::string descr = value_of("descr");
  if (descr.size() < 4 || descr[0] != '\'') return Status::Corrupt(base + ": cannot parse 'descr' in the header");
  descr = descr.substr(1, descr.find('\'', 1) - 1);
  if (descr[0] == '>' && descr.substr(1) != "u1" && descr.substr(1) != "i1") {
    return Status::InvalidArgument(base + ": big-endian dtype '" + descr + "' is not supported; hint: "
                                   "np.save(f, a.astype(a.dtype.newbyteorder('<')))");
  }
  out.kind = descr[1];
  out.size = std::atoi(descr.c_str() + 2);
  if (value_of("fortran_order").rfind("True", 0) == 0) {
    return Status::InvalidArgument(base + ": Fortran-ordered arrays are not supported; hint: np.save(f, "
                                   "np.ascontiguousarray(a))");
  }
  std::string sh = value_of("shape");
  if (sh.empty() || sh[0] != '(') return Status::Corrupt(base + ": cannot parse 'shape' in the header");
  size_t p = 1;
  while (p < sh.size() && sh[p] != ')') {
    while (p < sh.size() && (sh[p] == ' ' || sh[p] == ',')) ++p;
    if (p < sh.size() && std::isdigit(static_cast<unsigned char>(sh[p]))) {
      out.shape.push_back(std::strtoll(sh.c_str() + p, nullptr, 10));
      while (p < sh.size() && std::isdigit(static_cast<unsigned char>(sh[p]))) ++p;
    } else if (p < sh.size() && sh[p] != ')') {
      return Status::Corrupt(base + ": cannot parse 'shape' in the header");
    }
  }
  return out;
}

class NpySource : public Source {
 public:
  ~NpySource() override {
    if (fx_) std::fclose(fx_);
    if (fy_) std::fclose(fy_);
  }
  Status Open(const std::string& xpath, const std::string& ypath) {
    xpath_ = xpath;
    ypath_ = ypath;
    for (const auto& p : {xpath, ypath}) {
      if (!fs::Exists(p)) return Status::NotFound("input file '" + p + "' does not exist");
    }
    fx_ = std::fopen(xpath.c_str(), "rb");
    fy_ = std::fopen(ypath.c_str(), "rb");
    if (!fx_ || !fy_) return Status::IOError("cannot open '" + xpath + "' / '" + ypath + "'");
    HPCAI_ASSIGN_OR_RETURN(hx_, ReadNpyHeader(fx_, xpath));
    HPCAI_ASSIGN_OR_RETURN(hy_, ReadNpyHeader(fy_, ypath));
    const std::string xb = fs::Basename(xpath), yb = fs::Basename(ypath);
    if (hx_.shape.empty()) return Status::InvalidArgument(xb + ": x must have at least one dimension (samples)");
    if (hy_.shape.size() != 1) {
      return Status::InvalidArgument(yb + ": labels must be 1-D, got shape " + ShapeString(hy_.shape));
    }
    if (hx_.shape[0] != hy_.shape[0]) {
      return Status::InvalidArgument(xb + " has " + std::to_string(hx_.shape[0]) + " samples but " + yb + " has " +
                                     std::to_string(hy_.shape[0]) + " labels");
    }
    bool xok = (hx_.kind == 'f' && (hx_.size == 4 || hx_.size == 8)) ||
               ((hx_.kind == 'i' || hx_.kind == 'u') && (hx_.size == 1 || hx_.size == 2 || hx_.size == 4 ||
                                                          hx_.size == 8));
    if (!xok) return Status::InvalidArgument(xb + ": unsupported x dtype (kind '" + std::string(1, hx_.kind) + "')");
    if ((hy_.kind != 'i' && hy_.kind != 'u') || !(hy_.size == 1 || hy_.size == 2 || hy_.size == 4 || hy_.size == 8)) {
      return Status::InvalidArgument(yb + ": labels must be integers");
    }
    num_samples = hx_.shape[0];
    shape.assign(hx_.shape.begin() + 1, hx_.shape.end());
    if (shape.empty()) shape = {1};
    dtype = (hx_.kind == 'u' && hx_.size == 1) ? "uint8" : "float32";
    file_bytes = FileSize(xpath) + FileSize(ypath);
    description = xb + " + " + yb;
    return Status::OK();
  }
  Status Read(int64_t n, void* x, int32_t* y) override {
    const int64_t elems = n * feature_dim();
    const size_t xbytes = static_cast<size_t>(elems * hx_.size);
    bool direct = dtype == "uint8" || (hx_.kind == 'f' && hx_.size == 4);
    void* dst = x;
    if (!direct) {
      tmp_.resize(xbytes);
      dst = tmp_.data();
    }
    if (std::fread(dst, 1, xbytes, fx_) != xbytes) {
      return Status::Corrupt(fs::Basename(xpath_) + ": file ends early (truncated?)");
    }
    if (!direct) {
      auto* out = static_cast<float*>(x);
      for (int64_t i = 0; i < elems; ++i) out[i] = static_cast<float>(Element(hx_, tmp_.data(), i));
    }
    const size_t ybytes = static_cast<size_t>(n * hy_.size);
    tmp_.resize(std::max(tmp_.size(), ybytes));
    if (std::fread(tmp_.data(), 1, ybytes, fy_) != ybytes) {
      return Status::Corrupt(fs::Basename(ypath_) + ": file ends early (truncated?)");
    }
    for (int64_t i = 0; i < n; ++i) {
      double v = Element(hy_, tmp_.data(), i);
      if (v < -2147483648.0 || v > 2147483647.0) {
        return Status::InvalidArgument(fs::Basename(ypath_) + ": label " + std::to_string(v) + " does not fit int32");
      }
      y[i] = static_cast<int32_t>(v);
    }
    return Status::OK();
  }

 private:
  static double Element(const NpyHeader& h, const uint8_t* p, int64_t i) {
    p += i * h.size;
    switch (h.kind) {
      case 'f': {
        if (h.size == 4) { float v; std::memcpy(&v, p, 4); return v; }
        double v; std::memcpy(&v, p, 8); return v;
      }
      case 'i': {
        if (h.size == 1) return static_cast<int8_t>(*p);
        if (h.size == 2) { int16_t v; std::memcpy(&v, p, 2); return v; }
        if (h.size == 4) { int32_t v; std::memcpy(&v, p, 4); return v; }
        int64_t v; std::memcpy(&v, p, 8); return static_cast<double>(v);
      }
      default: {
        if (h.size == 1) return *p;
        if (h.size == 2) { uint16_t v; std::memcpy(&v, p, 2); return v; }
        if (h.size == 4) { uint32_t v; std::memcpy(&v, p, 4); return v; }
        uint64_t v; std::memcpy(&v, p, 8); return static_cast<double>(v);
      }
    }
  }
  FILE* fx_ = nullptr;
  FILE* fy_ = nullptr;
  std::string xpath_, ypath_;
  NpyHeader hx_, hy_;
  std::vector<uint8_t> tmp_;
};

}  // namespace

Result<std::vector<NamedSource>> OpenNpySources(const std::vector<std::string>& inputs) {
  std::string xp, yp;
  if (inputs.size() == 1 && fs::IsDir(inputs[0])) {
    xp = fs::Join(inputs[0], "x.npy");
    yp = fs::Join(inputs[0], "y.npy");
  } else if (inputs.size() == 2) {
    xp = inputs[0];
    yp = inputs[1];
  } else {
    return Status::InvalidArgument("--from npy takes X.npy Y.npy (features, then labels) or a directory holding "
                                   "x.npy and y.npy");
  }
  auto s = std::make_unique<NpySource>();
  HPCAI_RETURN_IF_ERROR(s->Open(xp, yp));
  std::vector<NamedSource> out;
  out.push_back(NamedSource{"", std::move(s)});
  return out;
}

// ---- CSV ----------------------------------------------------------------------------------

namespace {

std::vector<std::string> SplitCsv(const std::string& line) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : line) {
    if (c == ',') {
      out.push_back(cur);
      cur.clear();
    } else if (c != '\r' && c != '"') {
      cur += c;
    }
  }
  out.push_back(cur);
  return out;
}

bool ParseNumber(const std::string& s, double* v) {
  const char* b = s.c_str();
  while (*b == ' ' || *b == '\t') ++b;
  if (*b == '\0') return false;
  char* end = nullptr;
  *v = std::strtod(b, &end);
  while (end && (*end == ' ' || *end == '\t')) ++end;
  return end && *end == '\0';
}

class CsvSource : public Source {
 public:
  Status Open(const std::string& path, const std::string& label_column) {
    path_ = path;
    if (!fs::Exists(path)) return Status::NotFound("input file '" + path + "' does not exist");
    in_.open(path);
    if (!in_) return Status::IOError("cannot open '" + path + "'");
    std::string line;
    int64_t rows = 0;
    bool first = true;
    while (std::getline(in_, line)) {
      if (line.empty() || line == "\r") continue;
      if (first) {
        first = false;
        auto f = SplitCsv(line);
        double v;
        header_ = false;
        for (const auto& c : f) header_ = header_ || !ParseNumber(c, &v);
        cols_ = static_cast<int64_t>(f.size());
        if (header_) {
          names_ = f;
          continue;
        }
      }
      ++rows;
    }
    if (cols_ < 2) return Status::InvalidArgument(fs::Basename(path) + ": needs a label column and at least one feature");
    label_col_ = -1;
    if (!label_column.empty()) {
      double v;
      if (ParseNumber(label_column, &v)) {
        label_col_ = static_cast<int64_t>(v);
      } else {
        for (size_t i = 0; i < names_.size(); ++i) {
          if (names_[i] == label_column) label_col_ = static_cast<int64_t>(i);
        }
      }
      if (label_col_ < 0 || label_col_ >= cols_) {
        return Status::InvalidArgument(fs::Basename(path) + ": no label column '" + label_column + "'");
      }
    } else {
      label_col_ = 0;
      for (size_t i = 0; i < names_.size(); ++i) {
        if (names_[i] == "label" || names_[i] == "y" || names_[i] == "class" || names_[i] == "target") {
          label_col_ = static_cast<int64_t>(i);
        }
      }
    }
    num_samples = rows;
    shape = {cols_ - 1};
    dtype = "float32";
    file_bytes = FileSize(path);
    description = fs::Basename(path) + " (label column " + std::to_string(label_col_) + ")";
    in_.clear();
    in_.seekg(0);
    line_no_ = 0;
    if (header_) {
      while (std::getline(in_, line)) {
        ++line_no_;
        if (!line.empty() && line != "\r") break;
      }
    }
    return Status::OK();
  }
  Status Read(int64_t n, void* x, int32_t* y) override {
    auto* xf = static_cast<float*>(x);
    std::string line;
    const std::string base = fs::Basename(path_);
    for (int64_t i = 0; i < n;) {
      if (!std::getline(in_, line)) return Status::Corrupt(base + ": file changed while reading");
      ++line_no_;
      if (line.empty() || line == "\r") continue;
      auto f = SplitCsv(line);
      if (static_cast<int64_t>(f.size()) != cols_) {
        return Status::InvalidArgument(base + ":" + std::to_string(line_no_) + ": " + std::to_string(f.size()) +
                                       " columns, expected " + std::to_string(cols_));
      }
      int64_t k = 0;
      for (int64_t c = 0; c < cols_; ++c) {
        double v;
        if (!ParseNumber(f[static_cast<size_t>(c)], &v)) {
          return Status::InvalidArgument(base + ":" + std::to_string(line_no_) + ": column " + std::to_string(c + 1) +
                                         " '" + f[static_cast<size_t>(c)] + "' is not a number");
        }
        if (c == label_col_) {
          if (v != static_cast<double>(static_cast<int32_t>(v))) {
            return Status::InvalidArgument(base + ":" + std::to_string(line_no_) + ": label '" +
                                           f[static_cast<size_t>(c)] + "' is not an integer");
          }
          y[i] = static_cast<int32_t>(v);
        } else {
          xf[i * (cols_ - 1) + k++] = static_cast<float>(v);
        }
      }
      ++i;
    }
    return Status::OK();
  }

 private:
  std::string path_;
  std::ifstream in_;
  bool header_ = false;
  std::vector<std::string> names_;
  int64_t cols_ = 0, label_col_ = 0, line_no_ = 0;
};

}  // namespace

Result<std::vector<NamedSource>> OpenCsvSources(const std::vector<std::string>& inputs,
                                                const std::string& label_column) {
  std::vector<std::unique_ptr<Source>> parts;
  for (const auto& in : inputs) {
    auto s = std::make_unique<CsvSource>();
    HPCAI_RETURN_IF_ERROR(s->Open(in, label_column));
    parts.push_back(std::move(s));
  }
  if (parts.empty()) return Status::InvalidArgument("--from csv needs at least one input file");
  HPCAI_ASSIGN_OR_RETURN(auto src, Concat(std::move(parts)));
  std::vector<NamedSource> out;
  out.push_back(NamedSource{"", std::move(src)});
  return out;
}

// ---- HDF5 ---------------------------------------------------------------------------------

namespace {

class Hdf5Source : public Source {
 public:
  ~Hdf5Source() override {
    h5::Lock lock;
    x_.reset();
    y_.reset();
    file_.reset();
  }
  Status Open(const std::string& path, const std::string& xn, const std::string& yn) {
    path_ = path;
    const std::string base = fs::Basename(path);
    if (!fs::Exists(path)) return Status::NotFound("input file '" + path + "' does not exist");
    h5::Lock lock;
    file_.reset(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT));
    if (!file_.valid()) return h5::Fail(Code::kCorrupt, base + ": cannot open as HDF5");
    for (const auto& [name, id] : {std::pair{xn, &x_}, std::pair{yn, &y_}}) {
      if (H5Lexists(file_.get(), name.c_str(), H5P_DEFAULT) <= 0) {
        H5Eclear2(H5E_DEFAULT);
        std::string have;
        for (const auto& n : h5::ListNames(file_.get())) have += (have.empty() ? "" : ", ") + n;
        return Status::InvalidArgument(base + ": no dataset '" + name + "' (the file has: " + have +
                                       "); hint: --x-name / --y-name");
      }
      id->reset(H5Dopen2(file_.get(), name.c_str(), H5P_DEFAULT));
      if (!id->valid()) return h5::Fail(Code::kCorrupt, base + ": cannot open '" + name + "'");
    }
    HPCAI_ASSIGN_OR_RETURN(auto xd, h5::Dims(x_.get(), base));
    HPCAI_ASSIGN_OR_RETURN(auto yd, h5::Dims(y_.get(), base));
    if (xd.empty() || yd.size() != 1 || xd[0] != yd[0]) {
      return Status::InvalidArgument(base + ": '" + xn + "' " + ShapeString(xd) + " and '" + yn + "' " + ShapeString(yd) +
                                     " do not look like (samples, ...) and (samples,)");
    }
    h5::Id xt(H5Dget_type(x_.get())), yt(H5Dget_type(y_.get()));
    H5T_class_t xc = H5Tget_class(xt.get());
    if (xc != H5T_INTEGER && xc != H5T_FLOAT) return Status::InvalidArgument(base + ": '" + xn + "' is not numeric");
    if (H5Tget_class(yt.get()) != H5T_INTEGER) {
      return Status::InvalidArgument(base + ": labels '" + yn + "' have dtype " + h5::TypeName(yt.get()) +
                                     ", expected integers");
    }
    u8_ = xc == H5T_INTEGER && H5Tget_size(xt.get()) == 1 && H5Tget_sign(xt.get()) == H5T_SGN_NONE;
    dtype = u8_ ? "uint8" : "float32";
    num_samples = xd[0];
    rank_ = static_cast<int>(xd.size());
    shape.assign(xd.begin() + 1, xd.end());
    if (shape.empty()) shape = {1};
    file_bytes = FileSize(path);
    description = base + ":" + xn + "," + yn;
    return Status::OK();
  }
  Status Read(int64_t n, void* x, int32_t* y) override {
    h5::Lock lock;
    auto read = [&](hid_t d, hid_t mt, void* out, int rank) -> Status {
      h5::Id fs_(H5Dget_space(d));
      std::vector<hsize_t> st(static_cast<size_t>(rank), 0), cnt(static_cast<size_t>(rank));
      H5Sget_simple_extent_dims(fs_.get(), cnt.data(), nullptr);
      st[0] = static_cast<hsize_t>(pos_);
      cnt[0] = static_cast<hsize_t>(n);
      H5Sselect_hyperslab(fs_.get(), H5S_SELECT_SET, st.data(), nullptr, cnt.data(), nullptr);
      h5::Id ms(H5Screate_simple(rank, cnt.data(), nullptr));
      if (H5Dread(d, mt, ms.get(), fs_.get(), H5P_DEFAULT, out) < 0) {
        return h5::Fail(Code::kCorrupt, fs::Basename(path_) + ": read failed");
      }
      return Status::OK();
    };
    HPCAI_RETURN_IF_ERROR(read(x_.get(), u8_ ? H5T_NATIVE_UINT8 : H5T_NATIVE_FLOAT, x, rank_));
    HPCAI_RETURN_IF_ERROR(read(y_.get(), H5T_NATIVE_INT32, y, 1));
    pos_ += n;
    return Status::OK();
  }

 private:
  std::string path_;
  h5::Id file_, x_, y_;
  bool u8_ = false;
  int rank_ = 2;
  int64_t pos_ = 0;
};

}  // namespace

Result<std::vector<NamedSource>> OpenHdf5Sources(const std::vector<std::string>& inputs, const std::string& x_name,
                                                 const std::string& y_name) {
  std::vector<std::unique_ptr<Source>> parts;
  for (const auto& in : inputs) {
    std::vector<std::string> files;
    std::string xn = x_name, yn = y_name;
    if (fs::IsDir(in)) {  // an hpcai dataset: re-shard / re-chunk / compress it
      auto text = fs::ReadFile(fs::Join(in, "manifest.json"));
      if (!text.ok()) return Status::NotFound("'" + in + "' is a directory without manifest.json");
      auto m = Json::Parse(*text);
      if (!m.ok()) return Status::Corrupt(in + "/manifest.json: " + m.status().message());
      for (const auto& s : m->get("shards").as_array()) files.push_back(fs::Join(in, s.get("file").as_string()));
      if (m->has("x")) xn = m->get("x").as_string();
      if (m->has("y")) yn = m->get("y").as_string();
    } else {
      files.push_back(in);
    }
    for (const auto& f : files) {
      auto s = std::make_unique<Hdf5Source>();
      HPCAI_RETURN_IF_ERROR(s->Open(f, xn, yn));
      parts.push_back(std::move(s));
    }
  }
  if (parts.empty()) return Status::InvalidArgument("--from hdf5 needs at least one input file");
  HPCAI_ASSIGN_OR_RETURN(auto src, Concat(std::move(parts)));
  std::vector<NamedSource> out;
  out.push_back(NamedSource{"", std::move(src)});
  return out;
}

}  // namespace hpcai::io
