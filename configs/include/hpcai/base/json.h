// A small JSON value for hpcai's own files (run.json, heartbeat.json,
// metrics.jsonl, manifest.json) and for `--json` output.  Objects keep
// insertion order so output is stable and diffable.  Not a general-purpose
// library: numbers are double or int64, strings are UTF-8 passed through.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "hpcai/base/status.h"

namespace hpcai {

class Json {
 public:
  enum class Type { kNull, kBool, kInt, kDouble, kString, kArray, kObject };
  using Array = std::vector<Json>;
  using Object = std::vector<std::pair<std::string, Json>>;

  Json() = default;  // null
  Json(std::nullptr_t) {}                          // NOLINT
  Json(bool b) : type_(Type::kBool), b_(b) {}      // NOLINT
  Json(int i) : type_(Type::kInt), i_(i) {}        // NOLINT
  Json(long i) : type_(Type::kInt), i_(i) {}       // NOLINT
  Json(long long i) : type_(Type::kInt), i_(i) {}  // NOLINT
  Json(unsigned i) : type_(Type::kInt), i_(i) {}   // NOLINT
  Json(unsigned long i) : type_(Type::kInt), i_(static_cast<int64_t>(i)) {}  // NOLINT
  Json(double d) : type_(Type::kDouble), d_(d) {}  // NOLINT
  Json(const char* s) : type_(Type::kString), s_(s) {}        // NOLINT
  Json(std::string s) : type_(Type::kString), s_(std::move(s)) {}  // NOLINT
  Json(Array a) : type_(Type::kArray), a_(std::move(a)) {}    // NOLINT
  Json(Object o) : type_(Type::kObject), o_(std::move(o)) {}  // NOLINT
  static Json MakeArray() { return Json(Array{}); }
  static Json MakeObject() { return Json(Object{}); }

  Type type() const { return type_; }
  bool is_null() const { return type_ == Type::kNull; }
  bool is_number() const { return type_ == Type::kInt || type_ == Type::kDouble; }
  bool is_string() const { return type_ == Type::kString; }
  bool is_object() const { return type_ == Type::kObject; }
  bool is_array() const { return type_ == Type::kArray; }

  // Accessors return the fallback when the type does not match.
  bool as_bool(bool fallback = false) const { return type_ == Type::kBool ? b_ : fallback; }
  int64_t as_int(int64_t fallback = 0) const;
  double as_double(double fallback = 0) const;
  const std::string& as_string() const;  // "" if not a string
  const Array& as_array() const;         // empty if not an array
  const Object& as_object() const;       // empty if not an object
  Array& mutable_array();                // converts null to array

  // Object access.  get() returns a null Json when missing or not an object.
  const Json& get(const std::string& key) const;
  bool has(const std::string& key) const;
  // Sets (replacing an existing key in place, else appending).  Converts null to object.
  Json& set(const std::string& key, Json value);
  void push_back(Json value) { mutable_array().push_back(std::move(value)); }

  // Serialises.  indent < 0: one line (JSONL); otherwise pretty with that indent.
  std::string dump(int indent = -1) const;
  // Parses text; errors carry line:col.
  static Result<Json> Parse(const std::string& text);

  bool operator==(const Json& o) const;
  bool operator!=(const Json& o) const { return !(*this == o); }

 private:
  void DumpTo(std::string* out, int indent, int depth) const;
  Type type_ = Type::kNull;
  bool b_ = false;
  int64_t i_ = 0;
  double d_ = 0;
  std::string s_;
  Array a_;
  Object o_;
};

// Escapes a string as a JSON string literal (with quotes).
std::string JsonQuote(const std::string& s);

}  // namespace hpcai
