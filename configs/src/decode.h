// Decoding YAML trees into ResolvedSpec fields, and semantic validation
// (private to configs/).
#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

#include "hpcai/configs/spec.h"
#include "schema.h"
#include "yaml_tree.h"

namespace hpcai::spec_internal {

constexpr size_t kMaxDiagnostics = 100;
constexpr int64_t kMaxSweepPoints = 1000;  // Slurm's default MaxArraySize is 1001

// State shared by one load: where diagnostics go and where each field came from.
struct Ctx {
  std::vector<SpecDiagnostic>* diags = nullptr;
  std::string file;                 // display name for diagnostics without a location
  std::map<std::string, Loc> locs;  // field path -> location of the value the user wrote
  const std::map<std::string, std::string>* env = nullptr;  // nullptr = process environment
  std::string cwd;                  // relative paths resolve against this
  size_t interpolated_bytes = 0;    // budget for ${VAR} expansion
  bool quiet = false;               // decode without reporting (re-applying checked values)
  bool truncated = false;
  std::set<std::string> failed;     // fields whose value was rejected: no follow-up errors

  void Error(const Loc& loc, const std::string& key_path, const std::string& message);
  // Error at the location of the first of `paths` the user wrote (or none).
  void ErrorAt(const std::vector<std::string>& paths, const std::string& message);
  bool Lookup(const std::string& name, std::string* value) const;
};

// Replaces ${VAR}, ${VAR:-default} and $$ in every scalar value (not keys)
// of the tree.  Errors name the variable and the location.
void InterpolateTree(YNode* node, const std::string& path, Ctx* ctx);

// Decodes `node` into field `f` of *spec.  Reports type/range errors with
// `key_path` and returns false on error (the field keeps its old value).
bool DecodeField(const Field& f, const YNode& node, const std::string& key_path, ResolvedSpec* spec,
                 Ctx* ctx);

// Decodes a whole document (mapping) into *spec, starting from defaults.
// Unknown keys get suggestions.  The sweep mapping is returned in *sweep_node
// (nullptr if absent) for DecodeSweep.
void DecodeDocument(const YNode& root, ResolvedSpec* spec, const YNode** sweep_node, Ctx* ctx);

// Fills defaults for fields the user did not write that depend on other
// fields (model.type) or on the load (relative default paths -> absolute).
void ApplyTypeDefaults(ResolvedSpec* spec, const Ctx& ctx);

// Cross-field checks.  `prefix` is prepended to messages (sweep points).
void Validate(const ResolvedSpec& spec, const SpecLoadOptions& options, const std::string& prefix,
              Ctx* ctx);

// Decodes and checks the sweep mapping against the decoded base spec,
// including validating every grid point.
void DecodeSweep(const YNode& node, ResolvedSpec* spec, const SpecLoadOptions& options, Ctx* ctx);

}  // namespace hpcai::spec_internal
