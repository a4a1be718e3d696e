// Shared helpers for the `hpcai` subcommands (cli/ only).
#pragma once

#include <CLI/CLI.hpp>

#include <cstdint>
#include <string>

#include "hpcai/base/status.h"

namespace hpcai::cli {

// Every subcommand file provides SetupX(CLI::App& root), which adds the
// subcommand, its options and its callback.  Callbacks end with
// SetExitCode(code); main() returns that code once parsing is done.
void SetupSubmit(CLI::App& root);
void SetupStatus(CLI::App& root);
void SetupLogs(CLI::App& root);
void SetupCancel(CLI::App& root);
void SetupResume(CLI::App& root);
void SetupValidate(CLI::App& root);
void SetupInit(CLI::App& root);
void SetupSpec(CLI::App& root);
void SetupData(CLI::App& root);
void SetupCkpt(CLI::App& root);

// The process exit code a command's callback sets (0 until one does).
// (Was a thrown CLI::Success/RuntimeError: the first throw of a process costs
// ~25 us of unwinder set-up in every command.)
void SetExitCode(int code);
int ExitCodeSet();

// Prints "hpcai: error: <message>" (+ hint lines) to stderr and returns
// the documented exit code for the status.
int ReportError(const Status& status);

// "512.0 KiB", "3.4 MiB", "1.25 GiB" (binary units).
std::string HumanBytes(int64_t bytes);

// True when stdout/stderr is a terminal and NO_COLOR is unset.
bool UseColor(int fd);
// Wraps text in an ANSI colour when `on`; code e.g. "31" (red), "32" (green).
std::string Colorize(const std::string& text, const char* code, bool on);

// Adds "Example:\n  <example>" to a subcommand's footer.
void AddExample(CLI::App* app, const std::string& example);

}  // namespace hpcai::cli
