// The spec schema as one table (private to configs/).  Everything that
// knows about keys is driven by it: parsing and type checks, unknown-key
// suggestions, --set and sweep key lookup, the canonical dump, `hpcai spec
// --defaults`, the starter specs of `hpcai init`, and docs/spec.md.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "hpcai/configs/spec.h"

namespace hpcai::spec_internal {

enum class Kind {
  kInt,         // int*
  kInt64,       // int64_t*
  kUint64,      // uint64_t*
  kOptInt64,    // std::optional<int64_t>*
  kDouble,      // double*
  kOptDouble,   // std::optional<double>*
  kBool,        // bool*
  kString,      // std::string*: non-empty, one line
  kName,        // std::string*: [A-Za-z0-9._-]{1,64}, not starting with '.' or '-'
  kEnum,        // std::string*: one of `choices`
  kPath,        // std::string*: resolved to an absolute path at load time
  kOptPath,     // std::optional<std::string>*: null = none; else like kPath
  kBinary,      // std::string*: "" = default; else a path (resolved like kPath)
  kTime,        // std::string*: Slurm time limit
  kMem,         // std::string*: Slurm memory
  kEvalEvery,   // std::string*: "epoch" or a positive integer
  kSlurmName,   // std::optional<std::string>*: [A-Za-z0-9._,-]+ (partition, account, qos)
  kOptString,   // std::optional<std::string>*: free text, one line (constraint)
  kIntList,     // std::vector<int>*: items in [imin, imax]
  kModuleList,  // std::vector<std::string>*: module names, one line, no spaces
  kLines,       // std::vector<std::string>*: free shell lines, verbatim
  kEnvMap,      // std::vector<std::pair<std::string, std::string>>*
  kConvList,    // std::vector<ConvLayerSpec>*
};

using ValuePtr =
    std::variant<int*, int64_t*, uint64_t*, std::optional<int64_t>*, double*, std::optional<double>*,
                 bool*, std::string*, std::optional<std::string>*, std::vector<int>*,
                 std::vector<std::string>*, std::vector<std::pair<std::string, std::string>>*,
                 std::vector<ConvLayerSpec>*>;

struct Field {
  std::string path;  // "resources.nodes", or "name" for top-level keys
  Kind kind;
  std::string doc;   // one line
  std::vector<std::string> choices;  // kEnum
  int64_t imin = 0, imax = 0;        // integer kinds and kIntList items (inclusive)
  double dmin = 0, dmax = 0;         // double kinds
  bool dmin_open = false, dmax_open = false;  // exclusive bounds
  ValuePtr (*ref)(ResolvedSpec&) = nullptr;

  std::string section() const;  // "" for top-level
  std::string leaf() const;
  // "integer >= 1", "one of: sgd | adam | adamw", ... for docs and messages.
  std::string TypeDoc() const;
};

struct Section {
  std::string name;
  std::string doc;
};

// The table, in schema (= canonical output) order.
const std::vector<Field>& Fields();
// Sections in schema order, with their one-line docs (includes "sweep").
const std::vector<Section>& Sections();
const Section* FindSection(std::string_view name);
const Field* FindField(std::string_view path);
// All dotted paths of fields, for "did you mean".
const std::vector<std::string>& AllFieldPaths();
// Top-level keys: top-level fields, sections, and "sweep".
const std::vector<std::string>& TopLevelKeys();
// Keys of one section.
std::vector<std::string> SectionKeys(std::string_view section);

// Conv layer keys, in canonical order.
const std::vector<std::string>& ConvKeys();

// "Did you mean" for an unknown `key` inside `section` ("" = top level):
// a close spelling in the same section, a known synonym (learning_rate ->
// optimizer.lr), the same key in another section, or a close full path.
// Returns a full dotted path (or a top-level key), or "" when nothing is close.
std::string SuggestKey(const std::string& section, const std::string& key);
// The same for a dotted path as written in --set or a sweep ("optimizer.learnig_rate").
std::string SuggestDottedPath(const std::string& path);

// Name rule shared by `name` and sweep point names.
bool IsSafeName(std::string_view s);

// Slurm time limit -> seconds; nullopt if malformed.  Accepts MM, MM:SS,
// HH:MM:SS, D-HH, D-HH:MM, D-HH:MM:SS.
std::optional<int64_t> ParseTimeSeconds(std::string_view s);
// Slurm memory -> MiB; nullopt if malformed.  <int>[K|M|G|T], no unit = M.
std::optional<int64_t> ParseMemMiB(std::string_view s);

}  // namespace hpcai::spec_internal
