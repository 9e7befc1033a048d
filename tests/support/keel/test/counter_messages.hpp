#pragma once

#include <cstdint>
#include <memory>
#include <utility>

#include "keel/runtime/builtin.pb.h"
#include "keel/runtime/envelope.hpp"

namespace keel::test {

/// A request as the runtime takes it.
template <class M>
message_ptr msg(M m) {
  return std::make_shared<M>(std::move(m));
}

/// The built-in counter's Increment by `by`.
inline builtin::Increment inc(int64_t by) {
  builtin::Increment m;
  m.set_by(by);
  return m;
}

}  // namespace keel::test
