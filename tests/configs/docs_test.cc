// The schema docs cannot drift: docs/spec.md's reference tables are exactly
// what the schema table generates, `hpcai spec --defaults` is itself a valid
// spec equal to the defaults, and every `hpcai init` template validates.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "hpcai/configs/spec.h"
#include "hpcai/configs/spec_docs.h"
#include "spec_test_util.h"

namespace hpcai {
namespace {

using testing_util::Load;

TEST(Docs, SpecMdReferenceMatchesTheSchema) {
  const std::string path = testing_util::SourceDir() + "/docs/spec.md";
  std::ifstream in(path);
  ASSERT_TRUE(in.good()) << path;
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string doc = ss.str();
  const std::string begin = "<!-- BEGIN GENERATED: hpcai spec --markdown -->\n";
  const std::string end = "<!-- END GENERATED -->";
  auto b = doc.find(begin);
  auto e = doc.find(end);
  ASSERT_NE(b, std::string::npos) << "marker missing in " << path;
  ASSERT_NE(e, std::string::npos) << "marker missing in " << path;
  const std::string generated = doc.substr(b + begin.size(), e - b - begin.size());
  EXPECT_EQ(generated, SpecReferenceMarkdown())
      << "docs/spec.md is out of date: replace the part between the GENERATED markers with the output "
         "of `hpcai spec --markdown`";
}

TEST(Docs, ReferenceDocumentsEveryKey) {
  const std::string md = SpecReferenceMarkdown();
  const std::string defaults = SpecDefaultsYaml();
  // Every key of a canonical spec appears in the reference and, with a doc comment, in --defaults.
  auto r = Load("name: x\n");
  ASSERT_TRUE(r.ok());
  std::istringstream canon(CanonicalYaml(*r.spec));
  std::string section, line;
  int keys = 0;
  while (std::getline(canon, line)) {
    if (line.empty() || line[0] == '#' || line.find(':') == std::string::npos) continue;
    if (line.rfind("    ", 0) == 0 || line.rfind("  -", 0) == 0) continue;  // block items
    const bool nested = line.rfind("  ", 0) == 0;
    std::string key = line.substr(nested ? 2 : 0, line.find(':') - (nested ? 2 : 0));
    if (!nested && line.back() == ':') {
      section = key;
      continue;
    }
    if (!nested) section.clear();
    if (key == "sweep") continue;
    std::string path = section.empty() ? key : section + "." + key;
    EXPECT_NE(md.find("| `" + path + "` |"), std::string::npos) << path;
    ++keys;
  }
  EXPECT_GT(keys, 55);
  // Each --defaults line of a key carries a one-line doc.
  std::istringstream d(defaults);
  while (std::getline(d, line)) {
    if (line.empty() || line[0] == '#' || line.rfind("    ", 0) == 0) continue;
    if (line[0] != ' ' && line.back() == ':') continue;  // section header (doc on the line above)
    EXPECT_NE(line.find(" # "), std::string::npos) << "undocumented: " << line;
  }
}

TEST(Docs, DefaultsYamlIsAValidSpecEqualToTheDefaults) {
  auto from_doc = Load(SpecDefaultsYaml());
  ASSERT_TRUE(from_doc.ok()) << from_doc.FormatAll();
  auto empty = Load("{}\n");
  ASSERT_TRUE(empty.ok()) << empty.FormatAll();
  EXPECT_EQ(CanonicalYaml(*from_doc.spec), CanonicalYaml(*empty.spec));
}

TEST(Docs, StarterTemplatesValidate) {
  ASSERT_EQ(StarterTemplates(), (std::vector<std::string>{"mlp", "cnn", "linear"}));
  for (const auto& t : StarterTemplates()) {
    auto text = StarterSpec(t);
    ASSERT_TRUE(text.ok());
    auto r = Load(*text);
    ASSERT_TRUE(r.ok()) << t << "\n" << r.FormatAll();
    EXPECT_EQ(r.spec->model.type, t);
    EXPECT_EQ(r.spec->name, "fmnist-" + t);
    // Fully commented: every key line has a doc.
    EXPECT_GT(std::count(text->begin(), text->end(), '#'), 60) << t;
  }
  auto cnn = Load(*StarterSpec("cnn"));
  EXPECT_EQ(cnn.spec->model.conv.size(), 2u);
  auto bad = StarterSpec("transformer");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("mlp, cnn, linear"), std::string::npos);
}

}  // namespace
}  // namespace hpcai
