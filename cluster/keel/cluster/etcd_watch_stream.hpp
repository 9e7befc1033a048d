#pragma once

#include <functional>
#include <string>
#include <string_view>

#include <caf/error.hpp>

#include "keel/cluster/etcd.pb.h"

namespace keel::cluster {

/// etcd's watch stream as its JSON gateway writes it, one object a line, decoded from the
/// pieces the transport delivers (split anywhere, a line over several pieces or several
/// lines in one). A line holds a response, an error, or the watch's cancellation.
/// Thread safety: externally synchronized (the watching thread owns it).
class etcd_watch_stream {
 public:
  using response_handler = std::function<bool(const etcd::WatchResponse&)>;

  /// Passes each response that `bytes` completes to `on_response`, in order, and keeps an
  /// incomplete line for the next call. Returns false when the watch must end: a line that
  /// does not parse, an error from etcd or a cancelled watch (failure() says which), or
  /// `on_response` returned false (failure() is empty). Requires: no call after it
  /// returned false.
  bool feed(std::string_view bytes, const response_handler& on_response);

  /// Why the stream ended; empty while it goes on, or when the handler ended it.
  const caf::error& failure() const noexcept { return failure_; }

 private:
  std::string pending_;  // bytes of a line whose newline has not arrived yet
  caf::error failure_;
};

}  // namespace keel::cluster
