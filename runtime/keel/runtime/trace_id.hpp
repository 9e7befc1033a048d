#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace keel {

/// A W3C trace id: 16 bytes, printed as 32 lowercase hex digits; never all zero.
/// Immutable value; safe to share between threads.
class trace_id {
 public:
  trace_id() = default;

  /// A fresh random id.
  static trace_id make();

  /// Parses a `traceparent` header (`00-<32 hex>-<16 hex>-<2 hex>`); nullopt when invalid,
  /// so the gateway makes a fresh id instead.
  static std::optional<trace_id> from_traceparent(std::string_view header);

  /// 32 hex digits.
  std::string to_hex() const;

  /// Parses 32 lowercase hex digits (a path parameter); nullopt when invalid.
  static std::optional<trace_id> from_hex(std::string_view hex);

  /// A `traceparent` header value carrying this id with a fresh span id.
  std::string to_traceparent() const;

  bool valid() const noexcept { return hi_ != 0 || lo_ != 0; }
  /// The id's first and last 8 bytes, as big-endian numbers (the hex form's two halves).
  uint64_t high() const noexcept { return hi_; }
  uint64_t low() const noexcept { return lo_; }
  friend bool operator==(const trace_id&, const trace_id&) = default;

  template <class Inspector>
  friend typename Inspector::result_type inspect(Inspector& f, trace_id& x) {
    return f(x.hi_, x.lo_);
  }

 private:
  trace_id(uint64_t hi, uint64_t lo) : hi_(hi), lo_(lo) {}
  uint64_t hi_ = 0;
  uint64_t lo_ = 0;
};

}  // namespace keel
