#include "hpcai/base/json.h"

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace hpcai {

int64_t Json::as_int(int64_t fallback) const {
  if (type_ == Type::kInt) return i_;
  if (type_ == Type::kDouble && std::isfinite(d_)) return static_cast<int64_t>(d_);
  return fallback;
}
double Json::as_double(double fallback) const {
  if (type_ == Type::kDouble) return d_;
  if (type_ == Type::kInt) return static_cast<double>(i_);
  return fallback;
}
const std::string& Json::as_string() const {
  static const std::string kEmpty;
  return type_ == Type::kString ? s_ : kEmpty;
}
const Json::Array& Json::as_array() const {
  static const Array kEmpty;
  return type_ == Type::kArray ? a_ : kEmpty;
}
const Json::Object& Json::as_object() const {
  static const Object kEmpty;
  return type_ == Type::kObject ? o_ : kEmpty;
}
Json::Array& Json::mutable_array() {
  if (type_ != Type::kArray) { *this = Json(Array{}); }
  return a_;
}
const Json& Json::get(const std::string& key) const {
  static const Json kNull;
  if (type_ != Type::kObject) return kNull;
  for (const auto& kv : o_) if (kv.first == key) return kv.second;
  return kNull;
}
bool Json::has(const std::string& key) const {
  if (type_ != Type::kObject) return false;
  for (const auto& kv : o_) if (kv.first == key) return true;
  return false;
}
Json& Json::set(const std::string& key, Json value) {
  if (type_ != Type::kObject) { *this = Json(Object{}); }
  for (auto& kv : o_) {
    if (kv.first == key) { kv.second = std::move(value); return kv.second; }
  }
  o_.emplace_back(key, std::move(value));
  return o_.back().second;
}

bool Json::operator==(const Json& o) const {
  if (is_number() && o.is_number()) {
    if (type_ == Type::kInt && o.type_ == Type::kInt) return i_ == o.i_;
    return as_double() == o.as_double();
  }
  if (type_ != o.type_) return false;
  switch (type_) {
    case Type::kNull: return true;
    case Type::kBool: return b_ == o.b_;
    case Type::kString: return s_ == o.s_;
    case Type::kArray: return a_ == o.a_;
    case Type::kObject: return o_ == o.o_;
    default: return false;
  }
}

std::string JsonQuote(const std::string& s) {
  std::string out;
  out.reserve(s.size() + 2);
  out += '"';
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  out += '"';
  return out;
}

static void Newline(std::string* out, int indent, int depth) {
  if (indent < 0) return;
  *out += '\n';
  out->append(static_cast<size_t>(indent * depth), ' ');
}

void Json::DumpTo(std::string* out, int indent, int depth) const {
  switch (type_) {
    case Type::kNull: *out += "null"; break;
    case Type::kBool: *out += b_ ? "true" : "false"; break;
    case Type::kInt: *out += std::to_string(i_); break;
    case Type::kDouble: {
      if (!std::isfinite(d_)) { *out += "null"; break; }  // JSON has no NaN/inf
      char buf[40];
      std::snprintf(buf, sizeof buf, "%.9g", d_);
      // Short when exact (every float fits 9 digits); 17 digits when a double
      // needs them, so values round-trip bit-exactly (checkpoint metadata).
      if (std::strtod(buf, nullptr) != d_) std::snprintf(buf, sizeof buf, "%.17g", d_);
      // Keep it recognisably a float so a round trip preserves the type.
      if (!std::strpbrk(buf, ".eEn")) std::strcat(buf, ".0");
      *out += buf;
      break;
    }
    case Type::kString: *out += JsonQuote(s_); break;
    case Type::kArray: {
      *out += '[';
      for (size_t i = 0; i < a_.size(); ++i) {
        if (i) *out += indent < 0 ? "," : ",";
        Newline(out, indent, depth + 1);
        a_[i].DumpTo(out, indent, depth + 1);
      }
      if (!a_.empty()) Newline(out, indent, depth);
      *out += ']';
      break;
    }
    case Type::kObject: {
      *out += '{';
      for (size_t i = 0; i < o_.size(); ++i) {
        if (i) *out += ",";
        Newline(out, indent, depth + 1);
        *out += JsonQuote(o_[i].first);
        *out += indent < 0 ? ":" : ": ";
        o_[i].second.DumpTo(out, indent, depth + 1);
      }
      if (!o_.empty()) Newline(out, indent, depth);
      *out += '}';
      break;
    }
  }
}

std::string Json::dump(int indent) const {
  std::string out;
  DumpTo(&out, indent, 0);
  return out;
}

namespace {

class Parser {
 public:
  explicit Parser(const std::string& t) : t_(t) {}

  Result<Json> ParseDocument() {
    Json v;
    HPCAI_RETURN_IF_ERROR(ParseValue(&v, 0));
    SkipWs();
    if (p_ != t_.size()) return Error("trailing characters after JSON value");
    return v;
  }

 private:
  Status Error(const std::string& what) const {
    size_t line = 1, col = 1;
    for (size_t i = 0; i < p_ && i < t_.size(); ++i) {
      if (t_[i] == '\n') { ++line; col = 1; } else { ++col; }
    }
    return Status::Corrupt(std::to_string(line) + ":" + std::to_string(col) + ": " + what);
  }
  void SkipWs() {
    while (p_ < t_.size() && (t_[p_] == ' ' || t_[p_] == '\n' || t_[p_] == '\t' || t_[p_] == '\r')) ++p_;
  }
  bool Consume(const char* lit) {
    size_t n = std::strlen(lit);
    if (t_.compare(p_, n, lit) == 0) { p_ += n; return true; }
    return false;
  }
  Status ParseValue(Json* out, int depth) {
    if (depth > 512) return Error("nesting too deep");
    SkipWs();
    if (p_ >= t_.size()) return Error("unexpected end of input");
    char c = t_[p_];
    if (c == '{') return ParseObject(out, depth);
    if (c == '[') return ParseArray(out, depth);
    if (c == '"') {
      std::string s;
      HPCAI_RETURN_IF_ERROR(ParseString(&s));
      *out = Json(std::move(s));
      return Status::OK();
    }
    if (Consume("true")) { *out = Json(true); return Status::OK(); }
    if (Consume("false")) { *out = Json(false); return Status::OK(); }
    if (Consume("null")) { *out = Json(); return Status::OK(); }
    return ParseNumber(out);
  }
  Status ParseNumber(Json* out) {
    size_t start = p_;
    bool is_float = false;
    if (p_ < t_.size() && (t_[p_] == '-' || t_[p_] == '+')) ++p_;
    while (p_ < t_.size()) {
      char c = t_[p_];
      if (c >= '0' && c <= '9') { ++p_; continue; }
      if (c == '.' || c == 'e' || c == 'E' || ((c == '-' || c == '+') && p_ > start &&
                                                (t_[p_ - 1] == 'e' || t_[p_ - 1] == 'E'))) {
        is_float = true; ++p_; continue;
      }
      break;
    }
    if (p_ == start) return Error("unexpected character");
    std::string num = t_.substr(start, p_ - start);
    char* end = nullptr;
    if (!is_float) {
      errno = 0;
      long long v = std::strtoll(num.c_str(), &end, 10);
      if (errno == 0 && end && *end == '\0') { *out = Json(v); return Status::OK(); }
    }
    double d = std::strtod(num.c_str(), &end);
    if (!end || *end != '\0') { p_ = start; return Error("malformed number"); }
    *out = Json(d);
    return Status::OK();
  }
  static void AppendUtf8(std::string* s, unsigned cp) {
    if (cp < 0x80) { *s += static_cast<char>(cp); }
    else if (cp < 0x800) { *s += static_cast<char>(0xC0 | (cp >> 6)); *s += static_cast<char>(0x80 | (cp & 0x3F)); }
    else if (cp < 0x10000) {
      *s += static_cast<char>(0xE0 | (cp >> 12)); *s += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      *s += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
      *s += static_cast<char>(0xF0 | (cp >> 18)); *s += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
      *s += static_cast<char>(0x80 | ((cp >> 6) & 0x3F)); *s += static_cast<char>(0x80 | (cp & 0x3F));
    }
  }
  Status ParseHex4(unsigned* cp) {
    if (p_ + 4 > t_.size()) return Error("truncated \\u escape");
    unsigned v = 0;
    for (int i = 0; i < 4; ++i) {
      char h = t_[p_++];
      v <<= 4;
      if (h >= '0' && h <= '9') v |= h - '0';
      else if (h >= 'a' && h <= 'f') v |= h - 'a' + 10;
      else if (h >= 'A' && h <= 'F') v |= h - 'A' + 10;
      else return Error("bad \\u escape");
    }
    *cp = v;
    return Status::OK();
  }
  Status ParseString(std::string* s) {
    ++p_;  // opening quote
    while (p_ < t_.size()) {
      char c = t_[p_++];
      if (c == '"') return Status::OK();
      if (c != '\\') { *s += c; continue; }
      if (p_ >= t_.size()) break;
      char e = t_[p_++];
      switch (e) {
        case '"': *s += '"'; break;
        case '\\': *s += '\\'; break;
        case '/': *s += '/'; break;
        case 'n': *s += '\n'; break;
        case 't': *s += '\t'; break;
        case 'r': *s += '\r'; break;
        case 'b': *s += '\b'; break;
        case 'f': *s += '\f'; break;
        case 'u': {
          unsigned cp = 0;
          HPCAI_RETURN_IF_ERROR(ParseHex4(&cp));
          if (cp >= 0xD800 && cp < 0xDC00 && t_.compare(p_, 2, "\\u") == 0) {
            p_ += 2;
            unsigned lo = 0;
            HPCAI_RETURN_IF_ERROR(ParseHex4(&lo));
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
          }
          AppendUtf8(s, cp);
          break;
        }
        default: return Error("bad escape in string");
      }
    }
    return Error("unterminated string");
  }
  Status ParseArray(Json* out, int depth) {
    ++p_;
    Json arr = Json::MakeArray();
    SkipWs();
    if (p_ < t_.size() && t_[p_] == ']') { ++p_; *out = std::move(arr); return Status::OK(); }
    while (true) {
      Json v;
      HPCAI_RETURN_IF_ERROR(ParseValue(&v, depth + 1));
      arr.push_back(std::move(v));
      SkipWs();
      if (p_ < t_.size() && t_[p_] == ',') { ++p_; continue; }
      if (p_ < t_.size() && t_[p_] == ']') { ++p_; break; }
      return Error("expected ',' or ']'");
    }
    *out = std::move(arr);
    return Status::OK();
  }
  Status ParseObject(Json* out, int depth) {
    ++p_;
    Json obj = Json::MakeObject();
    SkipWs();
    if (p_ < t_.size() && t_[p_] == '}') { ++p_; *out = std::move(obj); return Status::OK(); }
    while (true) {
      SkipWs();
      if (p_ >= t_.size() || t_[p_] != '"') return Error("expected string key");
      std::string key;
      HPCAI_RETURN_IF_ERROR(ParseString(&key));
      SkipWs();
      if (p_ >= t_.size() || t_[p_] != ':') return Error("expected ':'");
      ++p_;
      Json v;
      HPCAI_RETURN_IF_ERROR(ParseValue(&v, depth + 1));
      obj.set(key, std::move(v));
      SkipWs();
      if (p_ < t_.size() && t_[p_] == ',') { ++p_; continue; }
      if (p_ < t_.size() && t_[p_] == '}') { ++p_; break; }
      return Error("expected ',' or '}'");
    }
    *out = std::move(obj);
    return Status::OK();
  }

  const std::string& t_;
  size_t p_ = 0;
};

}  // namespace

Result<Json> Json::Parse(const std::string& text) { return Parser(text).ParseDocument(); }

}  // namespace hpcai
