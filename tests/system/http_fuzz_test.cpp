// Generated bad requests against a real keel-node (bounded: a fixed seed, 5,000 requests):
// every answer is a documented status, never 500, the node stays up, and counters written
// before are intact after. KEEL_FUZZ_SEED picks another seed; a failure prints the request.
#include <cstdlib>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "keel/test/node_process.hpp"
#include "keel/test/raw_http.hpp"
#include "keel/test/temp_dir.hpp"

namespace keel::test {
namespace {

using namespace std::chrono_literals;

class request_generator {
 public:
  explicit request_generator(uint32_t seed) : rng_(seed) {}

  std::string next() {
    static const std::vector<std::string> methods{"GET",   "POST",    "PUT",  "DELETE", "HEAD",
                                                  "PATCH", "OPTIONS", "POST", "GET",    "PUT"};
    static const std::vector<std::string> routes{"/v1/actors/counter/{}/Increment",
                                                 "/v1/actors/counter/{}/Get",
                                                 "/v1/actors/{}/{}/{}",
                                                 "/v1/rides",
                                                 "/v1/rides/{}",
                                                 "/v1/rides/{}/accept",
                                                 "/v1/rides/{}/cancel",
                                                 "/v1/drivers/{}/location",
                                                 "/v1/drivers/{}/availability",
                                                 "/v1/drivers/{}",
                                                 "/v1/riders/{}",
                                                 "/v1/riders/{}/alerts",
                                                 "/v1/payments/{}",
                                                 "/v1/traces/{}",
                                                 "/v1/cluster",
                                                 "/v1/cluster/partitions",
                                                 "/v1/cluster/nodes/{}/drain",
                                                 "/healthz",
                                                 "/readyz",
                                                 "/metrics",
                                                 "/",
                                                 "/{}",
                                                 "/v1/{}/{}"};
    auto method = pick(methods);
    auto path = pick(routes);
    for (size_t at; (at = path.find("{}")) != std::string::npos;) path.replace(at, 2, segment());
    if (chance(10)) path += "?" + segment() + "=" + segment();
    std::string headers = "Host: keel\r\n";
    if (chance(20)) headers += "X-Request-Timeout: " + pick(timeouts()) + "\r\n";
    if (chance(20)) headers += "traceparent: " + pick(traceparents()) + "\r\n";
    if (chance(10)) headers += "Idempotency-Key: " + segment() + "\r\n";
    if (chance(10))
      headers += "Content-Type: " + pick({"application/json", "text/plain", ""}) + "\r\n";
    auto body = method == "GET" || method == "HEAD" ? std::string{} : json_body();
    return method + " " + path + " HTTP/1.1\r\n" + headers +
           "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
  }

 private:
  bool chance(int percent) { return std::uniform_int_distribution<int>{0, 99}(rng_) < percent; }
  size_t below(size_t n) { return std::uniform_int_distribution<size_t>{0, n - 1}(rng_); }
  std::string pick(const std::vector<std::string>& from) { return from[below(from.size())]; }

  static const std::vector<std::string>& timeouts() {
    static const std::vector<std::string> v{"0",    "-1", "abc",     "100ms", "99999999999999s",
                                            "1.5s", "",   " 200ms ", "1h"};
    return v;
  }
  static const std::vector<std::string>& traceparents() {
    static const std::vector<std::string> v{
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
        "zz",
        "",
        "00-xyz-abc-01",
        "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"};
    return v;
  }

  // A path segment: ordinary, empty, long, escaped, invalid UTF-8, NUL, dots.
  std::string segment() {
    static const std::vector<std::string> odd{
        "",        "%C0%AF",    "%FF%FE", "%00",
        "..",      ".",         "%2F",    "%",
        "%zz",     "caf%C3%A9", "a%20b",  "r-nope",
        "counter", "Increment", "n1",     "4bf92f3577b34da6a3ce929d0e0e4736"};
    if (chance(50)) return pick(odd);
    size_t length = chance(10) ? 257 + below(3000) : 1 + below(12);
    std::string out;
    for (size_t i = 0; i < length; ++i) out += static_cast<char>('a' + below(26));
    return out;
  }

  std::string json_body() {
    static const std::vector<std::string> values{"1",
                                                 "-1",
                                                 "0",
                                                 "9223372036854775807",
                                                 "-9223372036854775809",
                                                 "1e400",
                                                 "1.5",
                                                 "\"x\"",
                                                 "null",
                                                 "true",
                                                 "[]",
                                                 "{}",
                                                 "\"\\ud800\"",
                                                 "\"\xC0\xAF\"",
                                                 "NaN"};
    static const std::vector<std::string> shapes{
        R"({"by":V})",
        R"({"riderId":V,"pickup":{"lat":V,"lng":V},"dropoff":{"lat":V,"lng":V}})",
        R"({"lat":V,"lng":V})",
        R"({"available":V})",
        R"({"driverId":V})",
        R"([V])",
        "V",
        "",
        R"({"by":V,"extra":V})"};
    auto body = pick(shapes);
    for (size_t at; (at = body.find('V')) != std::string::npos;) body.replace(at, 1, pick(values));
    if (chance(15) && !body.empty()) body.resize(below(body.size()));  // truncated
    if (chance(15) && !body.empty()) body[below(body.size())] = static_cast<char>(below(256));
    if (chance(3)) body = std::string(5000, '[') + std::string(5000, ']');
    if (chance(3)) body = R"({"by":")" + std::string(20000, 'x') + "\"}";
    return body;
  }

  std::mt19937 rng_;
};

uint32_t fuzz_seed() {
  const char* env = std::getenv("KEEL_FUZZ_SEED");
  return env ? static_cast<uint32_t>(std::strtoul(env, nullptr, 10)) : 20261204u;
}

TEST(HttpFuzz, GeneratedBadRequestsGetDocumentedAnswersAndLoseNothing) {
  temp_dir dir;
  node_process node{dir.sub("data"), {"--max-body=8KiB"}};
  for (int c = 0; c < 10; ++c)
    ASSERT_EQ(node.post("/v1/actors/counter/canary" + std::to_string(c) + "/Increment",
                        R"({"by":)" + std::to_string(c + 1) + "}")
                  .status,
              200);
  auto seed = fuzz_seed();
  request_generator gen{seed};
  // The statuses docs/api.md lists for these routes; 500 (a fault of the node) is not one.
  const std::set<int> documented{200, 201, 202, 400, 401, 404, 405, 409, 413, 429, 503, 504, 505};
  std::optional<raw_connection> conn;
  for (int i = 0; i < 5000; ++i) {
    auto request = gen.next();
    if (!conn) conn.emplace(node.port());
    bool head = request.starts_with("HEAD ");
    std::optional<raw_response> r;
    if (conn->send(request)) r = conn->read_response(head, 10s);
    ASSERT_TRUE(r) << "seed " << seed << ", request " << i << " got no answer:\n" << request;
    ASSERT_TRUE(documented.count(r->status))
        << "seed " << seed << ", request " << i << ": " << r->status << " " << r->body << "\n"
        << request.substr(0, 600);
    // Every refusal names its code (a HEAD answer has no body).
    if (!head && r->status >= 400) {
      ASSERT_TRUE(r->body.starts_with(R"({"error":{"code":")"))
          << "seed " << seed << ", request " << i << ": " << r->status << " " << r->body << "\n"
          << request.substr(0, 600);
    }
    if (r->headers["connection"] == "close") conn.reset();
  }
  EXPECT_EQ(node.get("/healthz").status, 200);
  for (int c = 0; c < 10; ++c)
    EXPECT_EQ(node.post("/v1/actors/counter/canary" + std::to_string(c) + "/Get", "{}").body,
              R"({"value":")" + std::to_string(c + 1) + "\"}")
        << "canary " << c;
}

}  // namespace
}  // namespace keel::test
