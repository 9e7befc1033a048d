// rideshare-sim's --node: what it connects to, checks the certificate against and sends as
// Host, for names, IPv4 and bracketed IPv6 addresses; and which forms it refuses, saying why.
#include <gtest/gtest.h>

#include <string>

#include "http_wire.hpp"
#include "keel/runtime/errc.hpp"
#include "sim_options.hpp"

namespace keel::sim {
namespace {

std::string host_header(const endpoint& node) {
  std::string request;
  format_request(request, "GET", "/healthz", node, {});
  auto at = request.find("\r\nHost: ");
  if (at == std::string::npos) return "(no Host header)";
  at += 8;
  return request.substr(at, request.find("\r\n", at) - at);
}

TEST(RideshareSimEndpoint, BracketedIpv6HostConnectsToTheBareAddressAndSendsTheBracketedHost) {
  auto https = parse_endpoint("https://[::1]:8443");
  ASSERT_TRUE(https) << message_of(https.error());
  EXPECT_EQ(https->host, "::1");  // resolved, and the certificate checked as an IP address
  EXPECT_EQ(https->port, 8443);
  EXPECT_TRUE(https->https);
  EXPECT_EQ(https->authority(), "[::1]:8443");
  EXPECT_EQ(host_header(*https), "[::1]:8443");

  auto http = parse_endpoint("http://[2001:db8::7]:80");
  ASSERT_TRUE(http) << message_of(http.error());
  EXPECT_EQ(http->host, "2001:db8::7");
  EXPECT_EQ(http->port, 80);
  EXPECT_FALSE(http->https);
  EXPECT_EQ(host_header(*http), "[2001:db8::7]:80");

  auto bare = parse_endpoint("[::ffff:127.0.0.1]:65535");
  ASSERT_TRUE(bare) << message_of(bare.error());
  EXPECT_EQ(bare->host, "::ffff:127.0.0.1");
  EXPECT_EQ(bare->port, 65535);
  EXPECT_FALSE(bare->https);
}

TEST(RideshareSimEndpoint, NamesAndIpv4AddressesAreUnchanged) {
  auto v4 = parse_endpoint("127.0.0.1:8080");
  ASSERT_TRUE(v4) << message_of(v4.error());
  EXPECT_EQ(v4->host, "127.0.0.1");
  EXPECT_EQ(v4->port, 8080);
  EXPECT_FALSE(v4->https);
  EXPECT_EQ(host_header(*v4), "127.0.0.1:8080");

  auto name = parse_endpoint("https://node-a.example:1");
  ASSERT_TRUE(name) << message_of(name.error());
  EXPECT_EQ(name->host, "node-a.example");
  EXPECT_EQ(name->port, 1);
  EXPECT_TRUE(name->https);
  EXPECT_EQ(host_header(*name), "node-a.example:1");
}

struct refused_form {
  std::string text;
  std::string message;
};

TEST(RideshareSimEndpoint, MalformedFormsAreRefusedSayingWhatIsWrong) {
  const refused_form forms[] = {
      {"[::1", "'[::1': '[' without its ']'"},
      {"https://[::1:8443", "'https://[::1:8443': '[' without its ']'"},
      {"[]:80", "'[]:80': no host between '[' and ']'"},
      {"http://:80", "'http://:80': no host before :port"},
      {"::1:8080", "'::1:8080': an IPv6 address goes in brackets, e.g. [::1]:8080"},
      {"[::1]8080", "'[::1]8080': no :port after ']'"},
      {"[::1]", "'[::1]': no :port after ']'"},
      {"[::1]:", "'[::1]:': the port is not a number"},
      {"[localhost]:80", "'[localhost]:80': 'localhost' in brackets is not an IPv6 address"},
      {"[::1]:0", "'[::1]:0': the port is not in 1-65535"},
      {"[::1]:65536", "'[::1]:65536': the port is not in 1-65535"},
      {"host:-1", "'host:-1': the port is not in 1-65535"},
      {"host", "'host': no :port"},
      {"", "'': no :port"},
  };
  for (const auto& form : forms) {
    auto parsed = parse_endpoint(form.text);
    ASSERT_FALSE(parsed) << form.text << " was taken as " << parsed->host << " port "
                         << parsed->port;
    EXPECT_EQ(code_of(parsed.error()), errc::bad_payload) << form.text;
    EXPECT_EQ(message_of(parsed.error()), form.message) << form.text;
  }
}

}  // namespace
}  // namespace keel::sim
