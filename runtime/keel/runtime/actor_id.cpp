#include "keel/runtime/actor_id.hpp"

#include "keel/runtime/errc.hpp"

namespace keel {

uint64_t fnv1a64(std::string_view bytes, uint64_t seed) noexcept {
  uint64_t hash = seed;
  for (unsigned char c : bytes) {
    hash ^= c;
    hash *= 0x100000001b3ULL;
  }
  return hash;
}

uint32_t actor_id::partition() const noexcept {
  auto hash = fnv1a64(type_);
  hash = fnv1a64(std::string_view{"\0", 1}, hash);
  hash = fnv1a64(key_, hash);
  return static_cast<uint32_t>(hash % partition_count);
}

caf::expected<actor_id> actor_id::parse(std::string_view text) {
  auto slash = text.find('/');
  if (slash == std::string_view::npos || slash == 0 || slash + 1 == text.size())
    return make_error(errc::bad_payload,
                      "actor id must be 'type/key': '" + std::string{text} + "'");
  return actor_id{std::string{text.substr(0, slash)}, std::string{text.substr(slash + 1)}};
}

std::string to_string(const actor_id& id) {
  return id.type() + "/" + id.key();
}

}  // namespace keel

size_t std::hash<keel::actor_id>::operator()(const keel::actor_id& id) const noexcept {
  return keel::fnv1a64(id.key(), keel::fnv1a64(id.type()));
}
