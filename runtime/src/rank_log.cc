// Teeing stdout/stderr into the rank's log file (contract in rank_log.h).
//
// glibc lets a program replace the `stdout`/`stderr` variables; the
// replacements are fopencookie() streams whose write function writes to the
// original descriptor and then to the file.  Writes are synchronous (no
// thread, no pipe), so nothing is pending in a helper when the process exits
// or aborts: what stdio has handed over is in both places.
#include "hpcai/runtime/rank_log.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "hpcai/base/fs.h"

namespace hpcai::runtime {

namespace {

struct TeeTarget {
  int console = -1;  // the original fd 1 or 2
  int file = -1;
};

// Whole-buffer write; false on an error other than EINTR.
bool WriteAll(int fd, const char* buf, size_t size) {
  while (size > 0) {
    ssize_t n = ::write(fd, buf, size);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    buf += n;
    size -= static_cast<size_t>(n);
  }
  return true;
}

ssize_t TeeWrite(void* cookie, const char* buf, size_t size) {
  auto* t = static_cast<TeeTarget*>(cookie);
  bool console_ok = WriteAll(t->console, buf, size);
  int saved = errno;
  if (t->file >= 0 && !WriteAll(t->file, buf, size)) t->file = -1;  // full disk: stop trying, keep the job log
  errno = saved;
  // The stream reports what the job log got, exactly as before the tee.
  return console_ok ? static_cast<ssize_t>(size) : -1;
}

FILE* OpenTee(int console, int file, int mode) {
  auto* t = new TeeTarget{console, file};  // lives until exit: the stream may be used to the end
  cookie_io_functions_t io{};
  io.write = TeeWrite;
  FILE* f = fopencookie(t, "w", io);
  if (!f) {
    delete t;
    return nullptr;
  }
  std::setvbuf(f, nullptr, mode, mode == _IONBF ? 0 : BUFSIZ);
  return f;
}

}  // namespace

RankLogName RankLogNameFromEnv(const char* job_id, const char* restart) {
  RankLogName n;
  n.job_id = job_id && *job_id ? job_id : "nojob";
  if (n.job_id.size() > 100) n.job_id.resize(100);
  for (char& c : n.job_id) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
              c == '_' || c == '-';
    if (!ok) c = '_';
  }
  if (n.job_id == "." || n.job_id == "..") n.job_id = "nojob";
  n.restart = 0;
  if (restart && *restart && std::strlen(restart) <= 9 && std::strspn(restart, "0123456789") == std::strlen(restart))
    n.restart = std::atoi(restart);
  return n;
}

Status TeeStdioToFile(const std::string& path, const std::string& first_line) {
  HPCAI_RETURN_IF_ERROR(fs::MakeDirs(fs::Dirname(path)));
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0)
    return Status::IOError("cannot open the rank log " + path + ": " + std::strerror(errno));
  if (!first_line.empty()) {
    std::string l = first_line + "\n";
    if (!WriteAll(fd, l.data(), l.size())) {
      Status st = Status::IOError("cannot write the rank log " + path + ": " + std::strerror(errno));
      ::close(fd);
      return st;
    }
  }
  // What stdio buffered so far belongs before the tee, in the job log only.
  std::fflush(stdout);
  std::fflush(stderr);
  FILE* out = OpenTee(STDOUT_FILENO, fd, _IOLBF);
  FILE* err = OpenTee(STDERR_FILENO, fd, _IONBF);
  if (!out || !err) {
    Status st = Status::IOError(std::string("cannot set up the rank log (fopencookie): ") + std::strerror(errno));
    if (out) std::fclose(out);  // fclose of a cookie stream without a close function leaves the fds
    if (err) std::fclose(err);
    ::close(fd);
    return st;
  }
  stdout = out;
  stderr = err;
  return Status::OK();
}

}  // namespace hpcai::runtime
