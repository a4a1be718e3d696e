// Small text helpers for spec diagnostics (private to configs/).
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace hpcai::spec_internal {

// A user value for an error message: double-quoted, control characters and
// invalid UTF-8 escaped (so a hostile spec cannot drive the terminal), and
// long values shortened with "...".
std::string QuoteForMessage(std::string_view s, size_t max_chars = 60);

// Makes a source line safe to echo on a terminal: control characters other
// than tab and invalid UTF-8 bytes become '?'.
std::string SanitizeLine(std::string_view s);

// 1-based character (code point) column of 1-based byte column `byte_col`.
int CharColumn(std::string_view line, int byte_col);

// yaml-cpp's syntax message made actionable.
std::string SyntaxMessage(const std::string& yaml_msg);

// Levenshtein distance (bounded inputs: keys are short).
int EditDistance(std::string_view a, std::string_view b);

// The closest candidate to `word` when it is plausibly a typo, else "".
std::string ClosestMatch(std::string_view word, const std::vector<std::string>& candidates);

}  // namespace hpcai::spec_internal
