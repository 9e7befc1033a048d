// HTTP as a protocol, over raw sockets to a child keel-node: pipelining, connection limits
// under a flood of idle connections, malformed requests, HEAD, 405, and API-key handling.
#include <chrono>
#include <filesystem>
#include <fstream>
#include <optional>
#include <regex>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include <unistd.h>

#include "keel/test/node_process.hpp"
#include "keel/test/raw_http.hpp"
#include "keel/test/shared_node_test.hpp"
#include "keel/test/temp_dir.hpp"

namespace keel::test {
namespace {

using namespace std::chrono_literals;

std::string get(const std::string& path, const std::string& extra = "") {
  return "GET " + path + " HTTP/1.1\r\nHost: keel\r\n" + extra + "\r\n";
}

std::string post(const std::string& path, const std::string& body) {
  return "POST " + path +
         " HTTP/1.1\r\nHost: keel\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" +
         body;
}

struct http_protocol_node {
  static std::vector<std::string> args() { return {"--test-actors"}; }
};
class HttpProtocol : public shared_node_test<http_protocol_node> {};

// RESTinio 0.6.16 dropped the connection when a response written inside its request
// handler met a pipelined request: one answer of three, then the connection closed.
TEST_F(HttpProtocol, PipelinedRequestsAreAllAnsweredInOrderAndTheConnectionStaysOpen) {
  raw_connection c{node_->port()};
  std::string batch = get("/healthz") + get("/healthz") + get("/healthz") + get("/v1/nothing") +
                      post("/v1/actors/counter/pipe/Increment", R"({"by":2})") + get("/readyz") +
                      post("/v1/actors/counter/pipe/Increment", R"({"by":3})");
  for (int i = 0; i < 20; ++i) batch += get("/healthz");
  ASSERT_TRUE(c.send(batch));
  std::vector<std::string> bodies;
  for (int i = 0; i < 27; ++i) {
    auto r = c.read_response();
    ASSERT_TRUE(r) << "response " << i << " of 27 never came";
    bodies.push_back(std::to_string(r->status) + " " + r->body);
  }
  const std::string ok = R"(200 {"status":"ok"})";
  EXPECT_EQ(std::vector(bodies.begin(), bodies.begin() + 7),
            (std::vector<std::string>{
                ok, ok, ok,
                R"(404 {"error":{"code":"not_found","message":"no route for GET /v1/nothing"}})",
                R"(200 {"value":"2"})", R"(200 {"status":"ready"})", R"(200 {"value":"5"})"}));
  EXPECT_EQ(std::vector(bodies.begin() + 7, bodies.end()), std::vector<std::string>(20, ok));
  ASSERT_TRUE(c.send(get("/healthz")));
  auto after = c.read_response();
  ASSERT_TRUE(after) << "the connection closed after the pipelined batch";
  EXPECT_EQ(after->status, 200);
}

TEST_F(HttpProtocol, Http11WithoutHostIs400AndHttp10WithoutHostIsServed) {
  raw_connection c{node_->port()};
  ASSERT_TRUE(c.send("GET /healthz HTTP/1.1\r\n\r\n"));
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  EXPECT_EQ(r->body, R"({"error":{"code":"bad_payload","message":"an HTTP/1.1 request needs a )"
                     R"(Host header"}})");
  raw_connection c10{node_->port()};
  ASSERT_TRUE(c10.send("GET /healthz HTTP/1.0\r\n\r\n"));
  auto r10 = c10.read_response();
  ASSERT_TRUE(r10);
  EXPECT_EQ(r10->status, 200);
  raw_connection twice{node_->port()};
  ASSERT_TRUE(twice.send("GET /healthz HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"));
  auto r2 = twice.read_response();
  ASSERT_TRUE(r2);
  EXPECT_EQ(r2->status, 400);
  EXPECT_EQ(r2->body, R"({"error":{"code":"bad_payload","message":"more than one Host header"}})");
}

TEST_F(HttpProtocol, AnUnknownHttpVersionIs505) {
  raw_connection c{node_->port()};
  ASSERT_TRUE(c.send("GET /healthz HTTP/9.9\r\nHost: keel\r\n\r\n"));
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 505);
  EXPECT_EQ(r->body, R"({"error":{"code":"http_version_not_supported","message":"HTTP/9.9 is )"
                     R"(not supported; use HTTP/1.1 or HTTP/1.0"}})");
}

TEST_F(HttpProtocol, AHeaderNameWithASpaceIs400) {
  raw_connection c{node_->port()};
  ASSERT_TRUE(c.send(get("/healthz", "X Bad: 1\r\n")));
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  EXPECT_EQ(r->body, R"({"error":{"code":"bad_payload","message":"header name 'x bad' is not )"
                     R"(a token"}})");
}

TEST_F(HttpProtocol, HeadIsGetWithoutTheBody) {
  raw_connection c{node_->port()};
  ASSERT_TRUE(c.send("HEAD /healthz HTTP/1.1\r\nHost: keel\r\n\r\n" + get("/healthz")));
  auto head = c.read_response(/*head=*/true);
  ASSERT_TRUE(head);
  EXPECT_EQ(head->status, 200);
  EXPECT_EQ(head->headers["content-length"], "15");  // the GET body's length
  EXPECT_EQ(head->body, "");
  auto then = c.read_response();  // parses only if HEAD sent no body bytes
  ASSERT_TRUE(then);
  EXPECT_EQ(then->body, R"({"status":"ok"})");
}

TEST_F(HttpProtocol, AWrongMethodOnAKnownPathIs405WithAllow) {
  raw_connection c{node_->port()};
  ASSERT_TRUE(c.send("DELETE /healthz HTTP/1.1\r\nHost: keel\r\n\r\n" +
                     post("/v1/actors/counter/a", "") + get("/v1/actors/counter/a/Increment")));
  auto health = c.read_response();
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 405);
  EXPECT_EQ(health->headers["allow"], "GET, HEAD");
  EXPECT_EQ(health->body, R"({"error":{"code":"method_not_allowed","message":"DELETE is not )"
                          R"(allowed on /healthz; use GET, HEAD"}})");
  auto locate = c.read_response();
  ASSERT_TRUE(locate);
  EXPECT_EQ(locate->status, 405);
  EXPECT_EQ(locate->headers["allow"], "GET, HEAD");
  auto invoke = c.read_response();
  ASSERT_TRUE(invoke);
  EXPECT_EQ(invoke->status, 405);
  EXPECT_EQ(invoke->headers["allow"], "POST");
}

TEST_F(HttpProtocol, HeaderValuesAreTrimmed) {
  auto r = node_->post("/v1/actors/slow/t/Sleep", R"({"ms":1})", {{"X-Request-Timeout", "200ms "}});
  EXPECT_EQ(r.status, 200) << r.body;
}

// Idle connections (silent, or kept alive after a request) are closed, oldest first, to
// keep room for new clients: with --max-connections=20 the node keeps at most 18 open.
TEST(HttpConnections, AFloodOfIdleConnectionsCannotLockANewClientOut) {
  temp_dir dir;
  node_process node{dir.sub("data"), {"--max-connections=20", "--http-threads=1"}};
  std::vector<raw_connection> idle;
  for (int i = 0; i < 10; ++i) {  // kept alive after a request
    idle.emplace_back(node.port());
    ASSERT_TRUE(idle.back().send(get("/healthz")));
    ASSERT_TRUE(idle.back().read_response()) << "keep-alive connection " << i;
  }
  for (int i = 0; i < 30; ++i) idle.emplace_back(node.port());  // never send a byte

  raw_connection fresh{node.port()};
  ASSERT_TRUE(fresh.send(get("/healthz")));
  auto health = fresh.read_response(false, 5s);
  ASSERT_TRUE(health) << "a new client got no answer with 40 idle connections open";
  EXPECT_EQ(health->status, 200);
  // 41 connections, 18 kept: the 23 idle the longest were closed.
  for (size_t i = 0; i < 23; ++i) EXPECT_TRUE(idle[i].closed_by_peer(5s)) << "connection " << i;
  for (size_t i = 23; i < idle.size(); ++i) EXPECT_TRUE(idle[i].open_and_quiet()) << i;
  ASSERT_TRUE(fresh.send(get("/metrics")));
  auto metrics = fresh.read_response();
  ASSERT_TRUE(metrics);
  EXPECT_NE(metrics->body.find("\nkeel_http_connections 18\n"), std::string::npos);
  EXPECT_NE(metrics->body.find("\nkeel_http_connections_closed_idle_total 23\n"),
            std::string::npos);
}

TEST(HttpConnections, AClientAtItsCapHasItsOldestIdleConnectionClosed) {
  temp_dir dir;
  node_process node{dir.sub("data"), {"--max-connections-per-client=3", "--http-threads=1"}};
  std::vector<raw_connection> idle;
  for (int i = 0; i < 3; ++i) idle.emplace_back(node.port());
  raw_connection fresh{node.port()};
  ASSERT_TRUE(fresh.send(get("/healthz")));
  auto health = fresh.read_response(false, 5s);
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
  EXPECT_TRUE(idle[0].closed_by_peer(5s));
  EXPECT_TRUE(idle[1].open_and_quiet());
  EXPECT_TRUE(idle[2].open_and_quiet());
}

TEST(HttpAuthHeaders, TheSchemeIsCaseInsensitiveValuesAreTrimmedAnd401NamesBearer) {
  temp_dir dir;
  auto keys = dir.sub("keys");
  std::ofstream{keys} << "secret-1\n";
  node_process node{dir.sub("data"), {"--api-keys-file=" + keys}};
  for (auto value : {"Bearer secret-1 ", "bearer secret-1", "BEARER  secret-1"})
    EXPECT_EQ(node.post("/v1/actors/counter/a/Get", "", {{"Authorization", value}}).status, 200)
        << value;
  auto none = node.post("/v1/actors/counter/a/Get", "");
  EXPECT_EQ(none.status, 401);
  EXPECT_EQ(none.headers["www-authenticate"], "Bearer");
}

TEST(HttpAuthHeaders, FailedKeysFromOneAddressAreThrottledWith429) {
  temp_dir dir;
  auto keys = dir.sub("keys");
  std::ofstream{keys} << "secret-1\n";
  node_process node{dir.sub("data"),
                    {"--api-keys-file=" + keys, "--auth-failure-limit=1/m,burst=3"}};
  const std::map<std::string, std::string> wrong{{"Authorization", "Bearer guess"}};
  const std::map<std::string, std::string> right{{"Authorization", "Bearer secret-1"}};
  for (int i = 0; i < 3; ++i)
    EXPECT_EQ(node.post("/v1/actors/counter/a/Get", "", wrong).status, 401) << i;
  auto throttled = node.post("/v1/actors/counter/a/Get", "", wrong);
  EXPECT_EQ(throttled.status, 429);
  EXPECT_EQ(throttled.headers["retry-after"], "60");
  EXPECT_EQ(throttled.body, R"({"error":{"code":"rate_limited","message":"too many failed API )"
                            R"(keys from 127.0.0.1; retry in 60 s"}})");
  // Even the right key waits: a throttle that still checked keys would confirm a guess.
  EXPECT_EQ(node.post("/v1/actors/counter/a/Get", "", right).status, 429);
  EXPECT_EQ(node.get("/healthz").status, 200);
  auto metrics = node.get("/metrics").body;
  EXPECT_NE(metrics.find("\nkeel_http_auth_throttled_total 2\n"), std::string::npos);
}

TEST_F(HttpProtocol, ABodyThatIsNotAJsonObjectIs400SayingSo) {
  for (auto [body, kind] : std::vector<std::pair<std::string, std::string>>{
           {"[1]", "an array"}, {"5", "a number"}, {R"("x")", "a string"}, {"null", "null"}}) {
    auto r = node_->post("/v1/actors/counter/j/Increment", body);
    EXPECT_EQ(r.status, 400) << body;
    EXPECT_EQ(r.body, R"({"error":{"code":"bad_payload","message":"the body must be a JSON )"
                      R"(object (or empty), not )" +
                          kind + R"("}})")
        << body;
  }
  // protobuf's JSON mapping: null is the field's default.
  EXPECT_EQ(node_->post("/v1/actors/counter/j/Increment", R"({"by":null})").body,
            R"({"value":"0"})");
}

TEST_F(HttpProtocol, AnAllZeroTraceIdIsRefusedAsW3CSays) {
  auto r = node_->get("/v1/traces/" + std::string(32, '0'));
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.body, R"({"error":{"code":"bad_payload","message":"traceId: must not be all )"
                    R"x(zeros (an invalid id in W3C Trace Context)"}})x");
}

TEST(NodeFlags, AZeroWhereAFlagNeedsMoreExitsTwoNamingTheFlag) {
  for (auto [arg, message] : std::vector<std::pair<std::string, std::string>>{
           {"--request-timeout=0", "--request-timeout: must be more than 0, not '0'"},
           {"--idle-timeout=0", "--idle-timeout: must be more than 0, not '0'"},
           {"--max-body=0", "--max-body: must be at least 1 byte, not '0'"},
           {"--lease-ttl=0s", "--lease-ttl: must be more than 0, not '0s'"},
           {"--ride-search-timeout=0", "--ride-search-timeout: must be at least 1s, not '0'"},
           {"--max-connections-per-client=0",
            "--max-connections-per-client: expected off or a number of connections >= 1, not "
            "'0'"}}) {
    std::string out;
    EXPECT_EQ(run_node_to_exit({arg}, out), 2) << arg;
    EXPECT_NE(out.find("keel-node: " + message), std::string::npos) << arg << ": " << out;
  }
}

TEST(NodeFlags, ABadEnvironmentValueNamesTheVariableAndTheCommandLineStillWins) {
  std::string out;
  EXPECT_EQ(run_node_to_exit({}, out, {{"KEEL_HTTP_PORT", "abc"}}), 2);
  EXPECT_NE(out.find("keel-node: environment variable KEEL_HTTP_PORT='abc': "), std::string::npos)
      << out;
  temp_dir dir;
  node_process node{dir.sub("data"), {}, {{"KEEL_HTTP_PORT", "abc"}}};  // --http-port=0 given
  EXPECT_EQ(node.get("/healthz").status, 200);
}

TEST(NodeFlags, ATakenHttpPortExitsOneBeforeTheDataDirIsOpened) {
  temp_dir dir;
  node_process first{dir.sub("first")};
  auto second = dir.sub("second");
  std::string out;
  EXPECT_EQ(run_node_to_exit(
                {"--http-port=" + std::to_string(first.port()), "--data-dir=" + second}, out),
            1);
  EXPECT_NE(out.find("keel-node: cannot listen on 127.0.0.1:" + std::to_string(first.port()) +
                     ": Address already in use"),
            std::string::npos)
      << out;
  EXPECT_FALSE(std::filesystem::exists(second)) << "the data dir was created: " << out;
}

}  // namespace
}  // namespace keel::test
