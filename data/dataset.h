// Labelled evaluation and calibration data for the executor.
//
// A Dataset hands out samples (one float32 tensor each, without the batch
// dimension) and labels by index; load() is thread-safe so evaluation workers
// fill their batches in parallel. Sources:
// - Fashion-MNIST (Debian's dataset-fashion-mnist, IDX files): the 10k test split
//   for evaluation, the 60k train split for calibration; pixels scaled to [0, 1]
//   as torchvision's ToTensor does; samples 1 x 28 x 28.
// - a folder of PNG/JPEG images with a labels file, decoded and preprocessed on
//   demand (see image.h);
// - a .npy tensor whose first axis indexes samples, with a labels file.
// Labels files: .npy of integers, or text with either one class index per line
// (in sample order; for images: sorted file-name order) or "<file name> <class>"
// lines (images). Blank lines and lines starting with '#' are ignored.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "graph/tensor.h"
#include "data/image.h"

namespace qsim {

class Dataset {
 public:
  virtual ~Dataset() = default;
  virtual int64_t size() const = 0;
  virtual const Shape& sample_shape() const = 0;
  int64_t sample_numel() const { return shape_numel(sample_shape()); }
  // Writes sample i (sample_numel() floats) to dst. Thread-safe.
  virtual void load(int64_t i, float* dst) const = 0;
  // Class index of sample i, or -1 when the data set has no labels.
  virtual int64_t label(int64_t i) const = 0;
  virtual std::string description() const = 0;
};

enum class Split : uint8_t { kTrain, kTest };

inline constexpr const char* kFashionMnistDir = "/usr/share/datasets/fashion-mnist";

// Reads {train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz] from `dir` (default
// kFashionMnistDir). limit > 0 keeps the first `limit` samples.
std::unique_ptr<Dataset> load_fashion_mnist(const std::string& dir, Split split, int64_t limit = 0);
// Every .png/.jpg/.jpeg in `dir` (sorted by name), labelled by `labels_file`.
std::unique_ptr<Dataset> load_image_folder(const std::string& dir, const std::string& labels_file,
                                           const Preprocess& p, int64_t limit = 0);
// Samples along the first axis of a .npy array (converted to float32).
std::unique_ptr<Dataset> load_npy_dataset(const std::string& npy, const std::string& labels_file,
                                          int64_t limit = 0);

// "fashion-mnist[:DIR]", "images:DIR" or "npy:FILE", as `qsim eval --data` takes them.
struct DataSpec {
  enum class Kind : uint8_t { kFashionMnist, kImages, kNpy } kind = Kind::kFashionMnist;
  std::string path;  // empty: the default folder (Fashion-MNIST)
};
DataSpec parse_data_spec(const std::string& spec);

// Integer labels from a .npy file or a text file (see above). For a text file of
// "<name> <class>" lines, `names` (image file names) gives the sample order.
std::vector<int64_t> read_labels(const std::string& path, const std::vector<std::string>& names = {});

}  // namespace qsim
