#include "text_util.h"

#include <algorithm>
#include <cstdio>

namespace hpcai::spec_internal {
namespace {

// Length of a valid UTF-8 sequence at s[i] (1 for ASCII), 0 if invalid.
int Utf8Len(std::string_view s, size_t i) {
  unsigned char c = static_cast<unsigned char>(s[i]);
  if (c < 0x80) return 1;
  int n = (c >= 0xC2 && c <= 0xDF) ? 2 : (c >= 0xE0 && c <= 0xEF) ? 3 : (c >= 0xF0 && c <= 0xF4) ? 4 : 0;
  if (n == 0 || i + n > s.size()) return 0;
  for (int k = 1; k < n; ++k) {
    if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return 0;
  }
  return n;
}

}  // namespace

std::string QuoteForMessage(std::string_view s, size_t max_chars) {
  std::string out = "\"";
  size_t chars = 0;
  for (size_t i = 0; i < s.size();) {
    if (chars >= max_chars) {
      out += "...";
      break;
    }
    unsigned char c = static_cast<unsigned char>(s[i]);
    int n = Utf8Len(s, i);
    if (n == 0 || c < 0x20 || c == 0x7F) {
      switch (c) {
        case '\n': out += "\\n"; break;
        case '\t': out += "\\t"; break;
        case '\r': out += "\\r"; break;
        default: {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\x%02X", c);
          out += buf;
        }
      }
      i += 1;
    } else {
      if (c == '"' || c == '\\') out += '\\';
      out.append(s.data() + i, n);
      i += n;
    }
    ++chars;
  }
  out += "\"";
  return out;
}

std::string SanitizeLine(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    int n = Utf8Len(s, i);
    if (n == 0 || (c < 0x20 && c != '\t') || c == 0x7F) {
      out += '?';
      i += 1;
    } else {
      out.append(s.data() + i, n);
      i += n;
    }
  }
  return out;
}

int CharColumn(std::string_view line, int byte_col) {
  if (byte_col <= 1) return std::max(byte_col, 1);
  int col = 1;
  size_t end = std::min(line.size(), static_cast<size_t>(byte_col - 1));
  for (size_t i = 0; i < end; ++i) {
    if ((static_cast<unsigned char>(line[i]) & 0xC0) != 0x80) ++col;
  }
  // Columns past the end of the line (e.g. "end of file") stay as given.
  if (static_cast<size_t>(byte_col - 1) > line.size()) col += byte_col - 1 - static_cast<int>(line.size());
  return col;
}

std::string SyntaxMessage(const std::string& yaml_msg) {
  std::string m = "YAML syntax error: " + yaml_msg;
  if (yaml_msg.find("flow") != std::string::npos && yaml_msg.find("not found") != std::string::npos) {
    m += " (an opening [ or { is never closed)";
  } else if (yaml_msg.find("illegal map value") != std::string::npos) {
    m += " (is a space missing after a ':' or is a value indented wrongly?)";
  } else if (yaml_msg.find("end of map not found") != std::string::npos ||
             yaml_msg.find("end of sequence not found") != std::string::npos) {
    m += " (check the indentation of this line against the lines above)";
  } else if (yaml_msg.find("tab") != std::string::npos) {
    m += " (YAML indents with spaces only)";
  }
  return m;
}

int EditDistance(std::string_view a, std::string_view b) {
  // Optimal string alignment distance: insert, delete, substitute, and swap
  // of two adjacent characters ("nodse" -> "nodes") each cost 1.
  const size_t n = a.size(), m = b.size();
  std::vector<int> d((n + 1) * (m + 1));
  auto at = [&](size_t i, size_t j) -> int& { return d[i * (m + 1) + j]; };
  for (size_t i = 0; i <= n; ++i) at(i, 0) = static_cast<int>(i);
  for (size_t j = 0; j <= m; ++j) at(0, j) = static_cast<int>(j);
  for (size_t i = 1; i <= n; ++i) {
    for (size_t j = 1; j <= m; ++j) {
      int cost = a[i - 1] == b[j - 1] ? 0 : 1;
      at(i, j) = std::min({at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        at(i, j) = std::min(at(i, j), at(i - 2, j - 2) + 1);
      }
    }
  }
  return at(n, m);
}

std::string ClosestMatch(std::string_view word, const std::vector<std::string>& candidates) {
  if (word.size() > 200) return "";
  std::string best;
  int best_d = 1 << 30;
  for (const auto& c : candidates) {
    int d = EditDistance(word, c);
    if (d < best_d) {
      best_d = d;
      best = c;
    }
  }
  // Plausible typo: at most a third of the longer word, at least 1 edit allowed, at most 3.
  int allowed = std::clamp(static_cast<int>(std::max(word.size(), best.size()) / 3), 1, 3);
  if (best.empty() || best_d > allowed) return "";
  return best;
}

}  // namespace hpcai::spec_internal
