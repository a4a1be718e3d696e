// InspectDataset / VerifyDataset (behind `hpcai data inspect [--verify]`).
#include <sys/stat.h>

#include "h5util.h"
#include "hpcai/base/fs.h"
#include "hpcai/io/checksum.h"
#include "hpcai/io/dataset.h"
#include "shard.h"

namespace hpcai::io {

namespace {
int64_t FileSize(const std::string& path) {
  struct stat st{};
  return ::stat(path.c_str(), &st) == 0 ? static_cast<int64_t>(st.st_size) : 0;
}
}  // namespace

Result<DatasetSummary> InspectDataset(const std::string& dir, const std::string& x_name, const std::string& y_name) {
  DatasetSummary sum;
  HPCAI_ASSIGN_OR_RETURN(sum.info, ReadDatasetInfo(dir, x_name, y_name));
  const DatasetInfo& info = sum.info;
  sum.label_counts.assign(static_cast<size_t>(info.num_classes), 0);
  std::vector<int32_t> y;
  for (const auto& si : info.shards) {
    const std::string path = fs::Join(dir, si.file);
    HPCAI_ASSIGN_OR_RETURN(auto shard, OpenShard(path, info.x_name, info.y_name));
    y.resize(static_cast<size_t>(si.num_samples));
    HPCAI_RETURN_IF_ERROR(ReadRows(*shard, 0, si.num_samples, nullptr, y.data()));
    for (int64_t i = 0; i < si.num_samples; ++i) {
      int32_t c = y[static_cast<size_t>(i)];
      if (c < 0 || c >= info.num_classes) {
        return Status::Corrupt(si.file + ": sample " + std::to_string(i) + " has label " + std::to_string(c) +
                               ", outside [0, " + std::to_string(info.num_classes) + ") (num_classes in manifest.json)");
      }
      ++sum.label_counts[static_cast<size_t>(c)];
    }
    {
      h5::Lock lock;
      shard.reset();
    }
    sum.shard_bytes.push_back(FileSize(path));
    sum.bytes_on_disk += sum.shard_bytes.back();
  }
  sum.bytes_on_disk += FileSize(fs::Join(dir, "manifest.json"));
  auto text = fs::ReadFile(fs::Join(dir, "manifest.json"));
  if (text.ok()) {
    auto m = Json::Parse(*text);
    if (m.ok()) sum.source = m->get("source");
  }
  return sum;
}

Status VerifyDataset(const DatasetInfo& info, const std::function<void(size_t, bool)>& progress) {
  for (size_t i = 0; i < info.shards.size(); ++i) {
    const ShardInfo& si = info.shards[i];
    HPCAI_ASSIGN_OR_RETURN(std::string actual, Sha256File(fs::Join(info.dir, si.file)));
    bool ok = actual == si.sha256;
    if (progress) progress(i, ok);
    if (!ok) {
      return Status::Corrupt(si.file + ": sha256 " + actual + " does not match manifest.json (" +
                             (si.sha256.empty() ? std::string("none recorded") : si.sha256) +
                             "); the shard was modified or damaged; hint: re-run `hpcai data convert`");
    }
  }
  return Status::OK();
}

}  // namespace hpcai::io
