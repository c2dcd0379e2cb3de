#include "app/systemc_plugin.h"

#include <dlfcn.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <mutex>

#include "graph/error.h"

namespace qsim::app {

namespace {

using Create = TimingBackend* (*)(const SystemcOptions*);

// QSIM_SYSTEMC_PLUGIN, else libqsim_systemc_plugin.so in the executable's directory.
std::string plugin_path() {
  if (const char* env = std::getenv("QSIM_SYSTEMC_PLUGIN"); env && *env) return env;
  std::error_code ec;
  const std::filesystem::path exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  return (ec ? std::filesystem::path(".") : exe.parent_path()).append("libqsim_systemc_plugin.so").string();
}

Create load() {
  static std::once_flag once;
  static Create create = nullptr;
  static std::string error;
  std::call_once(once, [] {
    const std::string path = plugin_path();
    void* h = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);  // never closed: the kernel lives until exit
    if (!h) {
      error = ::dlerror();
      return;
    }
    create = reinterpret_cast<Create>(::dlsym(h, "qsim_systemc_backend_create"));
    if (!create) error = path + ": no qsim_systemc_backend_create";
  });
  if (!create) fail("--backend systemc: cannot load the SystemC backend: {}", error);
  return create;
}

}  // namespace

std::unique_ptr<TimingBackend> make_systemc_backend(const SystemcOptions& o) {
  return std::unique_ptr<TimingBackend>(load()(&o));
}

}  // namespace qsim::app
