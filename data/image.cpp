#include "data/image.h"

#include <algorithm>
#include <cmath>
#include <csetjmp>
#include <cstdio>
#include <cstring>

#include <jpeglib.h>
#include <png.h>

#include "graph/error.h"
#include "graph/file_util.h"

namespace qsim {

namespace {

Image decode_png(std::string_view bytes, const std::string& source) {
  png_image im;
  std::memset(&im, 0, sizeof im);
  im.version = PNG_IMAGE_VERSION;
  if (!png_image_begin_read_from_memory(&im, bytes.data(), bytes.size()))
    fail("{}: bad PNG: {}", source, im.message);
  const bool gray = (im.format & PNG_FORMAT_FLAG_COLOR) == 0;
  im.format = gray ? PNG_FORMAT_GRAY : PNG_FORMAT_RGB;  // alpha is dropped (composited on black)
  Image out;
  out.width = static_cast<int>(im.width);
  out.height = static_cast<int>(im.height);
  out.channels = gray ? 1 : 3;
  out.pixels.resize(PNG_IMAGE_SIZE(im));
  if (!png_image_finish_read(&im, nullptr, out.pixels.data(), 0, nullptr)) {
    const std::string msg = im.message;
    png_image_free(&im);
    fail("{}: bad PNG: {}", source, msg);
  }
  return out;
}

struct JpegError {
  jpeg_error_mgr mgr;
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
};

void jpeg_error_exit(j_common_ptr cinfo) {
  auto* err = reinterpret_cast<JpegError*>(cinfo->err);
  (*cinfo->err->format_message)(cinfo, err->message);
  std::longjmp(err->jump, 1);
}

// Decodes into `out`, which lives in the caller's frame, so a longjmp from libjpeg
// skips no C++ destructor. Returns false with err.message set on failure.
bool decode_jpeg_into(std::string_view bytes, Image& out, JpegError& err) {
  jpeg_decompress_struct cinfo;
  cinfo.err = jpeg_std_error(&err.mgr);
  err.mgr.error_exit = jpeg_error_exit;
  if (setjmp(err.jump)) {
    jpeg_destroy_decompress(&cinfo);
    return false;
  }
  jpeg_create_decompress(&cinfo);
  jpeg_mem_src(&cinfo, reinterpret_cast<const unsigned char*>(bytes.data()), static_cast<unsigned long>(bytes.size()));
  jpeg_read_header(&cinfo, TRUE);
  cinfo.out_color_space = cinfo.jpeg_color_space == JCS_GRAYSCALE ? JCS_GRAYSCALE : JCS_RGB;
  jpeg_start_decompress(&cinfo);
  out.width = static_cast<int>(cinfo.output_width);
  out.height = static_cast<int>(cinfo.output_height);
  out.channels = static_cast<int>(cinfo.output_components);
  const std::size_t stride = static_cast<std::size_t>(out.width) * static_cast<std::size_t>(out.channels);
  out.pixels.resize(stride * static_cast<std::size_t>(out.height));
  while (cinfo.output_scanline < cinfo.output_height) {
    JSAMPROW row = out.pixels.data() + stride * cinfo.output_scanline;
    jpeg_read_scanlines(&cinfo, &row, 1);
  }
  jpeg_finish_decompress(&cinfo);
  jpeg_destroy_decompress(&cinfo);
  return true;
}

Image decode_jpeg(std::string_view bytes, const std::string& source) {
  Image out;
  JpegError err{};
  if (!decode_jpeg_into(bytes, out, err)) fail("{}: bad JPEG: {}", source, err.message);
  return out;
}

// One separable pass of PIL's BILINEAR resampling along an axis of `n_in` pixels:
// weights for every output index, normalised, as (first input index, weights).
struct Taps {
  std::vector<int> first;
  std::vector<int> count;
  std::vector<float> weights;  // count[i] weights per output, at offset i * max_taps
  int max_taps = 0;
};

Taps make_taps(int n_in, int n_out) {
  Taps t;
  const double scale = static_cast<double>(n_in) / n_out;
  const double filterscale = std::max(scale, 1.0);
  const double support = 1.0 * filterscale;
  t.max_taps = static_cast<int>(std::ceil(support)) * 2 + 1;
  t.first.resize(static_cast<std::size_t>(n_out));
  t.count.resize(static_cast<std::size_t>(n_out));
  t.weights.assign(static_cast<std::size_t>(n_out * t.max_taps), 0.0f);
  for (int o = 0; o < n_out; ++o) {
    const double center = (o + 0.5) * scale;
    const double ss = 1.0 / filterscale;
    const int lo = std::max(static_cast<int>(center - support + 0.5), 0);
    const int hi = std::min(static_cast<int>(center + support + 0.5), n_in);
    const int cnt = std::min(hi - lo, t.max_taps);
    double total = 0.0;
    std::vector<double> w(static_cast<std::size_t>(cnt));
    for (int x = 0; x < cnt; ++x) {
      const double d = std::abs((x + lo - center + 0.5) * ss);
      w[static_cast<std::size_t>(x)] = d < 1.0 ? 1.0 - d : 0.0;
      total += w[static_cast<std::size_t>(x)];
    }
    for (int x = 0; x < cnt; ++x)
      t.weights[static_cast<std::size_t>(o * t.max_taps + x)] =
          static_cast<float>(total > 0 ? w[static_cast<std::size_t>(x)] / total : 0.0);
    t.first[static_cast<std::size_t>(o)] = lo;
    t.count[static_cast<std::size_t>(o)] = cnt;
  }
  return t;
}

inline uint8_t clamp_u8(float v) { return static_cast<uint8_t>(std::clamp(std::lround(v), 0L, 255L)); }

}  // namespace

Image decode_image(std::string_view bytes, const std::string& source) {
  static const unsigned char kPng[] = {0x89, 'P', 'N', 'G'};
  if (bytes.size() >= 4 && std::memcmp(bytes.data(), kPng, 4) == 0) return decode_png(bytes, source);
  if (bytes.size() >= 3 && static_cast<unsigned char>(bytes[0]) == 0xFF &&
      static_cast<unsigned char>(bytes[1]) == 0xD8 && static_cast<unsigned char>(bytes[2]) == 0xFF)
    return decode_jpeg(bytes, source);
  fail("{}: not a PNG or JPEG image", source);
}

Image load_image(const std::string& path) { return decode_image(read_file(path), path); }

Image resize_image(const Image& img, int width, int height) {
  if (width <= 0 || height <= 0) fail("cannot resize an image to {}x{}", width, height);
  const int C = img.channels;
  Image cur = img;
  if (width != img.width) {  // horizontal pass first, rounded to 8 bits like PIL
    const Taps t = make_taps(img.width, width);
    Image h;
    h.width = width;
    h.height = img.height;
    h.channels = C;
    h.pixels.resize(static_cast<std::size_t>(width) * static_cast<std::size_t>(img.height) * static_cast<std::size_t>(C));
    for (int y = 0; y < img.height; ++y)
      for (int x = 0; x < width; ++x)
        for (int c = 0; c < C; ++c) {
          float s = 0;
          const auto xi = static_cast<std::size_t>(x);
          for (int k = 0; k < t.count[xi]; ++k)
            s += t.weights[xi * static_cast<std::size_t>(t.max_taps) + static_cast<std::size_t>(k)] *
                 img.pixels[(static_cast<std::size_t>(y) * static_cast<std::size_t>(img.width) +
                             static_cast<std::size_t>(t.first[xi] + k)) * static_cast<std::size_t>(C) + static_cast<std::size_t>(c)];
          h.pixels[(static_cast<std::size_t>(y) * static_cast<std::size_t>(width) + xi) * static_cast<std::size_t>(C) + static_cast<std::size_t>(c)] =
              clamp_u8(s);
        }
    cur = std::move(h);
  }
  if (height != cur.height) {
    const Taps t = make_taps(cur.height, height);
    Image v;
    v.width = cur.width;
    v.height = height;
    v.channels = C;
    v.pixels.resize(static_cast<std::size_t>(cur.width) * static_cast<std::size_t>(height) * static_cast<std::size_t>(C));
    const std::size_t row = static_cast<std::size_t>(cur.width) * static_cast<std::size_t>(C);
    for (int y = 0; y < height; ++y) {
      const auto yi = static_cast<std::size_t>(y);
      for (std::size_t i = 0; i < row; ++i) {
        float s = 0;
        for (int k = 0; k < t.count[yi]; ++k)
          s += t.weights[yi * static_cast<std::size_t>(t.max_taps) + static_cast<std::size_t>(k)] *
               cur.pixels[static_cast<std::size_t>(t.first[yi] + k) * row + i];
        v.pixels[yi * row + i] = clamp_u8(s);
      }
    }
    cur = std::move(v);
  }
  return cur;
}

Tensor preprocess_image(const Image& src, const Preprocess& p) {
  if (p.channels != 1 && p.channels != 3) fail("preprocessing to {} channels (supported: 1, 3)", p.channels);
  if (static_cast<int64_t>(p.mean.size()) != p.channels || static_cast<int64_t>(p.std.size()) != p.channels)
    fail("preprocessing needs {} mean and std values, got {} and {}", p.channels, p.mean.size(), p.std.size());
  Image img = src;
  if (p.resize > 0) {  // torchvision Resize(int): shorter side to `resize`, the other truncated
    const bool wide = img.width >= img.height;
    const int64_t s = wide ? img.height : img.width, l = wide ? img.width : img.height;
    const int64_t new_l = p.resize * l / s;
    const int w = static_cast<int>(wide ? new_l : p.resize), h = static_cast<int>(wide ? p.resize : new_l);
    if (w != img.width || h != img.height) img = resize_image(img, w, h);
  }
  int x0 = 0, y0 = 0, cw = img.width, ch = img.height;
  if (p.crop > 0) {
    if (p.crop > img.width || p.crop > img.height)
      fail("centre crop {} is larger than the {}x{} image", p.crop, img.width, img.height);
    cw = ch = static_cast<int>(p.crop);
    x0 = static_cast<int>(std::nearbyint((img.width - cw) / 2.0));
    y0 = static_cast<int>(std::nearbyint((img.height - ch) / 2.0));
  }
  const int64_t C = p.channels;
  Tensor out = p.layout == Layout::kNCHW ? Tensor(DType::kFloat32, {1, C, ch, cw}) : Tensor(DType::kFloat32, {1, ch, cw, C});
  auto d = out.data<float>();
  for (int y = 0; y < ch; ++y)
    for (int x = 0; x < cw; ++x) {
      const uint8_t* px = img.pixels.data() + (static_cast<std::size_t>(y0 + y) * static_cast<std::size_t>(img.width) +
                                               static_cast<std::size_t>(x0 + x)) * static_cast<std::size_t>(img.channels);
      float v[3];
      if (C == 3) {
        for (int c = 0; c < 3; ++c) v[c] = px[img.channels == 3 ? c : 0];
      } else {
        v[0] = img.channels == 3 ? std::floor((px[0] * 299 + px[1] * 587 + px[2] * 114 + 500) / 1000.0f) : px[0];
      }
      for (int64_t c = 0; c < C; ++c) {
        const float val = (v[c] / 255.0f - p.mean[static_cast<std::size_t>(c)]) / p.std[static_cast<std::size_t>(c)];
        const std::size_t i = p.layout == Layout::kNCHW
                                  ? static_cast<std::size_t>((c * ch + y) * cw + x)
                                  : static_cast<std::size_t>((static_cast<int64_t>(y) * cw + x) * C + c);
        d[i] = val;
      }
    }
  return out;
}

}  // namespace qsim
