// The only file that includes RESTinio (12 s to compile): keep it that way.
#include <atomic>

#include <restinio/all.hpp>

#include "keel/runtime/errc.hpp"
#include "keel/runtime/http/connection_table.hpp"
#include "keel/runtime/http/http_server.hpp"
#include "keel/runtime/http/tracked_socket.hpp"
#include "keel/runtime/http/tracked_tls_socket.hpp"

namespace keel::http {

std::string_view request::header(std::string_view name) const {
  for (const auto& [k, v] : headers)
    if (k == name) return v;
  return {};
}

namespace {

// Admits or refuses each accepted connection, closing idle ones to make room first.
class connection_gate {
 public:
  explicit connection_gate(std::shared_ptr<connection_table> table) : table_(std::move(table)) {}
  restinio::ip_blocker::inspection_result_t inspect(
      const restinio::ip_blocker::incoming_info_t& info) noexcept {
    auto verdict = table_->admit(info.remote_endpoint().address().to_string());
    return verdict == connection_table::verdict::admit
               ? restinio::ip_blocker::inspection_result_t::allow
               : restinio::ip_blocker::inspection_result_t::deny;
  }

 private:
  std::shared_ptr<connection_table> table_;
};

template <class Socket>
struct keel_traits : restinio::traits_t<restinio::asio_timer_manager_t, restinio::null_logger_t,
                                        restinio::details::autodetect_request_handler_type,
                                        restinio::default_strand_t, Socket> {
  static constexpr bool use_connection_count_limiter = true;
  using ip_blocker_t = connection_gate;
};
using plain_traits = keel_traits<detail::tracked_socket>;
using tls_traits = keel_traits<detail::tracked_tls_socket>;

std::string lowercase(std::string_view s) {
  std::string out{s};
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// The header value without the optional whitespace around it (RFC 9110 5.5).
std::string trimmed(std::string_view v) {
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
  return std::string{v};
}

template <class Traits>
class restinio_server final : public server {
 public:
  using handle_t = restinio::running_server_handle_t<Traits>;
  restinio_server(std::shared_ptr<asio::io_context> io, handle_t handle, uint16_t port)
      : io_(std::move(io)), handle_(std::move(handle)), port_(port) {}
  ~restinio_server() override { stop(); }

  uint16_t port() const noexcept override { return port_; }

  void stop() override {
    if (stopped_.exchange(true)) return;
    handle_->stop();
    handle_->wait();
  }

 private:
  std::shared_ptr<asio::io_context> io_;  // outlives the server running on it
  handle_t handle_;
  uint16_t port_;
  std::atomic<bool> stopped_{false};
};

std::string reason_phrase(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 409:
      return "Conflict";
    case 413:
      return "Payload Too Large";
    case 429:
      return "Too Many Requests";
    case 500:
      return "Internal Server Error";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    case 505:
      return "HTTP Version Not Supported";
    default:
      return "Status";
  }
}

// A HEAD request gets the headers a GET would, Content-Length included, and no body.
void send(const restinio::request_handle_t& req, response resp) {
  auto builder =
      req->create_response<restinio::user_controlled_output_t>(restinio::http_status_line_t{
          restinio::http_status_code_t{static_cast<std::uint16_t>(resp.status)},
          reason_phrase(resp.status)});
  builder.append_header(restinio::http_field::content_type, std::move(resp.content_type));
  for (auto& [name, value] : resp.headers) builder.append_header(name, value);
  builder.set_content_length(resp.body.size());
  if (req->header().method() != restinio::http_method_head())
    builder.set_body(std::move(resp.body));
  builder.done();
}

request to_request(const restinio::request_t& req, detail::request_versions& versions) {
  request r;
  if (auto version = versions.take(detail::peer_name(req.remote_endpoint())))
    std::tie(r.http_major, r.http_minor) = *version;
  r.method = req.header().method().c_str();
  r.path = std::string{req.header().path()};
  r.query = std::string{req.header().query()};
  r.client = req.remote_endpoint().address().to_string();
  for (const auto& field : req.header())
    r.headers.emplace_back(lowercase(field.name()), trimmed(field.value()));
  r.body = req.body();
  return r;
}

// The RESTinio request whose handler runs on this thread, if any.
thread_local const restinio::request_t* in_handler = nullptr;

// RESTinio 0.6.16 closes a connection that has pipelined requests waiting when a response
// is written from inside the request handler: the write resumes reading and so does the
// handler's return, and the second reader finds the request table full ("unable to insert
// context because response_context_table is full") and drops the connection. An answer
// given inside the handler is therefore posted, to be sent once the handler has returned.
auto make_request_handler(request_handler handler, std::shared_ptr<asio::io_context> io,
                          std::shared_ptr<detail::request_versions> versions) {
  return [handler = std::move(handler), io, versions](const restinio::request_handle_t& req) {
    in_handler = req.get();
    handler(to_request(*req, *versions), [req, io](response resp) {
      if (in_handler != req.get()) return send(req, std::move(resp));
      asio::post(*io, [req, resp = std::move(resp)]() mutable { send(req, std::move(resp)); });
    });
    in_handler = nullptr;
    return restinio::request_accepted();
  };
}

// The server's TLS context: TLS 1.2 and newer, the certificate chain and its key.
caf::expected<std::shared_ptr<asio::ssl::context>> make_tls_context(const tls_identity& id) {
  auto ctx = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_server);
  ctx->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                   asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                   asio::ssl::context::no_tlsv1_1 | asio::ssl::context::single_dh_use);
  asio::error_code ec;
  ctx->use_certificate_chain_file(id.cert, ec);
  if (ec) return make_error(errc::bad_payload, "TLS certificate " + id.cert + ": " + ec.message());
  ctx->use_private_key_file(id.key, asio::ssl::context::pem, ec);
  if (ec)
    return make_error(errc::bad_payload,
                      "TLS key " + id.key + " (for " + id.cert + "): " + ec.message());
  return ctx;
}

template <class Traits>
caf::expected<std::unique_ptr<server>> run_server(const server_options& opts,
                                                  request_handler handler,
                                                  std::shared_ptr<asio::ssl::context> tls) {
  auto bound_port = std::make_shared<std::atomic<uint16_t>>(opts.port);
  auto io = std::make_shared<asio::io_context>();
  auto table = opts.connections
                   ? opts.connections
                   : std::make_shared<connection_table>(connection_limits{opts.max_connections});
  auto versions = std::make_shared<detail::request_versions>();
  asio::make_service<detail::socket_service>(*io, table, versions, std::move(tls),
                                             opts.read_timeout);
  auto settings =
      restinio::server_settings_t<Traits>{}
          .address(opts.host)
          .port(opts.port)
          .max_parallel_connections(table->limits().max_connections)
          .ip_blocker(std::make_shared<connection_gate>(table))
          .read_next_http_message_timelimit(opts.read_timeout)
          .handle_request_timeout(opts.handle_timeout)
          .incoming_http_msg_limits(restinio::incoming_http_msg_limits_t{}
                                        .max_url_size(8192)
                                        .max_field_name_size(1024)
                                        .max_field_value_size(8192)
                                        .max_field_count(100)
                                        .max_body_size(opts.hard_body_cap))
          .socket_options_setter(
              [](auto& options) { options.set_option(restinio::asio_ns::ip::tcp::no_delay{true}); })
          .acceptor_post_bind_hook([bound_port](restinio::asio_ns::ip::tcp::acceptor& acceptor) {
            bound_port->store(acceptor.local_endpoint().port());
          })
          .request_handler(make_request_handler(std::move(handler), io, versions));
  try {
    auto handle = restinio::run_async(restinio::external_io_context(*io), std::move(settings),
                                      opts.threads == 0 ? 1 : opts.threads);
    return std::unique_ptr<server>{
        std::make_unique<restinio_server<Traits>>(io, std::move(handle), bound_port->load())};
  } catch (const std::exception& e) {
    return make_error(errc::unavailable, "cannot listen on " + opts.host + ":" +
                                             std::to_string(opts.port) + ": " + e.what());
  }
}

}  // namespace

caf::error check_can_listen(const std::string& host, uint16_t port) {
  if (port == 0) return {};
  asio::io_context io;
  asio::error_code ec;
  auto address = asio::ip::make_address(host, ec);
  if (ec) return make_error(errc::unavailable, "cannot listen on " + host + ": " + ec.message());
  asio::ip::tcp::acceptor probe{io};
  asio::ip::tcp::endpoint endpoint{address, port};
  if (!probe.open(endpoint.protocol(), ec) &&
      !probe.set_option(asio::ip::tcp::acceptor::reuse_address{true}, ec) &&
      !probe.bind(endpoint, ec))
    return {};
  return make_error(errc::unavailable,
                    "cannot listen on " + host + ":" + std::to_string(port) + ": " + ec.message());
}

caf::expected<std::unique_ptr<server>> start_server(const server_options& opts,
                                                    request_handler handler) {
  if (!opts.tls) return run_server<plain_traits>(opts, std::move(handler), nullptr);
  auto tls = make_tls_context(*opts.tls);
  if (!tls) return std::move(tls.error());
  return run_server<tls_traits>(opts, std::move(handler), std::move(*tls));
}

}  // namespace keel::http
