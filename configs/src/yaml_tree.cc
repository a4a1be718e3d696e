#include "yaml_tree.h"

#include <yaml-cpp/depthguard.h>
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/exceptions.h>
#include <yaml-cpp/mark.h>
#include <yaml-cpp/parser.h>

#include <exception>
#include <sstream>
#include <string_view>
#include <unordered_map>

#include "text_util.h"

namespace hpcai::spec_internal {

Source::Source(std::string n, std::string t) : name(std::move(n)), text(std::move(t)) {
  line_starts.push_back(0);
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\n') line_starts.push_back(i + 1);
  }
}

std::string Source::Line(int line1) const {
  if (line1 < 1 || static_cast<size_t>(line1) > line_starts.size()) return "";
  size_t b = line_starts[line1 - 1];
  size_t e = text.find('\n', b);
  if (e == std::string::npos) e = text.size();
  if (e > b && text[e - 1] == '\r') --e;
  return text.substr(b, e - b);
}

std::string YNode::Describe() const {
  switch (kind) {
    case Kind::kNull: return "null";
    case Kind::kSeq: return "a list";
    case Kind::kMap: return "a mapping";
    case Kind::kScalar: break;
  }
  if (!plain) return "the string " + QuoteForMessage(value);
  // Numbers read better bare: "got 0", "got 1e400".
  bool numeric = !value.empty() && value.size() <= 40 &&
                 value.find_first_not_of("0123456789+-.eE") == std::string::npos &&
                 value.find_first_of("0123456789") != std::string::npos;
  return numeric ? value : QuoteForMessage(value);
}

const YEntry* YNode::Find(const std::string& key) const {
  for (const auto& e : entries) {
    if (e.key.value == key) return &e;
  }
  return nullptr;
}
YEntry* YNode::Find(const std::string& key) {
  for (auto& e : entries) {
    if (e.key.value == key) return &e;
  }
  return nullptr;
}

std::string SpecSizeLimitText() { return std::to_string(kMaxSpecBytes) + " bytes (256 KiB)"; }

SpecDiagnostic MakeDiag(const Loc& loc, const std::string& key_path, const std::string& message,
                        const std::string& fallback_file) {
  SpecDiagnostic d;
  d.key_path = key_path;
  d.message = message;
  if (loc.src != nullptr) {
    d.file = loc.src->name;
  } else {
    d.file = fallback_file;
  }
  if (loc.known()) {
    std::string line = loc.src->Line(loc.line);
    d.line = loc.line;
    d.column = CharColumn(line, loc.col);
    d.source_line = line;
  }
  return d;
}

namespace {

// Thrown inside the event handler to stop yaml-cpp early (nesting, second
// document).  Caught in ParseYaml; never crosses the module boundary.
struct StopParse {};

Loc ToLoc(const Source& src, const YAML::Mark& m) {
  if (m.is_null() || m.line < 0) return Loc{&src, 0, 0};
  return Loc{&src, m.line + 1, m.column + 1};
}

class TreeBuilder : public YAML::EventHandler {
 public:
  TreeBuilder(const Source& src, std::vector<SpecDiagnostic>* diags) : src_(src), diags_(diags) {}

  YNode TakeRoot() { return std::move(root_); }
  bool ok() const { return ok_; }

  void OnDocumentStart(const YAML::Mark& mark) override {
    if (++documents_ > 1) {
      Error(ToLoc(src_, mark),
            "a spec is one YAML document, but a second document starts here (remove the `---` "
            "separator and everything after it, or split the file)");
      throw StopParse{};
    }
  }
  void OnDocumentEnd() override {}

  void OnNull(const YAML::Mark& mark, YAML::anchor_t) override {
    YNode n;
    n.kind = YNode::Kind::kNull;
    n.loc = ToLoc(src_, mark);
    Add(std::move(n));
  }

  void OnAlias(const YAML::Mark& mark, YAML::anchor_t) override {
    // Rejecting aliases outright is what bounds "billion laughs" documents:
    // nothing is ever expanded.  One report is enough (bombs have thousands).
    if (!alias_reported_) {
      Error(ToLoc(src_, mark),
            "YAML aliases (*name) are not supported in a spec; write the value out (use --set or "
            "${VAR} interpolation to share values)");
      alias_reported_ = true;
    }
    ok_ = false;
    YNode n;
    n.loc = ToLoc(src_, mark);
    Add(std::move(n));
  }

  void OnScalar(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t,
                const std::string& value) override {
    CheckTag(mark, tag);
    YNode n;
    n.kind = YNode::Kind::kScalar;
    n.loc = ToLoc(src_, mark);
    n.plain = (tag == "?");
    n.value = value;
    Add(std::move(n));
  }

  void OnSequenceStart(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {
    CheckTag(mark, tag);
    Push(mark, YNode::Kind::kSeq);
  }
  void OnSequenceEnd() override { Pop(); }

  void OnMapStart(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {
    CheckTag(mark, tag);
    Push(mark, YNode::Kind::kMap);
  }
  void OnMapEnd() override { Pop(); }

 private:
  struct Frame {
    YNode node;
    bool have_key = false;
    bool key_bad = false;  // the pending key was rejected; drop its entry
    YNode key;
    std::unordered_map<std::string, int> seen;  // key -> line, for duplicates in O(1)
  };

  void Error(const Loc& loc, const std::string& message) {
    ok_ = false;
    diags_->push_back(MakeDiag(loc, "", message, src_.name));
  }

  void CheckTag(const YAML::Mark& mark, const std::string& tag) {
    if (tag.empty() || tag == "?" || tag == "!") return;
    Error(ToLoc(src_, mark), "YAML tags (" + QuoteForMessage(tag) +
                                 ") are not supported in a spec; remove the tag (quote a value "
                                 "to make it a string)");
  }

  void Push(const YAML::Mark& mark, YNode::Kind kind) {
    if (static_cast<int>(stack_.size()) >= kMaxNesting) {
      Error(ToLoc(src_, mark), "nesting deeper than " + std::to_string(kMaxNesting) +
                                   " levels; a spec needs at most 5");
      throw StopParse{};
    }
    Frame f;
    f.node.kind = kind;
    f.node.loc = ToLoc(src_, mark);
    stack_.push_back(std::move(f));
  }

  void Pop() {
    if (stack_.empty()) return;
    Frame f = std::move(stack_.back());
    stack_.pop_back();
    Add(std::move(f.node));
  }

  void Add(YNode n) {
    // Bounds tree size (and stops yaml-cpp's scan early) whatever the shape.
    if (++nodes_ > kMaxNodes) {
      Error(n.loc, "the spec has more than " + std::to_string(kMaxNodes) +
                       " YAML values; a spec needs a few hundred at most");
      throw StopParse{};
    }
    if (stack_.empty()) {
      root_ = std::move(n);
      return;
    }
    Frame& top = stack_.back();
    if (top.node.kind == YNode::Kind::kSeq) {
      top.node.items.push_back(std::move(n));
      return;
    }
    if (!top.have_key) {
      top.key_bad = !n.is_scalar();
      if (top.key_bad) {
        Error(n.loc, n.is_null() ? std::string("empty mapping key; every key needs a name")
                                 : "mapping keys must be plain names, not " + n.Describe());
      }
      top.key = std::move(n);
      top.have_key = true;
      return;
    }
    top.have_key = false;
    if (top.key_bad) return;
    auto [it, inserted] = top.seen.try_emplace(top.key.value, top.key.loc.line);
    if (!inserted) {
      Error(top.key.loc, "duplicate key " + QuoteForMessage(top.key.value) + " (first defined at line " +
                             std::to_string(it->second) + "); each key may appear once");
      return;
    }
    top.node.entries.push_back(YEntry{std::move(top.key), std::move(n)});
    top.key = YNode();
  }

  const Source& src_;
  std::vector<SpecDiagnostic>* diags_;
  std::vector<Frame> stack_;
  YNode root_;
  int documents_ = 0;
  int nodes_ = 0;
  bool ok_ = true;
  bool alias_reported_ = false;
};

// Decodes one UTF-8 sequence at s[i]; returns its length, or 0 if invalid.
int Utf8Length(std::string_view s, size_t i) {
  auto b = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  unsigned char c = b(i);
  if (c < 0x80) return 1;
  int n;
  uint32_t cp;
  if (c >= 0xC2 && c <= 0xDF) {
    n = 2;
    cp = c & 0x1F;
  } else if (c >= 0xE0 && c <= 0xEF) {
    n = 3;
    cp = c & 0x0F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    n = 4;
    cp = c & 0x07;
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  for (int k = 1; k < n; ++k) {
    unsigned char d = b(i + k);
    if ((d & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (d & 0x3F);
  }
  if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
      (cp >= 0xD800 && cp <= 0xDFFF)) {
    return 0;
  }
  return n;
}

// Checks encoding and characters: valid UTF-8, no control characters other
// than tab/CR/LF.  Reports at most a few problems (the rest are the same).
void CheckCharacters(const Source& src, std::vector<SpecDiagnostic>* diags) {
  const std::string& t = src.text;
  int line = 1;
  size_t line_start = 0;
  int found = 0;
  for (size_t i = 0; i < t.size() && found < 5;) {
    unsigned char c = static_cast<unsigned char>(t[i]);
    if (c == '\n') {
      ++line;
      line_start = ++i;
      continue;
    }
    int n = Utf8Length(t, i);
    if (n == 0) {
      char hex[8];
      std::snprintf(hex, sizeof hex, "0x%02X", c);
      diags->push_back(MakeDiag(Loc{&src, line, static_cast<int>(i - line_start) + 1}, "",
                                std::string("invalid UTF-8 byte ") + hex +
                                    "; a spec must be UTF-8 text (re-save the file as UTF-8)",
                                src.name));
      ++found;
      // Skip to the next line: one report per line is enough.
      size_t nl = t.find('\n', i);
      i = (nl == std::string::npos) ? t.size() : nl;
      continue;
    }
    const bool lone_cr = c == '\r' && (i + 1 >= t.size() || t[i + 1] != '\n');
    if ((c < 0x20 && c != '\t' && c != '\r') || c == 0x7F || lone_cr) {
      char hex[8];
      std::snprintf(hex, sizeof hex, "0x%02X", c);
      diags->push_back(MakeDiag(Loc{&src, line, static_cast<int>(i - line_start) + 1}, "",
                                lone_cr ? std::string("carriage return without a line feed; save the file "
                                                      "with Unix (\\n) or Windows (\\r\\n) line endings")
                                        : std::string("control character ") + hex +
                                              " is not allowed in a spec (write it as an escape, e.g. "
                                              "\"\\t\", inside a double-quoted string)",
                                src.name));
      ++found;
      size_t nl = t.find('\n', i);
      i = (nl == std::string::npos) ? t.size() : nl;
      continue;
    }
    i += n;
  }
}

// A linear pre-scan that bounds nesting depth before yaml-cpp (whose parser
// recurses per level) sees the text, and reports tabs used as indentation
// with their exact column.  It over-estimates depth only for unusual inputs
// (a limit of 32 against the 5 a spec needs leaves a wide margin).
void PreScan(const Source& src, std::vector<SpecDiagnostic>* diags, Loc* unclosed) {
  const std::string& t = src.text;
  std::vector<Loc> open;  // where each open flow collection began
  Loc quote_loc;          // where the current quoted scalar began
  std::vector<int> indents;  // block indentation stack
  int flow_depth = 0;
  int flow_base = 0;          // block depth where the current flow collection began
  char quote = 0;             // inside a quoted scalar spanning lines
  int block_scalar_indent = -1;
  int reported = 0;
  const size_t nlines = src.line_starts.size();
  for (size_t li = 0; li < nlines && reported < 5; ++li) {
    const int line_no = static_cast<int>(li) + 1;
    size_t b = src.line_starts[li];
    size_t e = (li + 1 < nlines) ? src.line_starts[li + 1] - 1 : t.size();
    std::string_view line(t.data() + b, e - b);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);

    size_t pos = 0;
    int indent = 0;
    if (quote == 0) {
      while (pos < line.size() && line[pos] == ' ') ++pos;
      indent = static_cast<int>(pos);
      const bool blank = pos >= line.size() || line[pos] == '#' ||
                         line.find_first_not_of(" \t", pos) == std::string_view::npos;
      if (block_scalar_indent >= 0) {
        if (blank || indent > block_scalar_indent) continue;  // literal content
        block_scalar_indent = -1;
      }
      if (blank) continue;
      if (line[pos] == '\t' && flow_depth == 0) {
        diags->push_back(MakeDiag(Loc{&src, line_no, static_cast<int>(pos) + 1}, "",
                                  "tab character in indentation; YAML indents with spaces only",
                                  src.name));
        ++reported;
        continue;
      }
      if (flow_depth == 0) {
        while (!indents.empty() && indents.back() > indent) indents.pop_back();
        if (indents.empty() || indents.back() < indent) indents.push_back(indent);
        int depth = static_cast<int>(indents.size());
        // "- - - x" nests without indenting.
        size_t p = pos;
        while (p < line.size() && (line[p] == '-' || line[p] == '?') &&
               (p + 1 == line.size() || line[p + 1] == ' ')) {
          ++depth;
          p += 2;
          while (p < line.size() && line[p] == ' ') ++p;
        }
        if (depth > kMaxNesting) {
          diags->push_back(MakeDiag(Loc{&src, line_no, static_cast<int>(pos) + 1}, "",
                                    "nesting deeper than " + std::to_string(kMaxNesting) +
                                        " levels; a spec needs at most 5",
                                    src.name));
          return;
        }
        flow_base = depth;
      }
    }
    // Character scan: quotes, flow brackets, comments, block scalar indicators.
    char prev = 0;  // last significant (non-space) character on this line
    for (size_t i = pos; i < line.size(); ++i) {
      char c = line[i];
      if (quote != 0) {
        if (quote == '"' && c == '\\') {
          ++i;
          continue;
        }
        if (c == quote) {
          if (quote == '\'' && i + 1 < line.size() && line[i + 1] == '\'') {
            ++i;
            continue;
          }
          quote = 0;
          prev = c;
        }
        continue;
      }
      if (c == ' ' || c == '\t') continue;
      const bool value_start = prev == 0 || prev == ':' || prev == '-' || prev == '?' ||
                               prev == ',' || prev == '[' || prev == '{';
      if (c == '#' && (i == 0 || line[i - 1] == ' ' || line[i - 1] == '\t')) break;
      if ((c == '"' || c == '\'') && value_start) {
        quote = c;
        quote_loc = Loc{&src, line_no, static_cast<int>(i) + 1};
        continue;
      }
      if ((c == '[' || c == '{') && (flow_depth > 0 || value_start)) {
        ++flow_depth;
        open.push_back(Loc{&src, line_no, static_cast<int>(i) + 1});
        if (flow_base + flow_depth > kMaxNesting) {
          diags->push_back(MakeDiag(Loc{&src, line_no, static_cast<int>(i) + 1}, "",
                                    "nesting deeper than " + std::to_string(kMaxNesting) +
                                        " levels; a spec needs at most 5",
                                    src.name));
          return;
        }
      } else if ((c == ']' || c == '}') && flow_depth > 0) {
        --flow_depth;
        open.pop_back();
      } else if ((c == '|' || c == '>') && flow_depth == 0 && (prev == ':' || prev == '-' || prev == 0)) {
        block_scalar_indent = indent;
      }
      prev = c;
    }
  }
  if (quote != 0) {
    // yaml-cpp 0.7 silently ends an unterminated quoted scalar at the end of
    // the input, swallowing every line after it into one string.
    diags->push_back(MakeDiag(quote_loc, "",
                              std::string("YAML syntax error: this ") + quote +
                                  " is never closed (the string runs to the end of the file)",
                              src.name));
    return;
  }
  if (!open.empty()) *unclosed = open.back();
}

}  // namespace

bool ParseYaml(const Source& src, YNode* root, std::vector<SpecDiagnostic>* diags) {
  *root = YNode();
  const size_t before = diags->size();
  CheckCharacters(src, diags);
  Loc unclosed;
  if (diags->size() == before) PreScan(src, diags, &unclosed);
  if (diags->size() != before) return false;

  TreeBuilder builder(src, diags);
  try {
    std::istringstream in(src.text);
    YAML::Parser parser(in);
    if (parser.HandleNextDocument(builder)) {
      // A second call parses on only to detect a second document; the
      // builder stops at its start.
      parser.HandleNextDocument(builder);
    }
  } catch (const StopParse&) {
  } catch (const YAML::DeepRecursion& e) {
    diags->push_back(MakeDiag(ToLoc(src, e.mark), "",
                              "nesting deeper than " + std::to_string(kMaxNesting) +
                                  " levels; a spec needs at most 5",
                              src.name));
  } catch (const YAML::Exception& e) {
    if (unclosed.known() && e.msg.find("flow") != std::string::npos) {
      // yaml-cpp notices an unclosed [ or { only at the end of the input;
      // point at the bracket itself.
      const std::string line = src.Line(unclosed.line);
      const char b = unclosed.col - 1 < static_cast<int>(line.size()) ? line[unclosed.col - 1] : '[';
      diags->push_back(MakeDiag(unclosed, "",
                                std::string("YAML syntax error: this ") + b + " is never closed (expected " +
                                    (b == '[' ? "]" : "}") + " before the end of the file)",
                                src.name));
    } else {
      diags->push_back(MakeDiag(ToLoc(src, e.mark), "", SyntaxMessage(e.msg), src.name));
    }
  } catch (const std::exception& e) {
    diags->push_back(MakeDiag(Loc{}, "", std::string("cannot parse the spec: ") + e.what(), src.name));
  }
  if (diags->size() != before || !builder.ok()) return false;
  *root = builder.TakeRoot();
  return true;
}

}  // namespace hpcai::spec_internal
