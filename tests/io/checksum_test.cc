#include "hpcai/io/checksum.h"

#include <gtest/gtest.h>

#include <string>

#include "io/test_data_util.h"

// HDF5's own Fletcher-32 (exported by libhdf5, not in its public headers).
extern "C" uint32_t H5_checksum_fletcher32(const void* data, size_t len);

namespace hpcai::io {
namespace {

std::string Sha(const std::string& s) {
  Sha256 h;
  h.Update(s.data(), s.size());
  return h.HexDigest();
}

TEST(Sha256, KnownVectors) {
  // FIPS 180-4 / NIST examples.
  EXPECT_EQ(Sha(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(Sha("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(Sha("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  Sha256 h;
  std::string a(1000, 'a');
  for (int i = 0; i < 1000; ++i) h.Update(a.data(), a.size());
  EXPECT_EQ(h.HexDigest(), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(Sha256, IncrementalEqualsOneShot) {
  std::string data;
  for (int i = 0; i < 1000; ++i) data += static_cast<char>(i * 31 + 7);
  for (size_t split : {0, 1, 55, 56, 63, 64, 65, 500, 999}) {
    Sha256 h;
    h.Update(data.data(), split);
    h.Update(data.data() + split, data.size() - split);
    EXPECT_EQ(h.HexDigest(), Sha(data)) << "split at " << split;
  }
}

TEST(Sha256, FileMatchesSha256sum) {
  std::string dir = testing::TempDir("sha");
  std::string path = dir + "/f.bin";
  std::string data(3 << 20, '\0');
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>((i * 2654435761u) >> 24);
  ASSERT_TRUE(fs::AtomicWriteFile(path, data).ok());
  auto mine = Sha256File(path);
  ASSERT_TRUE(mine.ok());
  std::string out;
  ASSERT_EQ(testing::RunCommand("sha256sum " + path, &out), 0);
  EXPECT_EQ(out.substr(0, 64), *mine);
  EXPECT_EQ(Sha256File(dir + "/missing").status().code(), Code::kNotFound);
}

TEST(Crc32c, KnownVectors) {
  EXPECT_EQ(Crc32c("123456789", 9), 0xE3069283u);  // the standard check value
  EXPECT_EQ(Crc32c("", 0), 0u);
  std::string zeros(32, '\0');
  EXPECT_EQ(Crc32c(zeros.data(), zeros.size()), 0x8A9136AAu);  // RFC 3720 B.4
  std::string ff(32, '\xff');
  EXPECT_EQ(Crc32c(ff.data(), ff.size()), 0x62A8AB43u);
}

TEST(Crc32c, ChainingEqualsOneShot) {
  std::string data(10007, '\0');
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>(i * 131);
  uint32_t whole = Crc32c(data.data(), data.size());
  for (size_t split : {1, 7, 8, 9, 4096, 10000}) {
    uint32_t c = Crc32c(data.data(), split);
    c = Crc32c(data.data() + split, data.size() - split, c);
    EXPECT_EQ(c, whole) << split;
  }
  data[5000] ^= 1;
  EXPECT_NE(Crc32c(data.data(), data.size()), whole);
}

TEST(Crc32c, MatchesTheReferenceAtLaneAndBlockBoundaries) {
  // The fast path folds blocks of 3 x 8 KiB lanes; every size around those
  // boundaries, odd offsets and a chained start must give the reference CRC.
  std::vector<uint8_t> data((1 << 20) + 64);
  uint64_t x = 0x9E3779B97F4A7C15ull;
  for (auto& b : data) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    b = static_cast<uint8_t>(x);
  }
  const size_t block = 3 * 8192;
  for (size_t n : {size_t{0}, size_t{1}, size_t{63}, block - 1, block, block + 1, block + 8, 2 * block + 13,
                   size_t{1} << 20}) {
    for (size_t off : {size_t{0}, size_t{3}}) {
      for (uint32_t start : {0u, 0xDEADBEEFu}) {
        EXPECT_EQ(Crc32c(data.data() + off, n, start), detail::Crc32cReference(data.data() + off, n, start))
            << "n=" << n << " off=" << off << " start=" << start;
      }
    }
  }
}

TEST(Fletcher32, EqualsHdf5sOwnAtEveryBoundaryAndEdgeValue) {
  // Lanes of 16 words, folds every 128 blocks (4 KiB): sizes around those,
  // odd lengths, odd offsets; random bytes, all zeros (0), all 0xff (sums
  // that are non-zero multiples of 65535: 0xffff) and a lone last word.
  std::vector<uint8_t> rnd((1 << 20) + 64), ones(rnd.size(), 0xff), zeros(rnd.size(), 0), late(rnd.size(), 0);
  uint64_t x = 0x9E3779B97F4A7C15ull;
  for (auto& b : rnd) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    b = static_cast<uint8_t>(x);
  }
  for (size_t n : {size_t{0}, size_t{1}, size_t{2}, size_t{3}, size_t{31}, size_t{32}, size_t{33}, size_t{4095},
                   size_t{4096}, size_t{4097}, size_t{4096 * 3 + 34}, size_t{200000}, size_t{1} << 20}) {
    if (n > 0) late[n - 1] = 7;
    for (size_t off : {size_t{0}, size_t{1}}) {
      for (const auto* buf : {&rnd, &ones, &zeros, &late}) {
        const uint32_t hdf5 = H5_checksum_fletcher32(buf->data() + off, n);
        EXPECT_EQ(detail::Fletcher32Portable(buf->data() + off, n), hdf5) << "portable, n=" << n;
        EXPECT_EQ(Fletcher32(buf->data() + off, n), hdf5)
            << "n=" << n << " off=" << off << " buffer " << (buf == &rnd ? "random" : buf == &ones ? "0xff" :
                                                             buf == &zeros ? "zeros" : "zeros then 7");
      }
    }
    if (n > 0) late[n - 1] = 0;
  }
  EXPECT_EQ(Fletcher32(zeros.data(), 4096), 0u);
  EXPECT_EQ(Fletcher32(ones.data(), 4096), 0xffffffffu);
}

}  // namespace
}  // namespace hpcai::io
