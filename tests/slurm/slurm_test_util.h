// Helpers shared by the slurm unit tests (tests/slurm only).
#pragma once

#include <string>

#include "hpcai/configs/spec.h"

namespace hpcai::slurm::testing {

// A fresh directory under $HPCAI_TEST_TMP (or /tmp), removed by the caller if wanted.
std::string MakeTempDir(const std::string& tag);
// A small valid spec built in code (no YAML parsing).
ResolvedSpec SmallSpec(const std::string& name);
// Runs `bash -c cmd`, returns the exit status (or -1); output to `out` if non-null.
int RunShell(const std::string& cmd, std::string* out = nullptr);
// Path of tests/slurm/golden/<name>.
std::string GoldenPath(const std::string& name);
// Writes an executable file.
void WriteExecutable(const std::string& path, const std::string& text);

}  // namespace hpcai::slurm::testing
