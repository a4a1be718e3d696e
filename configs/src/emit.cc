#include "emit.h"

#include <charconv>
#include <cmath>
#include <cstdio>

#include "hpcai/base/sha256.h"

namespace hpcai::spec_internal {
namespace {

bool IsNullWord(std::string_view s) {
  return s == "~" || s == "null" || s == "Null" || s == "NULL";
}

bool PlainSafe(std::string_view s) {
  if (s.empty() || IsNullWord(s)) return false;
  auto start_ok = [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '/' || c == '.';
  };
  auto body_ok = [&](char c) { return start_ok(c) || c == '-' || c == '+' || c == '='; };
  if (!start_ok(s[0])) return false;
  for (char c : s) {
    if (!body_ok(c)) return false;
  }
  return true;
}

// Decodes one UTF-8 code point at s[i] (input already validated); returns length.
int DecodeUtf8(std::string_view s, size_t i, uint32_t* cp) {
  unsigned char c = static_cast<unsigned char>(s[i]);
  int n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 1;
  if (i + n > s.size()) n = 1;
  uint32_t v = n == 1 ? c : n == 2 ? (c & 0x1F) : n == 3 ? (c & 0x0F) : (c & 0x07);
  for (int k = 1; k < n; ++k) v = (v << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3F);
  *cp = v;
  return n;
}

std::string DoubleQuoted(std::string_view s) {
  std::string out = "\"";
  for (size_t i = 0; i < s.size();) {
    uint32_t cp;
    int n = DecodeUtf8(s, i, &cp);
    char buf[16];
    if (cp == '"') {
      out += "\\\"";
    } else if (cp == '\\') {
      out += "\\\\";
    } else if (cp == '\n') {
      out += "\\n";
    } else if (cp == '\t') {
      out += "\\t";
    } else if (cp == '\r') {
      out += "\\r";
    } else if (cp < 0x20 || cp == 0x7F) {
      std::snprintf(buf, sizeof buf, "\\x%02x", static_cast<unsigned>(cp));
      out += buf;
    } else if (cp == 0x85 || cp == 0xA0 || cp == 0x2028 || cp == 0x2029 || cp == 0xFEFF) {
      // Line/paragraph separators and BOM are escaped so no YAML reader
      // folds or strips them.
      std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(cp));
      out += buf;
    } else {
      out.append(s.data() + i, n);
    }
    i += n;
  }
  out += "\"";
  return out;
}

std::string Join(const std::vector<std::string>& items, const char* sep) {
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) {
    if (i) out += sep;
    out += items[i];
  }
  return out;
}

std::string ConvFlow(const ConvLayerSpec& c) {
  return "{filters: " + std::to_string(c.filters) + ", kernel: " + std::to_string(c.kernel) +
         ", stride: " + std::to_string(c.stride) + ", padding: " + std::to_string(c.padding) +
         ", pool: " + std::to_string(c.pool) + "}";
}

// Block-style rendering for the multi-line kinds; empty string = use flow.
std::vector<std::string> BlockLines(const Field& f, const ResolvedSpec& spec) {
  ValuePtr p = f.ref(const_cast<ResolvedSpec&>(spec));  // read only
  std::vector<std::string> lines;
  switch (f.kind) {
    case Kind::kModuleList:
    case Kind::kLines:
      for (const auto& s : *std::get<std::vector<std::string>*>(p)) lines.push_back("- " + EmitString(s));
      break;
    case Kind::kEnvMap:
      for (const auto& [k, v] : *std::get<std::vector<std::pair<std::string, std::string>>*>(p)) {
        lines.push_back(EmitString(k) + ": " + EmitString(v));
      }
      break;
    case Kind::kConvList:
      for (const auto& c : *std::get<std::vector<ConvLayerSpec>*>(p)) lines.push_back("- " + ConvFlow(c));
      break;
    default:
      break;
  }
  return lines;
}

// "  key: value" padded so comments line up.
void AppendKeyLine(std::string* out, const std::string& indent, const std::string& key,
                   const std::string& value, const std::string& doc, bool comments) {
  std::string line = indent + key + ":" + (value.empty() ? "" : " " + value);
  if (comments && !doc.empty()) {
    constexpr size_t kCommentColumn = 36;
    if (line.size() < kCommentColumn) line.append(kCommentColumn - line.size(), ' ');
    else line += "  ";
    line += "# " + doc;
  }
  *out += line + "\n";
}

}  // namespace

std::string FormatDouble(double v) {
  if (v == 0) v = 0;  // -0.0 -> 0.0
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  std::string s(buf, r.ptr);
  if (s.find_first_of(".eEn") == std::string::npos) s += ".0";  // 'n': inf/nan never reach here
  return s;
}

std::string EmitString(std::string_view s) {
  std::string escaped;
  escaped.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    escaped += s[i];
    if (s[i] == '$' && i + 1 < s.size() && (s[i + 1] == '{' || s[i + 1] == '$')) escaped += '$';
  }
  if (PlainSafe(escaped)) return escaped;
  return DoubleQuoted(escaped);
}

std::string EmitFlow(const Field& f, const ResolvedSpec& spec) {
  ValuePtr p = f.ref(const_cast<ResolvedSpec&>(spec));  // read only
  switch (f.kind) {
    case Kind::kInt: return std::to_string(*std::get<int*>(p));
    case Kind::kInt64: return std::to_string(*std::get<int64_t*>(p));
    case Kind::kUint64: return std::to_string(*std::get<uint64_t*>(p));
    case Kind::kOptInt64: {
      const auto& o = *std::get<std::optional<int64_t>*>(p);
      return o ? std::to_string(*o) : "null";
    }
    case Kind::kDouble: return FormatDouble(*std::get<double*>(p));
    case Kind::kOptDouble: {
      const auto& o = *std::get<std::optional<double>*>(p);
      return o ? FormatDouble(*o) : "null";
    }
    case Kind::kBool: return *std::get<bool*>(p) ? "true" : "false";
    case Kind::kEvalEvery: {
      const std::string& s = *std::get<std::string*>(p);
      return s == "epoch" ? s : EmitString(s);  // digits stay plain
    }
    case Kind::kString:
    case Kind::kName:
    case Kind::kEnum:
    case Kind::kPath:
    case Kind::kBinary:
    case Kind::kTime:
    case Kind::kMem: return EmitString(*std::get<std::string*>(p));
    case Kind::kOptPath:
    case Kind::kSlurmName:
    case Kind::kOptString: {
      const auto& o = *std::get<std::optional<std::string>*>(p);
      return o ? EmitString(*o) : "null";
    }
    case Kind::kIntList: {
      std::vector<std::string> items;
      for (int v : *std::get<std::vector<int>*>(p)) items.push_back(std::to_string(v));
      return "[" + Join(items, ", ") + "]";
    }
    case Kind::kModuleList:
    case Kind::kLines: {
      std::vector<std::string> items;
      for (const auto& s : *std::get<std::vector<std::string>*>(p)) items.push_back(EmitString(s));
      return "[" + Join(items, ", ") + "]";
    }
    case Kind::kEnvMap: {
      std::vector<std::string> items;
      for (const auto& [k, v] : *std::get<std::vector<std::pair<std::string, std::string>>*>(p)) {
        items.push_back(EmitString(k) + ": " + EmitString(v));
      }
      return "{" + Join(items, ", ") + "}";
    }
    case Kind::kConvList: {
      std::vector<std::string> items;
      for (const auto& c : *std::get<std::vector<ConvLayerSpec>*>(p)) items.push_back(ConvFlow(c));
      return "[" + Join(items, ", ") + "]";
    }
  }
  return "null";
}

std::string EmitSpec(const ResolvedSpec& spec, const EmitOptions& options) {
  std::string out = options.header;
  std::string current_section;
  bool first = true;
  for (const Field& f : Fields()) {
    const std::string section = f.section();
    const std::string indent = section.empty() ? "" : "  ";
    if (section != current_section) {
      current_section = section;
      if (!section.empty()) {
        if (options.comments) {
          const Section* s = FindSection(section);
          out += "\n# " + (s ? s->doc : section) + "\n";
        }
        out += section + ":\n";
      } else if (options.comments) {
        out += "\n";  // top-level keys after a section stand apart from it
      }
    } else if (first && options.comments) {
      out += "\n";
    }
    first = false;
    std::vector<std::string> block = BlockLines(f, spec);
    if (block.empty()) {
      AppendKeyLine(&out, indent, f.leaf(), EmitFlow(f, spec), f.doc, options.comments);
    } else {
      AppendKeyLine(&out, indent, f.leaf(), "", f.doc, options.comments);
      for (const auto& l : block) out += indent + "  " + l + "\n";
    }
  }
  if (options.include_sweep) {
    const Section* s = FindSection("sweep");
    if (options.comments) out += "\n";
    if (spec.sweep.empty()) {
      AppendKeyLine(&out, "", "sweep", "{}", s ? s->doc : "", options.comments);
    } else {
      AppendKeyLine(&out, "", "sweep", "", s ? s->doc : "", options.comments);
      out += "  max_parallel: " + std::to_string(spec.sweep.parallelism) + "\n";
      for (const auto& axis : spec.sweep.axes) {
        out += "  " + EmitString(axis.key) + ": [" + Join(axis.values, ", ") + "]\n";
      }
    }
  }
  return out;
}

}  // namespace hpcai::spec_internal

namespace hpcai {

std::string CanonicalYaml(const ResolvedSpec& spec, bool include_sweep) {
  spec_internal::EmitOptions o;
  o.include_sweep = include_sweep;
  o.header =
      "# hpcai resolved spec (canonical form: every key, schema order; its sha256 is the spec hash)\n";
  return spec_internal::EmitSpec(spec, o);
}

std::string SpecHash(const ResolvedSpec& spec) { return Sha256Hex(CanonicalYaml(spec, true)); }

}  // namespace hpcai
