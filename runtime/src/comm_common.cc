// Backend-independent parts of the communicator: bucket planning, status
// agreement, tensor views of model params.
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <map>

#include "comm_internal.h"
#include "hpcai/io/parallel.h"
#include "hpcai/runtime/communicator.h"
#include "hpcai/runtime/model.h"

namespace hpcai::runtime {

std::vector<GradTensor> GradTensorsOf(const std::vector<Param*>& params) {
  std::vector<GradTensor> out;
  out.reserve(params.size());
  for (Param* p : params) {
    GradTensor t;
    t.name = p->name;
    t.layer = p->layer;
    t.data = p->grad.data();
    t.size = static_cast<int64_t>(p->grad.size());
    out.push_back(std::move(t));
  }
  return out;
}

std::vector<BucketPlan> PlanBuckets(const std::vector<GradTensor>& tensors, int64_t bucket_bytes,
                                    int64_t inplace_bytes) {
  std::vector<BucketPlan> plan;
  BucketPlan cur;
  auto flush = [&] {
    if (cur.tensors.empty()) return;
    plan.push_back(std::move(cur));
    cur = BucketPlan{};
  };
  for (int i = static_cast<int>(tensors.size()) - 1; i >= 0; --i) {
    const int64_t bytes = tensors[i].size * static_cast<int64_t>(sizeof(float));
    if (inplace_bytes > 0 && bytes >= inplace_bytes) {
      flush();
      cur.tensors.push_back(i);
      cur.floats = tensors[i].size;
      cur.layers.push_back(tensors[i].layer);
      flush();
      continue;
    }
    // Close the current bucket before a tensor that would overflow it, so a
    // big tensor does not drag small ones (ready earlier) behind it.
    if (bucket_bytes > 0 && !cur.tensors.empty() &&
        (cur.floats * static_cast<int64_t>(sizeof(float)) + bytes > bucket_bytes)) {
      flush();
    }
    cur.tensors.push_back(i);
    cur.floats += tensors[i].size;
    if (std::find(cur.layers.begin(), cur.layers.end(), tensors[i].layer) == cur.layers.end()) {
      cur.layers.push_back(tensors[i].layer);
    }
    if (bucket_bytes > 0 && cur.floats * static_cast<int64_t>(sizeof(float)) >= bucket_bytes) flush();
  }
  flush();
  return plan;
}

std::string Communicator::where() const {
  return "host " + host() + ", rank " + std::to_string(rank()) + " of " + std::to_string(size());
}

Status AgreeStatus(Communicator& comm, const Status& local) {
  io::AgreeTransport t;
  t.rank = comm.rank();
  t.size = comm.size();
  t.allreduce_max = [&comm](int64_t* value) { return comm.AllreduceMax(value, 1); };
  t.broadcast_string = [&comm](std::string* text, int root) { return comm.BroadcastString(text, root); };
  return io::AgreeStatus(local, t);
}

std::string NodeName() {
  if (const char* n = std::getenv("SLURMD_NODENAME"); n && *n) return n;
  char buf[256] = {0};
  if (gethostname(buf, sizeof(buf) - 1) == 0 && buf[0]) return buf;
  return "unknown-host";
}

}  // namespace hpcai::runtime
