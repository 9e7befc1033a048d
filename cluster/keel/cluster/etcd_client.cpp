#include "keel/cluster/etcd_client.hpp"

#include <google/protobuf/util/json_util.h>
#include <httplib.h>

#include "keel/cluster/etcd_watch_stream.hpp"
#include "keel/runtime/errc.hpp"

namespace keel::cluster {

namespace {

using google::protobuf::util::JsonParseOptions;
using google::protobuf::util::JsonPrintOptions;

}  // namespace

std::string to_etcd_json(const google::protobuf::Message& msg) {
  JsonPrintOptions opts;
  opts.preserve_proto_field_names = true;
  std::string out;
  (void)google::protobuf::util::MessageToJsonString(msg, &out, opts);
  return out;
}

caf::error from_etcd_json(std::string_view json, google::protobuf::Message& out) {
  JsonParseOptions opts;
  opts.ignore_unknown_fields = true;  // newer etcd versions add fields
  auto status = google::protobuf::util::JsonStringToMessage(
      google::protobuf::StringPiece{json.data(), json.size()}, &out, opts);
  if (!status.ok())
    return make_error(errc::app_error, "etcd answered JSON that does not parse as " +
                                           out.GetDescriptor()->name() + ": " +
                                           std::string{status.message()});
  return {};
}

std::string describe(httplib::Error err) {
  switch (err) {
    case httplib::Error::Connection:
      return "cannot connect (refused, or nothing listens there)";
    case httplib::Error::ConnectionTimeout:
      return "connect timed out";
    case httplib::Error::Read:
      return "no answer (the connection closed or the read timed out)";
    case httplib::Error::Write:
      return "the request could not be sent";
    case httplib::Error::SSLConnection:
      return "TLS handshake failed (etcd refused this node's client certificate, or does not "
             "speak TLS there)";
    case httplib::Error::SSLServerVerification:
      return "etcd's certificate is not signed by the CA given (--etcd-ca) or does not name "
             "the host dialled";
    case httplib::Error::SSLLoadingCerts:
      return "the CA file (--etcd-ca) could not be loaded";
    default:
      return httplib::to_string(err);
  }
}

namespace {

std::pair<std::string, uint16_t> split_endpoint(const std::string& endpoint) {
  auto colon = endpoint.rfind(':');
  if (colon == std::string::npos) return {endpoint, 2379};
  return {endpoint.substr(0, colon), static_cast<uint16_t>(std::stoi(endpoint.substr(colon + 1)))};
}

}  // namespace

etcd_client::etcd_client(std::string endpoint, std::chrono::milliseconds timeout,
                         const etcd_tls& tls)
    : endpoint_(std::move(endpoint)) {
  auto [host, port] = split_endpoint(endpoint_);
  tls_ = tls.enabled();
  if (tls_) {
    http_ = std::make_unique<httplib::Client>("https://" + host + ":" + std::to_string(port),
                                              tls.client.cert, tls.client.key);
    if (!tls.ca.empty()) http_->set_ca_cert_path(tls.ca);
    http_->enable_server_certificate_verification(true);
  } else {
    http_ = std::make_unique<httplib::Client>(host, port);
  }
  http_->set_tcp_nodelay(true);  // httplib's default (Nagle on) costs ~40 ms per call
  http_->set_keep_alive(true);
  http_->set_connection_timeout(timeout);
  http_->set_read_timeout(timeout);
  http_->set_write_timeout(timeout);
}

etcd_client::~etcd_client() = default;

std::string etcd_client::describe_failure(httplib::Error err) const {
  // TLS 1.3 ends the handshake before the server has checked the client's certificate: a
  // refused one shows as a connection closed at the first write or read.
  if (tls_ && (err == httplib::Error::Read || err == httplib::Error::Write))
    return describe(err) +
           "; over TLS, etcd closes the connection so when it refuses this "
           "node's client certificate (--etcd-cert)";
  return describe(err);
}

template <class Response>
caf::expected<Response> etcd_client::post(const std::string& path,
                                          const google::protobuf::Message& body) {
  if (stopped_.load()) return make_error(errc::unavailable, "etcd client stopped");
  auto res = http_->Post(path, to_etcd_json(body), "application/json");
  if (!res)
    return make_error(errc::unavailable,
                      "etcd at " + endpoint_ + " unreachable: " + describe_failure(res.error()));
  if (res->status != 200) {
    auto code = res->status >= 500 ? errc::unavailable : errc::app_error;
    return make_error(code, "etcd at " + endpoint_ + " answered " + std::to_string(res->status) +
                                " to " + path + ": " + res->body.substr(0, 300));
  }
  Response out;
  if (auto err = from_etcd_json(res->body, out)) return err;
  return out;
}

caf::expected<etcd::RangeResponse> etcd_client::get_prefix(const std::string& prefix) {
  etcd::RangeRequest req;
  req.set_key(prefix);
  req.set_range_end(prefix_end(prefix));
  return post<etcd::RangeResponse>("/v3/kv/range", req);
}

caf::expected<std::optional<etcd::KeyValue>> etcd_client::get(const std::string& key) {
  etcd::RangeRequest req;
  req.set_key(key);  // no range end: this key only
  auto res = post<etcd::RangeResponse>("/v3/kv/range", req);
  if (!res) return std::move(res.error());
  if (res->kvs_size() == 0) return std::optional<etcd::KeyValue>{};
  return std::optional<etcd::KeyValue>{res->kvs(0)};
}

caf::expected<etcd::TxnResponse> etcd_client::txn(const etcd::TxnRequest& request) {
  return post<etcd::TxnResponse>("/v3/kv/txn", request);
}

caf::expected<etcd::PutResponse> etcd_client::put(const std::string& key, const std::string& value,
                                                  int64_t lease) {
  etcd::PutRequest req;
  req.set_key(key);
  req.set_value(value);
  req.set_lease(lease);
  return post<etcd::PutResponse>("/v3/kv/put", req);
}

caf::expected<etcd::DeleteRangeResponse> etcd_client::erase(const std::string& key) {
  etcd::DeleteRangeRequest req;
  req.set_key(key);
  return post<etcd::DeleteRangeResponse>("/v3/kv/deleterange", req);
}

caf::expected<etcd::LeaseGrantResponse> etcd_client::grant_lease(std::chrono::seconds ttl) {
  etcd::LeaseGrantRequest req;
  req.set_ttl(ttl.count());
  auto res = post<etcd::LeaseGrantResponse>("/v3/lease/grant", req);
  if (res && !res->error().empty())
    return make_error(errc::unavailable, "etcd refused a lease: " + res->error());
  return res;
}

caf::expected<int64_t> etcd_client::keep_alive(int64_t lease) {
  etcd::LeaseKeepAliveRequest req;
  req.set_id(lease);
  // A streaming endpoint: one request object in, one {"result":...} out.
  auto item = post<etcd::KeepAliveStreamItem>("/v3/lease/keepalive", req);
  if (!item) return std::move(item.error());
  if (item->has_error())
    return make_error(errc::unavailable, "etcd keepalive failed: " + item->error().message());
  return item->result().ttl();
}

caf::error etcd_client::revoke_lease(int64_t lease) {
  etcd::LeaseRevokeRequest req;
  req.set_id(lease);
  auto res = post<etcd::ResponseHeader>("/v3/lease/revoke", req);
  return res ? caf::error{} : std::move(res.error());
}

caf::error etcd_client::watch(const std::string& prefix, int64_t start_revision,
                              const std::function<bool(const etcd::WatchResponse&)>& on_response) {
  etcd::WatchRequest req;
  auto* create = req.mutable_create_request();
  create->set_key(prefix);
  create->set_range_end(prefix_end(prefix));
  create->set_start_revision(start_revision);
  etcd_watch_stream stream;
  bool stopped_by_caller = false;
  httplib::Request http_req;
  http_req.method = "POST";
  http_req.path = "/v3/watch";
  http_req.body = to_etcd_json(req);
  http_req.set_header("Content-Type", "application/json");
  http_req.content_receiver = [&](const char* data, size_t size, uint64_t, uint64_t) {
    if (!stream.feed({data, size}, on_response)) {
      stopped_by_caller = !stream.failure();
      return false;
    }
    return !stopped_.load();
  };
  // A watch is silent while nothing changes: no read timeout.
  http_->set_read_timeout(std::chrono::hours{24 * 365});
  httplib::Response http_res;
  httplib::Error http_err = httplib::Error::Success;
  bool ok = !stopped_.load() && http_->send(http_req, http_res, http_err);
  if (stopped_by_caller || stopped_.load()) return {};
  if (stream.failure()) return stream.failure();
  if (!ok)
    return make_error(errc::unavailable,
                      "etcd watch on " + endpoint_ + " broke: " + describe_failure(http_err));
  return make_error(errc::unavailable,
                    "etcd ended the watch stream with status " + std::to_string(http_res.status));
}

void etcd_client::stop() {
  stopped_.store(true);
  http_->stop();
}

void etcd_client::require_absent(etcd::TxnRequest& txn, const std::string& key) {
  auto* absent = txn.add_compare();
  absent->set_key(key);
  absent->set_target(etcd::Compare::CREATE);
  absent->set_result(etcd::Compare::EQUAL);
  absent->set_create_revision(0);
}

void etcd_client::require_present(etcd::TxnRequest& txn, const std::string& key) {
  auto* present = txn.add_compare();
  present->set_key(key);
  present->set_target(etcd::Compare::CREATE);
  present->set_result(etcd::Compare::GREATER);
  present->set_create_revision(0);
}

std::string etcd_client::prefix_end(std::string prefix) {
  while (!prefix.empty()) {
    auto& last = prefix.back();
    if (static_cast<unsigned char>(last) < 0xff) {
      ++last;
      return prefix;
    }
    prefix.pop_back();
  }
  return std::string(1, '\0');  // every key
}

}  // namespace keel::cluster
