#pragma once
// The largest single heap allocation (operator new) the calling thread makes while a probe is
// alive: how the tests see that a decoder makes no room for a peer's claim before it has checked
// it (the room is freed again before the decoder throws, so nothing after the call could tell).
// allocation_probe.cpp replaces the global operator new of the test binary to record it.
#include <cstddef>

namespace dira::station::testing {

class AllocationProbe {
 public:
  AllocationProbe();
  ~AllocationProbe();
  AllocationProbe(const AllocationProbe&) = delete;
  AllocationProbe& operator=(const AllocationProbe&) = delete;
  /// The largest request so far on this thread, in bytes.
  std::size_t largest() const;
};

}  // namespace dira::station::testing
