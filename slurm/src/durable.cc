#include "durable.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>

namespace hpcai::slurm {

// (See durable.h.)  Submission writes its files in two steps.  Before the RPC they only need
// to be visible and whole (temp + rename, no fsync): nobody depends on them
// surviving a crash before the job exists.  After it, everything is made
// durable at once (DurableBarrier), so one submission pays for one journal
// commit instead of ten sequential fsync round trips.
Status WriteVisible(const std::string& path, const std::string& data) {
  std::string tmp = path + ".tmp." + std::to_string(::getpid());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Status::IOError("cannot create '" + tmp + "': " + std::strerror(errno));
  const char* p = data.data();
  size_t n = data.size();
  while (n > 0) {
    ssize_t w = ::write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) {
      Status st = Status::IOError("write '" + tmp + "': " + std::strerror(errno));
      ::close(fd);
      ::unlink(tmp.c_str());
      return st;
    }
    p += w;
    n -= static_cast<size_t>(w);
  }
  ::close(fd);
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    Status st = Status::IOError("rename to '" + path + "': " + std::strerror(errno));
    ::unlink(tmp.c_str());
    return st;
  }
  return Status::OK();
}

// fsyncs files and directories concurrently (the file system commits them
// together).  The first failure is returned.
Status DurableBarrier(const std::vector<std::string>& paths) {
  std::vector<Status> results(paths.size());
  std::vector<std::thread> threads;
  for (size_t i = 0; i < paths.size(); ++i) {
    threads.emplace_back([&, i] {
      int fd = ::open(paths[i].c_str(), O_RDONLY | O_CLOEXEC);
      if (fd < 0) {
        results[i] = Status::IOError("cannot open '" + paths[i] + "' to fsync: " + std::strerror(errno));
        return;
      }
      if (::fsync(fd) != 0 && errno != EINVAL && errno != EROFS)
        results[i] = Status::IOError("fsync '" + paths[i] + "': " + std::strerror(errno));
      ::close(fd);
    });
  }
  for (auto& t : threads) t.join();
  for (const Status& st : results)
    if (!st.ok()) return st;
  return Status::OK();
}

std::future<Status> DurableBarrierAsync(std::vector<std::string> paths) {
  return std::async(std::launch::async, [p = std::move(paths)] { return DurableBarrier(p); });
}

}  // namespace hpcai::slurm
