// .npy, IDX, PNG/JPEG and data-set inputs of the executor.
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <numeric>

#include <unistd.h>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <jpeglib.h>
#include <png.h>
#include <zlib.h>

#include "graph/error.h"
#include "graph/file_util.h"
#include "data/dataset.h"
#include "data/idx.h"
#include "data/image.h"
#include "data/npy.h"

namespace qsim {
namespace {

namespace fs = std::filesystem;

fs::path temp_dir() {
  const fs::path d = fs::temp_directory_path() / fmt::format("qsim_io_test_{}", ::getpid());
  fs::create_directories(d);
  return d;
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

// ------------------------------------------------------------------ .npy

TEST(Npy, RoundTripsEveryDtypeAndShape) {
  const fs::path dir = temp_dir();
  std::vector<Tensor> cases;
  cases.push_back(Tensor::from<float>({2, 3}, std::vector<float>{1, 2, 3, 4, 5, -6.5f}));
  cases.push_back(Tensor::from<double>({3}, std::vector<double>{1e-300, 2, 3}));
  cases.push_back(Tensor::from<int64_t>({1, 1, 2}, std::vector<int64_t>{-7, 1LL << 40}));
  cases.push_back(Tensor::from<uint8_t>({4}, std::vector<uint8_t>{0, 1, 254, 255}));
  cases.push_back(Tensor::from<int8_t>({2, 1}, std::vector<int8_t>{-128, 127}));
  cases.push_back(Tensor::from<int32_t>({0, 3}, std::vector<int32_t>{}));
  cases.push_back(Tensor::scalar<float>(3.25f));
  for (std::size_t i = 0; i < cases.size(); ++i) {
    const std::string path = (dir / fmt::format("t{}.npy", i)).string();
    write_npy(path, cases[i]);
    const std::string bytes = read_file(path);
    // numpy's layout: magic, version 1.0, header padded so the data starts on a 64-byte boundary.
    ASSERT_EQ(std::memcmp(bytes.data(), "\x93NUMPY", 6), 0);
    const std::size_t data_start = 10 + (static_cast<unsigned char>(bytes[8]) | (static_cast<unsigned char>(bytes[9]) << 8));
    EXPECT_EQ(data_start % 64, 0u);
    EXPECT_EQ(bytes[data_start - 1], '\n');
    const Tensor back = read_npy(path);
    EXPECT_EQ(back.dtype(), cases[i].dtype());
    EXPECT_EQ(back.shape(), cases[i].shape());
    ASSERT_EQ(back.nbytes(), cases[i].nbytes());
    if (back.nbytes() > 0) {  // no memcmp on the null data of an empty tensor (UBSan)
      EXPECT_EQ(std::memcmp(back.bytes().data(), cases[i].bytes().data(), back.nbytes()), 0);
    }
  }
  // The header text numpy itself writes for these shapes.
  EXPECT_NE(npy_bytes(cases[1]).find("'shape': (3,)"), std::string::npos);
  EXPECT_NE(npy_bytes(cases[6]).find("'shape': ()"), std::string::npos);
  EXPECT_NE(npy_bytes(cases[0]).find("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }"), std::string::npos);
  fs::remove_all(dir);
}

TEST(Npy, ReadsFortranOrderAndVersion2) {
  // np.asfortranarray(np.arange(6, dtype=np.float32).reshape(2, 3)) saved: column-major data.
  std::string header = "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }";
  header.append((64 - (12 + header.size() + 1) % 64) % 64, ' ');
  header += '\n';
  std::string v2 = std::string("\x93NUMPY\x02\x00", 8);
  const uint32_t len = static_cast<uint32_t>(header.size());
  v2.append(reinterpret_cast<const char*>(&len), 4);
  v2 += header;
  const float colmajor[] = {0, 3, 1, 4, 2, 5};
  v2.append(reinterpret_cast<const char*>(colmajor), sizeof colmajor);
  const Tensor t = parse_npy(v2, "fortran.npy");
  EXPECT_EQ(t.shape(), Shape({2, 3}));
  for (int i = 0; i < 6; ++i) EXPECT_EQ(t.data<float>()[static_cast<std::size_t>(i)], static_cast<float>(i));
}

TEST(Npy, DefectsNameTheFile) {
  EXPECT_NE(error_of([] { parse_npy("not numpy at all", "bad.npy"); }).find("bad.npy: not a .npy file"), std::string::npos);
  std::string good = npy_bytes(Tensor::from<float>({4}, std::vector<float>{1, 2, 3, 4}));
  EXPECT_NE(error_of([&] { parse_npy(good.substr(0, good.size() - 3), "short.npy"); }).find("short.npy: .npy data is truncated"),
            std::string::npos);
  std::string big = good;
  big.replace(big.find("<f4"), 3, ">f4");
  EXPECT_NE(error_of([&] { parse_npy(big, "be.npy"); }).find("big-endian"), std::string::npos);
  std::string cplx = good;
  cplx.replace(cplx.find("<f4"), 3, "<c8");
  EXPECT_NE(error_of([&] { parse_npy(cplx, "c.npy"); }).find("'<c8' is not supported"), std::string::npos);
  EXPECT_NE(error_of([] { read_npy("/nonexistent/x.npy"); }).find("/nonexistent/x.npy"), std::string::npos);
}

// ------------------------------------------------------------------ IDX

std::string gzip(const std::string& raw) {
  z_stream z{};
  EXPECT_EQ(deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY), Z_OK);
  std::string out(raw.size() + 1024, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(raw.data()));
  z.avail_in = static_cast<uInt>(raw.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(deflate(&z, Z_FINISH), Z_STREAM_END);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

TEST(Idx, ParsesPlainAndGzipBigEndian) {
  // 2 x 3 uint8 and a 1-D int32 array (big-endian payload).
  std::string u8("\0\0\x08\x02\0\0\0\x02\0\0\0\x03", 12);
  u8 += std::string("\x01\x02\x03\xfe\xff\x00", 6);
  for (const std::string& bytes : {u8, gzip(u8)}) {
    const Tensor t = parse_idx(bytes, "u8.idx");
    EXPECT_EQ(t.dtype(), DType::kUInt8);
    EXPECT_EQ(t.shape(), Shape({2, 3}));
    EXPECT_EQ(t.as_int64(3), 254);
  }
  std::string i32("\0\0\x0c\x01\0\0\0\x02", 8);
  i32 += std::string("\x00\x00\x01\x00\xff\xff\xff\xfe", 8);
  const Tensor t = parse_idx(i32, "i32.idx");
  EXPECT_EQ(t.as_int64(0), 256);
  EXPECT_EQ(t.as_int64(1), -2);
  EXPECT_NE(error_of([&] { parse_idx(u8.substr(0, 15), "cut.idx"); }).find("cut.idx: IDX data is truncated"), std::string::npos);
  EXPECT_NE(error_of([&] { parse_idx(gzip(u8).substr(0, 20), "cut.gz"); }).find("cut.gz: gzip data is truncated"),
            std::string::npos);
  EXPECT_NE(error_of([] { parse_idx(std::string("\0\0\x07\x01\0\0\0\x01\x00", 9), "t.idx"); }).find("unknown IDX element type 0x07"),
            std::string::npos);
}

TEST(FashionMnist, TestAndTrainSplits) {
  if (!fs::exists(kFashionMnistDir)) GTEST_SKIP() << "no " << kFashionMnistDir << " (dataset-fashion-mnist)";
  const auto test = load_fashion_mnist("", Split::kTest);
  EXPECT_EQ(test->size(), 10000);
  EXPECT_EQ(test->sample_shape(), Shape({1, 28, 28}));
  const auto train = load_fashion_mnist(kFashionMnistDir, Split::kTrain, 500);
  EXPECT_EQ(train->size(), 500);
  // Known first labels: test starts with an ankle boot (9), train with an ankle boot (9) then a T-shirt (0).
  EXPECT_EQ(test->label(0), 9);
  EXPECT_EQ(train->label(0), 9);
  EXPECT_EQ(train->label(1), 0);
  std::vector<float> x(784);
  test->load(0, x.data());
  const auto [lo, hi] = std::minmax_element(x.begin(), x.end());
  EXPECT_GE(*lo, 0.0f);
  EXPECT_LE(*hi, 1.0f);
  // ToTensor scaling: every value is k / 255.
  for (float v : x) EXPECT_FLOAT_EQ(v * 255.0f, std::round(v * 255.0f));
  std::vector<int64_t> counts(10);
  for (int64_t i = 0; i < test->size(); ++i) ++counts[static_cast<std::size_t>(test->label(i))];
  for (int64_t c : counts) EXPECT_EQ(c, 1000);
  EXPECT_NE(error_of([] { load_fashion_mnist("/nonexistent", Split::kTest); }).find("/nonexistent"), std::string::npos);
}

// ------------------------------------------------------------------ images

Image gradient_image() {  // 8 wide, 6 high, RGB: value = (index * 5) % 256
  Image img;
  img.width = 8;
  img.height = 6;
  img.channels = 3;
  img.pixels.resize(8 * 6 * 3);
  for (std::size_t i = 0; i < img.pixels.size(); ++i) img.pixels[i] = static_cast<uint8_t>(i * 5 % 256);
  return img;
}

std::string encode_png(const Image& img) {
  png_image im;
  std::memset(&im, 0, sizeof im);
  im.version = PNG_IMAGE_VERSION;
  im.width = static_cast<png_uint_32>(img.width);
  im.height = static_cast<png_uint_32>(img.height);
  im.format = img.channels == 3 ? PNG_FORMAT_RGB : PNG_FORMAT_GRAY;
  png_alloc_size_t size = 0;
  EXPECT_TRUE(png_image_write_to_memory(&im, nullptr, &size, 0, img.pixels.data(), 0, nullptr));
  std::string out(size, '\0');
  EXPECT_TRUE(png_image_write_to_memory(&im, out.data(), &size, 0, img.pixels.data(), 0, nullptr));
  out.resize(size);
  return out;
}

std::string encode_jpeg(const Image& img) {
  jpeg_compress_struct c;
  jpeg_error_mgr err;
  c.err = jpeg_std_error(&err);
  jpeg_create_compress(&c);
  unsigned char* buf = nullptr;
  unsigned long size = 0;
  jpeg_mem_dest(&c, &buf, &size);
  c.image_width = static_cast<JDIMENSION>(img.width);
  c.image_height = static_cast<JDIMENSION>(img.height);
  c.input_components = img.channels;
  c.in_color_space = img.channels == 3 ? JCS_RGB : JCS_GRAYSCALE;
  jpeg_set_defaults(&c);
  jpeg_set_quality(&c, 100, TRUE);
  jpeg_start_compress(&c, TRUE);
  while (c.next_scanline < c.image_height) {
    JSAMPROW row = const_cast<uint8_t*>(img.pixels.data()) + c.next_scanline * static_cast<std::size_t>(img.width * img.channels);
    jpeg_write_scanlines(&c, &row, 1);
  }
  jpeg_finish_compress(&c);
  std::string out(reinterpret_cast<char*>(buf), size);
  jpeg_destroy_compress(&c);
  std::free(buf);
  return out;
}

TEST(Images, DecodePngExactlyAndJpegClosely) {
  const Image img = gradient_image();
  const Image png = decode_image(encode_png(img), "g.png");
  EXPECT_EQ(png.width, 8);
  EXPECT_EQ(png.height, 6);
  EXPECT_EQ(png.channels, 3);
  EXPECT_EQ(png.pixels, img.pixels);
  Image flat;  // a flat gray image survives JPEG at quality 100 within a step or two
  flat.width = 16;
  flat.height = 16;
  flat.channels = 1;
  flat.pixels.assign(256, 77);
  const Image jpg = decode_image(encode_jpeg(flat), "g.jpg");
  EXPECT_EQ(jpg.channels, 1);
  ASSERT_EQ(jpg.pixels.size(), 256u);
  for (uint8_t v : jpg.pixels) EXPECT_NEAR(v, 77, 2);
  EXPECT_NE(error_of([] { decode_image("GIF89a....", "x.gif"); }).find("x.gif: not a PNG or JPEG image"), std::string::npos);
  const std::string cut = encode_png(img).substr(0, 40);
  EXPECT_NE(error_of([&] { decode_image(cut, "cut.png"); }).find("cut.png: bad PNG"), std::string::npos);
}

TEST(Images, ResizeMatchesPilBilinear) {
  // PIL 9: Image.fromarray(gradient).resize((3, 4), Image.BILINEAR)
  const std::vector<int> pil = {62,  67,  72,  98,  103, 108, 133, 138, 143, 157, 106, 111, 99,  101, 106, 131, 136, 141,
                                160, 134, 139, 115, 105, 110, 133, 138, 143, 148, 131, 136, 114, 103, 108, 131, 136, 141};
  const Image r = resize_image(gradient_image(), 3, 4);
  ASSERT_EQ(r.pixels.size(), pil.size());
  for (std::size_t i = 0; i < pil.size(); ++i) EXPECT_NEAR(r.pixels[i], pil[i], 1) << i;
  // Upscaling to (11, 9): first pixels and the checksum of PIL's result.
  const Image up = resize_image(gradient_image(), 11, 9);
  const std::vector<int> pil_up = {0, 5, 10, 9, 14, 19, 20, 25, 30, 31, 36, 41, 42, 47, 52};
  for (std::size_t i = 0; i < pil_up.size(); ++i) EXPECT_NEAR(up.pixels[i], pil_up[i], 1) << i;
  const long sum = std::accumulate(up.pixels.begin(), up.pixels.end(), 0L);
  EXPECT_NEAR(sum, 35935, 11 * 9 * 3 / 2);
}

TEST(Images, PreprocessCropNormaliseLayout) {
  const Image img = gradient_image();
  Preprocess p;
  p.resize = 0;
  p.crop = 4;  // rows 1..4, columns 2..5 of the 6 x 8 image
  const Tensor t = preprocess_image(img, p);
  ASSERT_EQ(t.shape(), Shape({1, 3, 4, 4}));
  auto px = [&](int y, int x, int c) { return img.pixels[static_cast<std::size_t>((y * 8 + x) * 3 + c)]; };
  EXPECT_NEAR(t.data<float>()[0], (px(1, 2, 0) / 255.0f - 0.485f) / 0.229f, 1e-6);
  EXPECT_NEAR(t.data<float>()[2 * 16 + 3 * 4 + 1], (px(4, 3, 2) / 255.0f - 0.406f) / 0.225f, 1e-6);
  p.layout = Layout::kNHWC;
  const Tensor h = preprocess_image(img, p);
  ASSERT_EQ(h.shape(), Shape({1, 4, 4, 3}));
  EXPECT_EQ(h.data<float>()[(3 * 4 + 1) * 3 + 2], t.data<float>()[2 * 16 + 3 * 4 + 1]);
  // Gray models: PIL's luma, ToTensor only.
  Preprocess gray;
  gray.resize = 0;
  gray.crop = 0;
  gray.channels = 1;
  gray.mean = {0.0f};
  gray.std = {1.0f};
  const Tensor g = preprocess_image(img, gray);
  const int pil_l[] = {4, 19, 34, 49, 64, 79, 94, 109};  // np.asarray(im.convert("L"))[0]
  for (int x = 0; x < 8; ++x) EXPECT_NEAR(g.data<float>()[static_cast<std::size_t>(x)] * 255.0f, pil_l[x], 1.01f);
  // Resize keeps the aspect ratio: the shorter side becomes 3, the other 8 * 3 / 6 = 4.
  Preprocess small;
  small.resize = 3;
  small.crop = 0;
  EXPECT_EQ(preprocess_image(img, small).shape(), Shape({1, 3, 3, 4}));
}

TEST(Images, FolderDatasetWithLabels) {
  const fs::path dir = temp_dir() / "imgs";
  fs::create_directories(dir);
  Image img = gradient_image();
  write_file_atomic((dir / "b.png").string(), encode_png(img));
  for (auto& v : img.pixels) v = static_cast<uint8_t>(255 - v);
  write_file_atomic((dir / "a.png").string(), encode_png(img));
  write_file_atomic((dir / "notes.txt").string(), "not an image");
  write_file_atomic((dir.parent_path() / "by_name.txt").string(), "# name class\nb.png 7\na 3\n");
  write_file_atomic((dir.parent_path() / "in_order.txt").string(), "3\n7\n");
  Preprocess p;
  p.resize = 0;
  p.crop = 6;
  for (const char* labels : {"by_name.txt", "in_order.txt"}) {
    const auto d = load_image_folder(dir.string(), (dir.parent_path() / labels).string(), p);
    ASSERT_EQ(d->size(), 2);  // a.png, b.png (sorted); notes.txt ignored
    EXPECT_EQ(d->label(0), 3);
    EXPECT_EQ(d->label(1), 7);
    EXPECT_EQ(d->sample_shape(), Shape({3, 6, 6}));
  }
  write_file_atomic((dir.parent_path() / "bad.txt").string(), "3\nseven\n");
  EXPECT_NE(error_of([&] { load_image_folder(dir.string(), (dir.parent_path() / "bad.txt").string(), p); })
                .find("bad.txt:2: 'seven' is not a class index"),
            std::string::npos);
  fs::remove_all(dir.parent_path());
}

TEST(DataSpec, ParsesEveryForm) {
  EXPECT_EQ(parse_data_spec("fashion-mnist").kind, DataSpec::Kind::kFashionMnist);
  EXPECT_EQ(parse_data_spec("fashion-mnist").path, "");
  EXPECT_EQ(parse_data_spec("fashion-mnist:/data/fm").path, "/data/fm");
  EXPECT_EQ(parse_data_spec("images:/x").kind, DataSpec::Kind::kImages);
  EXPECT_EQ(parse_data_spec("npy:a.npy").kind, DataSpec::Kind::kNpy);
  EXPECT_NE(error_of([] { parse_data_spec("mnist"); }).find("expected fashion-mnist[:DIR], images:DIR or npy:FILE"),
            std::string::npos);
  EXPECT_NE(error_of([] { parse_data_spec("images:"); }).find("needs a folder"), std::string::npos);
}

}  // namespace
}  // namespace qsim
