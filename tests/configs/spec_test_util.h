// Helpers shared by the configs tests.
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <map>
#include <string>
#include <vector>

#include "hpcai/configs/spec.h"

namespace hpcai::testing_util {

// Loads `text` as "spec.yaml" with a fixed (empty unless given) environment,
// so tests never depend on the caller's environment.
inline SpecLoadResult Load(const std::string& text, std::vector<std::string> overrides = {},
                           const std::map<std::string, std::string>* env = nullptr,
                           bool cuda = false) {
  static const std::map<std::string, std::string> kEmpty = {{"HOME", "/home/tester"}};
  SpecLoadOptions o;
  o.overrides = std::move(overrides);
  o.env = env ? env : &kEmpty;
  o.cuda_available = cuda;
  o.check_data = false;
  return LoadSpecText(text, "spec.yaml", o);
}

// The one diagnostic of a failed load (fails the test if there is not exactly one).
inline SpecDiagnostic OnlyDiag(const SpecLoadResult& r) {
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.diagnostics.size(), 1u) << r.FormatAll();
  return r.diagnostics.empty() ? SpecDiagnostic{} : r.diagnostics[0];
}

// True when some diagnostic has this key path and its message contains `needle`.
inline bool HasDiag(const SpecLoadResult& r, const std::string& key_path, const std::string& needle) {
  for (const auto& d : r.diagnostics) {
    if (d.key_path == key_path && d.message.find(needle) != std::string::npos) return true;
  }
  return false;
}

// The repository root: $HPCAI_SOURCE_DIR (set by ctest), else derived from this file's path.
inline std::string SourceDir() {
  const char* s = std::getenv("HPCAI_SOURCE_DIR");
  if (s && *s) return s;
  std::string f = __FILE__;
  return f.substr(0, f.rfind("/tests/configs/"));
}

}  // namespace hpcai::testing_util
