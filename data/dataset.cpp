#include "data/dataset.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "graph/error.h"
#include "graph/file_util.h"
#include "data/idx.h"
#include "data/npy.h"

namespace qsim {

namespace {

namespace fs = std::filesystem;

// Samples held in memory as float32.
class TensorDataset final : public Dataset {
 public:
  TensorDataset(std::string description, Shape sample_shape, std::vector<float> data, std::vector<int64_t> labels)
      : description_(std::move(description)),
        shape_(std::move(sample_shape)),
        data_(std::move(data)),
        labels_(std::move(labels)) {
    n_ = sample_numel() == 0 ? 0 : static_cast<int64_t>(data_.size()) / sample_numel();
  }
  int64_t size() const override { return n_; }
  const Shape& sample_shape() const override { return shape_; }
  void load(int64_t i, float* dst) const override {
    const int64_t k = sample_numel();
    std::copy_n(data_.data() + i * k, k, dst);
  }
  int64_t label(int64_t i) const override {
    return labels_.empty() ? -1 : labels_[static_cast<std::size_t>(i)];
  }
  std::string description() const override { return description_; }

 private:
  std::string description_;
  Shape shape_;
  std::vector<float> data_;
  std::vector<int64_t> labels_;
  int64_t n_ = 0;
};

// Images decoded and preprocessed when loaded.
class ImageFolderDataset final : public Dataset {
 public:
  ImageFolderDataset(std::string dir, std::vector<std::string> files, std::vector<int64_t> labels, Preprocess p)
      : dir_(std::move(dir)), files_(std::move(files)), labels_(std::move(labels)), p_(std::move(p)) {
    // The sample shape comes from the first image (crop fixes it; without a crop
    // every image must come out the same size).
    const Tensor t = preprocess_image(load_image(path(0)), p_);
    shape_ = Shape(t.shape().begin() + 1, t.shape().end());
  }
  int64_t size() const override { return static_cast<int64_t>(files_.size()); }
  const Shape& sample_shape() const override { return shape_; }
  void load(int64_t i, float* dst) const override {
    const Tensor t = preprocess_image(load_image(path(i)), p_);
    if (Shape(t.shape().begin() + 1, t.shape().end()) != shape_)
      fail("{}: preprocesses to {}, other images to {} (set a crop size)", path(i), shape_str(t.shape()),
           shape_str(shape_));
    std::copy_n(t.data<float>().data(), t.numel(), dst);
  }
  int64_t label(int64_t i) const override { return labels_[static_cast<std::size_t>(i)]; }
  std::string description() const override { return "images:" + dir_; }

 private:
  std::string path(int64_t i) const { return (fs::path(dir_) / files_[static_cast<std::size_t>(i)]).string(); }
  std::string dir_;
  std::vector<std::string> files_;
  std::vector<int64_t> labels_;
  Preprocess p_;
  Shape shape_;
};

std::string find_idx(const fs::path& dir, const std::string& stem) {
  for (const char* ext : {".gz", ""}) {
    const fs::path p = dir / (stem + ext);
    std::error_code ec;
    if (fs::exists(p, ec)) return p.string();
  }
  fail("{}: no {}[.gz] (Fashion-MNIST IDX files; Debian package dataset-fashion-mnist)", dir.string(), stem);
}

std::vector<int64_t> tensor_labels(const Tensor& t, const std::string& source) {
  if (t.dtype() == DType::kFloat32 || t.dtype() == DType::kFloat64 || t.dtype() == DType::kBool)
    fail("{}: labels must be integers, got {}", source, dtype_name(t.dtype()));
  std::vector<int64_t> out(static_cast<std::size_t>(t.numel()));
  for (int64_t i = 0; i < t.numel(); ++i) out[static_cast<std::size_t>(i)] = t.as_int64(i);
  return out;
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

}  // namespace

std::unique_ptr<Dataset> load_fashion_mnist(const std::string& dir_in, Split split, int64_t limit) {
  const fs::path dir = dir_in.empty() ? fs::path(kFashionMnistDir) : fs::path(dir_in);
  std::error_code ec;
  if (!fs::is_directory(dir, ec))
    fail("{}: no such folder (Fashion-MNIST; Debian package dataset-fashion-mnist){}", dir.string(),
         ec && ec != std::errc::no_such_file_or_directory ? ": " + ec.message() : std::string());
  const std::string prefix = split == Split::kTrain ? "train" : "t10k";
  const std::string img_path = find_idx(dir, prefix + "-images-idx3-ubyte");
  const std::string lbl_path = find_idx(dir, prefix + "-labels-idx1-ubyte");
  const Tensor images = read_idx(img_path);
  const Tensor labels = read_idx(lbl_path);
  if (images.dtype() != DType::kUInt8 || images.rank() != 3)
    fail("{}: expected uint8 images N x H x W, got {} {}", img_path, dtype_name(images.dtype()),
         shape_str(images.shape()));
  if (labels.rank() != 1 || labels.dim(0) != images.dim(0))
    fail("{}: {} labels for {} images", lbl_path, labels.rank() == 1 ? labels.dim(0) : -1, images.dim(0));
  int64_t n = images.dim(0);
  if (limit > 0) n = std::min(n, limit);
  const int64_t hw = images.dim(1) * images.dim(2);
  std::vector<float> data(static_cast<std::size_t>(n * hw));
  const auto px = images.data<uint8_t>();
  for (int64_t i = 0; i < n * hw; ++i) data[static_cast<std::size_t>(i)] = px[static_cast<std::size_t>(i)] / 255.0f;
  std::vector<int64_t> lab = tensor_labels(labels, lbl_path);
  lab.resize(static_cast<std::size_t>(n));
  return std::make_unique<TensorDataset>(
      "fashion-mnist:" + dir.string() + (split == Split::kTrain ? " (train)" : " (test)"),
      Shape{1, images.dim(1), images.dim(2)}, std::move(data), std::move(lab));
}

std::vector<int64_t> read_labels(const std::string& path, const std::vector<std::string>& names) {
  if (lower(fs::path(path).extension().string()) == ".npy") return tensor_labels(read_npy(path), path);
  std::istringstream f(read_file(path));  // names the reason: missing, a folder, a name too long
  std::vector<int64_t> in_order;
  std::map<std::string, int64_t> by_name;
  std::string line;
  int lineno = 0;
  while (std::getline(f, line)) {
    ++lineno;
    const auto start = line.find_first_not_of(" \t\r");
    if (start == std::string::npos || line[start] == '#') continue;
    std::istringstream ss(line);
    std::vector<std::string> fields;
    for (std::string w; ss >> w;) fields.push_back(w);
    auto parse = [&](const std::string& s) {
      try {
        std::size_t used = 0;
        const long long v = std::stoll(s, &used);
        if (used != s.size() || v < 0) throw std::invalid_argument(s);
        return static_cast<int64_t>(v);
      } catch (const std::exception&) {
        fail("{}:{}: '{}' is not a class index", path, lineno, s);
      }
    };
    if (fields.size() == 1) {
      in_order.push_back(parse(fields[0]));
    } else if (fields.size() == 2) {
      by_name[fields[0]] = parse(fields[1]);
    } else {
      fail("{}:{}: expected '<class>' or '<file name> <class>'", path, lineno);
    }
  }
  if (!in_order.empty() && !by_name.empty()) fail("{}: mixes '<class>' and '<file name> <class>' lines", path);
  if (by_name.empty()) return in_order;
  if (names.empty()) fail("{}: '<file name> <class>' lines need image files to match", path);
  std::vector<int64_t> out;
  for (const std::string& n : names) {
    auto it = by_name.find(n);
    if (it == by_name.end()) it = by_name.find(fs::path(n).stem().string());
    if (it == by_name.end()) fail("{}: no label for image '{}'", path, n);
    out.push_back(it->second);
  }
  return out;
}

std::unique_ptr<Dataset> load_image_folder(const std::string& dir, const std::string& labels_file,
                                           const Preprocess& p, int64_t limit) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec))
    fail("{}: no such folder{}", dir, ec && ec != std::errc::no_such_file_or_directory ? ": " + ec.message() : "");
  std::vector<std::string> files;
  fs::directory_iterator it(dir, ec);
  for (; !ec && it != fs::directory_iterator(); it.increment(ec)) {
    const fs::directory_entry& e = *it;
    std::error_code type_ec;
    if (!e.is_regular_file(type_ec)) continue;
    const std::string ext = lower(e.path().extension().string());
    if (ext == ".png" || ext == ".jpg" || ext == ".jpeg") files.push_back(e.path().filename().string());
  }
  if (ec) fail("{}: cannot list the folder: {}", dir, ec.message());
  std::sort(files.begin(), files.end());
  if (files.empty()) fail("{}: no .png/.jpg/.jpeg images", dir);
  std::vector<int64_t> labels = read_labels(labels_file, files);
  if (labels.size() != files.size())
    fail("{}: {} labels for {} images in {}", labels_file, labels.size(), files.size(), dir);
  if (limit > 0 && static_cast<int64_t>(files.size()) > limit) {
    files.resize(static_cast<std::size_t>(limit));
    labels.resize(static_cast<std::size_t>(limit));
  }
  return std::make_unique<ImageFolderDataset>(dir, std::move(files), std::move(labels), p);
}

std::unique_ptr<Dataset> load_npy_dataset(const std::string& npy, const std::string& labels_file, int64_t limit) {
  Tensor t = read_npy(npy);
  if (t.rank() < 1) fail("{}: a data set needs a first (sample) axis", npy);
  if (t.dtype() != DType::kFloat32) t = t.cast(DType::kFloat32);
  int64_t n = t.dim(0);
  std::vector<int64_t> labels;
  if (!labels_file.empty()) {
    labels = read_labels(labels_file);
    if (static_cast<int64_t>(labels.size()) != n) fail("{}: {} labels for {} samples in {}", labels_file, labels.size(), n, npy);
  }
  if (limit > 0) n = std::min(n, limit);
  Shape sample(t.shape().begin() + 1, t.shape().end());
  const int64_t k = shape_numel(sample);
  std::vector<float> data(t.data<float>().begin(), t.data<float>().begin() + n * k);
  if (!labels.empty()) labels.resize(static_cast<std::size_t>(n));
  return std::make_unique<TensorDataset>("npy:" + npy, std::move(sample), std::move(data), std::move(labels));
}

DataSpec parse_data_spec(const std::string& spec) {
  DataSpec d;
  const auto colon = spec.find(':');
  const std::string kind = spec.substr(0, colon);
  const std::string rest = colon == std::string::npos ? "" : spec.substr(colon + 1);
  if (kind == "fashion-mnist") {
    d.kind = DataSpec::Kind::kFashionMnist;
  } else if (kind == "images") {
    d.kind = DataSpec::Kind::kImages;
    if (rest.empty()) fail("--data images:DIR needs a folder");
  } else if (kind == "npy") {
    d.kind = DataSpec::Kind::kNpy;
    if (rest.empty()) fail("--data npy:FILE needs a .npy file");
  } else {
    fail("--data '{}': expected fashion-mnist[:DIR], images:DIR or npy:FILE", spec);
  }
  d.path = rest;
  return d;
}

}  // namespace qsim
