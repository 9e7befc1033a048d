#include "keel/runtime/envelope.hpp"

#include "keel/runtime/errc.hpp"

namespace keel {

envelope::~envelope() {
  if (!reply || reply->done()) return;
  if (reply->started())
    reply->complete(make_error(errc::unknown_outcome, "activation of " + to_string(target) +
                                                          " stopped inside the turn: it may "
                                                          "have had effects"));
  else
    reply->complete(make_error(errc::unavailable,
                               "activation of " + to_string(target) + " stopped before answering"));
}

}  // namespace keel
