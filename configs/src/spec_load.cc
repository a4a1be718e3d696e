// LoadSpecFile / LoadSpecText: read -> parse -> overrides -> ${VAR} ->
// decode -> type defaults -> sweep -> semantic checks.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <deque>
#include <filesystem>
#include <memory>

#include "decode.h"
#include "emit.h"
#include "hpcai/configs/spec.h"
#include "schema.h"
#include "text_util.h"
#include "yaml_tree.h"

namespace hpcai {

using spec_internal::Ctx;
using spec_internal::Loc;
using spec_internal::Source;
using spec_internal::YEntry;
using spec_internal::YNode;

// ---- diagnostics formatting ----------------------------------------------------------

std::string SpecDiagnostic::Format() const {
  // Names come from user text (keys, paths): never let them drive the terminal.
  std::string out = spec_internal::SanitizeLine(file);
  if (line > 0) out += ":" + std::to_string(line) + ":" + std::to_string(column);
  out += ": ";
  if (!key_path.empty()) out += spec_internal::SanitizeLine(key_path) + ": ";
  out += spec_internal::SanitizeLine(message);
  if (line > 0 && !source_line.empty()) {
    // Echo the line (sanitised; windowed when very long) with a caret under
    // `column`.  Tabs are copied into the caret's padding so it lines up.
    std::string clean = spec_internal::SanitizeLine(source_line);
    std::vector<std::string> chars;
    for (size_t i = 0; i < clean.size();) {
      size_t n = 1;
      unsigned char c = static_cast<unsigned char>(clean[i]);
      if (c >= 0xF0) n = 4;
      else if (c >= 0xE0) n = 3;
      else if (c >= 0xC0) n = 2;
      n = std::min(n, clean.size() - i);
      chars.push_back(clean.substr(i, n));
      i += n;
    }
    size_t caret = static_cast<size_t>(std::max(column, 1) - 1);
    size_t begin = 0, end = chars.size();
    constexpr size_t kWindow = 100;
    std::string lead, tail;
    if (chars.size() > 2 * kWindow) {
      begin = caret > kWindow / 2 ? std::min(caret - kWindow / 2, chars.size()) : 0;
      end = std::min(begin + kWindow, chars.size());
      if (begin > 0) lead = "...";
      if (end < chars.size()) tail = "...";
    }
    std::string shown = lead, pad(lead.size(), ' ');
    for (size_t i = begin; i < end; ++i) {
      shown += chars[i];
      if (i < caret) pad += chars[i] == "\t" ? "\t" : " ";
    }
    shown += tail;
    if (caret > end) pad.append(caret - std::max(end, begin), ' ');
    out += "\n  " + shown + "\n  " + pad + "^";
  }
  return out;
}

std::string SpecLoadResult::FormatAll() const {
  std::string out;
  for (const auto& d : diagnostics) out += d.Format() + "\n";
  return out;
}

// ---- loading ------------------------------------------------------------------------------

namespace {

std::string CurrentDir() {
  std::error_code ec;
  auto p = std::filesystem::current_path(ec);
  return ec ? std::string("/") : p.string();
}

// Parses "key.path=value" and applies it to the document tree.
void ApplyOverride(const Source& full, const Source& value_src, YNode* root, Ctx* ctx) {
  const std::string& text = full.text;
  auto eq = text.find('=');
  auto key_loc = Loc{&full, 1, 1};
  if (eq == std::string::npos || eq == 0) {
    ctx->Error(key_loc, "", "expected --set key.path=value (e.g. --set optimizer.lr=0.1), got " +
                                spec_internal::QuoteForMessage(text));
    return;
  }
  const std::string path = text.substr(0, eq);
  std::vector<SpecDiagnostic> parse_diags;
  YNode value;
  if (!spec_internal::ParseYaml(value_src, &value, &parse_diags)) {
    for (auto& d : parse_diags) {
      d.file = full.name;
      d.source_line = full.text.find('\n') == std::string::npos ? full.text : d.source_line;
      d.key_path = path;
      ctx->diags->push_back(d);
    }
    return;
  }
  // Re-point locations at the full override text (same columns by construction).
  std::vector<YNode*> stack{&value};
  while (!stack.empty()) {
    YNode* n = stack.back();
    stack.pop_back();
    n->loc.src = &full;
    for (auto& i : n->items) stack.push_back(&i);
    for (auto& e : n->entries) {
      e.key.loc.src = &full;
      stack.push_back(&e.value);
    }
  }
  if (value.loc.line == 0) value.loc = Loc{&full, 1, static_cast<int>(eq) + 2};

  // Which entry to set: a field path, "sweep", or "sweep.<axis key or max_parallel>".
  std::string section, key;
  if (path == "sweep") {
    key = path;
  } else if (path.rfind("sweep.", 0) == 0) {
    section = "sweep";
    key = path.substr(6);
  } else if (const auto* f = spec_internal::FindField(path); f != nullptr) {
    section = f->section();
    key = f->leaf();
  } else {
    std::string m = spec_internal::SuggestDottedPath(path);
    std::string msg = "unknown key";
    if (spec_internal::FindSection(path) != nullptr) m.clear();
    if (!m.empty()) {
      msg += "; did you mean `" + m + "`?";
    } else if (spec_internal::FindSection(path) != nullptr) {
      msg += ": --set takes a single key such as " + path + "." + spec_internal::SectionKeys(path).front();
    } else {
      msg += " (`hpcai spec --defaults` lists every key)";
    }
    ctx->Error(key_loc, path, msg);
    return;
  }
  YNode* parent = root;
  if (!section.empty()) {
    YEntry* se = root->Find(section);
    if (se == nullptr) {
      YEntry ne;
      ne.key.kind = YNode::Kind::kScalar;
      ne.key.value = section;
      ne.key.loc = key_loc;
      ne.value.kind = YNode::Kind::kMap;
      ne.value.loc = key_loc;
      root->entries.push_back(std::move(ne));
      se = &root->entries.back();
    } else if (!se->value.is_map()) {
      // "resources:" left empty (null) or a wrong type: the override wins.
      se->value = YNode();
      se->value.kind = YNode::Kind::kMap;
      se->value.loc = key_loc;
    }
    parent = &se->value;
  }
  if (YEntry* e = parent->Find(key); e != nullptr) {
    e->value = std::move(value);
  } else {
    YEntry ne;
    ne.key.kind = YNode::Kind::kScalar;
    ne.key.value = key;
    ne.key.loc = key_loc;
    ne.value = std::move(value);
    parent->entries.push_back(std::move(ne));
  }
}

// Diagnostics in reading order: the spec file top to bottom, then each
// --set, then those without a location.
void SortDiagnostics(std::vector<SpecDiagnostic>* diags, const std::vector<std::string>& source_order) {
  auto rank = [&](const SpecDiagnostic& d) -> std::tuple<int, int, int> {
    int r = static_cast<int>(source_order.size());
    for (size_t i = 0; i < source_order.size(); ++i) {
      if (source_order[i] == d.file) r = static_cast<int>(i);
    }
    if (d.line == 0) r = static_cast<int>(source_order.size()) + 1;
    return {r, d.line, d.column};
  };
  std::stable_sort(diags->begin(), diags->end(),
                   [&](const SpecDiagnostic& a, const SpecDiagnostic& b) { return rank(a) < rank(b); });
}

SpecLoadResult LoadImpl(const std::string& text, const std::string& display_name,
                        const SpecLoadOptions& options, const std::string& source_path) {
  SpecLoadResult result;
  std::vector<SpecDiagnostic>& diags = result.diagnostics;
  if (text.size() > spec_internal::kMaxSpecBytes) {
    SpecDiagnostic d;
    d.file = display_name;
    d.message = "the spec is " + std::to_string(text.size()) + " bytes; the limit is " +
                spec_internal::SpecSizeLimitText() + ". Is this the right file?";
    diags.push_back(d);
    return result;
  }
  // Sources must outlive the tree (nodes point into them).
  std::deque<Source> sources;
  sources.emplace_back(display_name, text);
  std::vector<std::string> source_order{display_name};

  Ctx ctx;
  ctx.diags = &diags;
  ctx.file = display_name;
  ctx.env = options.env;
  ctx.cwd = CurrentDir();

  YNode root;
  if (!spec_internal::ParseYaml(sources.front(), &root, &diags)) return result;
  if (root.is_null()) {
    SpecDiagnostic d = spec_internal::MakeDiag(Loc{}, "",
                                               "the spec is empty; it needs a mapping of keys such as "
                                               "name, resources, data, model (see `hpcai init`)",
                                               display_name);
    diags.push_back(d);
    return result;
  }
  if (!root.is_map()) {
    ctx.Error(root.loc, "",
              "the spec must be a mapping of keys (name: ..., resources: ...), but the document is " +
                  root.Describe());
    return result;
  }

  for (size_t i = 0; i < options.overrides.size(); ++i) {
    const std::string& o = options.overrides[i];
    const std::string name = "--set #" + std::to_string(i + 1);
    auto eq = o.find('=');
    std::string padded = eq == std::string::npos ? "" : std::string(eq + 1, ' ') + o.substr(eq + 1);
    if (o.size() > spec_internal::kMaxSpecBytes) {
      ctx.Error(Loc{}, "", name + " is longer than " + spec_internal::SpecSizeLimitText());
      continue;
    }
    sources.emplace_back(name, o);
    sources.emplace_back(name, padded);
    source_order.push_back(name);
    ApplyOverride(sources[sources.size() - 2], sources.back(), &root, &ctx);
  }

  spec_internal::InterpolateTree(&root, "", &ctx);

  ResolvedSpec spec;
  const YNode* sweep_node = nullptr;
  spec_internal::DecodeDocument(root, &spec, &sweep_node, &ctx);
  spec_internal::ApplyTypeDefaults(&spec, ctx);
  if (sweep_node != nullptr) spec_internal::DecodeSweep(*sweep_node, &spec, options, &ctx);
  if (spec.sweep.empty()) spec_internal::Validate(spec, options, "", &ctx);
  if (!diags.empty()) {
    SortDiagnostics(&diags, source_order);
    return result;
  }
  spec.source_path = source_path;
  spec.base_dir = ctx.cwd;
  result.spec = std::move(spec);
  return result;
}

}  // namespace

SpecLoadResult LoadSpecText(const std::string& text, const std::string& display_name,
                            const SpecLoadOptions& options) {
  try {
    return LoadImpl(text, display_name, options, "");
  } catch (const std::exception& e) {
    // Defensive: nothing above is expected to throw except on exhaustion.
    SpecLoadResult r;
    SpecDiagnostic d;
    d.file = display_name;
    d.message = std::string("internal error while loading the spec: ") + e.what();
    r.diagnostics.push_back(d);
    return r;
  }
}

SpecLoadResult LoadSpecFile(const std::string& path, const SpecLoadOptions& options) {
  SpecLoadResult r;
  auto fail = [&](const std::string& message) {
    SpecDiagnostic d;
    d.file = path;
    d.message = message;
    r.diagnostics.push_back(d);
    return r;
  };
  // Read at most kMaxSpecBytes + 1 bytes, so a huge file, /dev/zero or a
  // FIFO costs bounded time and memory.
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) {
    if (errno == ENOENT) return fail("cannot read the spec: no such file");
    return fail(std::string("cannot read the spec: ") + std::strerror(errno));
  }
  struct stat st {};
  if (::fstat(fd, &st) == 0) {
    if (S_ISDIR(st.st_mode)) {
      ::close(fd);
      return fail("is a directory; expected a YAML spec file");
    }
    if (S_ISREG(st.st_mode) && static_cast<size_t>(st.st_size) > spec_internal::kMaxSpecBytes) {
      ::close(fd);
      return fail("the spec is " + std::to_string(st.st_size) + " bytes; the limit is " +
                  spec_internal::SpecSizeLimitText() + ". Is this the right file?");
    }
    if (!S_ISREG(st.st_mode)) {
      // Pipes and devices: block normally (O_NONBLOCK was for opening FIFOs).
      int flags = ::fcntl(fd, F_GETFL);
      if (flags >= 0) ::fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
    }
  }
  std::string text;
  char buf[1 << 16];
  while (text.size() <= spec_internal::kMaxSpecBytes) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      std::string m = std::strerror(errno);
      ::close(fd);
      return fail("cannot read the spec: " + m);
    }
    if (n == 0) break;
    text.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  if (text.size() > spec_internal::kMaxSpecBytes) {
    return fail("the spec is larger than the limit of " + spec_internal::SpecSizeLimitText() +
                ". Is this the right file?");
  }
  std::error_code ec;
  std::string abs = std::filesystem::absolute(path, ec).lexically_normal().string();
  try {
    return LoadImpl(text, path, options, ec ? path : abs);
  } catch (const std::exception& e) {
    return fail(std::string("internal error while loading the spec: ") + e.what());
  }
}

// ---- sweep expansion ---------------------------------------------------------------------

Result<std::vector<ResolvedSpec>> ExpandSweep(const ResolvedSpec& spec) {
  if (spec.sweep.empty()) return std::vector<ResolvedSpec>{spec};
  int64_t points = 1;
  for (const auto& a : spec.sweep.axes) {
    if (a.values.empty()) return Status::SpecError("sweep axis " + a.key + " has no values");
    points *= static_cast<int64_t>(a.values.size());
    if (points > spec_internal::kMaxSweepPoints) {
      return Status::SpecError("the sweep grid has more than " + std::to_string(spec_internal::kMaxSweepPoints) +
                               " points");
    }
  }
  // Parse every axis value once.
  std::deque<Source> sources;
  std::vector<std::vector<YNode>> values(spec.sweep.axes.size());
  std::vector<const spec_internal::Field*> fields;
  for (size_t a = 0; a < spec.sweep.axes.size(); ++a) {
    const auto& axis = spec.sweep.axes[a];
    const auto* f = spec_internal::FindField(axis.key);
    if (f == nullptr || f->path == "name") {
      return Status::SpecError("sweep key " + axis.key + " is not a spec key that can be swept");
    }
    fields.push_back(f);
    for (const auto& text : axis.values) {
      sources.emplace_back("sweep." + axis.key, text);
      std::vector<SpecDiagnostic> diags;
      YNode n;
      if (!spec_internal::ParseYaml(sources.back(), &n, &diags)) {
        return Status::SpecError("sweep value " + text + " for " + axis.key + " is not valid YAML");
      }
      values[a].push_back(std::move(n));
    }
  }
  std::vector<ResolvedSpec> out;
  out.reserve(static_cast<size_t>(points));
  for (int64_t idx = 0; idx < points; ++idx) {
    ResolvedSpec point = spec;
    point.sweep = SweepSpec{};
    std::vector<SpecDiagnostic> diags;
    Ctx ctx;
    ctx.diags = &diags;
    ctx.file = "sweep";
    ctx.cwd = spec.base_dir.empty() ? CurrentDir() : spec.base_dir;
    int64_t rem = idx;
    std::vector<size_t> choice(values.size());
    for (size_t a = values.size(); a-- > 0;) {  // first axis slowest
      choice[a] = static_cast<size_t>(rem % static_cast<int64_t>(values[a].size()));
      rem /= static_cast<int64_t>(values[a].size());
    }
    for (size_t a = 0; a < values.size(); ++a) {
      spec_internal::DecodeField(*fields[a], values[a][choice[a]], "sweep." + fields[a]->path, &point, &ctx);
    }
    point.name = spec.name + "-" + std::to_string(idx);
    SpecLoadOptions options;
    options.cuda_available = true;  // the build check ran when the spec was loaded
    spec_internal::Validate(point, options, "", &ctx);
    if (!spec_internal::IsSafeName(point.name)) {
      return Status::SpecError("sweep point name \"" + point.name + "\" is not a valid name (too long?)");
    }
    if (!diags.empty()) {
      std::string msg = "sweep point " + std::to_string(idx) + " is invalid:";
      for (const auto& d : diags) msg += "\n" + d.Format();
      return Status::SpecError(msg);
    }
    out.push_back(std::move(point));
  }
  return out;
}

}  // namespace hpcai
