#include "hpcai/base/sha256.h"

#include <gtest/gtest.h>

#include <string>

namespace hpcai {
namespace {

// NIST FIPS 180-4 / CAVS example vectors.
TEST(Sha256, KnownVectors) {
  EXPECT_EQ(Sha256Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(Sha256Hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  EXPECT_EQ(Sha256Hex("abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu"),
            "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");
  EXPECT_EQ(Sha256Hex(std::string(1000000, 'a')),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

// Every length around the 55/56/64-byte padding boundaries, fed whole and in
// odd pieces, must agree (catches buffer bookkeeping bugs).
TEST(Sha256, IncrementalMatchesOneShot) {
  for (size_t len = 0; len < 200; ++len) {
    std::string s;
    for (size_t i = 0; i < len; ++i) s.push_back(static_cast<char>('a' + (i * 7) % 26));
    Sha256 h;
    for (size_t i = 0; i < len; i += 7) h.Update(s.substr(i, 7));
    auto d = h.Final();
    std::string hex;
    static const char kHex[] = "0123456789abcdef";
    for (uint8_t b : d) {
      hex.push_back(kHex[b >> 4]);
      hex.push_back(kHex[b & 15]);
    }
    EXPECT_EQ(hex, Sha256Hex(s)) << "len " << len;
  }
  // Known boundary vector: 64 'a's.
  EXPECT_EQ(Sha256Hex(std::string(64, 'a')),
            "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb");
}

}  // namespace
}  // namespace hpcai
