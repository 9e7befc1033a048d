// API key scopes, per-key rate limits and metrics, and the keys file read again on SIGHUP:
// real keel-node processes over real HTTP.
#include <fstream>
#include <map>
#include <regex>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <signal.h>

#include "keel/test/eventually.hpp"
#include "keel/test/node_process.hpp"
#include "keel/test/temp_dir.hpp"

namespace keel::test {
namespace {

using headers = std::map<std::string, std::string>;

headers bearer(const std::string& key) {
  return {{"Authorization", "Bearer " + key}};
}

std::string code_of(const http_reply& r) {
  static const std::regex code{R"re(^\{"error":\{"code":"([a-z_]+)","message":"[^"]*)re"};
  std::smatch m;
  if (!std::regex_search(r.body, m, code)) return "<no error body: " + r.body + ">";
  return m[1];
}

// The value of keel_http_requests_by_key_total for one key name and status class; 0 if the
// series is absent.
uint64_t by_key(const std::string& metrics, const std::string& name, const std::string& status) {
  std::smatch m;
  std::regex series{"keel_http_requests_by_key_total\\{key=\"" + name + "\",status=\"" + status +
                    "\"\\} (\\d+)"};
  return std::regex_search(metrics, m, series) ? std::stoull(m[1]) : 0;
}

void write_file(const std::string& path, const std::string& text) {
  std::ofstream{path} << text;
}

// One route of each scope, with what each kind of key gets there.
struct route_case {
  std::string scope;
  std::string method;
  std::string path;
};
const std::vector<route_case> one_route_per_scope{
    {"public", "GET", "/v1/riders/u1"},
    {"partner", "GET", "/v1/drivers/d1"},
    {"admin", "POST", "/v1/actors/counter/a/Get"},
};

http_reply call(node_process& node, const route_case& route, const headers& h) {
  return route.method == "GET" ? node.get(route.path, h) : node.post(route.path, "", h);
}

class ApiKeyScopes : public ::testing::Test {
 protected:
  void SetUp() override {
    write_file(keys_,
               "# scoped keys\n"
               "pub-3f9a public web-app\n"
               "par-77c1 partner acme-drivers   # a partner\n"
               "adm-0b2e admin ops\n"
               "\n"
               "bare-5d40\n");
    node_ = std::make_unique<node_process>(dir_.sub("data"),
                                           std::vector<std::string>{"--api-keys-file=" + keys_});
  }
  temp_dir dir_;
  std::string keys_ = dir_.sub("keys");
  std::unique_ptr<node_process> node_;
};

TEST_F(ApiKeyScopes, EachScopeReachesItsLevelAndBelowAndGets403ForbiddenAbove) {
  const std::map<std::string, std::map<std::string, int>> expected{
      {"pub-3f9a", {{"public", 200}, {"partner", 403}, {"admin", 403}}},
      {"par-77c1", {{"public", 200}, {"partner", 200}, {"admin", 403}}},
      {"adm-0b2e", {{"public", 200}, {"partner", 200}, {"admin", 200}}},
      {"bare-5d40", {{"public", 200}, {"partner", 200}, {"admin", 200}}},  // a key alone: admin
  };
  for (const auto& [key, by_scope] : expected)
    for (const auto& route : one_route_per_scope) {
      auto r = call(*node_, route, bearer(key));
      EXPECT_EQ(r.status, by_scope.at(route.scope))
          << key << " on " << route.path << ": " << r.body;
      if (r.status == 403) {
        EXPECT_EQ(code_of(r), "forbidden") << key << " on " << route.path;
        EXPECT_EQ(r.headers.count("www-authenticate"), 0u) << "403 is not a challenge";
      }
    }
  auto r = node_->post("/v1/actors/counter/a/Get", "", bearer("par-77c1"));
  EXPECT_EQ(r.body, R"({"error":{"code":"forbidden","message":"API key 'acme-drivers' has )"
                    R"(scope partner; this route needs admin"}})");
}

TEST_F(ApiKeyScopes, NoKeyOrAnUnknownOneIs401OnEveryScopedRoute) {
  for (const auto& route : one_route_per_scope) {
    auto none = call(*node_, route, {});
    EXPECT_EQ(none.status, 401) << route.path;
    EXPECT_EQ(code_of(none), "unauthenticated") << route.path;
    EXPECT_EQ(none.headers["www-authenticate"], "Bearer");
    // A prefix of a real key is no key.
    EXPECT_EQ(call(*node_, route, bearer("adm-0b2")).status, 401) << route.path;
  }
}

TEST_F(ApiKeyScopes, ClusterTraceAndLocateRoutesNeedAdminWhileHealthAndMetricsNeedNoKey) {
  const std::vector<std::string> admin_gets{
      "/v1/cluster",          "/v1/cluster/partitions",
      "/v1/cluster/events",   "/v1/requests/recent",
      "/v1/actors/counter/a", "/v1/traces/4bf92f3577b34da6a3ce929d0e0e4736"};
  for (const auto& path : admin_gets) {
    auto partner = node_->get(path, bearer("par-77c1"));
    EXPECT_EQ(partner.status, 403) << path;
    EXPECT_EQ(code_of(partner), "forbidden") << path;
    EXPECT_EQ(node_->get(path, bearer("adm-0b2e")).status, 200) << path;
  }
  auto drain = node_->post("/v1/cluster/nodes/n1/drain", "", bearer("par-77c1"));
  EXPECT_EQ(drain.status, 403);
  EXPECT_EQ(code_of(drain), "forbidden");
  for (const std::string path : {"/healthz", "/readyz", "/metrics", "/"})
    EXPECT_EQ(node_->get(path).status, 200) << path;
}

TEST_F(ApiKeyScopes, RideSharingRoutesDeclareRidersPublicAndDriversAndPaymentsPartner) {
  const std::string point = R"({"lat":52.52,"lng":13.40})";
  const std::string ride =
      R"({"riderId":"u1","pickup":{"lat":52.52,"lng":13.40},"dropoff":{"lat":52.53,"lng":13.42}})";
  auto pub = bearer("pub-3f9a");
  EXPECT_EQ(node_->post("/v1/quotes", R"({"pickup":)" + point + R"(,"dropoff":)" + point + "}", pub)
                .status,
            200);
  EXPECT_EQ(node_->get("/v1/riders/u1/alerts", pub).status, 200);
  auto placed = node_->post("/v1/rides", ride, pub);
  ASSERT_EQ(placed.status, 201) << placed.body;
  std::smatch id;
  ASSERT_TRUE(std::regex_search(placed.body, id, std::regex{R"re("rideId":"([^"]+)")re"}));
  EXPECT_EQ(node_->get("/v1/rides/" + id[1].str(), pub).status, 200);
    // What a driver or the payment side does is partner's.
    for (const auto& [method, path] : std::vector<std::pair<std::string, std::string>>{
             {"PUT", "/v1/drivers/d1/location"},
             {"PUT", "/v1/drivers/d1/availability"},
             {"GET", "/v1/drivers/d1/alerts"},
             {"POST", "/v1/rides/" + id[1].str() + "/accept"},
             {"POST", "/v1/rides/" + id[1].str() + "/start"},
             {"POST", "/v1/rides/" + id[1].str() + "/complete"},
             {"GET", "/v1/payments/pay-" + id[1].str()}}) {
      auto r = method == "PUT"   ? node_->put_json(path, point, pub)
               : method == "GET" ? node_->get(path, pub)
                                 : node_->post(path, "{}", pub);
      EXPECT_EQ(r.status, 403) << method << " " << path << ": " << r.body;
      EXPECT_EQ(code_of(r), "forbidden") << method << " " << path;
    }
    auto payment = node_->get("/v1/payments/pay-none", bearer("par-77c1"));  // past the scope
    EXPECT_EQ(payment.status, 404);
    EXPECT_EQ(code_of(payment), "not_found");
    EXPECT_EQ(node_->get("/v1/drivers/d1/alerts", bearer("par-77c1")).status, 200);
    // The rider cancels the ride.
    auto cancelled = node_->post("/v1/rides/" + id[1].str() + "/cancel", "", pub);
    EXPECT_EQ(cancelled.status, 200) << cancelled.body;
}

TEST(ApiKeysFile, AMalformedLineRefusesTheStartNamingFileAndLineButNeverTheKey) {
    const std::vector<std::pair<std::string, std::string>> cases{
        {"ok-1 admin ops\nsecret-zz root ops2\n",
         ":2: unknown scope 'root' (public, partner or "
         "admin)"},
        {"# c\n\nsecret-zz public\n",
         ":3: expected KEY SCOPE NAME [RATE] or a key alone, not 2 "
         "words"},
        {"secret-zz public a b c\n",
         ":1: expected KEY SCOPE NAME [RATE] or a key alone, not 5 "
         "words"},
        {"secret-zz public bad/name\n", ":1: name 'bad/name' must be 1-64 of A-Z a-z 0-9 _ . -"},
        {"secret-zz public web lots\n",
         ":1: RATE 'lots' must be requests per second (e.g. 5) or a "
         "rate such as 100/s,burst=200"},
        {"secret-zz public web 0\n", ":1: RATE '0' must be requests per second"},
        {"ok-1 admin ops\nsecret-zz partner ops\n", ":2: name 'ops' is already used on line 1"},
        {"secret-zz admin a\nsecret-zz admin b\n", ":2: this key is already on an earlier line"},
        {"# only a comment\n", ": no key (a line is KEY SCOPE NAME [RATE] or a key alone)"},
    };
    temp_dir dir;
    auto keys = dir.sub("keys");
    for (const auto& [text, why] : cases) {
      write_file(keys, text);
      std::string out;
      EXPECT_EQ(
          run_node_to_exit(
              {"--http-port=0", "--data-dir=" + dir.sub("data"), "--api-keys-file=" + keys}, out),
          1)
          << text;
      EXPECT_NE(out.find("keel-node: " + keys + why), std::string::npos) << text << "\n" << out;
      EXPECT_EQ(out.find("secret-zz"), std::string::npos) << "the key is in the output: " << out;
    }
}

TEST(ApiKeysReload, SighupAddsAndRemovesKeysAndABadFileKeepsTheOldOnes) {
    temp_dir dir;
    auto keys = dir.sub("keys");
    write_file(keys, "old-4411 admin old\n");
    node_process node{dir.sub("data"), {"--api-keys-file=" + keys}};
    const std::string path = "/v1/actors/counter/a/Get";
    ASSERT_EQ(node.post(path, "", bearer("old-4411")).status, 200);
    ASSERT_EQ(node.post(path, "", bearer("new-9c2e")).status, 401);

    write_file(keys, "new-9c2e admin new\n");
    ASSERT_EQ(kill(node.pid(), SIGHUP), 0);
    EXPECT_TRUE(eventually([&] { return node.post(path, "", bearer("new-9c2e")).status == 200; },
                           std::chrono::seconds{10}))
        << "phase: the added key after SIGHUP\n"
        << node.log();
    EXPECT_EQ(node.post(path, "", bearer("old-4411")).status, 401) << "the removed key still works";

    write_file(keys, "new-9c2e admin new\nother-1 superuser x\n");
    ASSERT_EQ(kill(node.pid(), SIGHUP), 0);
    const auto refused =
        "SIGHUP: kept the API keys in use: " + keys + ":2: unknown scope 'superuser'";
    EXPECT_TRUE(eventually([&] { return node.log().find(refused) != std::string::npos; },
                           std::chrono::seconds{10}))
        << "phase: the malformed file's reload logged\n"
        << node.log();
    EXPECT_EQ(metric_value(node.get("/metrics").body, "keel_api_keys_reload_failures_total"), 1u);
    EXPECT_EQ(node.post(path, "", bearer("new-9c2e")).status, 200)
        << "the keys in use were dropped";
    EXPECT_EQ(node.post(path, "", bearer("other-1")).status, 401);
    EXPECT_EQ(node.stop(SIGTERM), 0) << "SIGHUP must not have stopped the node";
}

TEST(ApiKeyRateLimit, AKeysOwnRateLimitsItExactlyAndAKeyWithoutOneHasTheFlags) {
    temp_dir dir;
    auto keys = dir.sub("keys");
    // Per minute, so that no token flows back while the test runs: the counts are exact.
    write_file(keys,
               "slow-8e01 admin slow 1/m,burst=3\n"
               "flag-62d0 admin flagged\n"
               "fast-a5c3 admin fast 1000\n");
    node_process node{dir.sub("data"), {"--api-keys-file=" + keys, "--rate-limit=1/m,burst=2"}};
    const std::string path = "/v1/actors/counter/a/Get";
    auto statuses = [&](const std::string& key, int n) {
      std::vector<int> out;
      for (int i = 0; i < n; ++i) out.push_back(node.post(path, "", bearer(key)).status);
      return out;
    };
    EXPECT_EQ(statuses("slow-8e01", 5), (std::vector<int>{200, 200, 200, 429, 429}));
    EXPECT_EQ(statuses("flag-62d0", 4), (std::vector<int>{200, 200, 429, 429}));
    EXPECT_EQ(statuses("fast-a5c3", 10), std::vector<int>(10, 200));
    auto limited = node.post(path, "", bearer("slow-8e01"));
    EXPECT_EQ(code_of(limited), "rate_limited");
    EXPECT_EQ(limited.headers["retry-after"], "60");
    auto metrics = node.get("/metrics").body;
    EXPECT_EQ(by_key(metrics, "slow", "2xx"), 3u);
    EXPECT_EQ(by_key(metrics, "slow", "4xx"), 3u);
    EXPECT_EQ(by_key(metrics, "flagged", "4xx"), 2u);
    EXPECT_EQ(by_key(metrics, "fast", "2xx"), 10u);
    EXPECT_EQ(by_key(metrics, "fast", "4xx"), 0u);
    EXPECT_EQ(metric_value(metrics, "keel_http_rate_limited_total"), 5u);
}

TEST(ApiKeyMetrics, RequestsAreCountedByKeyNameAndNoKeyEverAppearsInMetricsOrLogs) {
    temp_dir dir;
    auto keys = dir.sub("keys");
    const std::vector<std::string> secrets{"s3cr3t-pub-e81f", "s3cr3t-adm-19bd",
                                           "s3cr3t-bare-77aa"};
    write_file(keys,
               secrets[0] + " public web\n" + secrets[1] + " admin ops\n" + secrets[2] + "\n");
    node_process node{dir.sub("data"), {"--api-keys-file=" + keys, "--log-level=debug"}};
    EXPECT_EQ(node.post("/v1/actors/counter/m/Increment", R"({"by":1})", bearer(secrets[1])).status,
              200);
    EXPECT_EQ(node.post("/v1/actors/counter/m/Get", "", bearer(secrets[1])).status, 200);
    EXPECT_EQ(node.post("/v1/actors/counter/m/Get", "", bearer(secrets[0])).status, 403);
    EXPECT_EQ(node.get("/v1/riders/u1", bearer(secrets[0])).status, 200);
    EXPECT_EQ(node.post("/v1/actors/counter/m/Nope", "", bearer(secrets[2])).status, 404);
    EXPECT_EQ(node.post("/v1/actors/counter/m/Get", "", bearer("s3cr3t-wrong-0000")).status, 401);
    write_file(keys, secrets[1] + " admin ops\n" + secrets[0] + " nope web\n");
    ASSERT_EQ(kill(node.pid(), SIGHUP), 0);
    ASSERT_TRUE(
        eventually([&] { return node.log().find("kept the API keys") != std::string::npos; },
                   std::chrono::seconds{10}))
        << "phase: the malformed file's reload logged\n"
        << node.log();

    auto metrics = node.get("/metrics").body;
    EXPECT_EQ(by_key(metrics, "ops", "2xx"), 2u);
    EXPECT_EQ(by_key(metrics, "web", "2xx"), 1u);
    EXPECT_EQ(by_key(metrics, "web", "4xx"), 1u);
    EXPECT_EQ(by_key(metrics, "line-3", "4xx"), 1u);  // a key alone is named by its line
    EXPECT_EQ(metric_value(metrics, "keel_http_forbidden_total"), 1u);
    EXPECT_NE(metrics.find(R"(route="/v1/actors/{type}/{key}/{message}",status="403"} 1)"),
              std::string::npos)
        << metrics;
    auto log = node.log();
    for (const auto& text : {metrics, log})
      EXPECT_EQ(text.find("s3cr3t"), std::string::npos) << "a key leaked into:\n" << text;
}

}  // namespace
}  // namespace keel::test
