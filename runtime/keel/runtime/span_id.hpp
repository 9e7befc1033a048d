#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace keel {

/// A W3C span id: 8 bytes, printed as 16 lowercase hex digits. Each turn gets one; the
/// messages it sends carry it, so the turns they start name it as their parent and a
/// trace's turns form a tree. The default (zero) names no span: a turn without a parent.
/// Immutable value; safe to share between threads.
class span_id {
 public:
  span_id() = default;
  explicit span_id(uint64_t value) noexcept : value_(value) {}

  /// A fresh random id, never zero.
  static span_id make() noexcept;

  /// The parent span of a `traceparent` header; nullopt when the header is invalid
  /// (trace_id::from_traceparent decides).
  static std::optional<span_id> from_traceparent(std::string_view header);

  uint64_t value() const noexcept { return value_; }
  bool valid() const noexcept { return value_ != 0; }
  /// 16 hex digits.
  std::string to_hex() const;
  friend bool operator==(const span_id&, const span_id&) = default;

  template <class Inspector>
  friend typename Inspector::result_type inspect(Inspector& f, span_id& x) {
    return f(x.value_);
  }

 private:
  uint64_t value_ = 0;
};

}  // namespace keel
