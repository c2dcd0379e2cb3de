// PNG/JPEG decoding (libpng, libjpeg-turbo) and ImageNet-style preprocessing.
//
// The preprocessing follows torchvision's usual evaluation transform:
// Resize(shorter side to `resize`, bilinear with antialiasing as PIL does) ->
// CenterCrop(`crop`) -> ToTensor (scale to [0, 1]) -> Normalize(mean, std),
// producing NCHW (or NHWC) float32 with a batch dimension of 1.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "graph/tensor.h"

namespace qsim {

struct Image {
  int width = 0, height = 0, channels = 0;  // channels: 1 (gray) or 3 (RGB)
  std::vector<uint8_t> pixels;               // row-major, interleaved (HWC)
};

// PNG or JPEG, recognised by content. Gray+alpha and RGBA lose their alpha.
// Throws qsim::Error naming the file for anything else or a corrupt image.
Image decode_image(std::string_view bytes, const std::string& source);
Image load_image(const std::string& path);

enum class Layout : uint8_t { kNCHW, kNHWC };

struct Preprocess {
  int64_t resize = 256;  // shorter side after resizing; 0 keeps the size
  int64_t crop = 224;    // centre crop (square); 0 keeps the whole image
  int64_t channels = 3;  // 3: RGB; 1: gray (ITU-R 601 luma, as PIL's convert("L"))
  std::vector<float> mean{0.485f, 0.456f, 0.406f};  // per channel, on the [0, 1] scale
  std::vector<float> std{0.229f, 0.224f, 0.225f};
  Layout layout = Layout::kNCHW;
};

// Resizes an image (separable triangle filter widened by the scale factor when
// shrinking, like PIL's BILINEAR).
Image resize_image(const Image& img, int width, int height);
// 1 x C x H x W (or 1 x H x W x C) float32 per `p`.
Tensor preprocess_image(const Image& img, const Preprocess& p);

}  // namespace qsim
