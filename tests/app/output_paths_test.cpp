// The output-path policy (app/output_paths.h): what check() refuses before any
// work, and what commit() writes (everything or nothing, atomically, through links).
#include "app/output_paths.h"

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>

#include <gtest/gtest.h>

#include "graph/error.h"
#include "tests/test_files.h"

namespace qsim::app {
namespace {

namespace fs = std::filesystem;

void put(const fs::path& p, const std::string& text) {
  std::ofstream out(p, std::ios::binary);
  out << text;
}

// A fresh folder per test, removed afterwards.
class OutputPaths : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("qsim_paths_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string p(const std::string& name) const { return (dir_ / name).string(); }
  // The files in the folder (recursively), to check nothing else was left.
  std::size_t count() const {
    std::size_t n = 0;
    for (auto it = fs::recursive_directory_iterator(dir_); it != fs::recursive_directory_iterator(); ++it) ++n;
    return n;
  }
  std::string refusal(const CommandFiles& f) const {
    try {
      f.check();
    } catch (const Error& e) {
      return e.what();
    }
    return "";
  }
  fs::path dir_;
};

TEST_F(OutputPaths, WritesEveryDeclaredFileAndFolder) {
  CommandFiles f;
  f.output("--csv", p("x.csv")).output_folder("--scalesim-out", p("a/b"), {"R1.csv", "R2.csv"});
  OutputFiles out = f.check();
  EXPECT_FALSE(fs::exists(p("a"))) << "check() creates nothing";
  out.set(p("x.csv"), "x\n");
  out.set(p("a/b/R1.csv"), "1\n");
  out.set(p("a/b/R2.csv"), "2\n");
  out.commit();
  EXPECT_EQ(slurp(p("x.csv")), "x\n");
  EXPECT_EQ(slurp(p("a/b/R1.csv")), "1\n");
  EXPECT_EQ(slurp(p("a/b/R2.csv")), "2\n");
  EXPECT_EQ(count(), 5u) << "no temporary file left";
}

TEST_F(OutputPaths, AnOutputNeverReplacesAnInput) {
  put(p("m.onnx"), "model");
  CommandFiles f;
  f.input("--model", p("m.onnx")).output("--json", p("m.onnx"));
  EXPECT_NE(refusal(f).find("--json " + p("m.onnx") + ": is also the input --model"), std::string::npos)
      << refusal(f);
  // Through another spelling, a symbolic link and a hard link.
  fs::create_symlink(p("m.onnx"), p("link.onnx"));
  fs::create_hard_link(p("m.onnx"), p("hard.onnx"));
  for (const std::string& other : {dir_.string() + "/./m.onnx", p("link.onnx"), p("hard.onnx")}) {
    CommandFiles g;
    g.input("--model", p("m.onnx")).output("--out", other);
    EXPECT_NE(refusal(g).find("is also the input --model"), std::string::npos) << other << ": " << refusal(g);
  }
  EXPECT_EQ(slurp(p("m.onnx")), "model");
}

TEST_F(OutputPaths, TwoOutputsNeverShareAFile) {
  CommandFiles f;
  f.output("--csv", p("x")).output("--json", dir_.string() + "/sub/../x");
  fs::create_directories(p("sub"));
  EXPECT_NE(refusal(f).find("is also the output --csv"), std::string::npos) << refusal(f);
  CommandFiles g;  // a file not there yet, in the same folder reached two ways
  fs::create_directory_symlink(dir_, p("alias"));
  g.output("--csv", p("y")).output("--json", p("alias/y"));
  EXPECT_NE(refusal(g).find("is also the output --csv"), std::string::npos) << refusal(g);
  CommandFiles h;  // a folder output's file
  h.output("--csv", p("new/R1.csv")).output_folder("--scalesim-out", p("new"), {"R1.csv"});
  EXPECT_NE(refusal(h).find("is also the output --csv"), std::string::npos) << refusal(h);
}

TEST_F(OutputPaths, RefusesWhatCannotBeWritten) {
  fs::create_directories(p("d"));
  put(p("file"), "f");
  const std::string long_name(300, 'a');
  const struct {
    std::string path;
    std::string problem;
  } cases[] = {
      {p("d"), "is a folder"},
      {p("d") + "/", "names a folder"},
      {p("missing/x.csv"), "the folder '" + p("missing") + "' does not exist"},
      {p("file/x.csv"), "'" + p("file") + "' is not a folder"},
      {p(long_name), "the name is too long"},
      {p(long_name + "/x.csv"), "the name is too long"},
  };
  for (const auto& c : cases) {
    CommandFiles f;
    f.output("--csv", c.path);
    const std::string why = refusal(f);
    EXPECT_NE(why.find(c.problem), std::string::npos) << c.path << ": " << why;
    EXPECT_EQ(why.rfind("--csv ", 0), 0u) << why;
    EXPECT_LT(why.size(), 400u) << "long names are shortened: " << why;
  }
  CommandFiles f;  // a folder output under a file
  f.output_folder("--scalesim-out", p("file/sub"), {"R.csv"});
  EXPECT_NE(refusal(f).find("is not a folder"), std::string::npos) << refusal(f);
}

TEST_F(OutputPaths, FailureLeavesNothing) {
  CommandFiles f;
  f.output_folder("--scalesim-out", p("new"), {"first.csv"}).output("--csv", p("gone/second.csv"));
  fs::create_directories(p("gone"));
  OutputFiles out = f.check();
  fs::remove(p("gone"));  // the folder disappears between the check and the commit
  out.set(p("new/first.csv"), "1\n");
  out.set(p("gone/second.csv"), "2\n");
  try {
    out.commit();
    FAIL() << "commit into a removed folder succeeded";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()).rfind("--csv " + p("gone/second.csv") + ": cannot write: ", 0), 0u) << e.what();
  }
  EXPECT_EQ(count(), 0u) << "the created folder and the first staged file are removed";
}

TEST_F(OutputPaths, ReplacesAtomicallyKeepingModeAndLinks) {
  put(p("old.csv"), "old");
  fs::permissions(p("old.csv"), fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read);
  put(p("real.json"), "real");
  fs::create_symlink("real.json", p("link.json"));
  CommandFiles f;
  f.output("--csv", p("old.csv")).output("--json", p("link.json"));
  OutputFiles out = f.check();
  out.set(p("old.csv"), "new");
  out.set(p("link.json"), "through");
  out.commit();
  EXPECT_EQ(slurp(p("old.csv")), "new");
  EXPECT_EQ(fs::status(p("old.csv")).permissions() & fs::perms::all,
            fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read);
  EXPECT_TRUE(fs::is_symlink(p("link.json"))) << "the link stays";
  EXPECT_EQ(slurp(p("real.json")), "through");
  EXPECT_EQ(count(), 3u);
}

TEST_F(OutputPaths, WritesDevicesInPlace) {
  CommandFiles f;
  f.output("--json", "/dev/null");
  OutputFiles out = f.check();
  out.set("/dev/null", "{}\n");
  out.commit();
  struct stat st {};
  ASSERT_EQ(::stat("/dev/null", &st), 0);
  EXPECT_TRUE(S_ISCHR(st.st_mode)) << "/dev/null is still the device";
}

TEST_F(OutputPaths, WritesOnlyWhatWasDeclared) {
  CommandFiles f;
  f.output("--csv", p("x.csv"));
  OutputFiles out = f.check();
  EXPECT_THROW(out.set(p("y.csv"), "y"), std::logic_error);
  EXPECT_THROW(out.commit(), std::logic_error) << "x.csv was declared but never set";
  EXPECT_EQ(count(), 0u);
}

// A folder whose files only the run names (--trace DIR): created with its subfolders,
// each file held to the policy when it is set, before anything is written.
TEST_F(OutputPaths, FillsAFolderWithFilesTheRunNames) {
  put(p("m.csv"), "model");
  CommandFiles f;
  f.input("--topology", p("m.csv")).output("--csv", p("r.csv")).output_tree("--trace", p("tr"));
  OutputFiles out = f.check();
  EXPECT_FALSE(fs::exists(p("tr"))) << "check() creates nothing";
  out.set(p("r.csv"), "r\n");
  out.set_in(p("tr"), "layer0/A.csv", "a\n");
  out.set_in(p("tr"), "layers.csv", "l\n");
  EXPECT_THROW(out.set_in(p("tr"), "../x.csv", "x"), std::logic_error) << "never outside the folder";
  EXPECT_THROW(out.set_in(p("other"), "x.csv", "x"), std::logic_error) << "an undeclared folder";
  out.commit();
  EXPECT_EQ(slurp(p("tr/layer0/A.csv")), "a\n");
  EXPECT_EQ(slurp(p("tr/layers.csv")), "l\n");
  EXPECT_EQ(count(), 6u) << "m.csv, r.csv, tr, tr/layers.csv, tr/layer0, tr/layer0/A.csv";
}

TEST_F(OutputPaths, AFolderOfTheRunsFilesNeverHoldsAnInputOrAnotherOutput) {
  fs::create_directories(p("tr"));
  put(p("tr/layers.csv"), "model");
  CommandFiles f;
  f.input("--topology", p("tr/layers.csv")).output("--csv", p("tr/r.csv")).output_tree("--trace", p("tr"));
  OutputFiles out = f.check();
  try {
    out.set_in(p("tr"), "layers.csv", "l\n");
    FAIL() << "an input replaced";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("its layers.csv is also the input --topology"), std::string::npos) << e.what();
  }
  try {
    out.set_in(p("tr"), "r.csv", "l\n");
    FAIL() << "another output replaced";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("its r.csv is also the output --csv"), std::string::npos) << e.what();
  }
  EXPECT_EQ(slurp(p("tr/layers.csv")), "model");
  // The folder itself: not a file, not another output's file or folder.
  put(p("f"), "x");
  CommandFiles g;
  g.output_tree("--trace", p("f"));
  EXPECT_NE(refusal(g).find("is not a folder"), std::string::npos) << refusal(g);
  CommandFiles h;
  h.output_folder("--scalesim-out", p("o"), {"R.csv"}).output_tree("--trace", p("o"));
  EXPECT_NE(refusal(h).find("--trace " + p("o") + ": is also the output --scalesim-out"), std::string::npos)
      << refusal(h);
}

// A declared output a run does not produce (qsim search's hw.yaml when the hardware
// stayed): left as it is.
TEST_F(OutputPaths, AnOmittedOutputIsLeftAsItIs) {
  put(p("hw.yaml"), "old");
  CommandFiles f;
  f.output("--out", p("a.json")).output("--out", p("hw.yaml"));
  OutputFiles out = f.check();
  out.set(p("a.json"), "a");
  out.omit(p("hw.yaml"));
  EXPECT_THROW(out.omit(p("b.json")), std::logic_error);
  out.commit();
  EXPECT_EQ(slurp(p("a.json")), "a");
  EXPECT_EQ(slurp(p("hw.yaml")), "old");
}

TEST(ShownPath, ShortensLongNames) {
  EXPECT_EQ(shown_path("a/b.csv"), "a/b.csv");
  const std::string s = shown_path(std::string(5000, 'x'));
  EXPECT_LT(s.size(), 140u);
  EXPECT_NE(s.find("(5000 characters)"), std::string::npos);
}

}  // namespace
}  // namespace qsim::app
