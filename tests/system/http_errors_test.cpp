// Every error code one node can produce, exact over real HTTP to a child keel-node.
#include <fstream>
#include <future>
#include <regex>
#include <thread>

#include <gtest/gtest.h>

#include "keel/test/node_process.hpp"
#include "keel/test/shared_node_test.hpp"
#include "keel/test/temp_dir.hpp"

namespace keel::test {
namespace {

std::string code_of(const http_reply& r) {
  static const std::regex code{R"re(^\{"error":\{"code":"([a-z_]+)","message":"[^"]*)re"};
  std::smatch m;
  if (!std::regex_search(r.body, m, code)) return "<no error body: " + r.body + ">";
  return m[1];
}

struct http_errors_node {
  static std::vector<std::string> args() { return {"--test-actors", "--max-body=1KiB"}; }
};
class HttpErrors : public shared_node_test<http_errors_node> {};

TEST_F(HttpErrors, SuccessCarriesJsonAndATraceparent) {
  auto r = node_->post("/v1/actors/counter/ok/Increment", R"({"by":2})");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, R"({"value":"2"})");
  EXPECT_EQ(r.headers["content-type"], "application/json");
  EXPECT_TRUE(
      std::regex_match(r.headers["traceparent"], std::regex{"00-[0-9a-f]{32}-[0-9a-f]{16}-01"}));
}

TEST_F(HttpErrors, IncomingTraceIdIsKeptAndItsTurnsAreListed) {
  const std::string trace = "4bf92f3577b34da6a3ce929d0e0e4736";
  auto r = node_->post("/v1/actors/counter/tr/Increment", "{}",
                       {{"traceparent", "00-" + trace + "-00f067aa0ba902b7-01"}});
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.headers["traceparent"].substr(3, 32), trace);
  auto t = node_->get("/v1/traces/" + trace);
  EXPECT_EQ(t.status, 200);
  EXPECT_NE(t.body.find(R"("actor":"counter/tr","message":"Increment","caller":"http")"),
            std::string::npos)
      << t.body;
}

TEST_F(HttpErrors, MalformedJsonIs400) {
  auto r = node_->post("/v1/actors/counter/a/Increment", R"({"by":)");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(code_of(r), "bad_payload");
}

TEST_F(HttpErrors, WrongFieldTypeIs400NamingTheField) {
  auto r = node_->post("/v1/actors/counter/a/Increment", R"({"by":"seven"})");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(code_of(r), "bad_payload");
  EXPECT_NE(r.body.find("field 'by'"), std::string::npos) << r.body;
  auto nested = node_->post("/v1/actors/relay/a/Relay", R"({"sleepMs":1.5})");
  EXPECT_EQ(nested.status, 400);
  EXPECT_NE(nested.body.find("field 'sleepMs'"), std::string::npos) << nested.body;
}

TEST_F(HttpErrors, UnknownFieldIs400NamingTheField) {
  auto r = node_->post("/v1/actors/counter/a/Increment", R"({"by":1,"extra":true})");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(code_of(r), "bad_payload");
  EXPECT_NE(r.body.find("unknown field 'extra'"), std::string::npos) << r.body;
}

TEST_F(HttpErrors, UnknownRouteTypeAndMessageAre404WithTheirCodes) {
  auto route = node_->get("/v1/nothing");
  EXPECT_EQ(route.status, 404);
  EXPECT_EQ(code_of(route), "not_found");
  auto type = node_->post("/v1/actors/nope/a/Get", "");
  EXPECT_EQ(type.status, 404);
  EXPECT_EQ(code_of(type), "unknown_actor_type");
  auto message = node_->post("/v1/actors/counter/a/Nope", "");
  EXPECT_EQ(message.status, 404);
  EXPECT_EQ(code_of(message), "unknown_message");
}

TEST_F(HttpErrors, ControlCharactersInAKeyAre400) {
  auto r = node_->post("/v1/actors/counter/a%00b/Increment", R"({"by":1})");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(code_of(r), "bad_payload");
  EXPECT_NE(r.body.find("'key'"), std::string::npos) << r.body;
  auto escaped = node_->post("/v1/actors/counter/a%2Fb/Increment", R"({"by":1})");
  EXPECT_EQ(escaped.status, 200);  // an escaped slash is part of the key
}

TEST_F(HttpErrors, CounterOverflowIs409AndAnInt64OutOfRangeIs400) {
  auto max = node_->post("/v1/actors/counter/ovf/Increment", R"({"by":9223372036854775807})");
  ASSERT_EQ(max.status, 200) << max.body;
  EXPECT_EQ(max.body, R"({"value":"9223372036854775807"})");
  auto over = node_->post("/v1/actors/counter/ovf/Increment", R"({"by":1})");
  EXPECT_EQ(over.status, 409);
  EXPECT_EQ(over.body, R"x({"error":{"code":"conflict","message":"Increment by 1 would )x"
                       R"x(overflow the counter's value 9223372036854775807 (int64)"}})x");
  EXPECT_EQ(node_->post("/v1/actors/counter/ovf/Get", "").body,
            R"({"value":"9223372036854775807"})");
  auto below =
      node_->post("/v1/actors/counter/ovf-low/Increment", R"({"by":-9223372036854775809})");
  EXPECT_EQ(below.status, 400);
  EXPECT_EQ(below.body, R"x({"error":{"code":"bad_payload","message":"field 'by': )x"
                        R"x(-9223372036854775809 is out of range for int64"}})x");
  EXPECT_EQ(node_->post("/v1/actors/counter/ovf-low/Get", "").body, R"({"value":"0"})");
}

// Keys and ids are bounded: they are stored in every key of an actor's records.
TEST_F(HttpErrors, KeysAndIdsOver256BytesAre400NamingThem) {
  auto at_limit =
      node_->post("/v1/actors/counter/" + std::string(256, 'k') + "/Increment", R"({"by":1})");
  EXPECT_EQ(at_limit.status, 200) << at_limit.body;
  auto key =
      node_->post("/v1/actors/counter/" + std::string(257, 'k') + "/Increment", R"({"by":1})");
  EXPECT_EQ(key.status, 400) << key.body;
  EXPECT_NE(key.body.find("path parameter 'key' is longer than 256 bytes"), std::string::npos)
      << key.body;
  auto rider = node_->post("/v1/rides", R"({"riderId":")" + std::string(300, 'r') +
                                            R"(","pickup":{"lat":52.52,"lng":13.40},)"
                                            R"("dropoff":{"lat":52.53,"lng":13.42}})");
  EXPECT_EQ(rider.status, 400) << rider.body.substr(0, 200);
  EXPECT_NE(rider.body.find("field 'riderId': longer than 256 bytes"), std::string::npos)
      << rider.body.substr(0, 200);
}

TEST_F(HttpErrors, HandlerConflictIs409) {
  auto r =
      node_->post("/v1/actors/echo/e/Fail", R"({"code":"conflict","message":"ride is completed"})");
  EXPECT_EQ(r.status, 409);
  EXPECT_EQ(r.body, R"({"error":{"code":"conflict","message":"ride is completed"}})");
}

TEST_F(HttpErrors, OversizeBodyIs413) {
  std::string big = R"({"text":")" + std::string(2000, 'x') + R"("})";
  auto r = node_->post("/v1/actors/echo/e/Echo", big);
  EXPECT_EQ(r.status, 413);
  EXPECT_EQ(code_of(r), "payload_too_large");
  auto fits = node_->post("/v1/actors/echo/e/Echo", R"({"text":"small"})");
  EXPECT_EQ(fits.status, 200);
}

TEST_F(HttpErrors, AppErrorsMapToTheirStatuses) {
  for (auto [code, status] : std::vector<std::pair<std::string, int>>{
           {"rate_limited", 429}, {"unavailable", 503}, {"not_found", 404}}) {
    auto r = node_->post("/v1/actors/echo/e/Fail", R"({"code":")" + code + R"("})");
    EXPECT_EQ(r.status, status) << code;
    EXPECT_EQ(code_of(r), code);
  }
}

TEST_F(HttpErrors, ThrowingHandlerIs500AndStateStays) {
  ASSERT_EQ(node_->post("/v1/actors/thrower/h/Bump", "").status, 200);
  auto r = node_->post("/v1/actors/thrower/h/Throw", R"({"message":"kaput"})");
  EXPECT_EQ(r.status, 500);
  EXPECT_EQ(code_of(r), "app_error");
  auto after = node_->post("/v1/actors/thrower/h/Bump", "");
  EXPECT_EQ(after.body, R"({"count":"2"})");
}

TEST_F(HttpErrors, DeadlineIs504) {
  auto r =
      node_->post("/v1/actors/slow/s/Sleep", R"({"ms":400})", {{"X-Request-Timeout", "100ms"}});
  EXPECT_EQ(r.status, 504);
  EXPECT_EQ(code_of(r), "timeout");
  auto bad = node_->post("/v1/actors/slow/s/Sleep", "{}", {{"X-Request-Timeout", "soon"}});
  EXPECT_EQ(bad.status, 400);
}

TEST_F(HttpErrors, MetricsPassPromtool) {
  ASSERT_EQ(node_->post("/v1/actors/counter/m/Increment", "{}").status, 200);
  ASSERT_EQ(node_->post("/v1/actors/counter/m/Nope", "{}").status, 404);
  auto r = node_->get("/metrics");
  ASSERT_EQ(r.status, 200);
  EXPECT_NE(r.body.find("keel_turns_total"), std::string::npos);
  EXPECT_NE(r.body.find(R"(route="/v1/actors/{type}/{key}/{message}")"), std::string::npos);
  temp_dir dir;
  auto path = dir.sub("metrics.txt");
  std::ofstream{path} << r.body;
  std::string command = std::string{PROMTOOL_BINARY} + " check metrics < " + path + " 2>&1";
  ASSERT_EQ(system(command.c_str()), 0) << "promtool rejected:\n" << r.body;
}

TEST_F(HttpErrors, DashboardPageIsServedAndReadsMetricsAndTheCluster) {
  auto page = node_->get("/");
  EXPECT_EQ(page.status, 200);
  EXPECT_EQ(page.headers["content-type"], "text/html; charset=utf-8");
  EXPECT_NE(page.body.find("fetchWithin('/metrics')"), std::string::npos);
  EXPECT_NE(page.body.find("keel_turns_total"), std::string::npos);
  // The cluster panel reads GET /v1/cluster, which a single node answers too.
  EXPECT_NE(page.body.find("readJson('/v1/cluster', 'clustersub', 'the cluster view'"),
            std::string::npos);
  // A refusal (401 where keys are required) is said on the page, not left blank.
  EXPECT_NE(page.body.find("`the node refused ${what}: "), std::string::npos);
  auto view = node_->get("/v1/cluster");
  EXPECT_EQ(view.status, 200);
  EXPECT_NE(view.body.find(R"("coordinator":"n1","members":[{"nodeId":"n1","status":"up")"),
            std::string::npos)
      << view.body;
  // Alone, the node owns every partition (the dashboard showed 0).
  EXPECT_NE(view.body.find(R"("partitions":4096,)"), std::string::npos) << view.body;
  // 1xx/3xx answers are not counted as faults.
  EXPECT_NE(page.body.find("<th>other</th>"), std::string::npos);
}

TEST_F(HttpErrors, DrainOnASingleNodeIs409) {
  auto reply = node_->post("/v1/cluster/nodes/n1/drain", "");
  EXPECT_EQ(reply.status, 409);
  EXPECT_EQ(reply.body, R"({"error":{"code":"conflict","message":"a single node has nowhere )"
                        R"(to move its actors"}})");
  // The page shows the rebalance line (none on a single node).
  EXPECT_NE(node_->get("/").body.find("no rebalance yet"), std::string::npos);
}

TEST_F(HttpErrors, HealthAndReadiness) {
  EXPECT_EQ(node_->get("/healthz").body, R"({"status":"ok"})");
  EXPECT_EQ(node_->get("/readyz").body, R"({"status":"ready"})");
  auto locate = node_->get("/v1/actors/counter/a");
  EXPECT_EQ(locate.status, 200);
  EXPECT_NE(locate.body.find(R"("partition":2440,"node":"n1")"), std::string::npos) << locate.body;
}

TEST(HttpAdmission, OverMaxInflightIsAFast503Overloaded) {
  temp_dir dir;
  node_process node{dir.sub("data"), {"--test-actors", "--max-inflight=2", "--threads=2"}};
  // Two slow requests fill the admission window (each occupies a worker for 700 ms).
  auto a = std::async(std::launch::async,
                      [&] { return node.post("/v1/actors/slow/a/Sleep", R"({"ms":700})"); });
  auto b = std::async(std::launch::async,
                      [&] { return node.post("/v1/actors/slow/b/Sleep", R"({"ms":700})"); });
  std::this_thread::sleep_for(std::chrono::milliseconds{200});
  auto started = std::chrono::steady_clock::now();
  auto r = node.post("/v1/actors/counter/c/Get", "");
  auto took = std::chrono::steady_clock::now() - started;
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(code_of(r), "overloaded");
  EXPECT_LT(took, std::chrono::milliseconds{300});  // refused, not queued behind the slow ones
  EXPECT_EQ(a.get().status, 200);
  EXPECT_EQ(b.get().status, 200);
  EXPECT_EQ(node.post("/v1/actors/counter/c/Get", "").status, 200);
}

TEST(HttpRateLimit, EachApiKeyHasItsOwnTokenBucket) {
  temp_dir dir;
  auto keys = dir.sub("keys");
  std::ofstream{keys} << "alpha\nbeta\n";
  node_process node{dir.sub("data"), {"--api-keys-file=" + keys, "--rate-limit=1/s,burst=3"}};
  auto as = [](const std::string& key) {
    return std::map<std::string, std::string>{{"Authorization", "Bearer " + key}};
  };
  for (int i = 0; i < 3; ++i)
    EXPECT_EQ(node.post("/v1/actors/counter/a/Get", "", as("alpha")).status, 200) << i;
  auto limited = node.post("/v1/actors/counter/a/Get", "", as("alpha"));
  EXPECT_EQ(limited.status, 429);
  EXPECT_EQ(code_of(limited), "rate_limited");
  EXPECT_EQ(limited.headers["retry-after"], "1");
  // Another key has its own bucket; open routes are never limited.
  EXPECT_EQ(node.post("/v1/actors/counter/a/Get", "", as("beta")).status, 200);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(node.get("/healthz").status, 200);
  // One token a second: after 1.1 s alpha may call once more, not twice.
  std::this_thread::sleep_for(std::chrono::milliseconds{1100});
  EXPECT_EQ(node.post("/v1/actors/counter/a/Get", "", as("alpha")).status, 200);
  EXPECT_EQ(node.post("/v1/actors/counter/a/Get", "", as("alpha")).status, 429);
}

TEST(HttpRateLimit, BadFlagValueExitsNamingTheFlag) {
  std::string out;
  EXPECT_EQ(run_node_to_exit({"--rate-limit=lots"}, out), 2);
  EXPECT_NE(out.find("--rate-limit"), std::string::npos) << out;
}

TEST(HttpAuth, ApiKeysGuardEveryRouteButHealthReadyAndMetrics) {
  temp_dir dir;
  auto keys = dir.sub("keys");
  std::ofstream{keys} << "# ops keys\nsecret-1\n  secret-2  # rotated in\n";
  node_process node{dir.sub("data"), {"--api-keys-file=" + keys}};
  auto none = node.post("/v1/actors/counter/a/Get", "");
  EXPECT_EQ(none.status, 401);
  EXPECT_EQ(code_of(none), "unauthenticated");
  auto wrong = node.post("/v1/actors/counter/a/Get", "", {{"Authorization", "Bearer nope"}});
  EXPECT_EQ(wrong.status, 401);
  EXPECT_EQ(
      node.post("/v1/actors/counter/a/Get", "", {{"Authorization", "Bearer secret-1"}}).status,
      200);
  EXPECT_EQ(
      node.post("/v1/actors/counter/a/Get", "", {{"Authorization", "Bearer secret-2"}}).status,
      200);
  EXPECT_EQ(node.get("/healthz").status, 200);
  EXPECT_EQ(node.get("/readyz").status, 200);
  EXPECT_EQ(node.get("/metrics").status, 200);
}

}  // namespace
}  // namespace keel::test
