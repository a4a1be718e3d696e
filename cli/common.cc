#include "common.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <iostream>

namespace hpcai::cli {

namespace {
int g_exit_code = 0;
}  // namespace

void SetExitCode(int code) { g_exit_code = code; }
int ExitCodeSet() { return g_exit_code; }

int ReportError(const Status& status) {
  std::cerr << Colorize("hpcai: error: ", "31", UseColor(STDERR_FILENO)) << status.message() << "\n";
  return ExitCodeFor(status);
}

std::string HumanBytes(int64_t b) {
  char buf[32];
  if (b < 1024 * 1024) {
    std::snprintf(buf, sizeof buf, "%.1f KiB", static_cast<double>(b) / 1024);
  } else if (b < int64_t{1} << 30) {
    std::snprintf(buf, sizeof buf, "%.1f MiB", static_cast<double>(b) / (1024 * 1024));
  } else {
    std::snprintf(buf, sizeof buf, "%.2f GiB", static_cast<double>(b) / (1024.0 * 1024 * 1024));
  }
  return buf;
}

bool UseColor(int fd) {
  const char* no = std::getenv("NO_COLOR");
  if (no && *no) return false;
  return ::isatty(fd) == 1;
}

std::string Colorize(const std::string& text, const char* code, bool on) {
  if (!on) return text;
  return std::string("\033[") + code + "m" + text + "\033[0m";
}

void AddExample(CLI::App* app, const std::string& example) {
  app->footer("Example:\n  " + example);
}

}  // namespace hpcai::cli
