#include "slurm/slurm_test_util.h"

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <fstream>

#include "hpcai/base/fs.h"

namespace hpcai::slurm::testing {

std::string MakeTempDir(const std::string& tag) {
  const char* base = std::getenv("HPCAI_TEST_TMP");
  std::string root = base && *base ? base : "/tmp";
  (void)fs::MakeDirs(root);
  std::string tmpl = root + "/" + tag + "-XXXXXX";
  std::string buf = tmpl;
  char* d = ::mkdtemp(buf.data());
  return d ? std::string(d) : std::string();
}

ResolvedSpec SmallSpec(const std::string& name) {
  ResolvedSpec s;
  s.name = name;
  s.resources.nodes = 1;
  s.resources.tasks_per_node = 1;
  s.resources.cpus_per_task = 1;
  s.resources.mem = "100M";
  s.resources.time = "00:05:00";
  s.preemption.lead_seconds = 30;
  s.runs_root = "/tmp/runs";
  return s;
}

int RunShell(const std::string& cmd, std::string* out) {
  std::string full = "bash -c " + std::string("'");
  for (char c : cmd) {
    if (c == '\'') full += "'\\''";
    else full += c;
  }
  full += "' 2>&1";
  FILE* p = ::popen(full.c_str(), "r");
  if (!p) return -1;
  std::array<char, 4096> buf{};
  std::string text;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) text.append(buf.data(), n);
  int st = ::pclose(p);
  if (out) *out = text;
  if (st == -1 || !WIFEXITED(st)) return -1;
  return WEXITSTATUS(st);
}

std::string GoldenPath(const std::string& name) {
  const char* src = std::getenv("HPCAI_SOURCE_DIR");
  if (src && *src) return std::string(src) + "/tests/slurm/golden/" + name;
  // This file's own directory (CMake compiles it with an absolute path).
  return fs::Dirname(__FILE__) + "/golden/" + name;
}

void WriteExecutable(const std::string& path, const std::string& text) {
  std::ofstream f(path, std::ios::trunc);
  f << text;
  f.close();
  ::chmod(path.c_str(), 0755);
}

}  // namespace hpcai::slurm::testing
