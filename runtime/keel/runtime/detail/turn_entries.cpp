// The turn's entries (context::entry, put_entry, ...): this turn's changes over what the
// activation holds. Split from turn.cpp, which runs and finishes turns.
#include <algorithm>
#include <map>
#include <stdexcept>
#include <vector>

#include "keel/runtime/detail/turn.hpp"
#include "keel/runtime/registry.hpp"

namespace keel::detail {

void turn::require_entries() const {
  const auto& type = *self_->state.type;
  if (!type.keeps_entries)
    throw std::logic_error("actor type '" + type.name +
                           "' keeps no entries: register it with_entries()");
}

std::optional<std::string_view> turn::entry_bytes(std::string_view name) {
  require_entries();
  // This turn's latest change of the name wins over what is committed.
  const auto& changes = effects_.entry_changes;
  for (auto it = changes.rbegin(); it != changes.rend(); ++it)
    if (it->name == name)
      return it->bytes ? std::optional<std::string_view>{*it->bytes} : std::nullopt;
  const auto& committed = self_->state.entries;
  auto it = committed.find(std::string{name});
  if (it == committed.end()) return std::nullopt;
  return std::string_view{it->second};
}

void turn::for_each_entry(const std::function<void(const std::string&, std::string_view)>& f) {
  require_entries();
  const auto& committed = self_->state.entries;
  if (effects_.entry_changes.empty()) {
    std::vector<const std::pair<const std::string, std::string>*> sorted;
    sorted.reserve(committed.size());
    for (const auto& e : committed) sorted.push_back(&e);
    std::sort(sorted.begin(), sorted.end(), [](auto* a, auto* b) { return a->first < b->first; });
    for (const auto* e : sorted) f(e->first, e->second);
    return;
  }
  std::map<std::string, std::string_view> merged;
  for (const auto& [name, bytes] : committed) merged.emplace(name, bytes);
  for (const auto& change : effects_.entry_changes) {
    if (change.bytes)
      merged[change.name] = *change.bytes;
    else
      merged.erase(change.name);
  }
  for (const auto& [name, bytes] : merged) f(name, bytes);
}

}  // namespace keel::detail
