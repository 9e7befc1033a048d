#pragma once

#include <cstdint>
#include <random>

namespace keel::detail {

/// 64 random bits from a per-thread engine seeded once from the OS: cheap enough for an id
/// per turn. Thread safety: thread-safe (each thread draws from its own engine).
inline uint64_t random64() {
  thread_local std::mt19937_64 engine{std::random_device{}()};
  return engine();
}

}  // namespace keel::detail
