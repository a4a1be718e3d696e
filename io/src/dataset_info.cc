// manifest.json <-> DatasetInfo, and validation of a dataset directory
// against its shards (ReadDatasetInfo).
#include <cmath>

#include "hpcai/base/fs.h"
#include "hpcai/base/json.h"
#include "hpcai/io/dataset.h"
#include "hpcai/io/reader.h"
#include "shard.h"

namespace hpcai::io {

int64_t DatasetInfo::feature_dim() const {
  int64_t f = 1;
  for (int64_t d : sample_shape) f *= d;
  return f;
}

int64_t DatasetInfo::row_bytes() const { return feature_dim() * (dtype == "uint8" ? 1 : 4); }

std::string ShapeString(const std::vector<int64_t>& v) {
  std::string s = "[";
  for (size_t i = 0; i < v.size(); ++i) {
    if (i > 0) s += ',';
    s += std::to_string(v[i]);
  }
  return s + "]";
}

void SetDatasetFields(const DatasetInfo& info, const std::vector<int64_t>& label_counts, Json* out) {
  Json& m = *out;
  m.set("format_version", info.format_version);
  m.set("num_samples", info.num_samples);
  Json shape = Json::MakeArray();
  for (int64_t d : info.sample_shape) shape.push_back(d);
  m.set("sample_shape", shape);
  m.set("dtype", info.dtype);
  m.set("scale", static_cast<double>(info.scale));
  m.set("offset", static_cast<double>(info.offset));
  m.set("num_classes", info.num_classes);
  m.set("chunk_samples", info.chunk_samples);
  m.set("compression", info.compression);
  m.set("x", info.x_name);
  m.set("y", info.y_name);
  Json counts = Json::MakeArray();
  for (int64_t c : label_counts) counts.push_back(c);
  m.set("label_counts", counts);
}

Json ManifestJson(const DatasetInfo& info, const std::vector<int64_t>& label_counts, const Json& source) {
  Json m = Json::MakeObject();
  m.set("format", "hpcai-dataset");
  SetDatasetFields(info, label_counts, &m);
  Json shards = Json::MakeArray();
  for (const auto& s : info.shards) {
    Json e = Json::MakeObject();
    e.set("file", s.file);
    e.set("num_samples", s.num_samples);
    e.set("sha256", s.sha256);
    shards.push_back(e);
  }
  m.set("shards", shards);
  if (!source.is_null()) m.set("source", source);
  return m;
}

namespace {

// Parses manifest.json (no shard access).
Result<DatasetInfo> ParseManifest(const std::string& dir, const std::string& path) {
  auto text = fs::ReadFile(path, 64u << 20);
  if (!text.ok()) {
    if (text.status().code() == Code::kNotFound) {
      return Status::NotFound("'" + dir + "' has no manifest.json: not an hpcai dataset, or its conversion did not "
                              "finish; hint: create one with `hpcai data convert ... --out " + dir + "`");
    }
    return text.status();
  }
  auto parsed = Json::Parse(*text);
  if (!parsed.ok()) return Status::Corrupt(path + ": not valid JSON: " + parsed.status().message());
  const Json& m = *parsed;
  if (!m.is_object()) return Status::Corrupt(path + ": expected a JSON object");
  auto need = [&](const char* key) -> Status {
    if (!m.has(key)) return Status::Corrupt(path + ": missing key '" + key + "'");
    return Status::OK();
  };
  for (const char* k : {"format_version", "sample_shape", "dtype", "num_classes", "shards"}) {
    HPCAI_RETURN_IF_ERROR(need(k));
  }
  DatasetInfo info;
  info.dir = dir;
  info.format_version = static_cast<int>(m.get("format_version").as_int(-1));
  if (info.format_version < 1 || info.format_version > kDatasetFormatVersion) {
    return Status::Corrupt(path + ": format_version " + std::to_string(info.format_version) +
                           " is not supported (this hpcai reads version " + std::to_string(kDatasetFormatVersion) +
                           "); hint: convert the data again with this hpcai");
  }
  for (const auto& d : m.get("sample_shape").as_array()) {
    if (!d.is_number() || d.as_int() <= 0) return Status::Corrupt(path + ": sample_shape must hold positive integers");
    info.sample_shape.push_back(d.as_int());
  }
  if (info.sample_shape.empty()) return Status::Corrupt(path + ": sample_shape is empty");
  info.dtype = m.get("dtype").as_string();
  if (info.dtype != "float32" && info.dtype != "uint8") {
    return Status::Corrupt(path + ": dtype '" + info.dtype + "' is not float32 or uint8");
  }
  info.scale = static_cast<float>(m.get("scale").as_double(1.0));
  info.offset = static_cast<float>(m.get("offset").as_double(0.0));
  info.num_classes = static_cast<int>(m.get("num_classes").as_int(0));
  if (info.num_classes <= 0) return Status::Corrupt(path + ": num_classes must be > 0");
  info.chunk_samples = m.get("chunk_samples").as_int(0);
  info.compression = m.has("compression") ? m.get("compression").as_string() : "none";
  int64_t total = 0;
  for (const auto& s : m.get("shards").as_array()) {
    ShardInfo si;
    si.file = s.get("file").as_string();
    si.num_samples = s.get("num_samples").as_int(-1);
    si.sha256 = s.get("sha256").as_string();
    if (si.file.empty() || si.file.find('/') != std::string::npos || si.num_samples < 0) {
      return Status::Corrupt(path + ": shard entry " + std::to_string(info.shards.size()) +
                             " needs a plain 'file' name and 'num_samples' >= 0");
    }
    total += si.num_samples;
    info.shards.push_back(std::move(si));
  }
  if (info.shards.empty()) return Status::Corrupt(path + ": lists no shards");
  info.num_samples = total;
  if (m.has("num_samples") && m.get("num_samples").as_int() != total) {
    return Status::Corrupt(path + ": num_samples is " + std::to_string(m.get("num_samples").as_int()) +
                           " but the shards add up to " + std::to_string(total));
  }
  if (m.has("x")) info.x_name = m.get("x").as_string();
  if (m.has("y")) info.y_name = m.get("y").as_string();
  return info;
}

}  // namespace

Result<DatasetInfo> ReadDatasetInfo(const std::string& dir, const std::string& x_name, const std::string& y_name) {
  if (!fs::Exists(dir)) {
    return Status::NotFound("dataset directory '" + dir + "' does not exist; hint: create it with "
                            "`hpcai data convert` or `hpcai data synth`, or fix data.train / data.val");
  }
  if (!fs::IsDir(dir)) return Status::InvalidArgument("'" + dir + "' is not a directory (expected a dataset directory)");
  const std::string mpath = fs::Join(dir, "manifest.json");
  HPCAI_ASSIGN_OR_RETURN(DatasetInfo info, ParseManifest(dir, mpath));
  // The caller's names win (spec data.x / data.y); by default use the manifest's.
  const std::string xn = (x_name.empty() || (x_name == "x" && info.x_name != "x")) ? info.x_name : x_name;
  const std::string yn = (y_name.empty() || (y_name == "y" && info.y_name != "y")) ? info.y_name : y_name;
  info.x_name = xn;
  info.y_name = yn;
  std::string first_file;
  for (const auto& si : info.shards) {
    const std::string path = fs::Join(dir, si.file);
    auto opened = OpenShard(path, xn, yn);
    if (!opened.ok()) return opened.status();
    const Shard& s = **opened;
    if (s.num_samples != si.num_samples) {
      return Status::Corrupt(si.file + ": holds " + std::to_string(s.num_samples) + " samples but manifest.json says " +
                             std::to_string(si.num_samples) + "; hint: the dataset was modified after conversion, "
                             "re-run `hpcai data convert`");
    }
    if (s.sample_shape != info.sample_shape) {
      return Status::Corrupt(si.file + ": '" + xn + "' has sample shape " + ShapeString(s.sample_shape) +
                             " but manifest.json" + (first_file.empty() ? "" : " (and " + first_file + ")") +
                             " says " + ShapeString(info.sample_shape));
    }
    if (s.dtype != info.dtype) {
      return Status::Corrupt(si.file + ": '" + xn + "' has dtype " + s.dtype + " but manifest.json" +
                             (first_file.empty() ? "" : " (and " + first_file + ")") + " says " + info.dtype);
    }
    if ((s.has_scale && static_cast<float>(s.scale) != info.scale) ||
        (s.has_offset && static_cast<float>(s.offset) != info.offset)) {
      return Status::Corrupt(si.file + ": '" + xn + "' attributes scale/offset (" + std::to_string(s.scale) + ", " +
                             std::to_string(s.offset) + ") differ from manifest.json (" + std::to_string(info.scale) +
                             ", " + std::to_string(info.offset) + ")");
    }
    if (first_file.empty()) first_file = si.file;
  }
  return info;
}

}  // namespace hpcai::io
