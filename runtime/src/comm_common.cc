// Backend-independent parts of the communicator: bucket planning, status
// agreement, tensor views of model params.
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <map>

#include "comm_internal.h"
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
  if (comm.size() == 1) return local;  // nothing to agree on; keep the message as is
  // The lowest failing rank wins: encode it as (size - rank) so MAX finds it.
  int64_t key = local.ok() ? 0 : static_cast<int64_t>(comm.size() - comm.rank());
  HPCAI_RETURN_IF_ERROR(comm.AllreduceMax(&key, 1));
  if (key == 0) return Status::OK();
  const int root = comm.size() - static_cast<int>(key);
  // Encode code and message in one string: "<code>\n<message>".
  std::string text;
  if (comm.rank() == root) {
    text = std::to_string(static_cast<int>(local.code())) + "\n" + local.message();
  }
  Status st = comm.BroadcastString(&text, root);
  if (!st.ok()) return local.ok() ? st : local;
  const size_t nl = text.find('\n');
  int code = std::atoi(text.substr(0, nl).c_str());
  std::string message = nl == std::string::npos ? std::string() : text.substr(nl + 1);
  if (code <= 0 || code > static_cast<int>(Code::kInternal)) code = static_cast<int>(Code::kInternal);
  // Already agreed once (nested agreement): keep the first rank prefix only.
  if (message.rfind("rank ", 0) == 0) {
    const size_t colon = message.find(": ");
    if (colon != std::string::npos && colon > 5 &&
        message.find_first_not_of("0123456789", 5) == colon) {
      return Status(static_cast<Code>(code), message);
    }
  }
  return Status(static_cast<Code>(code), "rank " + std::to_string(root) + ": " + message);
}

std::string NodeName() {
  if (const char* n = std::getenv("SLURMD_NODENAME"); n && *n) return n;
  char buf[256] = {0};
  if (gethostname(buf, sizeof(buf) - 1) == 0 && buf[0]) return buf;
  return "unknown-host";
}

}  // namespace hpcai::runtime
