#include "app/output_paths.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <optional>
#include <stdexcept>

#include <fmt/format.h>

#include "graph/error.h"

namespace qsim::app {

namespace fs = std::filesystem;

std::string shown_path(std::string_view path) {
  if (path.size() <= 160) return std::string(path);
  return fmt::format("{}...{} ({} characters)", path.substr(0, 60), path.substr(path.size() - 40), path.size());
}

namespace {

struct FileId {
  dev_t dev = 0;
  ino_t ino = 0;
  bool operator==(const FileId&) const = default;
};

// The folder a path is in, as a path that can be stat'ed: "out.csv" -> ".".
std::string folder_of(const std::string& path) {
  const std::string parent = fs::path(path).parent_path().string();
  return parent.empty() ? std::string(".") : parent;
}

// The absolute, lexically normal spelling: two outputs in a folder that does not
// exist yet have no inode to compare, only their names.
std::string lexical_key(const std::string& path) {
  fs::path p(path);
  if (p.is_relative()) {
    char cwd[PATH_MAX];
    if (::getcwd(cwd, sizeof cwd) != nullptr) p = fs::path(cwd) / p;
  }
  return p.lexically_normal().string();
}

// What the system says about a path that cannot be written, as a message tail.
std::string why_not(int err, const std::string& path) {
  switch (err) {
    case ENAMETOOLONG:
      return fmt::format("cannot write: the name is too long (at most {} bytes a name, {} a path)", NAME_MAX,
                         PATH_MAX - 1);
    case ENOTDIR: {
      // Name the part that is a file, not a folder.
      for (fs::path p = fs::path(path).parent_path(); !p.empty(); p = p.parent_path()) {
        struct stat st {};
        if (::stat(p.c_str(), &st) == 0) {
          if (!S_ISDIR(st.st_mode)) return fmt::format("cannot write: '{}' is not a folder", shown_path(p.string()));
          break;
        }
        if (p == p.parent_path()) break;
      }
      return "cannot write: a part of the path is not a folder";
    }
    default: return fmt::format("cannot write: {}", std::strerror(err));
  }
}

// The folder an output goes into must exist (or be created: `create`), be a folder
// and be writable. Returns the problem, or nothing.
std::optional<std::string> folder_problem(const std::string& folder, bool create) {
  struct stat st {};
  if (::stat(folder.c_str(), &st) != 0) {
    const int err = errno;
    if (err == ENOENT && create) {
      // Created at commit: its nearest existing ancestor must take it.
      for (fs::path p = fs::path(folder).lexically_normal(); ; p = p.parent_path()) {
        if (p.empty() || p.string() == ".") p = ".";
        if (::stat(p.c_str(), &st) == 0) return folder_problem(p.string(), false);
        if (errno != ENOENT) return why_not(errno, p.string() + "/x");
        if (p == p.parent_path() || p.string() == ".") break;
      }
      return std::nullopt;
    }
    if (err == ENOENT) return fmt::format("cannot write: the folder '{}' does not exist", shown_path(folder));
    return why_not(err, folder + "/x");
  }
  if (!S_ISDIR(st.st_mode)) return fmt::format("cannot write: '{}' is not a folder", shown_path(folder));
  if (::access(folder.c_str(), W_OK | X_OK) != 0)
    return fmt::format("cannot write in the folder '{}': {}", shown_path(folder), std::strerror(errno));
  return std::nullopt;
}

}  // namespace

CommandFiles& CommandFiles::input(std::string_view option, const std::string& path) {
  if (!path.empty()) entries_.push_back({std::string(option), path, "", false});
  return *this;
}

CommandFiles& CommandFiles::output(std::string_view option, const std::string& path) {
  if (!path.empty()) entries_.push_back({std::string(option), path, "", true});
  return *this;
}

CommandFiles& CommandFiles::output_folder(std::string_view option, const std::string& dir,
                                          const std::vector<std::string>& names) {
  if (dir.empty()) return *this;
  for (const std::string& n : names) entries_.push_back({std::string(option), (fs::path(dir) / n).string(), dir, true});
  return *this;
}

CommandFiles& CommandFiles::output_tree(std::string_view option, const std::string& dir) {
  if (!dir.empty()) entries_.push_back({std::string(option), dir, dir, true, true});
  return *this;
}

CommandFiles& CommandFiles::working_file(std::string_view option, const std::string& path) {
  if (!path.empty()) entries_.push_back({std::string(option), path, "", true, false, true});
  return *this;
}

OutputFiles CommandFiles::check() const {
  struct Seen {
    const Entry* entry;
    std::optional<FileId> id;        // the file itself, when it exists
    std::optional<FileId> folder;    // its folder, when the file does not exist yet
    std::string name;                // its file name (with `folder`)
    std::string lexical;
    std::optional<std::string> problem;
    std::string target;
  };
  std::vector<Seen> inputs, outputs, trees;
  for (const Entry& e : entries_) {
    if (e.tree) {
      // The folder itself: created when missing; what goes in it is checked by set_in.
      Seen s{&e, {}, {}, "", lexical_key(e.path), folder_problem(e.path, true), e.path};
      struct stat st {};
      if (::stat(e.path.c_str(), &st) == 0) s.id = FileId{st.st_dev, st.st_ino};
      trees.push_back(std::move(s));
      continue;
    }
    Seen s{&e, {}, {}, fs::path(e.path).filename().string(), lexical_key(e.path), {}, e.path};
    struct stat st {};
    const bool exists = ::stat(e.path.c_str(), &st) == 0;
    const int err = exists ? 0 : errno;
    if (exists) s.id = FileId{st.st_dev, st.st_ino};
    if (!e.output) {
      inputs.push_back(std::move(s));  // a missing or unreadable input is its reader's to report
      continue;
    }
    if (e.path.back() == '/' || s.name.empty() || s.name == "." || s.name == "..") {
      s.problem = "cannot write: names a folder, not a file";
    } else if (exists) {
      if (S_ISDIR(st.st_mode)) {
        s.problem = "cannot write: is a folder";
      } else if (!S_ISREG(st.st_mode)) {
        // A device or a pipe (/dev/null): written in place, nothing to rename over.
        if (::access(e.path.c_str(), W_OK) != 0) s.problem = why_not(errno, e.path);
      } else {
        s.problem = folder_problem(folder_of(e.path), false);
        struct stat lst {};
        if (::lstat(e.path.c_str(), &lst) == 0 && S_ISLNK(lst.st_mode)) {
          // Written through the link: the file it names is replaced, the link stays.
          if (char* real = ::realpath(e.path.c_str(), nullptr)) {
            s.target = real;
            std::free(real);
          }
        }
      }
    } else if (err == ENOENT) {
      const std::string folder = e.folder.empty() ? folder_of(e.path) : e.folder;
      s.problem = folder_problem(folder, !e.folder.empty());
      struct stat fst {};
      if (!s.problem && ::stat(folder.c_str(), &fst) == 0) s.folder = FileId{fst.st_dev, fst.st_ino};
    } else {
      s.problem = why_not(err, e.path);
    }
    outputs.push_back(std::move(s));
  }

  const auto same = [](const Seen& a, const Seen& b) {
    if (a.id && b.id) return *a.id == *b.id;
    if (a.folder && b.folder && *a.folder == *b.folder && a.name == b.name) return true;
    return a.lexical == b.lexical;
  };
  OutputFiles out;
  for (std::size_t i = 0; i < outputs.size(); ++i) {
    const Seen& o = outputs[i];
    // A folder output (--scalesim-out DIR) is named as the user gave it, with the file of it at fault.
    const bool in_folder = !o.entry->folder.empty();
    const std::string head = fmt::format("{} {}", o.entry->option,
                                         shown_path(in_folder ? o.entry->folder : o.entry->path));
    const std::string what = in_folder ? fmt::format("its {} is", o.name) : std::string("is");
    for (const Seen& in : inputs)
      if ((o.id && in.id && *o.id == *in.id) || o.lexical == in.lexical)
        fail("{}: {} also the input {} {}; an output never replaces an input", head, what, in.entry->option,
             shown_path(in.entry->path));
    for (std::size_t j = 0; j < i; ++j)
      if (same(o, outputs[j]))
        fail("{}: {} also the output {} {}; give each output its own file", head, what, outputs[j].entry->option,
             shown_path(outputs[j].entry->path));
  }
  for (const Seen& t : trees) {
    const std::string head = fmt::format("{} {}", t.entry->option, shown_path(t.entry->path));
    for (const Seen& in : inputs)
      if ((t.id && in.id && *t.id == *in.id) || t.lexical == in.lexical)
        fail("{}: is also the input {} {}; an output never replaces an input", head, in.entry->option,
             shown_path(in.entry->path));
    for (const Seen& o : outputs)
      if ((t.id && o.id && *t.id == *o.id) || t.lexical == o.lexical ||
          (!o.entry->folder.empty() && lexical_key(o.entry->folder) == t.lexical))
        fail("{}: is also the output {} {}; give each output its own file", head, o.entry->option,
             shown_path(o.entry->folder.empty() ? o.entry->path : o.entry->folder));
  }
  // Then what keeps each from being written (a collision says more than a missing folder).
  for (const Seen& o : outputs) {
    const bool in_folder = !o.entry->folder.empty();
    if (o.problem)
      fail("{} {}: {}", o.entry->option, shown_path(in_folder ? o.entry->folder : o.entry->path), *o.problem);
    if (o.entry->working) continue;
    out.files_.push_back({o.entry->option, o.entry->path, o.target, {}, false});
    if (!o.entry->folder.empty() &&
        std::find(out.folders_.begin(), out.folders_.end(), o.entry->folder) == out.folders_.end())
      out.folders_.push_back(o.entry->folder);
  }
  for (const Seen& t : trees) {
    if (t.problem) fail("{} {}: {}", t.entry->option, shown_path(t.entry->path), *t.problem);
    out.trees_.push_back({t.entry->option, t.entry->path});
    out.folders_.push_back(t.entry->path);
  }
  if (!trees.empty())
    for (const Seen& in : inputs)
      out.inputs_.push_back({in.entry->option, in.entry->path, in.lexical, in.id.has_value(),
                             in.id ? static_cast<uint64_t>(in.id->dev) : 0, in.id ? static_cast<uint64_t>(in.id->ino) : 0});
  return out;
}

void OutputFiles::set_in(const std::string& tree, const std::string& relative, std::string content) {
  const auto t = std::find_if(trees_.begin(), trees_.end(), [&](const Tree& x) { return x.dir == tree; });
  if (t == trees_.end())
    throw std::logic_error("OutputFiles::set_in: '" + tree + "' was not declared with CommandFiles::output_tree");
  const fs::path rel(relative);
  bool climbs = false;
  for (const fs::path& part : rel) climbs = climbs || part == "..";
  if (relative.empty() || rel.is_absolute() || climbs || rel.filename().empty())
    throw std::logic_error("OutputFiles::set_in: '" + relative + "' is not a file name inside the folder");
  const std::string path = (fs::path(tree) / rel).string();
  const std::string head = fmt::format("{} {}", t->option, shown_path(tree));
  const std::string lexical = lexical_key(path);
  struct stat st {};
  const bool exists = ::stat(path.c_str(), &st) == 0;
  for (const Known& in : inputs_)
    if (lexical == in.lexical || (exists && in.has_id && in.dev == st.st_dev && in.ino == st.st_ino))
      fail("{}: its {} is also the input {} {}; an output never replaces an input", head, relative, in.option,
           shown_path(in.path));
  for (const File& f : files_)
    if (lexical_key(f.path) == lexical)
      fail("{}: its {} is also the output {} {}; give each output its own file", head, relative, f.option,
           shown_path(f.path));
  if (exists && S_ISDIR(st.st_mode)) fail("{}: its {}: cannot write: is a folder", head, relative);
  if (path.size() >= PATH_MAX) fail("{}: its {}: {}", head, relative, why_not(ENAMETOOLONG, path));
  for (const fs::path& part : rel)
    if (part.string().size() > NAME_MAX) fail("{}: its {}: {}", head, relative, why_not(ENAMETOOLONG, path));
  const std::string parent = fs::path(path).parent_path().string();
  if (std::find(folders_.begin(), folders_.end(), parent) == folders_.end()) folders_.push_back(parent);
  std::string target = path;
  if (exists && S_ISREG(st.st_mode)) {
    struct stat lst {};
    if (::lstat(path.c_str(), &lst) == 0 && S_ISLNK(lst.st_mode))
      if (char* real = ::realpath(path.c_str(), nullptr)) {
        target = real;
        std::free(real);
      }
  }
  files_.push_back({t->option, path, target, std::move(content), true});
}

void OutputFiles::omit(const std::string& path) {
  for (auto it = files_.begin(); it != files_.end(); ++it)
    if (it->path == path) {
      files_.erase(it);
      return;
    }
  throw std::logic_error("OutputFiles::omit: '" + path + "' was not declared with CommandFiles::output");
}

void OutputFiles::set(const std::string& path, std::string content) {
  for (File& f : files_)
    if (f.path == path) {
      f.content = std::move(content);
      f.set = true;
      return;
    }
  throw std::logic_error("OutputFiles::set: '" + path + "' was not declared with CommandFiles::output");
}

namespace {

// write(2) until done; false with errno set on failure.
bool write_all(int fd, const std::string& content) {
  const char* p = content.data();
  std::size_t left = content.size();
  while (left > 0) {
    const ssize_t n = ::write(fd, p, left);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return false;
    p += n;
    left -= static_cast<std::size_t>(n);
  }
  return true;
}

mode_t new_file_mode() {
  const mode_t mask = ::umask(0);  // read the umask (no call only reads it)
  ::umask(mask);
  return 0666 & ~mask;
}

}  // namespace

void OutputFiles::commit() {
  for (const File& f : files_)
    if (!f.set) throw std::logic_error("OutputFiles::commit: '" + f.path + "' was declared but never set");

  std::vector<fs::path> created;  // folders made here, outermost first, to undo on failure
  std::vector<std::string> staged(files_.size());
  std::vector<bool> in_place(files_.size(), false);  // devices and pipes: written directly, after the renames
  const auto undo = [&] {
    for (const std::string& t : staged)
      if (!t.empty()) ::unlink(t.c_str());
    for (auto it = created.rbegin(); it != created.rend(); ++it) ::rmdir(it->c_str());  // only while empty
  };
  const auto failed = [&](const File& f, int err) {
    undo();
    fail("{} {}: cannot write: {}", f.option, shown_path(f.path), std::strerror(err));
  };

  for (const std::string& d : folders_) {
    std::vector<fs::path> missing;
    for (fs::path p = fs::path(d).lexically_normal(); !p.empty(); p = p.parent_path()) {
      struct stat st {};
      if (::stat(p.c_str(), &st) == 0) break;
      missing.push_back(p);
      if (p == p.parent_path()) break;
    }
    for (auto it = missing.rbegin(); it != missing.rend(); ++it) {
      if (::mkdir(it->c_str(), 0777) != 0 && errno != EEXIST) {
        const int err = errno;
        undo();
        fail("{}: cannot create the folder: {}", shown_path(it->string()), std::strerror(err));
      }
      created.push_back(*it);
    }
  }

  const mode_t fresh_mode = new_file_mode();
  for (std::size_t i = 0; i < files_.size(); ++i) {
    const File& f = files_[i];
    struct stat st {};
    const bool exists = ::stat(f.target.c_str(), &st) == 0;
    if (exists && !S_ISREG(st.st_mode)) {
      in_place[i] = true;  // e.g. /dev/null or a named pipe: nothing to rename over
      continue;
    }
    std::string tmp = folder_of(f.target) + "/.qsim.tmp.XXXXXX";
    const int fd = ::mkstemp(tmp.data());
    if (fd < 0) failed(f, errno);
    staged[i] = tmp;
    const bool ok = ::fchmod(fd, exists ? (st.st_mode & 07777) : fresh_mode) == 0 && write_all(fd, f.content);
    const int err = errno;
    if (::close(fd) != 0 && ok) failed(f, errno);
    if (!ok) failed(f, err);
  }
  // Every file is complete on disk; a rename within one folder does not need space,
  // so this is the all-or-nothing point.
  for (std::size_t i = 0; i < files_.size(); ++i) {
    if (staged[i].empty()) continue;
    if (::rename(staged[i].c_str(), files_[i].target.c_str()) != 0) {
      const int err = errno;
      for (std::size_t j = i; j < staged.size(); ++j)
        if (!staged[j].empty()) ::unlink(staged[j].c_str());
      fail("{} {}: cannot write: {}", files_[i].option, shown_path(files_[i].path), std::strerror(err));
    }
    staged[i].clear();
  }
  for (std::size_t i = 0; i < files_.size(); ++i) {
    if (!in_place[i]) continue;
    const File& f = files_[i];
    const int fd = ::open(f.target.c_str(), O_WRONLY | O_NOCTTY | O_CLOEXEC);
    const bool ok = fd >= 0 && write_all(fd, f.content);
    const int err = errno;
    if (fd >= 0) ::close(fd);
    if (!ok) fail("{} {}: cannot write: {}", f.option, shown_path(f.path), std::strerror(err));
  }
}

}  // namespace qsim::app
