#include "keel/runtime/actor_id.hpp"

#include "keel/runtime/errc.hpp"
#include "keel/runtime/partition_key.hpp"

namespace keel {

caf::expected<actor_id> actor_id::parse(std::string_view text) {
  auto slash = text.find('/');
  if (slash == std::string_view::npos || slash == 0 || slash + 1 == text.size())
    return make_error(errc::bad_payload,
                      "actor id must be 'type/key': '" + std::string{text} + "'");
  return actor_id{std::string{text.substr(0, slash)}, std::string{text.substr(slash + 1)}};
}

uint32_t actor_id::partition_of(std::string_view type, std::string_view key, uint64_t hash) {
  if (auto fn = partition_keys::function_of(type)) {
    auto placed = fn(key);
    hash = hash_of(placed.type, placed.key);
  }
  return static_cast<uint32_t>(hash % partition_count);
}

std::string to_string(const actor_id& id) {
  return id.type() + "/" + id.key();
}

}  // namespace keel

size_t std::hash<keel::actor_id>::operator()(const keel::actor_id& id) const noexcept {
  return id.hash();
}
