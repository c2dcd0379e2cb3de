// OpenSSL's SHA-256 block functions (libcrypto, Debian's libssl-dev). Deliberately the
// low-level SHA256_* calls rather than EVP: EVP pulls in OpenSSL's provider loader and
// with it dlopen/getaddrinfo, which a static executable cannot use (the linker warns);
// the block functions are self-contained and still use the CPU's SHA instructions.
#define OPENSSL_SUPPRESS_DEPRECATED  // SHA256_Init & co. are deprecated in OpenSSL 3, not removed
#include "app/file_hash.h"

#include <fcntl.h>
#include <openssl/sha.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include <fmt/format.h>

#include "graph/error.h"

namespace qsim::app {

namespace {
std::string hex(const unsigned char* digest) {
  std::string s;
  for (int i = 0; i < SHA256_DIGEST_LENGTH; ++i) s += fmt::format("{:02x}", digest[i]);
  return s;
}
}  // namespace

std::string sha256_hex(std::string_view bytes) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256_CTX ctx;  // not the one-shot SHA256(): OpenSSL 3 routes it through EVP
  SHA256_Init(&ctx);
  SHA256_Update(&ctx, bytes.data(), bytes.size());
  SHA256_Final(digest, &ctx);
  return hex(digest);
}

std::string sha256_file_hex(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail("{}: cannot read: {}", path, std::strerror(errno));
  SHA256_CTX ctx;
  SHA256_Init(&ctx);
  std::vector<unsigned char> buf(1 << 20);
  for (;;) {
    const ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n == 0) break;
    if (n < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      ::close(fd);
      fail("{}: cannot read: {}", path, std::strerror(err));
    }
    SHA256_Update(&ctx, buf.data(), static_cast<std::size_t>(n));
  }
  ::close(fd);
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256_Final(digest, &ctx);
  return hex(digest);
}

}  // namespace qsim::app
