// Private HDF5 helpers for io/: the process-wide HDF5 lock, RAII ids and
// turning HDF5's error stack into a Status.
//
// The Debian HDF5 (parallel build) is NOT thread-safe (H5_HAVE_THREADSAFE is
// off), and hpcai calls it from several threads (the reader's prefetch
// thread, the async checkpoint writer, the main thread).  Every HDF5 call in
// hpcai therefore happens under H5Lock.  Code outside io/ must not call
// HDF5 directly.
#pragma once

#include <hdf5.h>

#include <mutex>
#include <string>
#include <vector>

#include "hpcai/base/status.h"

namespace hpcai::io::h5 {

std::recursive_mutex& Mutex();

// Holds the HDF5 lock and makes sure HDF5 never prints its error stack
// (failures become Status through ErrorText()).
class Lock {
 public:
  Lock();
  ~Lock() = default;
  Lock(const Lock&) = delete;
  Lock& operator=(const Lock&) = delete;

 private:
  std::lock_guard<std::recursive_mutex> guard_;
};

// Owns one HDF5 identifier (file, dataset, dataspace, property list, type,
// attribute); closes it (under the lock) when destroyed.
class Id {
 public:
  Id() = default;
  explicit Id(hid_t id) : id_(id) {}
  ~Id() { reset(); }
  Id(Id&& o) noexcept : id_(o.id_) { o.id_ = H5I_INVALID_HID; }
  Id& operator=(Id&& o) noexcept {
    if (this != &o) {
      reset();
      id_ = o.id_;
      o.id_ = H5I_INVALID_HID;
    }
    return *this;
  }
  Id(const Id&) = delete;
  Id& operator=(const Id&) = delete;
  hid_t get() const { return id_; }
  bool valid() const { return id_ >= 0; }
  void reset(hid_t id = H5I_INVALID_HID);

 private:
  hid_t id_ = H5I_INVALID_HID;
};

// The current HDF5 error stack as one line ("outer problem (innermost
// cause)"), then clears the stack.  "" when the stack is empty.
std::string ErrorText();
// Status of `code` with "<context>: <HDF5 error text>".
Status Fail(Code code, const std::string& context);

// Dataset shape (dims) or an error naming the file and dataset.
Result<std::vector<int64_t>> Dims(hid_t dset, const std::string& what);

// Reads a scalar numeric attribute of `obj` as double; NotFound if absent.
Result<double> ReadDoubleAttr(hid_t obj, const char* name);
Status WriteDoubleAttr(hid_t obj, const char* name, double v, hid_t file_type);
Result<std::string> ReadStringAttr(hid_t obj, const char* name);
Status WriteStringAttr(hid_t obj, const char* name, const std::string& v);

// A human-readable name of an HDF5 type ("float32", "uint8", "int64", ...).
std::string TypeName(hid_t type);

// Names of the links in a group (for "did you mean" messages).
std::vector<std::string> ListNames(hid_t group);

}  // namespace hpcai::io::h5
