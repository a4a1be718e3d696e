#include "h5util.h"

namespace hpcai::io::h5 {

std::recursive_mutex& Mutex() {
  static std::recursive_mutex m;
  return m;
}

Lock::Lock() : guard_(Mutex()) {
  // Cheap and idempotent; done under the lock because the auto-print
  // setting is global state in a non-thread-safe HDF5.
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
}

void Id::reset(hid_t id) {
  if (id_ >= 0) {
    Lock lock;
    H5Idec_ref(id_);
  }
  id_ = id;
}

namespace {
herr_t Collect(unsigned, const H5E_error2_t* e, void* data) {
  auto* v = static_cast<std::vector<std::string>*>(data);
  if (e->desc != nullptr && e->desc[0] != '\0') v->push_back(e->desc);
  return 0;
}
}  // namespace

std::string ErrorText() {
  Lock lock;
  hid_t stack = H5Eget_current_stack();
  std::vector<std::string> descs;
  if (stack >= 0) {
    H5Ewalk2(stack, H5E_WALK_DOWNWARD, Collect, &descs);
    H5Eclose_stack(stack);
  }
  if (descs.empty()) return "";
  if (descs.size() == 1 || descs.front() == descs.back()) return descs.front();
  return descs.front() + " (" + descs.back() + ")";
}

Status Fail(Code code, const std::string& context) {
  std::string e = ErrorText();
  return Status(code, e.empty() ? context : context + ": HDF5: " + e);
}

Result<std::vector<int64_t>> Dims(hid_t dset, const std::string& what) {
  Lock lock;
  Id space(H5Dget_space(dset));
  if (!space.valid()) return Fail(Code::kCorrupt, what + ": cannot read the dataspace");
  int rank = H5Sget_simple_extent_ndims(space.get());
  if (rank < 0) return Fail(Code::kCorrupt, what + ": cannot read the rank");
  std::vector<hsize_t> d(static_cast<size_t>(rank));
  if (rank > 0 && H5Sget_simple_extent_dims(space.get(), d.data(), nullptr) < 0) {
    return Fail(Code::kCorrupt, what + ": cannot read the dimensions");
  }
  return std::vector<int64_t>(d.begin(), d.end());
}

namespace {
// Opens attribute `name` of obj: NotFound when it does not exist (callers
// treat that as "use the default"), Corrupt when HDF5 cannot tell or open it.
// The caller holds the Lock.
Result<Id> OpenAttr(hid_t obj, const char* name) {
  htri_t exists = H5Aexists(obj, name);
  if (exists < 0) return Fail(Code::kCorrupt, std::string("attribute '") + name + "'");
  if (exists == 0) return Status::NotFound(std::string("no attribute '") + name + "'");
  Id attr(H5Aopen(obj, name, H5P_DEFAULT));
  if (!attr.valid()) return Fail(Code::kCorrupt, std::string("open attribute '") + name + "'");
  return attr;
}
}  // namespace

Result<double> ReadDoubleAttr(hid_t obj, const char* name) {
  Lock lock;
  HPCAI_ASSIGN_OR_RETURN(Id attr, OpenAttr(obj, name));
  double v = 0;
  if (H5Aread(attr.get(), H5T_NATIVE_DOUBLE, &v) < 0) {
    return Fail(Code::kCorrupt, std::string("read attribute '") + name + "'");
  }
  return v;
}

Status WriteDoubleAttr(hid_t obj, const char* name, double v, hid_t file_type) {
  Lock lock;
  Id space(H5Screate(H5S_SCALAR));
  Id attr(H5Acreate2(obj, name, file_type, space.get(), H5P_DEFAULT, H5P_DEFAULT));
  if (!attr.valid() || H5Awrite(attr.get(), H5T_NATIVE_DOUBLE, &v) < 0) {
    return Fail(Code::kIOError, std::string("write attribute '") + name + "'");
  }
  return Status::OK();
}

Result<std::string> ReadStringAttr(hid_t obj, const char* name) {
  Lock lock;
  HPCAI_ASSIGN_OR_RETURN(Id attr, OpenAttr(obj, name));
  Id type(H5Aget_type(attr.get()));
  if (H5Tget_class(type.get()) != H5T_STRING) {
    return Status::Corrupt(std::string("attribute '") + name + "' is not a string");
  }
  if (H5Tis_variable_str(type.get()) > 0) {
    Id mem(H5Tcopy(H5T_C_S1));
    H5Tset_size(mem.get(), H5T_VARIABLE);
    char* s = nullptr;
    if (H5Aread(attr.get(), mem.get(), &s) < 0) {
      return Fail(Code::kCorrupt, std::string("read attribute '") + name + "'");
    }
    std::string out = s ? s : "";
    Id space(H5Aget_space(attr.get()));
    H5Dvlen_reclaim(mem.get(), space.get(), H5P_DEFAULT, &s);
    return out;
  }
  size_t n = H5Tget_size(type.get());
  std::string out(n, '\0');
  if (H5Aread(attr.get(), type.get(), out.data()) < 0) {
    return Fail(Code::kCorrupt, std::string("read attribute '") + name + "'");
  }
  while (!out.empty() && out.back() == '\0') out.pop_back();
  return out;
}

Status WriteStringAttr(hid_t obj, const char* name, const std::string& v) {
  Lock lock;
  Id type(H5Tcopy(H5T_C_S1));
  H5Tset_size(type.get(), v.empty() ? 1 : v.size());
  H5Tset_strpad(type.get(), H5T_STR_NULLPAD);
  Id space(H5Screate(H5S_SCALAR));
  Id attr(H5Acreate2(obj, name, type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT));
  std::string buf = v.empty() ? std::string(1, '\0') : v;
  if (!attr.valid() || H5Awrite(attr.get(), type.get(), buf.data()) < 0) {
    return Fail(Code::kIOError, std::string("write attribute '") + name + "'");
  }
  return Status::OK();
}

std::string TypeName(hid_t type) {
  Lock lock;
  H5T_class_t cls = H5Tget_class(type);
  size_t size = H5Tget_size(type);
  std::string bits = std::to_string(size * 8);
  switch (cls) {
    case H5T_FLOAT: return "float" + bits;
    case H5T_INTEGER: return (H5Tget_sign(type) == H5T_SGN_NONE ? "uint" : "int") + bits;
    case H5T_STRING: return "string";
    case H5T_COMPOUND: return "compound";
    default: return "type class " + std::to_string(static_cast<int>(cls));
  }
}

namespace {
herr_t AddName(hid_t, const char* name, const H5L_info_t*, void* data) {
  static_cast<std::vector<std::string>*>(data)->push_back(name);
  return 0;
}
}  // namespace

std::vector<std::string> ListNames(hid_t group) {
  Lock lock;
  std::vector<std::string> names;
  H5Literate(group, H5_INDEX_NAME, H5_ITER_INC, nullptr, AddName, &names);
  H5Eclear2(H5E_DEFAULT);
  return names;
}

}  // namespace hpcai::io::h5
