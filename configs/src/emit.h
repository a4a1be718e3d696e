// YAML output of specs (private to configs/): the canonical form, the
// commented form (`hpcai spec --defaults`, `hpcai init`), and flow text of
// single values (sweep axes).
#pragma once

#include <string>
#include <string_view>

#include "hpcai/configs/spec.h"
#include "schema.h"

namespace hpcai::spec_internal {

// Shortest decimal that parses back to exactly `v`, always with a '.' or an
// exponent so it reads as a float ("10.0", "0.05", "1e-08").
std::string FormatDouble(double v);

// A string scalar that LoadSpecText reads back as exactly `s`: plain when
// unambiguous, else double-quoted with escapes.  '$' before '{' or '$' is
// doubled so ${VAR} interpolation does not fire on re-load.
std::string EmitString(std::string_view s);

// The value of field `f` in `spec`, in YAML flow style ("[256, 128]", "0.1",
// "{A: \"x\"}").  Reads back to the same value.
std::string EmitFlow(const Field& f, const ResolvedSpec& spec);

struct EmitOptions {
  bool comments = false;      // one-line docs after each key, section headers
  bool include_sweep = true;
  std::string header;         // comment lines at the top (each starting with "# ")
};
std::string EmitSpec(const ResolvedSpec& spec, const EmitOptions& options);

}  // namespace hpcai::spec_internal
