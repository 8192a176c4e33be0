// Plain driver for a libFuzzer target in builds without libFuzzer (gcc, CI): runs
// LLVMFuzzerTestOneInput on every file named on the command line, and on every file in every
// directory named (not recursive), so the corpus and the regression inputs are checked by CTest.
// A crash, an assertion or a sanitizer report (in the asan preset) fails the test; an input that
// is merely rejected (the target catches the library's documented errors) passes.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

namespace {

int run_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "cannot read %s\n", p.c_str());
    return 1;
  }
  const std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // A copy of exactly `size` bytes, as libFuzzer passes it: reading past it is a bug ASan sees.
  std::vector<std::uint8_t> data(bytes.begin(), bytes.end());
  LLVMFuzzerTestOneInput(data.empty() ? nullptr : data.data(), data.size());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::size_t inputs = 0;
  int failures = 0;
  for (int i = 1; i < argc; ++i) {
    const std::filesystem::path arg(argv[i]);
    std::error_code ec;
    // A regression directory with nothing in it yet is not in a git checkout (git keeps no
    // empty directories): no inputs from it, not a failure. The total check below still fails
    // when there are no inputs at all.
    if (!std::filesystem::exists(arg, ec)) {
      std::printf("no %s: nothing to replay from it\n", arg.c_str());
      continue;
    }
    if (std::filesystem::is_directory(arg, ec)) {
      std::vector<std::filesystem::path> files;
      for (const auto& e : std::filesystem::directory_iterator(arg))
        if (e.is_regular_file()) files.push_back(e.path());
      std::sort(files.begin(), files.end());  // a stable order, so a failure names the same file each run
      for (const auto& f : files) failures += run_file(f), ++inputs;
    } else {
      failures += run_file(arg), ++inputs;
    }
  }
  std::printf("replayed %zu inputs\n", inputs);
  if (inputs == 0) {
    std::fprintf(stderr, "no inputs: the corpus directories are empty or missing\n");
    return 1;
  }
  return failures ? 1 : 0;
}
