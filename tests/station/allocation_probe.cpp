// The test binary's global operator new and delete (replaceable, [new.delete]): malloc and free,
// recording the largest request of a thread that holds an AllocationProbe. Every unaligned form
// is replaced, the nothrow ones too (Catch allocates with them): one left to the library would
// pair its allocation with this file's free, which ASan reports as alloc-dealloc-mismatch. The
// aligned forms are left alone, all of them (their allocations and frees pair among themselves).
#include "allocation_probe.hpp"

#include <cstdlib>
#include <new>

namespace {
thread_local bool probing = false;
thread_local std::size_t largest_request = 0;
}  // namespace

namespace dira::station::testing {
AllocationProbe::AllocationProbe() {
  probing = true;
  largest_request = 0;
}
AllocationProbe::~AllocationProbe() {
  probing = false;
}
std::size_t AllocationProbe::largest() const {
  return largest_request;
}
}  // namespace dira::station::testing

void* operator new(std::size_t n) {
  if (probing && n > largest_request) largest_request = n;
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t n) {
  return operator new(n);
}
void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
  if (probing && n > largest_request) largest_request = n;
  return std::malloc(n == 0 ? 1 : n);
}
void* operator new[](std::size_t n, const std::nothrow_t& t) noexcept {
  return operator new(n, t);
}
void operator delete(void* p) noexcept {
  std::free(p);
}
void operator delete[](void* p) noexcept {
  std::free(p);
}
void operator delete(void* p, std::size_t) noexcept {
  std::free(p);
}
void operator delete[](void* p, std::size_t) noexcept {
  std::free(p);
}
void operator delete(void* p, const std::nothrow_t&) noexcept {
  std::free(p);
}
void operator delete[](void* p, const std::nothrow_t&) noexcept {
  std::free(p);
}
