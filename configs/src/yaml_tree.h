// A small YAML document tree with source locations, built from yaml-cpp's
// event API (private to configs/).
//
// Why not YAML::Node: yaml-cpp 0.7 silently accepts duplicate keys, shares
// aliased nodes (so a naive walk of a "billion laughs" document is
// exponential), and does not tell quoted from plain scalars.  Building our
// own tree from events lets us reject aliases and duplicates with exact
// locations, and keep every node's line:col for diagnostics.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "hpcai/configs/spec.h"

namespace hpcai::spec_internal {

// Limits that bound time and memory on hostile input (documented in docs/spec.md).
// A full spec is ~3 KB and ~100 values; a large sweep a few hundred more.
constexpr size_t kMaxSpecBytes = size_t{256} << 10;  // 256 KiB, checked before parsing
constexpr int kMaxNesting = 32;                      // a valid spec needs 5
constexpr int kMaxNodes = 20000;                     // YAML values per document
std::string SpecSizeLimitText();                     // "262144 bytes (256 KiB)"

// One text that nodes point into: a spec file or a --set override.
struct Source {
  std::string name;  // file path as given, or "--set #N"
  std::string text;
  std::vector<size_t> line_starts;  // byte offset of each line

  Source(std::string n, std::string t);
  // Line `line1` (1-based) without its newline; "" if out of range.
  std::string Line(int line1) const;
};

// A position in a Source.  line == 0 means "no location".
struct Loc {
  const Source* src = nullptr;
  int line = 0;  // 1-based
  int col = 0;   // 1-based, bytes
  bool known() const { return src != nullptr && line > 0; }
};

struct YEntry;

struct YNode {
  enum class Kind { kNull, kScalar, kSeq, kMap };
  Kind kind = Kind::kNull;
  Loc loc;
  bool plain = true;    // scalar written without quotes or | / > (so it may be a number)
  bool bad = false;     // already reported (e.g. failed interpolation): decode skips it
  std::string value;    // scalar text (after escapes), or "" for null
  std::vector<YNode> items;     // kSeq
  std::vector<YEntry> entries;  // kMap, in file order

  bool is_null() const { return kind == Kind::kNull; }
  bool is_scalar() const { return kind == Kind::kScalar; }
  bool is_seq() const { return kind == Kind::kSeq; }
  bool is_map() const { return kind == Kind::kMap; }
  // "a null", "a string", "a list", "a mapping": for "expected X, got Y".
  std::string Describe() const;
  // Finds a map entry by key ("" keys never match); nullptr if absent.
  const YEntry* Find(const std::string& key) const;
  YEntry* Find(const std::string& key);
};

struct YEntry {
  YNode key;  // always a scalar (non-scalar keys are rejected while parsing)
  YNode value;
};

// Builds a diagnostic at `loc` (or without a location).
SpecDiagnostic MakeDiag(const Loc& loc, const std::string& key_path, const std::string& message,
                        const std::string& fallback_file);

// Parses one YAML document from `src`.  On success returns true and fills
// *root.  Every problem (invalid UTF-8, control characters, tab indentation,
// nesting beyond kMaxNesting, syntax errors, aliases, tags, duplicate keys,
// non-scalar keys, more than one document) is appended to *diags; when any
// is found the function returns false.  An empty document yields a kNull
// root and true.  Never throws; time and memory are linear in the input.
bool ParseYaml(const Source& src, YNode* root, std::vector<SpecDiagnostic>* diags);

}  // namespace hpcai::spec_internal
