#include "keel/runtime/registry.hpp"

#include "keel/runtime/errc.hpp"

namespace keel {

const handler_entry* actor_type_info::find(std::string_view message) const {
  auto it = handlers.find(message);
  return it == handlers.end() ? nullptr : &it->second;
}

const handler_entry* actor_type_info::find(const google::protobuf::Descriptor* request) const {
  for (const auto& [descriptor, entry] : by_request)
    if (descriptor == request) return entry;
  return nullptr;
}

const actor_type_info* type_registry::find(std::string_view name) const {
  auto it = types_.find(name);
  return it == types_.end() ? nullptr : it->second.get();
}

caf::expected<const actor_type_info*> resolve_type(const type_registry& types,
                                                   std::string_view name) {
  if (const auto* type = types.find(name)) return type;
  return make_error(errc::unknown_actor_type, "no actor type '" + std::string{name} + "'");
}

caf::expected<const handler_entry*> resolve_handler(const actor_type_info& type,
                                                    std::string_view message,
                                                    const google::protobuf::Descriptor* request) {
  if (const auto* handler = request ? type.find(request) : type.find(message)) return handler;
  return make_error(errc::unknown_message, "actor type '" + type.name + "' has no handler for '" +
                                               std::string{message} + "'");
}

caf::error type_registry::check() const {
  if (problems_.empty()) return {};
  std::string text;
  for (const auto& problem : problems_) text += (text.empty() ? "" : "; ") + problem;
  return make_error(errc::bad_payload, std::move(text));
}

actor_type_info& type_registry::emplace(std::string name) {
  auto info = std::make_unique<actor_type_info>();
  info->name = name;
  if (types_.contains(name)) {
    problems_.push_back("actor type '" + name + "' registered twice");
    return *rejected_.emplace_back(std::move(info));
  }
  auto& slot = types_[std::move(name)];
  slot = std::move(info);
  return *slot;
}

}  // namespace keel
