#include "keel/runtime/envelope.hpp"

#include "keel/runtime/errc.hpp"

namespace keel {

envelope::~envelope() {
  if (reply && !reply->done())
    reply->complete(make_error(errc::unavailable,
                               "activation of " + to_string(target) + " stopped before answering"));
}

}  // namespace keel
