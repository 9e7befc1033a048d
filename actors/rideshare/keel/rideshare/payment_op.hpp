#pragma once

#include <optional>
#include <string_view>

namespace keel::rideshare {

/// An operation a ride owes its payment, and a payment asks of the processor. Stored and
/// sent by name (PaymentOp.op, Charge.operation, the processor's idempotency key), so the
/// names never change.
enum class payment_op { create, authorize, capture, void_payment };

constexpr std::string_view name_of(payment_op op) {
  switch (op) {
    case payment_op::create:
      return "create";
    case payment_op::authorize:
      return "authorize";
    case payment_op::capture:
      return "capture";
    case payment_op::void_payment:
      return "void";
  }
  return "";
}

/// The operation named `name`; nullopt for a name no version wrote.
constexpr std::optional<payment_op> parse_payment_op(std::string_view name) {
  for (auto op :
       {payment_op::create, payment_op::authorize, payment_op::capture, payment_op::void_payment})
    if (name_of(op) == name) return op;
  return std::nullopt;
}

}  // namespace keel::rideshare
