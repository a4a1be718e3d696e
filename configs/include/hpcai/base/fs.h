// File-system helpers with the durability rules of the run directory
// contract (../docs/run-directory.md): writes are temp + fsync + rename +
// fsync(dir), so a crash at any moment leaves either the old or the new
// file, never a torn one.  Works on NFS/Lustre (no byte-range locks).
#pragma once

#include <string>
#include <vector>

#include "hpcai/base/status.h"

namespace hpcai::fs {

// Reads a whole file.  NotFound if it does not exist; IOError otherwise.
// Refuses files larger than `max_bytes` with InvalidArgument.
Result<std::string> ReadFile(const std::string& path, size_t max_bytes = size_t{1} << 30);

// Atomically replaces `path` with `data`: writes `path.tmp.<pid>.<rand>`,
// fsyncs it, renames over `path`, fsyncs the directory.  On failure the old
// file (if any) is untouched and the temp file is removed.
Status AtomicWriteFile(const std::string& path, const std::string& data);

// Appends one line (a '\n' is added) with a single write(2) on an O_APPEND
// descriptor, so concurrent appenders never interleave within a line.
Status AppendLine(const std::string& path, const std::string& line);

// mkdir -p.  OK if it already exists as a directory.
Status MakeDirs(const std::string& path, int mode = 0755);

// Creates `path` as a new directory; fails with FailedPrecondition if it
// already exists (used as an O_EXCL-style claim of a run id).
Status MakeDirExclusive(const std::string& path, int mode = 0755);

// fsync a directory so a rename inside it is durable.
Status FsyncDir(const std::string& dir);

bool Exists(const std::string& path);
bool IsDir(const std::string& path);
// Returns the names (not paths) of directory entries, sorted; excludes . and ..
Result<std::vector<std::string>> ListDir(const std::string& dir);
// Absolute, lexically normalised path (does not resolve symlinks; does not require existence).
std::string Absolute(const std::string& path);
std::string Dirname(const std::string& path);
std::string Basename(const std::string& path);
std::string Join(const std::string& a, const std::string& b);
// Removes a directory tree (like rm -rf).  OK if missing.
Status RemoveAll(const std::string& path);
// Path of the running executable (from /proc/self/exe), "" if unknown.
std::string SelfExe();

}  // namespace hpcai::fs
