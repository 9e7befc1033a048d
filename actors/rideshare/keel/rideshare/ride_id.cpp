#include "keel/rideshare/ride_id.hpp"

#include <sys/random.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <random>

#include <fmt/format.h>

#include "keel/runtime/actor_id.hpp"

namespace keel::rideshare {

namespace {

constexpr std::string_view ride_prefix = "r-";
constexpr size_t group_digits = 8;
constexpr size_t random_digits = 16;

bool lower_hex(std::string_view s) {
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

// 64 bits from getrandom; a kernel without it (ENOSYS) gets std::random_device's, which
// reads the same source.
uint64_t random64() {
  uint64_t value = 0;
  auto* bytes = reinterpret_cast<char*>(&value);
  size_t got = 0;
  while (got < sizeof value) {
    auto n = ::getrandom(bytes + got, sizeof value - got, 0);
    if (n > 0) {
      got += static_cast<size_t>(n);
    } else if (n < 0 && errno != EINTR) {
      std::random_device device;
      return (uint64_t{device()} << 32) ^ device();
    }
  }
  return value;
}

}  // namespace

std::string rider_group_of(std::string_view rider_id) {
  return fmt::format("{:08x}", static_cast<uint32_t>(fnv1a64(rider_id)));
}

std::string new_ride_id(std::string_view rider_id) {
  return fmt::format("{}{}-{:016x}", ride_prefix, rider_group_of(rider_id), random64());
}

std::optional<std::string_view> group_in_ride_id(std::string_view ride_id) {
  constexpr size_t size = ride_prefix.size() + group_digits + 1 + random_digits;
  if (ride_id.size() != size || !ride_id.starts_with(ride_prefix) ||
      ride_id[ride_prefix.size() + group_digits] != '-')
    return std::nullopt;
  auto group = ride_id.substr(ride_prefix.size(), group_digits);
  if (!lower_hex(group) || !lower_hex(ride_id.substr(size - random_digits))) return std::nullopt;
  return group;
}

}  // namespace keel::rideshare
