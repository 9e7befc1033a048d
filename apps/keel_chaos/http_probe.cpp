#include "http_probe.hpp"

#include <httplib.h>

namespace keel::chaos {

namespace {

probe_reply reply_of(const httplib::Result& res) {
  if (!res) return {};
  return probe_reply{res->status, res->body};
}

httplib::Client client_for(int port, std::chrono::milliseconds timeout) {
  httplib::Client cli{"127.0.0.1", port};
  cli.set_connection_timeout(timeout);
  cli.set_read_timeout(timeout);
  cli.set_write_timeout(timeout);
  return cli;
}

}  // namespace

probe_reply http_get(int port, const std::string& path, std::chrono::milliseconds timeout) {
  auto cli = client_for(port, timeout);
  return reply_of(cli.Get(path));
}

probe_reply http_post(int port, const std::string& path, std::chrono::milliseconds timeout) {
  auto cli = client_for(port, timeout);
  return reply_of(cli.Post(path, "", "application/json"));
}

}  // namespace keel::chaos
