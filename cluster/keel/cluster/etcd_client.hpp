#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include <caf/error.hpp>
#include <caf/expected.hpp>

#include "keel/cluster/etcd.pb.h"
#include "keel/cluster/etcd_tls.hpp"

namespace httplib {
class Client;
enum class Error;
}  // namespace httplib

namespace keel::cluster {

/// A blocking client of etcd's v3 JSON gateway (`/v3/kv/...`, `/v3/lease/...`,
/// `/v3/watch`) over one keep-alive HTTP connection with TCP_NODELAY, or HTTPS with TLS. Every
/// failure is an error value: `unavailable` when etcd cannot be reached or answers 5xx, `app_error`
/// for an answer that does not parse. Thread safety: one thread at a time per instance (it owns one
/// connection), except stop(), which any thread may call to break a running watch().
class etcd_client {
 public:
  /// `endpoint` is "host:port". `timeout` bounds every unary call; a watch waits forever.
  /// With `tls` enabled, every call goes over HTTPS; a refused handshake is `unavailable`
  /// with what went wrong (etcd's certificate, or ours).
  explicit etcd_client(std::string endpoint,
                       std::chrono::milliseconds timeout = std::chrono::milliseconds{1000},
                       const etcd_tls& tls = {});
  etcd_client(std::string endpoint, const etcd_tls& tls)
      : etcd_client(std::move(endpoint), std::chrono::milliseconds{1000}, tls) {}
  ~etcd_client();
  etcd_client(const etcd_client&) = delete;
  etcd_client& operator=(const etcd_client&) = delete;

  const std::string& endpoint() const noexcept { return endpoint_; }

  /// Every key starting with `prefix`, at one revision (the response header's).
  caf::expected<etcd::RangeResponse> get_prefix(const std::string& prefix);
  /// The key `key` itself; nullopt if it is absent.
  caf::expected<std::optional<etcd::KeyValue>> get(const std::string& key);
  caf::expected<etcd::TxnResponse> txn(const etcd::TxnRequest& request);
  caf::expected<etcd::PutResponse> put(const std::string& key, const std::string& value,
                                       int64_t lease = 0);
  caf::expected<etcd::DeleteRangeResponse> erase(const std::string& key);

  caf::expected<etcd::LeaseGrantResponse> grant_lease(std::chrono::seconds ttl);
  /// One keepalive round trip; the remaining TTL in seconds, 0 if the lease is gone.
  caf::expected<int64_t> keep_alive(int64_t lease);
  caf::error revoke_lease(int64_t lease);

  /// Streams the changes of every key under `prefix` from `start_revision` on, calling
  /// `on_response` for each response until it returns false, stop() is called, or the
  /// stream breaks. Returns why it ended (an empty error after stop() or `false`).
  caf::error watch(const std::string& prefix, int64_t start_revision,
                   const std::function<bool(const etcd::WatchResponse&)>& on_response);

  /// Breaks a running watch() from another thread; this instance serves no more calls.
  void stop();

  /// The smallest key greater than every key starting with `prefix` (etcd's range end).
  static std::string prefix_end(std::string prefix);

  /// Adds to `txn` the condition that `key` does not exist (its create revision is 0).
  static void require_absent(etcd::TxnRequest& txn, const std::string& key);
  /// Adds to `txn` the condition that `key` exists.
  static void require_present(etcd::TxnRequest& txn, const std::string& key);

 private:
  template <class Response>
  caf::expected<Response> post(const std::string& path, const google::protobuf::Message& body);

  // describe(err), plus over TLS what a dropped connection may mean.
  std::string describe_failure(httplib::Error err) const;

  std::string endpoint_;
  bool tls_ = false;
  std::unique_ptr<httplib::Client> http_;
  std::atomic<bool> stopped_{false};
};

/// A message as etcd's gateway prints it (proto field names), and back. Unknown fields are
/// ignored: newer etcd versions add some. Keel's own values in etcd use the same mapping.
std::string to_etcd_json(const google::protobuf::Message& msg);
caf::error from_etcd_json(std::string_view json, google::protobuf::Message& out);

/// What a cpp-httplib client error means, for people.
std::string describe(httplib::Error err);

}  // namespace keel::cluster
