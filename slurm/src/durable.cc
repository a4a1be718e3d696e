#include "durable.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace hpcai::slurm {

namespace {

// The temp file WriteVisible(path) writes before its rename.
std::string TempPath(const std::string& path) { return path + ".tmp." + std::to_string(::getpid()); }

// Writes `tmp` and renames it over `path`: system calls only, unless it fails.
Status WriteViaTemp(const std::string& path, const std::string& tmp, const std::string& data) {
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

}  // namespace

// (See durable.h.)  Submission writes its files in two steps.  Before the RPC they only need
// to be visible and whole (temp + rename, no fsync): nobody depends on them
// surviving a crash before the job exists.  After it, everything is made
// durable together (DurableBarrier) before the command returns.
Status WriteVisible(const std::string& path, const std::string& data) {
  return WriteViaTemp(path, TempPath(path), data);
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

void WritePlan::AddFile(const std::string& path, std::string data) {
  files.push_back({path, TempPath(path), std::move(data)});
}

void WritePlan::AddSpareTemp(const std::string& path) { spares.push_back(TempPath(path)); }

Status ExecuteWrites(const WritePlan& plan) {
  for (const std::string& d : plan.dirs) {
    if (::mkdir(d.c_str(), 0777) != 0 && errno != EEXIST)
      return Status::IOError("cannot create directory '" + d + "': " + std::strerror(errno));
  }
  for (const PlannedFile& f : plan.files) HPCAI_RETURN_IF_ERROR(WriteViaTemp(f.path, f.tmp, f.data));
  for (const std::string& p : plan.spares) {
    int fd = ::open(p.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return Status::IOError("cannot create '" + p + "': " + std::strerror(errno));
    ::close(fd);
  }
  return Status::OK();
}

BackgroundWriter::BackgroundWriter(WritePlan plan) : plan_(std::move(plan)) {
  // A new thread inherits its creator's policy.  Created while this thread is
  // SCHED_BATCH, it starts as batch work and does not take the CPU from its
  // creator (a plain new thread first runs in its creator's place: pthread_create
  // took 122-142 us instead of 40-63, uprobes).  Only from SCHED_OTHER, which any
  // user may leave for SCHED_BATCH and return to; anything else is left alone.
  sched_param sp{};
  const bool switched = ::sched_getscheduler(0) == SCHED_OTHER && ::sched_setscheduler(0, SCHED_BATCH, &sp) == 0;
  // It starts on another CPU than this thread's, when there is one: left to
  // the scheduler it was queued behind its creator on the same CPU until the
  // load balancer moved it, up to ~0.7 ms later (perf sched), so the writes
  // did not overlap the Slurm client's set-up.  Once running it may use every
  // CPU again (Run); so may it if it has not started when its creator waits
  // for it (WaitWritten).  A/B, 6 runs of 40: 130-260 us per submission.
  pthread_attr_t attr;
  const bool have_attr = ::pthread_attr_init(&attr) == 0;
  const int here = ::sched_getcpu();
  if (have_attr && here >= 0 && ::sched_getaffinity(0, sizeof allowed_, &allowed_) == 0 &&
      CPU_ISSET(here, &allowed_) && CPU_COUNT(&allowed_) > 1) {
    cpu_set_t others = allowed_;
    CPU_CLR(here, &others);
    placed_ = ::pthread_attr_setaffinity_np(&attr, sizeof others, &others) == 0;
  }
  started_ = ::pthread_create(&thread_, have_attr ? &attr : nullptr, &BackgroundWriter::Run, this) == 0;
  if (!started_ && placed_) started_ = ::pthread_create(&thread_, nullptr, &BackgroundWriter::Run, this) == 0;
  if (have_attr) ::pthread_attr_destroy(&attr);
  if (switched) (void)::sched_setscheduler(0, SCHED_OTHER, &sp);
}

BackgroundWriter::~BackgroundWriter() { (void)Wait(); }

void* BackgroundWriter::Run(void* self) {
  auto* w = static_cast<BackgroundWriter*>(self);
  w->running_.store(true);
  if (w->placed_) (void)::pthread_setaffinity_np(::pthread_self(), sizeof w->allowed_, &w->allowed_);
  // Background work: SCHED_BATCH keeps a normal share of the CPU (unlike
  // SCHED_IDLE, which a busy login node could starve) but never preempts
  // another thread when it wakes, so this work fills the submitting thread's
  // waits instead of delaying it (docs/slurm.md).  Usually inherited from the
  // constructor already; best effort: the work is the same without it.
  sched_param sp{};
  (void)::sched_setscheduler(0, SCHED_BATCH, &sp);
  Status st = ExecuteWrites(w->plan_);
  const bool ok = st.ok();
  {
    std::lock_guard<std::mutex> lock(w->mu_);
    w->write_status_ = std::move(st);
    w->written_ = true;
  }
  w->cv_.notify_all();
  if (ok) w->sync_status_ = DurableBarrier(w->plan_.sync);
  return nullptr;
}

Status BackgroundWriter::WaitWritten() {
  if (!started_) {
    if (!written_) {
      write_status_ = ExecuteWrites(plan_);
      written_ = true;
    }
    return write_status_;
  }
  // Not started yet (its CPU is busy): it may run on this one while we wait.
  if (placed_ && !running_.load()) (void)::pthread_setaffinity_np(thread_, sizeof allowed_, &allowed_);
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [this] { return written_; });
  return write_status_;
}

Status BackgroundWriter::Wait() {
  Status written = WaitWritten();
  if (!joined_) {
    // Joined whatever happened: the thread may still be leaving Run().
    if (started_) {
      ::pthread_join(thread_, nullptr);
    } else if (written.ok()) {
      sync_status_ = DurableBarrier(plan_.sync);
    }
    joined_ = true;
  }
  if (!written.ok()) return written;
  return sync_status_;
}

}  // namespace hpcai::slurm
