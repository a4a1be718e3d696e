// Converters: bit-exact round trips (IDX incl. Fashion-MNIST, npy, csv,
// hdf5), splits, sharding options, synth, and bad inputs.
#include "hpcai/io/convert.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <set>

#include "hpcai/io/dataset.h"
#include "hpcai/io/reader.h"
#include "io/test_data_util.h"

namespace hpcai::io {
namespace {

namespace t = hpcai::testing;

const char* kFashion = "/usr/share/datasets/fashion-mnist";

// All samples of a dataset in order (shuffle off), as delivered by the reader.
struct Loaded {
  std::vector<float> x;
  std::vector<int32_t> y;
  DatasetInfo info;
};
Loaded LoadAll(const std::string& dir) {
  Loaded l;
  ReaderOptions o;
  o.shuffle = false;
  o.global_batch = 4096;
  o.prefetch = 0;
  auto r = ShardReader::Open(dir, o);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  if (!r.ok()) return l;
  l.info = (*r)->info();
  (*r)->Seek(0, 0);
  Batch b;
  while (*(*r)->Next(&b)) {
    l.x.insert(l.x.end(), b.x.begin(), b.x.end());
    l.y.insert(l.y.end(), b.y.begin(), b.y.end());
  }
  return l;
}

std::string Gunzip(const std::string& path) {
  std::string out;
  EXPECT_EQ(t::RunCommand("gzip -dc " + path, &out), 0);
  return out;
}

TEST(ConvertIdx, FashionMnistMatchesTheIdxBytes) {
  std::string root = t::TempDir("fmnist");
  ConvertOptions o;
  o.from = "idx";
  o.inputs = {kFashion};
  o.out = root + "/fmnist";
  int64_t last_done = 0;
  o.progress = [&](int64_t done, int64_t total, int64_t) {
    EXPECT_GE(done, last_done);
    EXPECT_EQ(total, 70000);
    last_done = done;
  };
  auto sum = Convert(o);
  ASSERT_TRUE(sum.ok()) << sum.status().ToString();
  EXPECT_EQ(last_done, 70000);
  EXPECT_EQ(sum->samples, 70000);
  ASSERT_EQ(sum->parts.size(), 2u);
  EXPECT_EQ(sum->parts[0].name, "train");
  EXPECT_EQ(sum->parts[0].samples, 60000);
  EXPECT_EQ(sum->parts[1].name, "test");
  EXPECT_EQ(sum->parts[1].samples, 10000);
  EXPECT_GT(sum->bytes_in_files, 30'000'000);
  EXPECT_EQ(sum->bytes_in_raw, 70000 * 784);

  for (const std::string part : {"train", "test"}) {
    const std::string prefix = part == "train" ? "train" : "t10k";
    std::string images = Gunzip(std::string(kFashion) + "/" + prefix + "-images-idx3-ubyte.gz");
    std::string labels = Gunzip(std::string(kFashion) + "/" + prefix + "-labels-idx1-ubyte.gz");
    const int64_t n = part == "train" ? 60000 : 10000;
    ASSERT_EQ(static_cast<int64_t>(images.size()), 16 + n * 784);
    ASSERT_EQ(static_cast<int64_t>(labels.size()), 8 + n);
    Loaded l = LoadAll(root + "/fmnist/" + part);
    ASSERT_EQ(static_cast<int64_t>(l.y.size()), n);
    EXPECT_EQ(l.info.dtype, "uint8");
    EXPECT_EQ(l.info.sample_shape, (std::vector<int64_t>{1, 28, 28}));
    EXPECT_EQ(l.info.num_classes, 10);
    EXPECT_EQ(l.info.scale, 1.0f / 255.0f);
    // First and last samples, every pixel, bit-exact: x = byte * (1/255).
    for (int64_t i : {int64_t{0}, int64_t{1}, n - 1}) {
      EXPECT_EQ(l.y[i], static_cast<uint8_t>(labels[8 + i])) << part << " sample " << i;
      for (int64_t j = 0; j < 784; ++j) {
        float want = static_cast<float>(static_cast<uint8_t>(images[16 + i * 784 + j])) * (1.0f / 255.0f);
        ASSERT_EQ(l.x[i * 784 + j], want) << part << " sample " << i << " pixel " << j;
      }
    }
    // All labels.
    for (int64_t i = 0; i < n; ++i) ASSERT_EQ(l.y[i], static_cast<uint8_t>(labels[8 + i]));
  }
  // Independent reader: h5py sees the raw bytes, all of them, with no hpcai code.
  std::string out;
  std::string py =
      "import gzip, h5py, json, numpy as np\n"
      "d = '" + root + "/fmnist/train'\n"
      "m = json.load(open(d + '/manifest.json'))\n"
      "f = h5py.File(d + '/' + m['shards'][0]['file'], 'r')\n"
      "raw = np.frombuffer(gzip.open('" + std::string(kFashion) + "/train-images-idx3-ubyte.gz').read()[16:], np.uint8)\n"
      "lab = np.frombuffer(gzip.open('" + std::string(kFashion) + "/train-labels-idx1-ubyte.gz').read()[8:], np.uint8)\n"
      "x = f['x'][:]\n"
      "assert x.dtype == np.uint8 and x.shape == (60000, 1, 28, 28), (x.dtype, x.shape)\n"
      "assert np.array_equal(x.reshape(-1), raw)\n"
      "assert f['y'].dtype == np.int32 and np.array_equal(f['y'][:], lab)\n"
      "assert abs(float(f['x'].attrs['scale']) - 1/255) < 1e-9 and float(f['x'].attrs['offset']) == 0\n"
      "assert m['format_version'] == 1 and m['num_classes'] == 10 and m['sample_shape'] == [1, 28, 28]\n"
      "print('h5py ok')\n";
  ASSERT_TRUE(fs::AtomicWriteFile(root + "/check.py", py).ok());
  EXPECT_EQ(t::RunCommand("/usr/bin/python3 " + root + "/check.py", &out), 0) << out;
  EXPECT_NE(out.find("h5py ok"), std::string::npos) << out;
  out.clear();
  EXPECT_EQ(t::RunCommand("h5dump -d /y -s 0 -c 5 " + root + "/fmnist/test/shard-00000.h5", &out), 0) << out;
  EXPECT_NE(out.find("9, 2, 1, 1, 6"), std::string::npos) << out;  // first Fashion-MNIST test labels
  (void)fs::RemoveAll(root);
}

// Writes a .npy file (v1 header) by hand.
void WriteNpy(const std::string& path, const std::string& descr, const std::vector<int64_t>& shape,
              const void* data, size_t bytes) {
  std::string sh = "(";
  for (size_t i = 0; i < shape.size(); ++i) sh += std::to_string(shape[i]) + (shape.size() == 1 ? "," : (i + 1 < shape.size() ? ", " : ""));
  sh += ")";
  std::string header = "{'descr': '" + descr + "', 'fortran_order': False, 'shape': " + sh + ", }";
  while ((10 + header.size() + 1) % 64 != 0) header += ' ';
  header += '\n';
  std::string out = "\x93NUMPY";
  out += '\x01';
  out += '\x00';
  out += static_cast<char>(header.size() & 0xff);
  out += static_cast<char>(header.size() >> 8);
  out += header;
  out.append(static_cast<const char*>(data), bytes);
  ASSERT_TRUE(fs::AtomicWriteFile(path, out).ok());
}

TEST(ConvertNpy, Float32AndInt64LabelsRoundTrip) {
  std::string root = t::TempDir("npy");
  const int64_t n = 777;
  std::vector<float> x(n * 2 * 3);
  for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(i) * 0.37f - 11.0f;
  std::vector<int64_t> y(n);
  for (int64_t i = 0; i < n; ++i) y[i] = (i * 5) % 7;
  WriteNpy(root + "/x.npy", "<f4", {n, 2, 3}, x.data(), x.size() * 4);
  WriteNpy(root + "/y.npy", "<i8", {n}, y.data(), y.size() * 8);
  ConvertOptions o;
  o.from = "npy";
  o.inputs = {root + "/x.npy", root + "/y.npy"};
  o.out = root + "/ds";
  o.shards = 3;
  o.chunk_samples = 50;
  o.compression = "gzip";
  auto sum = Convert(o);
  ASSERT_TRUE(sum.ok()) << sum.status().ToString();
  ASSERT_EQ(sum->parts.size(), 1u);
  EXPECT_EQ(sum->parts[0].shards, 3);
  Loaded l = LoadAll(root + "/ds");
  EXPECT_EQ(l.info.sample_shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(l.info.compression, "gzip");
  EXPECT_EQ(l.info.num_classes, 7);
  EXPECT_EQ(l.x, x);
  ASSERT_EQ(l.y.size(), y.size());
  for (int64_t i = 0; i < n; ++i) EXPECT_EQ(l.y[i], y[i]);
  (void)fs::RemoveAll(root);
}

TEST(ConvertNpy, Uint8StaysUint8AndFloat64BecomesFloat32) {
  std::string root = t::TempDir("npy8");
  const int64_t n = 300;
  std::vector<uint8_t> x8(n * 4);
  for (size_t i = 0; i < x8.size(); ++i) x8[i] = static_cast<uint8_t>(i * 13);
  std::vector<double> x64(n * 4);
  for (size_t i = 0; i < x64.size(); ++i) x64[i] = static_cast<double>(i) / 3.0;
  std::vector<int32_t> y(n);
  for (int64_t i = 0; i < n; ++i) y[i] = static_cast<int32_t>(i % 3);
  (void)fs::MakeDirs(root + "/u8");
  WriteNpy(root + "/u8/x.npy", "|u1", {n, 4}, x8.data(), x8.size());
  WriteNpy(root + "/u8/y.npy", "<i4", {n}, y.data(), y.size() * 4);
  WriteNpy(root + "/x64.npy", "<f8", {n, 4}, x64.data(), x64.size() * 8);
  ConvertOptions o;
  o.from = "npy";
  o.inputs = {root + "/u8"};  // a directory with x.npy and y.npy
  o.out = root + "/a";
  ASSERT_TRUE(Convert(o).ok());
  Loaded a = LoadAll(root + "/a");
  EXPECT_EQ(a.info.dtype, "uint8");
  for (size_t i = 0; i < x8.size(); ++i) ASSERT_EQ(a.x[i], static_cast<float>(x8[i]) * (1.0f / 255.0f));
  // --dtype float32 stores the same values the uint8 reader delivers.
  o.out = root + "/b";
  o.dtype = "float32";
  ASSERT_TRUE(Convert(o).ok());
  Loaded b = LoadAll(root + "/b");
  EXPECT_EQ(b.info.dtype, "float32");
  EXPECT_EQ(b.x, a.x);
  o.inputs = {root + "/x64.npy", root + "/u8/y.npy"};
  o.out = root + "/c";
  o.dtype = "";
  ASSERT_TRUE(Convert(o).ok());
  Loaded c = LoadAll(root + "/c");
  for (size_t i = 0; i < x64.size(); ++i) ASSERT_EQ(c.x[i], static_cast<float>(x64[i]));
  // float32 -> uint8 is refused when lossy.
  o.out = root + "/d";
  o.dtype = "uint8";
  auto lossy = Convert(o);
  EXPECT_EQ(lossy.status().code(), Code::kInvalidArgument);
  EXPECT_NE(lossy.status().message().find("integers in [0, 255]"), std::string::npos);
  (void)fs::RemoveAll(root);
}

TEST(ConvertCsv, HeaderAndNamedLabelColumn) {
  std::string root = t::TempDir("csv");
  std::string text = "f0,label,f1,f2\n";
  std::vector<float> want;
  std::vector<int32_t> wy;
  for (int i = 0; i < 123; ++i) {
    float a = i * 0.5f, b = -i * 0.25f, c = static_cast<float>(i % 10);
    text += std::to_string(a) + "," + std::to_string(i % 4) + "," + std::to_string(b) + "," + std::to_string(c) + "\n";
    want.insert(want.end(), {a, b, c});
    wy.push_back(i % 4);
  }
  ASSERT_TRUE(fs::AtomicWriteFile(root + "/a.csv", text).ok());
  ConvertOptions o;
  o.from = "csv";
  o.inputs = {root + "/a.csv", root + "/a.csv"};  // two files are concatenated
  o.out = root + "/ds";
  auto sum = Convert(o);
  ASSERT_TRUE(sum.ok()) << sum.status().ToString();
  Loaded l = LoadAll(root + "/ds");
  ASSERT_EQ(l.y.size(), 246u);
  EXPECT_EQ(l.info.sample_shape, std::vector<int64_t>{3});
  EXPECT_EQ(std::vector<float>(l.x.begin(), l.x.begin() + 369), want);
  EXPECT_EQ(std::vector<float>(l.x.begin() + 369, l.x.end()), want);
  EXPECT_EQ(std::vector<int32_t>(l.y.begin(), l.y.begin() + 123), wy);
  // A bad cell names the file and line.
  ASSERT_TRUE(fs::AtomicWriteFile(root + "/bad.csv", "label,a\n1,2\n0,x3\n").ok());
  o.inputs = {root + "/bad.csv"};
  o.out = root + "/bad";
  auto bad = Convert(o);
  EXPECT_EQ(bad.status().code(), Code::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("bad.csv:3"), std::string::npos) << bad.status().message();
  (void)fs::RemoveAll(root);
}

TEST(ConvertHdf5, ForeignFileAndReshardingADataset) {
  std::string root = t::TempDir("h5in");
  const int64_t n = 500;
  {  // A foreign file: float64 "images" (n, 5), int64 "labels".
    std::vector<double> x(n * 5);
    for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<double>(i) * 0.125;
    std::vector<int64_t> y(n);
    for (int64_t i = 0; i < n; ++i) y[i] = i % 6;
    hid_t f = H5Fcreate((root + "/foreign.h5").c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    hsize_t xd[2] = {static_cast<hsize_t>(n), 5}, yd[1] = {static_cast<hsize_t>(n)};
    hid_t xs = H5Screate_simple(2, xd, nullptr), ys = H5Screate_simple(1, yd, nullptr);
    hid_t dx = H5Dcreate2(f, "images", H5T_IEEE_F64LE, xs, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    hid_t dy = H5Dcreate2(f, "labels", H5T_STD_I64LE, ys, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Dwrite(dx, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, x.data());
    H5Dwrite(dy, H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, y.data());
    H5Dclose(dx); H5Dclose(dy); H5Sclose(xs); H5Sclose(ys); H5Fclose(f);
  }
  ConvertOptions o;
  o.from = "hdf5";
  o.inputs = {root + "/foreign.h5"};
  o.out = root + "/ds";
  auto wrong = Convert(o);  // default names x, y do not exist
  EXPECT_EQ(wrong.status().code(), Code::kInvalidArgument);
  EXPECT_NE(wrong.status().message().find("images, labels"), std::string::npos) << wrong.status().message();
  o.x_name = "images";
  o.y_name = "labels";
  ASSERT_TRUE(Convert(o).ok());
  Loaded a = LoadAll(root + "/ds");
  ASSERT_EQ(a.x.size(), static_cast<size_t>(n * 5));
  for (size_t i = 0; i < a.x.size(); ++i) ASSERT_EQ(a.x[i], static_cast<float>(static_cast<double>(i) * 0.125));
  for (int64_t i = 0; i < n; ++i) ASSERT_EQ(a.y[i], i % 6);
  // An hpcai dataset directory as input: re-shard into 4 gzip shards, same contents.
  ConvertOptions r;
  r.from = "hdf5";
  r.inputs = {root + "/ds"};
  r.out = root + "/resharded";
  r.shards = 4;
  r.compression = "gzip";
  auto sum = Convert(r);
  ASSERT_TRUE(sum.ok()) << sum.status().ToString();
  EXPECT_EQ(sum->parts[0].shards, 4);
  Loaded b = LoadAll(root + "/resharded");
  EXPECT_EQ(b.info.shards.size(), 4u);
  EXPECT_EQ(b.x, a.x);
  EXPECT_EQ(b.y, a.y);
  (void)fs::RemoveAll(root);
}

TEST(ConvertSplit, DisjointDeterministicAndComplete) {
  std::string root = t::TempDir("split");
  ASSERT_TRUE(t::WriteIndexDataset(root + "/src", 1000, 2, 5, 0, 0).ok());
  auto run = [&](const std::string& out, uint64_t seed) {
    ConvertOptions o;
    o.from = "hdf5";
    o.inputs = {root + "/src"};
    o.out = out;
    o.split = {{"val", 0.1}, {"test", 0.2}};
    o.seed = seed;
    auto s = Convert(o);
    EXPECT_TRUE(s.ok()) << s.status().ToString();
  };
  run(root + "/a", 1);
  run(root + "/b", 1);
  run(root + "/c", 2);
  std::map<std::string, std::vector<float>> firsts;
  std::set<float> all;
  for (const std::string part : {"train", "val", "test"}) {
    Loaded l = LoadAll(root + "/a/" + part);
    int64_t want = part == "train" ? 700 : (part == "val" ? 100 : 200);
    ASSERT_EQ(static_cast<int64_t>(l.y.size()), want) << part;
    EXPECT_EQ(l.info.num_classes, 5);
    for (size_t i = 0; i < l.y.size(); ++i) {
      float idx = l.x[i * 2];
      EXPECT_TRUE(all.insert(idx).second) << "sample " << idx << " in two splits";
      EXPECT_EQ(l.y[i], t::IndexLabel(static_cast<int64_t>(idx), 5));
      if (i > 0) {
        EXPECT_LT(l.x[(i - 1) * 2], idx);  // input order kept
      }
    }
    EXPECT_EQ(LoadAll(root + "/b/" + part).x, l.x) << "same seed, same split";
    if (part == "val") {
      EXPECT_NE(LoadAll(root + "/c/" + part).x, l.x) << "another seed, another split";
    }
  }
  EXPECT_EQ(all.size(), 1000u);
  (void)fs::RemoveAll(root);
}

TEST(ConvertSharding, ShardSizeAndOverwrite) {
  std::string root = t::TempDir("shardsize");
  ASSERT_TRUE(t::WriteIndexDataset(root + "/src", 1000, 250, 3, 0, 0).ok());  // 1000 B per sample
  ConvertOptions o;
  o.from = "hdf5";
  o.inputs = {root + "/src"};
  o.out = root + "/ds";
  o.shard_size_mb = 0.3;  // 300 samples per shard -> 4 shards
  o.chunk_samples = 64;
  auto sum = Convert(o);
  ASSERT_TRUE(sum.ok()) << sum.status().ToString();
  auto info = ReadDatasetInfo(root + "/ds");
  ASSERT_TRUE(info.ok());
  ASSERT_EQ(info->shards.size(), 4u);
  EXPECT_EQ(info->shards[0].num_samples, 300);
  EXPECT_EQ(info->shards[3].num_samples, 100);
  EXPECT_EQ(info->chunk_samples, 64);
  auto again = Convert(o);
  EXPECT_EQ(again.status().code(), Code::kFailedPrecondition);
  EXPECT_NE(again.status().message().find("--overwrite"), std::string::npos);
  o.overwrite = true;
  o.shards = 2;
  o.shard_size_mb = 0;
  ASSERT_TRUE(Convert(o).ok());
  info = ReadDatasetInfo(root + "/ds");
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->shards.size(), 2u);
  EXPECT_FALSE(fs::Exists(root + "/ds/shard-00003.h5"));  // old shards removed
  (void)fs::RemoveAll(root);
}

TEST(ConvertErrors, BadIdxInputs) {
  std::string root = t::TempDir("badidx");
  std::string images = Gunzip(std::string(kFashion) + "/t10k-images-idx3-ubyte.gz");
  std::string labels = Gunzip(std::string(kFashion) + "/t10k-labels-idx1-ubyte.gz");
  // Truncated images (uncompressed IDX is read too).
  ASSERT_TRUE(fs::AtomicWriteFile(root + "/t10k-images-idx3-ubyte", images.substr(0, 16 + 784 * 100)).ok());
  ASSERT_TRUE(fs::AtomicWriteFile(root + "/t10k-labels-idx1-ubyte", labels).ok());
  ConvertOptions o;
  o.from = "idx";
  o.inputs = {root + "/t10k-images-idx3-ubyte", root + "/t10k-labels-idx1-ubyte"};
  o.out = root + "/out";
  auto r = Convert(o);
  EXPECT_EQ(r.status().code(), Code::kCorrupt);
  EXPECT_NE(r.status().message().find("t10k-images-idx3-ubyte: file ends early"), std::string::npos)
      << r.status().message();
  // Missing labels file.
  o.inputs = {root + "/t10k-images-idx3-ubyte"};
  r = Convert(o);
  EXPECT_EQ(r.status().code(), Code::kNotFound);
  EXPECT_NE(r.status().message().find("labels file missing"), std::string::npos) << r.status().message();
  // Not IDX at all.
  ASSERT_TRUE(fs::AtomicWriteFile(root + "/x-images-idx3-ubyte", "hello world, not idx").ok());
  ASSERT_TRUE(fs::AtomicWriteFile(root + "/x-labels-idx1-ubyte", labels).ok());
  o.inputs = {root + "/x-images-idx3-ubyte", root + "/x-labels-idx1-ubyte"};
  r = Convert(o);
  EXPECT_EQ(r.status().code(), Code::kCorrupt);
  EXPECT_NE(r.status().message().find("not an IDX file"), std::string::npos) << r.status().message();
  // Counts differ between images and labels.
  ASSERT_TRUE(fs::AtomicWriteFile(root + "/y-images-idx3-ubyte", images).ok());
  std::string short_labels = labels.substr(0, 8 + 500);
  short_labels[6] = static_cast<char>(500 >> 8);
  short_labels[7] = static_cast<char>(500 & 255);
  ASSERT_TRUE(fs::AtomicWriteFile(root + "/y-labels-idx1-ubyte", short_labels).ok());
  o.inputs = {root + "/y-images-idx3-ubyte", root + "/y-labels-idx1-ubyte"};
  r = Convert(o);
  EXPECT_EQ(r.status().code(), Code::kCorrupt);
  EXPECT_NE(r.status().message().find("10000 images but y-labels-idx1-ubyte has 500 labels"), std::string::npos)
      << r.status().message();
  o.inputs = {root + "/missing-images-idx3-ubyte.gz"};
  EXPECT_EQ(Convert(o).status().code(), Code::kNotFound);
  (void)fs::RemoveAll(root);
}

TEST(Synth, LearnableAndDeterministic) {
  std::string root = t::TempDir("synth");
  SynthOptions o;
  o.samples = 4000;
  o.shape = {20};
  o.classes = 4;
  o.seed = 9;
  o.out = root + "/a";
  ASSERT_TRUE(Synth(o).ok());
  o.out = root + "/b";
  ASSERT_TRUE(Synth(o).ok());
  o.seed = 10;
  o.out = root + "/c";
  ASSERT_TRUE(Synth(o).ok());
  auto a = ReadDatasetInfo(root + "/a"), b = ReadDatasetInfo(root + "/b"), c = ReadDatasetInfo(root + "/c");
  ASSERT_TRUE(a.ok() && b.ok() && c.ok());
  EXPECT_EQ(a->shards[0].sha256, b->shards[0].sha256);
  EXPECT_NE(a->shards[0].sha256, c->shards[0].sha256);
  // Nearest class mean, fitted on the first half, classifies the second half well.
  Loaded l = LoadAll(root + "/a");
  const int64_t n = 4000, f = 20, half = n / 2;
  std::vector<double> mean(4 * f, 0);
  std::vector<int64_t> count(4, 0);
  for (int64_t i = 0; i < half; ++i) {
    ++count[l.y[i]];
    for (int64_t j = 0; j < f; ++j) mean[l.y[i] * f + j] += l.x[i * f + j];
  }
  for (int c2 = 0; c2 < 4; ++c2) {
    ASSERT_GT(count[c2], 300);  // roughly balanced classes
    for (int64_t j = 0; j < f; ++j) mean[c2 * f + j] /= static_cast<double>(count[c2]);
  }
  int64_t correct = 0;
  for (int64_t i = half; i < n; ++i) {
    int best = 0;
    double best_d = 1e300;
    for (int c2 = 0; c2 < 4; ++c2) {
      double d = 0;
      for (int64_t j = 0; j < f; ++j) d += (l.x[i * f + j] - mean[c2 * f + j]) * (l.x[i * f + j] - mean[c2 * f + j]);
      if (d < best_d) { best_d = d; best = c2; }
    }
    correct += best == l.y[i];
  }
  double acc = static_cast<double>(correct) / static_cast<double>(n - half);
  EXPECT_GT(acc, 0.75) << "synthetic data should be learnable";
  EXPECT_LT(acc, 0.999) << "but not trivially separable";
  (void)fs::RemoveAll(root);
}

}  // namespace
}  // namespace hpcai::io

namespace hpcai::io {
namespace {

// Accuracy of nearest-class-mean fitted on `fit` and applied to `eval`.
double CrossAccuracy(const std::string& fit, const std::string& eval, int classes, int64_t f) {
  Loaded a = LoadAll(fit), b = LoadAll(eval);
  std::vector<double> mean(static_cast<size_t>(classes * f), 0);
  std::vector<int64_t> count(static_cast<size_t>(classes), 0);
  for (size_t i = 0; i < a.y.size(); ++i) {
    ++count[a.y[i]];
    for (int64_t j = 0; j < f; ++j) mean[a.y[i] * f + j] += a.x[i * f + j];
  }
  for (int c = 0; c < classes; ++c)
    for (int64_t j = 0; j < f; ++j) mean[c * f + j] /= static_cast<double>(std::max<int64_t>(1, count[c]));
  int64_t correct = 0;
  for (size_t i = 0; i < b.y.size(); ++i) {
    int best = 0;
    double best_d = 1e300;
    for (int c = 0; c < classes; ++c) {
      double d = 0;
      for (int64_t j = 0; j < f; ++j) d += (b.x[i * f + j] - mean[c * f + j]) * (b.x[i * f + j] - mean[c * f + j]);
      if (d < best_d) { best_d = d; best = c; }
    }
    correct += best == b.y[i];
  }
  return static_cast<double>(correct) / static_cast<double>(b.y.size());
}

TEST(Synth, SameTaskSeedGivesATrainValPairOfOneProblem) {
  std::string root = t::TempDir("synth-task");
  SynthOptions o;
  o.samples = 2000;
  o.shape = {20};
  o.classes = 4;
  o.seed = 1;
  o.out = root + "/train";
  ASSERT_TRUE(Synth(o).ok());
  o.samples = 1000;
  o.seed = 2;  // other samples, same task
  o.out = root + "/val";
  ASSERT_TRUE(Synth(o).ok());
  o.task_seed = 5;  // another problem
  o.out = root + "/other";
  ASSERT_TRUE(Synth(o).ok());
  EXPECT_GT(CrossAccuracy(root + "/train", root + "/val", 4, 20), 0.75);
  EXPECT_LT(CrossAccuracy(root + "/train", root + "/other", 4, 20), 0.5);
  (void)fs::RemoveAll(root);
}

}  // namespace
}  // namespace hpcai::io
