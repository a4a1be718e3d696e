#include "decode.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <limits>
#include <set>

#include "emit.h"
#include "text_util.h"

namespace hpcai::spec_internal {

// ---- Ctx ------------------------------------------------------------------------

void Ctx::Error(const Loc& loc, const std::string& key_path, const std::string& message) {
  if (quiet) return;
  if (diags->size() >= kMaxDiagnostics) {
    if (!truncated) {
      truncated = true;
      SpecDiagnostic d;
      d.file = file;
      d.message = "too many errors; stopping after " + std::to_string(kMaxDiagnostics);
      diags->push_back(d);
    }
    return;
  }
  diags->push_back(MakeDiag(loc, key_path, message, file));
}

void Ctx::ErrorAt(const std::vector<std::string>& paths, const std::string& message) {
  // A cross-field check on a value already reported as wrong would only confuse.
  for (const auto& p : paths) {
    if (failed.count(p) > 0) return;
  }
  for (const auto& p : paths) {
    auto it = locs.find(p);
    if (it != locs.end()) {
      Error(it->second, p, message);
      return;
    }
  }
  Error(Loc{}, paths.empty() ? "" : paths.front(), message);
}

bool Ctx::Lookup(const std::string& name, std::string* value) const {
  if (env != nullptr) {
    auto it = env->find(name);
    if (it == env->end()) return false;
    *value = it->second;
    return true;
  }
  const char* v = std::getenv(name.c_str());
  if (v == nullptr) return false;
  *value = v;
  return true;
}

// ---- ${VAR} interpolation -----------------------------------------------------------

namespace {

constexpr size_t kMaxInterpolatedValue = 64 * 1024;
constexpr size_t kMaxInterpolatedTotal = 4 * 1024 * 1024;

bool IsVarName(std::string_view s) {
  if (s.empty() || !(std::isalpha(static_cast<unsigned char>(s[0])) || s[0] == '_')) return false;
  for (char c : s) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_')) return false;
  }
  return true;
}

// Returns false (and sets *error) on a malformed or undefined reference.
bool Interpolate(const std::string& in, const Ctx& ctx, std::string* out, std::string* error) {
  out->clear();
  for (size_t i = 0; i < in.size();) {
    if (in[i] != '$' || i + 1 >= in.size()) {
      out->push_back(in[i++]);
      continue;
    }
    if (in[i + 1] == '$') {
      out->push_back('$');
      i += 2;
      continue;
    }
    if (in[i + 1] != '{') {
      out->push_back(in[i++]);
      continue;
    }
    size_t close = in.find('}', i + 2);
    if (close == std::string::npos) {
      *error = "unterminated ${ in " + QuoteForMessage(in) + " (write $${ for a literal ${)";
      return false;
    }
    std::string inner = in.substr(i + 2, close - i - 2);
    std::string name = inner, fallback;
    bool has_default = false;
    if (auto p = inner.find(":-"); p != std::string::npos) {
      name = inner.substr(0, p);
      fallback = inner.substr(p + 2);
      has_default = true;
    }
    if (!IsVarName(name)) {
      *error = "invalid variable reference " + QuoteForMessage("${" + inner + "}") +
               ": expected ${NAME} or ${NAME:-default} with NAME = [A-Za-z_][A-Za-z0-9_]* (write $$ "
               "for a literal $)";
      return false;
    }
    std::string value;
    bool set = ctx.Lookup(name, &value);
    if (set && !(has_default && value.empty())) {
      *out += value;
    } else if (has_default) {
      *out += fallback;
    } else {
      *error = "environment variable " + name + " is not set (referenced as ${" + name +
               "}); set it, or give a default: ${" + name + ":-value}";
      return false;
    }
    if (out->size() > kMaxInterpolatedValue) {
      *error = "value is longer than " + std::to_string(kMaxInterpolatedValue) +
               " bytes after ${VAR} interpolation";
      return false;
    }
    i = close + 1;
  }
  return true;
}

}  // namespace

void InterpolateTree(YNode* node, const std::string& path, Ctx* ctx) {
  switch (node->kind) {
    case YNode::Kind::kNull:
      return;
    case YNode::Kind::kScalar: {
      if (node->value.find('$') == std::string::npos) return;
      std::string out, error;
      if (!Interpolate(node->value, *ctx, &out, &error)) {
        ctx->Error(node->loc, path, error);
        node->bad = true;
        return;
      }
      ctx->interpolated_bytes += out.size();
      if (ctx->interpolated_bytes > kMaxInterpolatedTotal) {
        ctx->Error(node->loc, path, "the spec grows beyond 4 MiB through ${VAR} interpolation");
        node->value.clear();
        node->bad = true;
        return;
      }
      // A quoted value made of ${VAR} references is typed by its expansion:
      // flow style needs the quotes (`{nodes: "${N}"}`), and N=4 is a number.
      if (!node->plain && out != node->value) node->plain = true;
      node->value = std::move(out);
      return;
    }
    case YNode::Kind::kSeq:
      for (size_t i = 0; i < node->items.size(); ++i) {
        InterpolateTree(&node->items[i], path + "[" + std::to_string(i) + "]", ctx);
      }
      return;
    case YNode::Kind::kMap:
      for (auto& e : node->entries) {
        InterpolateTree(&e.value, path.empty() ? e.key.value : path + "." + e.key.value, ctx);
      }
      return;
  }
}

// ---- scalar decoding ---------------------------------------------------------------

namespace {

bool IsIntText(std::string_view s) {
  size_t i = (!s.empty() && (s[0] == '-' || s[0] == '+')) ? 1 : 0;
  if (i >= s.size()) return false;
  for (; i < s.size(); ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
  }
  return true;
}

bool IsFloatText(std::string_view s) {
  size_t i = (!s.empty() && (s[0] == '-' || s[0] == '+')) ? 1 : 0;
  size_t digits = 0;
  while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i, ++digits;
  if (i < s.size() && s[i] == '.') {
    ++i;
    while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i, ++digits;
  }
  if (digits == 0) return false;
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '-' || s[i] == '+')) ++i;
    size_t ed = 0;
    while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i, ++ed;
    if (ed == 0) return false;
  }
  return i == s.size();
}

bool IsNonFiniteText(std::string_view s) {
  std::string l;
  for (char c : s) l += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (!l.empty() && (l[0] == '+' || l[0] == '-')) l.erase(0, 1);
  return l == ".inf" || l == ".nan" || l == "inf" || l == "nan" || l == "infinity";
}

std::string Got(const YNode& n) { return "got " + n.Describe(); }

// Integer in [lo, hi]; on failure *why is the message.
bool ToInt(const YNode& n, int64_t lo, int64_t hi, const std::string& expected, int64_t* out,
           std::string* why) {
  if (!n.is_scalar() || !n.plain) {
    *why = "expected " + expected + ", " + Got(n) + (n.is_scalar() ? " (remove the quotes)" : "");
    return false;
  }
  const std::string& s = n.value;
  if (IsIntText(s)) {
    std::string_view v = s;
    if (v[0] == '+') v.remove_prefix(1);
    int64_t x = 0;
    auto r = std::from_chars(v.data(), v.data() + v.size(), x);
    if (r.ec == std::errc::result_out_of_range || r.ptr != v.data() + v.size() || x < lo || x > hi) {
      *why = "expected " + expected + ", " + Got(n) + " (out of range)";
      return false;
    }
    *out = x;
    return true;
  }
  if (IsNonFiniteText(s)) {
    *why = "expected " + expected + ", " + Got(n) + " (not a finite number)";
  } else if (IsFloatText(s)) {
    *why = "expected " + expected + ", " + Got(n) + " (not a whole number)";
  } else {
    *why = "expected " + expected + ", " + Got(n);
  }
  return false;
}

bool ToUint64(const YNode& n, uint64_t* out, std::string* why) {
  const std::string expected = "an integer 0..18446744073709551615";
  if (n.is_scalar() && n.plain && IsIntText(n.value) && n.value[0] != '-') {
    std::string_view v = n.value;
    if (v[0] == '+') v.remove_prefix(1);
    uint64_t x = 0;
    auto r = std::from_chars(v.data(), v.data() + v.size(), x);
    if (r.ec == std::errc() && r.ptr == v.data() + v.size()) {
      *out = x;
      return true;
    }
    *why = "expected " + expected + ", " + Got(n) + " (out of range)";
    return false;
  }
  int64_t dummy;
  ToInt(n, 0, 0, expected, &dummy, why);
  if (n.is_scalar() && n.plain && IsIntText(n.value)) *why = "expected " + expected + ", " + Got(n) + " (out of range)";
  return false;
}

bool ToDouble(const Field& f, const YNode& n, double* out, std::string* why) {
  const std::string expected = "a " + f.TypeDoc();
  if (!n.is_scalar() || !n.plain) {
    *why = "expected " + expected + ", " + Got(n) + (n.is_scalar() ? " (remove the quotes)" : "");
    return false;
  }
  const std::string& s = n.value;
  if (IsNonFiniteText(s)) {
    *why = "expected " + expected + ", " + Got(n) + " (must be a finite number)";
    return false;
  }
  if (!IsFloatText(s)) {
    *why = "expected " + expected + ", " + Got(n);
    return false;
  }
  std::string_view v = s;
  if (v[0] == '+') v.remove_prefix(1);
  double x = 0;
  auto r = std::from_chars(v.data(), v.data() + v.size(), x);
  if (r.ec == std::errc::result_out_of_range || !std::isfinite(x)) {
    *why = "expected " + expected + ", " + Got(n) + " (out of range for a 64-bit float)";
    return false;
  }
  if (r.ec != std::errc() || r.ptr != v.data() + v.size()) {
    *why = "expected " + expected + ", " + Got(n);
    return false;
  }
  if (x == 0) x = 0;  // -0.0 -> 0.0
  bool lo_ok = f.dmin_open ? x > f.dmin : x >= f.dmin;
  bool hi_ok = std::isinf(f.dmax) || (f.dmax_open ? x < f.dmax : x <= f.dmax);
  if (!lo_ok || !hi_ok) {
    *why = "expected " + expected + ", " + Got(n) + " (out of range)";
    return false;
  }
  *out = x;
  return true;
}

bool ToString(const YNode& n, std::string* out, std::string* why) {
  if (!n.is_scalar()) {
    *why = "expected a string, " + Got(n);
    return false;
  }
  if (n.value.find('\0') != std::string::npos) {
    *why = "contains a NUL character";
    return false;
  }
  *out = n.value;
  return true;
}

bool OneLine(const std::string& s, std::string* why) {
  for (unsigned char c : s) {
    if (c < 0x20 || c == 0x7F) {
      *why = "must be one line without control characters, got " + QuoteForMessage(s);
      return false;
    }
  }
  return true;
}

std::string ResolvePath(const std::string& p, const Ctx& ctx) {
  std::string v = p;
  if (v == "~" || v.rfind("~/", 0) == 0) {
    std::string home;
    if (ctx.Lookup("HOME", &home) && !home.empty()) v = home + v.substr(1);
  }
  std::filesystem::path path(v);
  if (path.is_relative()) path = std::filesystem::path(ctx.cwd) / path;
  std::string out = path.lexically_normal().string();
  while (out.size() > 1 && out.back() == '/') out.pop_back();
  return out;
}

bool ToInt32(const YNode& n, int64_t lo, int64_t hi, int* out, std::string* why) {
  int64_t v;
  std::string expected = "an integer " + std::to_string(lo) + ".." + std::to_string(hi);
  if (!ToInt(n, lo, hi, expected, &v, why)) return false;
  *out = static_cast<int>(v);
  return true;
}

std::string ExpectedInt(const Field& f) { return "an " + f.TypeDoc(); }

void UnknownKeyError(const Loc& loc, const std::string& key, const std::string& section, Ctx* ctx) {
  if (ctx->diags->size() >= kMaxDiagnostics) {  // past the cap: skip the suggestion work
    ctx->Error(loc, key, "");
    return;
  }
  const std::string path = section.empty() ? key : section + "." + key;
  std::string msg = "unknown key";
  std::string m = SuggestKey(section, key);
  if (!m.empty()) {
    // Same section: the bare key reads best ("did you mean `nodes`?").
    if (!section.empty() && m.rfind(section + ".", 0) == 0) m = m.substr(section.size() + 1);
    msg += "; did you mean `" + m + "`?";
  } else {
    std::vector<std::string> here = section.empty() ? TopLevelKeys() : SectionKeys(section);
    std::string list;
    for (size_t i = 0; i < here.size(); ++i) {
      if (i) list += ", ";
      list += here[i];
    }
    msg += " (valid keys " + std::string(section.empty() ? "at the top level" : "in " + section) + ": " + list + ")";
  }
  ctx->Error(loc, path, msg);
}

bool DecodeConv(const YNode& node, const std::string& key_path, std::vector<ConvLayerSpec>* out,
                Ctx* ctx) {
  if (node.is_null()) {
    out->clear();
    return true;
  }
  if (!node.is_seq()) {
    ctx->Error(node.loc, key_path,
               "expected a list of conv layers like [{filters: 32, kernel: 3}], " + Got(node));
    return false;
  }
  if (node.items.size() > 64) {
    ctx->Error(node.loc, key_path, "at most 64 conv layers, got " + std::to_string(node.items.size()));
    return false;
  }
  bool ok = true;
  std::vector<ConvLayerSpec> layers;
  for (size_t i = 0; i < node.items.size(); ++i) {
    const YNode& item = node.items[i];
    const std::string ip = key_path + "[" + std::to_string(i) + "]";
    if (!item.is_map()) {
      ctx->Error(item.loc, ip, "expected a conv layer mapping like {filters: 32, kernel: 3}, " + Got(item));
      ok = false;
      continue;
    }
    ConvLayerSpec c;
    bool have_filters = false;
    for (const auto& e : item.entries) {
      const std::string& k = e.key.value;
      const std::string kp = ip + "." + k;
      std::string why;
      bool good = true;
      if (k == "filters") {
        good = ToInt32(e.value, 1, 65536, &c.filters, &why);
        have_filters = good;
      } else if (k == "kernel") {
        good = ToInt32(e.value, 1, 64, &c.kernel, &why);
      } else if (k == "stride") {
        good = ToInt32(e.value, 1, 64, &c.stride, &why);
      } else if (k == "padding") {
        good = ToInt32(e.value, 0, 64, &c.padding, &why);
      } else if (k == "pool") {
        good = ToInt32(e.value, 1, 64, &c.pool, &why);
      } else {
        std::string m = ClosestMatch(k, ConvKeys());
        ctx->Error(e.key.loc, kp,
                   "unknown conv layer key" + (m.empty() ? std::string(" (valid: filters, kernel, stride, padding, pool)")
                                                         : "; did you mean `" + m + "`?"));
        ok = false;
        continue;
      }
      if (!good) {
        ctx->Error(e.value.loc, kp, why);
        ok = false;
      }
    }
    if (!have_filters && !item.Find("filters")) {
      ctx->Error(item.loc, ip,
                 "conv layer needs `filters` (kernel, stride, padding and pool default to 3, 1, 1 "
                 "and 2)");
      ok = false;
    }
    layers.push_back(c);
  }
  if (ok) *out = std::move(layers);
  return ok;
}

}  // namespace

namespace {

bool AnyBad(const YNode& n) {
  if (n.bad) return true;
  for (const auto& i : n.items) {
    if (AnyBad(i)) return true;
  }
  for (const auto& e : n.entries) {
    if (AnyBad(e.value)) return true;
  }
  return false;
}

bool DecodeFieldImpl(const Field& f, const YNode& node, const std::string& key_path, ResolvedSpec* spec,
                     Ctx* ctx) {
  ValuePtr p = f.ref(*spec);
  std::string why;
  const Loc& loc = node.loc;
  auto fail = [&](const std::string& message) {
    ctx->Error(loc, key_path, message);
    return false;
  };
  switch (f.kind) {
    case Kind::kInt: {
      int64_t v;
      if (!ToInt(node, f.imin, f.imax, ExpectedInt(f), &v, &why)) return fail(why);
      *std::get<int*>(p) = static_cast<int>(v);
      return true;
    }
    case Kind::kInt64: {
      int64_t v;
      if (!ToInt(node, f.imin, f.imax, ExpectedInt(f), &v, &why)) return fail(why);
      *std::get<int64_t*>(p) = v;
      return true;
    }
    case Kind::kOptInt64: {
      if (node.is_null()) {
        std::get<std::optional<int64_t>*>(p)->reset();
        return true;
      }
      int64_t v;
      if (!ToInt(node, f.imin, f.imax, ExpectedInt(f), &v, &why)) return fail(why);
      *std::get<std::optional<int64_t>*>(p) = v;
      return true;
    }
    case Kind::kUint64: {
      uint64_t v;
      if (!ToUint64(node, &v, &why)) return fail(why);
      *std::get<uint64_t*>(p) = v;
      return true;
    }
    case Kind::kDouble: {
      double v;
      if (!ToDouble(f, node, &v, &why)) return fail(why);
      *std::get<double*>(p) = v;
      return true;
    }
    case Kind::kOptDouble: {
      if (node.is_null()) {
        std::get<std::optional<double>*>(p)->reset();
        return true;
      }
      double v;
      if (!ToDouble(f, node, &v, &why)) return fail(why);
      *std::get<std::optional<double>*>(p) = v;
      return true;
    }
    case Kind::kBool: {
      if (node.is_scalar() && node.plain) {
        const std::string& s = node.value;
        if (s == "true" || s == "True" || s == "TRUE") {
          *std::get<bool*>(p) = true;
          return true;
        }
        if (s == "false" || s == "False" || s == "FALSE") {
          *std::get<bool*>(p) = false;
          return true;
        }
      }
      return fail("expected true or false, " + Got(node));
    }
    case Kind::kString: {
      std::string s;
      if (!ToString(node, &s, &why) || !OneLine(s, &why)) return fail(why);
      if (s.empty()) return fail("must not be empty");
      *std::get<std::string*>(p) = s;
      return true;
    }
    case Kind::kName: {
      std::string s;
      if (!ToString(node, &s, &why)) return fail(why);
      if (!IsSafeName(s)) {
        return fail("must be 1-64 characters from A-Z a-z 0-9 . _ - and not start with '.' or '-' "
                    "(it names run directories and Slurm jobs), got " +
                    QuoteForMessage(s));
      }
      *std::get<std::string*>(p) = s;
      return true;
    }
    case Kind::kEnum: {
      std::string s;
      std::string choices;
      for (size_t i = 0; i < f.choices.size(); ++i) choices += (i ? " | " : "") + f.choices[i];
      if (!node.is_scalar()) return fail("expected one of " + choices + ", " + Got(node));
      s = node.value;
      if (std::find(f.choices.begin(), f.choices.end(), s) != f.choices.end()) {
        *std::get<std::string*>(p) = s;
        return true;
      }
      std::string lower;
      for (char c : s) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      std::string upper;
      for (char c : s) upper += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      std::string m;
      for (const auto& c : f.choices) {
        if (c == lower || c == upper) m = c;
      }
      if (m.empty()) m = ClosestMatch(s, f.choices);
      return fail("expected one of " + choices + ", " + Got(node) +
                  (m.empty() ? "" : "; did you mean `" + m + "`?"));
    }
    case Kind::kPath:
    case Kind::kOptPath: {
      if (f.kind == Kind::kOptPath && node.is_null()) {
        std::get<std::optional<std::string>*>(p)->reset();
        return true;
      }
      std::string s;
      if (!ToString(node, &s, &why) || !OneLine(s, &why)) return fail(why);
      if (s.empty()) return fail(f.kind == Kind::kOptPath ? "must not be empty (use null for none)" : "must not be empty");
      std::string abs = ResolvePath(s, *ctx);
      if (f.kind == Kind::kPath) {
        *std::get<std::string*>(p) = abs;
      } else {
        *std::get<std::optional<std::string>*>(p) = abs;
      }
      return true;
    }
    case Kind::kBinary: {
      std::string s;
      if (!ToString(node, &s, &why) || !OneLine(s, &why)) return fail(why);
      *std::get<std::string*>(p) = s.empty() ? s : ResolvePath(s, *ctx);
      return true;
    }
    case Kind::kTime: {
      std::string s;
      if (!ToString(node, &s, &why)) return fail(why);
      if (!ParseTimeSeconds(s)) {
        return fail("expected a Slurm time limit (MM, MM:SS, HH:MM:SS, D-HH, D-HH:MM or D-HH:MM:SS, "
                    "e.g. \"00:30:00\" or \"1-12:00:00\"; minutes/seconds below 60), " +
                    Got(node));
      }
      *std::get<std::string*>(p) = s;
      return true;
    }
    case Kind::kMem: {
      std::string s;
      if (!ToString(node, &s, &why)) return fail(why);
      if (!ParseMemMiB(s)) {
        std::string hint;
        if (!s.empty() && std::string("kmgt").find(s.back()) != std::string::npos) {
          std::string up = s;
          up.back() = static_cast<char>(std::toupper(static_cast<unsigned char>(up.back())));
          if (ParseMemMiB(up)) hint = "; did you mean \"" + up + "\"?";
        }
        return fail("expected memory as <positive integer>[K|M|G|T] (e.g. 4G, 500M; no unit = M), " +
                    Got(node) + hint);
      }
      *std::get<std::string*>(p) = s;
      return true;
    }
    case Kind::kEvalEvery: {
      if (node.is_scalar() && node.value == "epoch") {
        *std::get<std::string*>(p) = "epoch";
        return true;
      }
      if (node.is_scalar() && IsIntText(node.value)) {
        YNode plain = node;
        plain.plain = true;
        int64_t v;
        if (ToInt(plain, 1, int64_t{1} << 50, "\"epoch\" or an integer >= 1", &v, &why)) {
          *std::get<std::string*>(p) = std::to_string(v);
          return true;
        }
        return fail(why);
      }
      return fail("expected \"epoch\" or a number of steps >= 1, " + Got(node));
    }
    case Kind::kSlurmName: {
      if (node.is_null()) {
        std::get<std::optional<std::string>*>(p)->reset();
        return true;
      }
      std::string s;
      if (!ToString(node, &s, &why)) return fail(why);
      bool ok = !s.empty() && s.size() <= 128;
      for (char c : s) {
        ok = ok && (std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-' || c == ',');
      }
      if (!ok) {
        return fail("expected a Slurm name (1-128 characters from A-Z a-z 0-9 . _ - ,) or null, " + Got(node));
      }
      *std::get<std::optional<std::string>*>(p) = s;
      return true;
    }
    case Kind::kOptString: {
      if (node.is_null()) {
        std::get<std::optional<std::string>*>(p)->reset();
        return true;
      }
      std::string s;
      if (!ToString(node, &s, &why) || !OneLine(s, &why)) return fail(why);
      if (s.empty()) return fail("must not be empty (use null for none)");
      *std::get<std::optional<std::string>*>(p) = s;
      return true;
    }
    case Kind::kIntList: {
      auto* out = std::get<std::vector<int>*>(p);
      if (node.is_null()) {
        out->clear();
        return true;
      }
      if (!node.is_seq()) return fail("expected a list of integers like [256, 128], " + Got(node));
      if (node.items.size() > 64) return fail("at most 64 layers, got " + std::to_string(node.items.size()));
      std::vector<int> v;
      bool ok = true;
      for (size_t i = 0; i < node.items.size(); ++i) {
        int x;
        if (!ToInt32(node.items[i], f.imin, f.imax, &x, &why)) {
          ctx->Error(node.items[i].loc, key_path + "[" + std::to_string(i) + "]", why);
          ok = false;
        }
        v.push_back(x);
      }
      if (ok) *out = std::move(v);
      return ok;
    }
    case Kind::kModuleList:
    case Kind::kLines: {
      auto* out = std::get<std::vector<std::string>*>(p);
      if (node.is_null()) {
        out->clear();
        return true;
      }
      if (!node.is_seq()) return fail("expected a list of strings like [\"a\", \"b\"], " + Got(node));
      std::vector<std::string> v;
      bool ok = true;
      for (size_t i = 0; i < node.items.size(); ++i) {
        const std::string ip = key_path + "[" + std::to_string(i) + "]";
        std::string s;
        if (!ToString(node.items[i], &s, &why)) {
          ctx->Error(node.items[i].loc, ip, why);
          ok = false;
          continue;
        }
        if (f.kind == Kind::kModuleList) {
          bool good = !s.empty();
          for (unsigned char c : s) good = good && c > 0x20 && c != 0x7F;
          if (!good) {
            ctx->Error(node.items[i].loc, ip,
                       "expected a module name without spaces or control characters, " + Got(node.items[i]));
            ok = false;
            continue;
          }
        }
        v.push_back(s);
      }
      if (ok) *out = std::move(v);
      return ok;
    }
    case Kind::kEnvMap: {
      auto* out = std::get<std::vector<std::pair<std::string, std::string>>*>(p);
      if (node.is_null()) {
        out->clear();
        return true;
      }
      if (!node.is_map()) return fail("expected a mapping of NAME: value, " + Got(node));
      std::vector<std::pair<std::string, std::string>> v;
      bool ok = true;
      for (const auto& e : node.entries) {
        const std::string ip = key_path + "." + e.key.value;
        if (!IsVarName(e.key.value)) {
          ctx->Error(e.key.loc, ip,
                     "environment variable names are [A-Za-z_][A-Za-z0-9_]*, got " +
                         QuoteForMessage(e.key.value));
          ok = false;
          continue;
        }
        std::string s;
        if (e.value.is_null()) {
          ctx->Error(e.value.loc, ip, "expected a string value, got null (write \"\" for an empty value)");
          ok = false;
          continue;
        }
        if (!ToString(e.value, &s, &why)) {
          ctx->Error(e.value.loc, ip, why);
          ok = false;
          continue;
        }
        v.emplace_back(e.key.value, s);
      }
      if (ok) *out = std::move(v);
      return ok;
    }
    case Kind::kConvList:
      return DecodeConv(node, key_path, std::get<std::vector<ConvLayerSpec>*>(p), ctx);
  }
  return false;
}

}  // namespace

bool DecodeField(const Field& f, const YNode& node, const std::string& key_path, ResolvedSpec* spec,
                 Ctx* ctx) {
  // A value already reported (failed ${VAR}) is not decoded again.
  const bool ok = !AnyBad(node) && DecodeFieldImpl(f, node, key_path, spec, ctx);
  if (!ok) ctx->failed.insert(f.path);
  return ok;
}

// ---- document ------------------------------------------------------------------------

void DecodeDocument(const YNode& root, ResolvedSpec* spec, const YNode** sweep_node, Ctx* ctx) {
  *sweep_node = nullptr;
  for (const auto& e : root.entries) {
    const std::string& key = e.key.value;
    if (key == "sweep") {
      *sweep_node = &e.value;
      continue;
    }
    if (const Field* f = FindField(key); f != nullptr && f->section().empty()) {
      ctx->locs[f->path] = e.value.loc;
      DecodeField(*f, e.value, f->path, spec, ctx);
      continue;
    }
    if (FindSection(key) != nullptr) {
      if (e.value.is_null()) continue;  // "resources:" with nothing under it
      if (!e.value.is_map()) {
        ctx->Error(e.value.loc, key, "expected a mapping of " + key + " keys, " + Got(e.value));
        continue;
      }
      for (const auto& s : e.value.entries) {
        const std::string path = key + "." + s.key.value;
        const Field* f = FindField(path);
        if (f == nullptr) {
          UnknownKeyError(s.key.loc, s.key.value, key, ctx);
          continue;
        }
        ctx->locs[path] = s.value.loc;
        DecodeField(*f, s.value, path, spec, ctx);
      }
      continue;
    }
    UnknownKeyError(e.key.loc, key, "", ctx);
  }
}

void ApplyTypeDefaults(ResolvedSpec* spec, const Ctx& ctx) {
  const bool hidden_given = ctx.locs.count("model.hidden") > 0;
  const bool conv_given = ctx.locs.count("model.conv") > 0;
  if (spec->model.type == "cnn") {
    if (!hidden_given) spec->model.hidden = {128};
    if (!conv_given) {
      ConvLayerSpec a, b;
      a.filters = 32;
      b.filters = 64;
      spec->model.conv = {a, b};
    }
  } else if (spec->model.type == "linear") {
    if (!hidden_given) spec->model.hidden.clear();
  }
  // One rank per GPU unless the user says otherwise.
  if (spec->resources.gpus_per_node > 0 && ctx.locs.count("resources.tasks_per_node") == 0) {
    spec->resources.tasks_per_node = spec->resources.gpus_per_node;
  }
  // Relative default paths resolve like written ones.
  for (const auto& f : Fields()) {
    if (ctx.locs.count(f.path) > 0) continue;
    ValuePtr p = f.ref(*spec);
    if (f.kind == Kind::kPath) {
      auto* v = std::get<std::string*>(p);
      *v = ResolvePath(*v, ctx);
    } else if (f.kind == Kind::kOptPath) {
      auto* v = std::get<std::optional<std::string>*>(p);
      if (v->has_value()) *v = ResolvePath(**v, ctx);
    }
  }
}

// ---- semantic checks ----------------------------------------------------------------

void Validate(const ResolvedSpec& s, const SpecLoadOptions& options, const std::string& prefix,
              Ctx* ctx) {
  auto err = [&](const std::vector<std::string>& paths, const std::string& msg) {
    ctx->ErrorAt(paths, prefix + msg);
  };
  const auto& r = s.resources;
  const int64_t world = static_cast<int64_t>(r.nodes) * r.tasks_per_node;
  if (s.training.global_batch % world != 0) {
    int64_t lo = s.training.global_batch / world * world, hi = lo + world;
    err({"training.global_batch", "resources.tasks_per_node", "resources.nodes"},
        "global_batch " + std::to_string(s.training.global_batch) +
            " is not divisible by the world size " + std::to_string(world) + " (nodes " +
            std::to_string(r.nodes) + " x tasks_per_node " + std::to_string(r.tasks_per_node) +
            "); use a multiple of " + std::to_string(world) + ", e.g. " +
            (lo > 0 ? std::to_string(lo) + " or " : "") + std::to_string(hi));
  }
  if (r.gpus_per_node > 0 && !options.cuda_available) {
    err({"resources.gpus_per_node"},
        "gpus_per_node is " + std::to_string(r.gpus_per_node) +
            ", but this hpcai build has no CUDA backend; rebuild with cmake -DHPCAI_WITH_CUDA=ON "
            "(needs nvcc and NCCL), or set gpus_per_node: 0 to train on CPUs");
  }
  if (s.training.precision == "tf32" && r.gpus_per_node == 0) {
    err({"training.precision"}, "tf32 runs only on GPUs; use precision fp32, or request GPUs with resources.gpus_per_node");
  }
  const auto& m = s.model;
  if (m.type == "mlp" && m.hidden.empty()) {
    err({"model.hidden", "model.type"},
        "an mlp needs at least one hidden layer, e.g. [256, 128] (for none use model.type: linear)");
  }
  if (m.type == "linear" && !m.hidden.empty()) {
    err({"model.hidden", "model.type"},
        "a linear model has no hidden layers; remove model.hidden, or use model.type: mlp");
  }
  if (m.type == "cnn" && m.conv.empty()) {
    err({"model.conv", "model.type"}, "a cnn needs at least one conv layer, e.g. [{filters: 32}]");
  }
  if (m.type != "cnn" && !m.conv.empty()) {
    err({"model.conv", "model.type"}, "conv layers apply only to model.type: cnn (type is " + m.type +
                                          "); remove model.conv or set model.type: cnn");
  }
  const auto& o = s.optimizer;
  if (o.nesterov && (o.type != "sgd" || o.momentum == 0)) {
    err({"optimizer.nesterov"}, "nesterov needs optimizer.type sgd with momentum > 0 (type " + o.type +
                                    ", momentum " + FormatDouble(o.momentum) + ")");
  }
  if (s.schedule.min_lr > o.lr) {
    err({"schedule.min_lr", "optimizer.lr"}, "min_lr " + FormatDouble(s.schedule.min_lr) +
                                                 " is above optimizer.lr " + FormatDouble(o.lr));
  }
  if (auto t = ParseTimeSeconds(r.time); t && s.preemption.lead_seconds >= *t) {
    err({"preemption.lead_seconds", "resources.time"},
        "lead_seconds " + std::to_string(s.preemption.lead_seconds) +
            " must be less than the time limit resources.time \"" + r.time + "\" (" +
            std::to_string(*t) + " s)");
  }
  if (s.backend == "local" && s.launcher == "srun") {
    err({"launcher", "backend"},
        "launcher srun needs Slurm, but backend is local (ranks start with mpirun there); set "
        "launcher: mpirun");
  }
}

// ---- sweep ----------------------------------------------------------------------------

namespace {

struct Axis {
  const Field* field;
  std::string key;
  const YNode* values;  // the list
};

}  // namespace

void DecodeSweep(const YNode& node, ResolvedSpec* spec, const SpecLoadOptions& options, Ctx* ctx) {
  spec->sweep = SweepSpec{};
  if (node.is_null()) return;
  if (!node.is_map()) {
    ctx->Error(node.loc, "sweep",
               "expected a mapping like {optimizer.lr: [0.1, 0.05], max_parallel: 4}, " + Got(node));
    return;
  }
  std::vector<Axis> axes;
  bool ok = true;
  bool have_parallel = false;
  Loc parallel_loc;
  for (const auto& e : node.entries) {
    const std::string& key = e.key.value;
    const std::string kp = "sweep." + key;
    if (key == "max_parallel") {
      int64_t v;
      std::string why;
      if (!ToInt(e.value, 0, 100000, "an integer 0..100000 (0 = no limit)", &v, &why)) {
        ctx->Error(e.value.loc, kp, why);
        ok = false;
      } else {
        spec->sweep.parallelism = static_cast<int>(v);
      }
      have_parallel = true;
      parallel_loc = e.key.loc;
      continue;
    }
    const Field* f = FindField(key);
    if (f == nullptr) {
      std::string m = ClosestMatch(key, {"max_parallel"});
      if (m.empty()) m = SuggestDottedPath(key);
      ctx->Error(e.key.loc, kp,
                 "unknown sweep key: sweep keys are dotted spec paths like optimizer.lr, or "
                 "max_parallel" +
                     (m.empty() ? std::string() : "; did you mean `" + m + "`?"));
      ok = false;
      continue;
    }
    if (f->path == "name") {
      ctx->Error(e.key.loc, kp, "`name` cannot be swept: each point is named <name>-<index>");
      ok = false;
      continue;
    }
    if (!e.value.is_seq() || e.value.items.empty()) {
      ctx->Error(e.value.loc, kp,
                 "expected a non-empty list of values to try, e.g. [" + EmitFlow(*f, *spec) + ", ...], " +
                     Got(e.value));
      ok = false;
      continue;
    }
    SweepAxis axis;
    axis.key = f->path;
    std::set<std::string> seen;
    for (size_t i = 0; i < e.value.items.size(); ++i) {
      ResolvedSpec point = *spec;
      const std::string ip = kp + "[" + std::to_string(i) + "]";
      if (!DecodeField(*f, e.value.items[i], ip, &point, ctx)) {
        ok = false;
        continue;
      }
      std::string text = EmitFlow(*f, point);
      if (!seen.insert(text).second) {
        ctx->Error(e.value.items[i].loc, ip, "value " + text + " appears twice in this sweep axis");
        ok = false;
        continue;
      }
      axis.values.push_back(text);
    }
    spec->sweep.axes.push_back(axis);
    axes.push_back(Axis{f, f->path, &e.value});
  }
  if (have_parallel && axes.empty() && ok) {
    ctx->Error(parallel_loc, "sweep.max_parallel", "max_parallel without any sweep axis; add axes like optimizer.lr: [0.1, 0.05]");
    ok = false;
  }
  // Grid points are validated only on an otherwise clean spec (a broken
  // base would repeat its errors once per point).
  if (!ok || axes.empty() || !ctx->diags->empty()) return;

  int64_t points = 1;
  for (const auto& a : axes) {
    points *= static_cast<int64_t>(a.values->items.size());
    if (points > kMaxSweepPoints) break;
  }
  if (points > kMaxSweepPoints) {
    ctx->Error(node.loc, "sweep",
               "the sweep grid has more than " + std::to_string(kMaxSweepPoints) +
                   " points (Slurm's default MaxArraySize is 1001); split it into several specs");
    return;
  }
  // Point names are "<name>-<index>"; they must stay valid names.
  const std::string last = spec->name + "-" + std::to_string(points - 1);
  if (!IsSafeName(last)) {
    ctx->ErrorAt({"name"}, "with " + std::to_string(points) + " sweep points the job names reach \"" +
                               last + "\", longer than 64 characters; shorten the name");
  }
  // Validate every point (the base spec itself never runs).  A problem that
  // every point shares is reported once, plainly; a problem of some points
  // is reported once with the first point that shows it.
  struct Seen {
    SpecDiagnostic diag;
    int64_t count = 0;
    std::string first_label;
  };
  std::vector<std::string> order;
  std::map<std::string, Seen> seen;
  for (int64_t idx = 0; idx < points; ++idx) {
    ResolvedSpec point = *spec;
    point.sweep = SweepSpec{};
    Ctx pctx = *ctx;
    std::vector<SpecDiagnostic> pdiags;
    pctx.diags = &pdiags;
    pctx.quiet = true;
    std::string label;
    int64_t rem = idx;
    std::vector<size_t> choice(axes.size());
    for (size_t a = axes.size(); a-- > 0;) {  // first axis slowest
      size_t n = axes[a].values->items.size();
      choice[a] = static_cast<size_t>(rem % static_cast<int64_t>(n));
      rem /= static_cast<int64_t>(n);
    }
    for (size_t a = 0; a < axes.size(); ++a) {
      const YNode& item = axes[a].values->items[choice[a]];
      DecodeField(*axes[a].field, item, axes[a].key, &point, &pctx);
      pctx.locs[axes[a].key] = item.loc;
      label += (a ? ", " : "") + axes[a].key + "=" + spec->sweep.axes[a].values[choice[a]];
    }
    pctx.quiet = false;
    Validate(point, options, "", &pctx);
    for (auto& d : pdiags) {
      std::string key = d.key_path + "\n" + d.message;
      auto [it, inserted] = seen.try_emplace(key);
      if (inserted) {
        order.push_back(key);
        it->second.diag = d;
        it->second.first_label = "in sweep point " + std::to_string(idx) + " (" + label + "): ";
      }
      ++it->second.count;
    }
  }
  for (const auto& key : order) {
    Seen& s = seen[key];
    if (s.count != points) s.diag.message = s.first_label + s.diag.message;
    if (ctx->diags->size() < kMaxDiagnostics) ctx->diags->push_back(s.diag);
  }
}

}  // namespace hpcai::spec_internal
