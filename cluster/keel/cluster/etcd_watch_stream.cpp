#include "keel/cluster/etcd_watch_stream.hpp"

#include "keel/cluster/etcd_client.hpp"
#include "keel/runtime/errc.hpp"

namespace keel::cluster {

bool etcd_watch_stream::feed(std::string_view bytes, const response_handler& on_response) {
  pending_.append(bytes);
  size_t start = 0;
  // Lines are consumed from `start`, and the rest kept once: erasing each line from the
  // front would copy the remainder once per line.
  for (auto newline = pending_.find('\n'); newline != std::string::npos;
       newline = pending_.find('\n', start)) {
    std::string_view line{pending_.data() + start, newline - start};
    start = newline + 1;
    if (line.find_first_not_of(" \r\t") == std::string_view::npos) continue;
    etcd::WatchStreamItem item;
    if (auto err = from_etcd_json(line, item)) {
      failure_ = std::move(err);
      return false;
    }
    if (item.has_error()) {
      failure_ = make_error(errc::unavailable, "etcd watch failed: " + item.error().message());
      return false;
    }
    if (item.result().canceled()) {
      failure_ = make_error(errc::unavailable,
                            "etcd cancelled the watch: " + item.result().cancel_reason() +
                                (item.result().compact_revision() > 0
                                     ? " (compacted at revision " +
                                           std::to_string(item.result().compact_revision()) + ")"
                                     : ""));
      return false;
    }
    if (!on_response(item.result())) return false;
  }
  pending_.erase(0, start);
  return true;
}

}  // namespace keel::cluster
