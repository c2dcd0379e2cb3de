// The one output-path policy of every qsim command, and the one writer of its files.
//
// A command names every file it reads and writes, each with the option that gave
// it, and checks them together before it does any work:
//
//   CommandFiles files;
//   files.input("--model", o.model).input("--hw", o.hw.hw);
//   files.output("--csv", o.csv).output("--json", o.json);
//   OutputFiles out = files.check();  // throws qsim::Error naming the option
//   ... the work ...
//   out.set(o.csv, csv_text);
//   out.set(o.json, json_text);
//   out.commit();                     // every declared file, or none
//
// check() refuses (one line, "<option> <path>: <problem>"): an output that is an
// input (the same file by device and inode, so symbolic and hard links count, or,
// for a file not yet there, the same name in the same folder); two outputs that are
// the same file; an output that is a folder; an output whose folder is missing, is
// not a folder or is not writable; a name the system cannot hold (a component over
// NAME_MAX, a path over PATH_MAX). Nothing here throws std::filesystem_error.
//
// commit() renders nothing: every content is already in memory. It stages each
// file as a temporary file in the target's own folder (mkstemp, ".qsim.tmp.XXXXXX")
// and renames all of them into place only when every one is complete, so a failure
// of any kind (full disk, a folder removed meanwhile) leaves no output and no
// temporary file behind, and a reader never sees a half-written file. An output
// that is a symbolic link to a file is written through the link (the link stays);
// a file replaced keeps its permission bits, a new one gets 0666 minus the umask.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace qsim::app {

class OutputFiles;

class CommandFiles {
 public:
  // A file or folder the command reads; an empty path (the option not given) is skipped.
  CommandFiles& input(std::string_view option, const std::string& path);
  // A file the command writes; an empty path is skipped.
  CommandFiles& output(std::string_view option, const std::string& path);
  // A folder the command creates when missing (with its parents) and writes the
  // files `names` into (--scalesim-out DIR); an empty `dir` is skipped.
  CommandFiles& output_folder(std::string_view option, const std::string& dir, const std::vector<std::string>& names);
  // A folder the command creates when missing and fills with files whose names only
  // the work decides (--trace DIR: DIR/layers.csv, DIR/layer<i>/*.csv); an empty `dir`
  // is skipped. check() holds the folder to the rules of output_folder; each file put
  // into it (OutputFiles::set_in) is held to the same rules when it is set, before
  // anything is written.
  CommandFiles& output_tree(std::string_view option, const std::string& dir);
  // A file the command keeps itself while it works and removes when done (qsim
  // sweep's <out>.journal, appended one point at a time so a killed sweep resumes):
  // held to every rule of an output, but written by the command, not by commit().
  CommandFiles& working_file(std::string_view option, const std::string& path);

  // The policy above; throws qsim::Error. The result writes exactly the outputs declared.
  OutputFiles check() const;

 private:
  friend class OutputFiles;
  struct Entry {
    std::string option;
    std::string path;
    std::string folder;  // output_folder: the folder the file is in, as given
    bool output = false;
    bool tree = false;  // output_tree: `path` is the folder
    bool working = false;  // working_file: checked, not committed
  };
  std::vector<Entry> entries_;
};

class OutputFiles {
 public:
  // The content of an output declared with CommandFiles::output (the path as given
  // there) or output_folder (folder / name). Setting an undeclared path is a bug
  // (std::logic_error).
  void set(const std::string& path, std::string content);
  // The content of `relative` (a relative path without "..") inside a folder declared
  // with CommandFiles::output_tree; throws qsim::Error, as check() does, when that file
  // is an input or another output or cannot be a file. An undeclared folder is a bug
  // (std::logic_error).
  void set_in(const std::string& tree, const std::string& relative, std::string content);
  // A declared output this run does not produce after all (qsim search's hw.yaml when
  // the hardware did not move): commit() leaves whatever is at that path as it is.
  void omit(const std::string& path);
  // Writes every declared output (each must have been set). Throws qsim::Error
  // "<option> <path>: cannot write: <reason>" and then leaves nothing behind.
  void commit();

 private:
  friend class CommandFiles;
  struct File {
    std::string option;
    std::string path;    // as given, for messages
    std::string target;  // where it is written: `path`, or the file a symbolic link names
    std::string content;
    bool set = false;
  };
  // What a file set into a tree must not be: an input, or another output.
  struct Known {
    std::string option;
    std::string path;
    std::string lexical;  // absolute, lexically normal
    bool has_id = false;
    uint64_t dev = 0, ino = 0;
  };
  struct Tree {
    std::string option;
    std::string dir;
  };
  std::vector<File> files_;
  std::vector<std::string> folders_;  // output folders to create, as given
  std::vector<Tree> trees_;
  std::vector<Known> inputs_;
};

// A path as messages show it: whole up to 160 characters, else its start and end
// with the length ("aaaa...aaaa (5000 characters)"), so an over-long name still
// makes a readable line.
std::string shown_path(std::string_view path);

}  // namespace qsim::app
