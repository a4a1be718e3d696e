#include "durable.h"

#include <fcntl.h>
#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace hpcai::slurm {

// (See durable.h.)  Submission writes its files in two steps.  Before the RPC they only need
// to be visible and whole (temp + rename, no fsync): nobody depends on them
// surviving a crash before the job exists.  After it, everything is made
// durable together (DurableBarrier) before the command returns.
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

namespace {

// Paths handled per round of the barrier: their descriptors stay open from
// the write-back pass to the fsync pass without a heap allocation.
constexpr size_t kRound = 32;

Status FsyncError(const std::string& what, const std::string& path) {
  return Status::IOError(what + " '" + path + "': " + std::strerror(errno));
}

}  // namespace

// (A thread per path was tried: on this project's machine the thread
// creations, stack mappings and TLB shootdowns cost more than the overlap of
// the fsyncs gained: `hpcai submit` 6.9 ms with a thread per path vs 6.1 ms
// sequential, perf stat, 30 runs each; docs/slurm.md.)
Status DurableBarrier(const std::vector<std::string>& paths) {
  Status first;
  for (size_t begin = 0; begin < paths.size(); begin += kRound) {
    const size_t end = std::min(paths.size(), begin + kRound);
    int fds[kRound];
    for (size_t i = begin; i < end; ++i) {
      int fd = ::open(paths[i].c_str(), O_RDONLY | O_CLOEXEC);
      fds[i - begin] = fd;
      if (fd < 0) {
        if (first.ok()) first = FsyncError("cannot open to fsync", paths[i]);
        continue;
      }
      // Only a hint (directories and some file systems refuse it): the
      // fsync below is what makes the path durable.
      (void)::sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE);
    }
    for (size_t i = begin; i < end; ++i) {
      int fd = fds[i - begin];
      if (fd < 0) continue;
      if (::fsync(fd) != 0 && errno != EINVAL && errno != EROFS && first.ok()) first = FsyncError("fsync", paths[i]);
      ::close(fd);
    }
  }
  return first;
}

BackgroundBarrier::BackgroundBarrier(std::vector<std::string> paths) : paths_(std::move(paths)) {
  // A new thread inherits its creator's policy.  Created while this thread is
  // SCHED_BATCH, it starts as batch work and does not take the CPU from its
  // creator (a plain new thread first runs in its creator's place: ~70 us here
  // before the creator could go on).  Only from SCHED_OTHER, which any user
  // may leave for SCHED_BATCH and return to; anything else is left alone.
  sched_param sp{};
  const bool switched = ::sched_getscheduler(0) == SCHED_OTHER && ::sched_setscheduler(0, SCHED_BATCH, &sp) == 0;
  started_ = ::pthread_create(&thread_, nullptr, &BackgroundBarrier::Run, this) == 0;
  if (switched) (void)::sched_setscheduler(0, SCHED_OTHER, &sp);
}

BackgroundBarrier::~BackgroundBarrier() { (void)Wait(); }

void* BackgroundBarrier::Run(void* self) {
  auto* b = static_cast<BackgroundBarrier*>(self);
  // Background work: SCHED_BATCH keeps a normal share of the CPU (unlike
  // SCHED_IDLE, which a busy login node could starve) but never preempts
  // another thread when it wakes, so these fsyncs run while the submitting
  // thread waits for the controller instead of delaying it (A/B, 6 runs of
  // 40: 75-165 us per submission saved; docs/slurm.md).  Usually inherited
  // from the constructor already; best effort: the barrier works without it.
  sched_param sp{};
  (void)::sched_setscheduler(0, SCHED_BATCH, &sp);
  b->result_ = DurableBarrier(b->paths_);
  return nullptr;
}

Status BackgroundBarrier::Wait() {
  if (!done_) {
    if (started_) {
      ::pthread_join(thread_, nullptr);
    } else {
      result_ = DurableBarrier(paths_);
    }
    done_ = true;
  }
  return result_;
}

}  // namespace hpcai::slurm
