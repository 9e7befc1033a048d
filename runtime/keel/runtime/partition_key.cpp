#include "keel/runtime/partition_key.hpp"

#include <array>
#include <atomic>
#include <mutex>

#include "keel/runtime/errc.hpp"

namespace keel {

namespace {

// Append-only, so a reader needs no lock: a slot is written before the count that
// publishes it, and never written again.
struct declared {
  std::string type;
  partition_key key;
};

constexpr size_t max_declared = 256;

struct table {
  std::array<declared, max_declared> slots;
  std::atomic<size_t> count{0};
  std::mutex writing;
};

table& the_table() {
  static table instance;
  return instance;
}

const declared* lookup(const table& t, std::string_view type) {
  auto n = t.count.load(std::memory_order_acquire);
  for (size_t i = 0; i < n; ++i)
    if (t.slots[i].type == type) return &t.slots[i];
  return nullptr;
}

}  // namespace

caf::error partition_keys::declare(std::string_view type, partition_key key) {
  if (!key.fn || key.name.empty() || key.name == default_name)
    return make_error(errc::bad_payload, "actor type '" + std::string{type} +
                                             "': a partition key needs a function and a name "
                                             "other than '" +
                                             std::string{default_name} + "'");
  auto& t = the_table();
  std::lock_guard guard{t.writing};
  if (auto* found = lookup(t, type)) {
    if (found->key.name == key.name) return {};
    return make_error(errc::conflict, "actor type '" + std::string{type} +
                                          "' already has partition key '" + found->key.name +
                                          "' in this process, not '" + key.name + "'");
  }
  auto n = t.count.load(std::memory_order_relaxed);
  if (n == max_declared)
    return make_error(errc::unavailable, "more than " + std::to_string(max_declared) +
                                             " actor types declare a partition key");
  t.slots[n] = declared{std::string{type}, std::move(key)};
  t.count.store(n + 1, std::memory_order_release);
  return {};
}

std::optional<partition_key> partition_keys::find(std::string_view type) {
  if (auto* found = lookup(the_table(), type)) return found->key;
  return std::nullopt;
}

partition_key_fn partition_keys::function_of(std::string_view type) noexcept {
  auto* found = lookup(the_table(), type);
  return found ? found->key.fn : nullptr;
}

placement_key partition_keys::placement_of(std::string_view type, std::string_view key) {
  if (auto* found = lookup(the_table(), type)) return found->key.fn(key);
  return {std::string{type}, std::string{key}};
}

}  // namespace keel
