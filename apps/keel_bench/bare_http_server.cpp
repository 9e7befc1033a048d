// bare-http-server: the HTTP library with nothing of Keel, the baseline keel-bench compares
// keel-node's /healthz against. Same library, traits, threads and socket options as
// keel-node's server (runtime/keel/runtime/http/restinio_server.cpp).
#include <csignal>
#include <iostream>

#include <restinio/all.hpp>

namespace {

struct bare_traits : restinio::default_traits_t {
  static constexpr bool use_connection_count_limiter = true;
};

}  // namespace

int main(int argc, char** argv) {
  size_t threads = argc > 1 ? std::stoul(argv[1]) : 2;
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  std::atomic<uint16_t> port{0};
  auto server = restinio::run_async(
      restinio::own_io_context(),
      restinio::server_settings_t<bare_traits>{}
          .address("127.0.0.1")
          .port(0)
          .max_parallel_connections(10000)
          .socket_options_setter(
              [](auto& options) { options.set_option(restinio::asio_ns::ip::tcp::no_delay{true}); })
          .acceptor_post_bind_hook([&port](restinio::asio_ns::ip::tcp::acceptor& acceptor) {
            port = acceptor.local_endpoint().port();
          })
          .request_handler([](const restinio::request_handle_t& req) {
            return req->create_response()
                .append_header(restinio::http_field::content_type, "application/json")
                .set_body(R"({"status":"ok"})")
                .done();
          }),
      threads);
  std::cout << "bare-http-server listening http=127.0.0.1:" << port.load() << std::endl;
  int sig = 0;
  sigwait(&stop_signals, &sig);
  server->stop();
  server->wait();
  return 0;
}
