// GET /openapi.json: valid OpenAPI 3.1 by a real validator from npm, and the live answers
// of a real keel-node match the schemas it publishes.
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "keel/test/eventually.hpp"
#include "keel/test/node_process.hpp"
#include "keel/test/temp_dir.hpp"

namespace keel::test {
namespace {

namespace fs = std::filesystem;

// The validator, pinned so that a new release cannot change what passes.
constexpr const char* redocly = "@redocly/cli@1.25.15";

std::string on_path(const std::string& name) {
  const char* path = std::getenv("PATH");
  std::stringstream dirs{path ? path : ""};
  for (std::string dir; std::getline(dirs, dir, ':');)
    if (fs::exists(fs::path{dir} / name)) return (fs::path{dir} / name).string();
  return {};
}

std::string read(const std::string& path) {
  std::ifstream in{path};
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// Runs a program to its end (at most `limit`); its exit status, `output` its stdout+stderr.
int run(const std::string& binary, const std::vector<std::string>& args, const temp_dir& dir,
        std::chrono::seconds limit, std::string& output) {
  auto out = dir.sub("run.out"), err = dir.sub("run.err");
  auto pid = spawn_process(binary, args, {}, out, err);
  int status = wait_process_exit(pid, limit);
  output = read(out) + read(err);
  return status;
}

struct sample {
  std::string method, route;
  http_reply reply;
};

std::string samples_json(const std::vector<sample>& samples) {
  std::string out = "[";
  for (const auto& s : samples) {
    std::string body;
    for (char c : s.reply.body)
      body += c == '"' ? std::string{"\\\""} : c == '\\' ? "\\\\" : std::string{c};
    out += (out.size() > 1 ? "," : "") + std::string{R"({"method":")"} + s.method +
           R"(","route":")" + s.route + R"(","status":)" + std::to_string(s.reply.status) +
           R"(,"body":")" + body + "\"}";
  }
  return out + "]";
}

class OpenApi : public ::testing::Test {
 protected:
  void SetUp() override {
    node_ = std::make_unique<node_process>(dir_.sub("data"));
    auto r = node_->get("/openapi.json");
    ASSERT_EQ(r.status, 200);
    EXPECT_EQ(r.headers["content-type"], "application/json");
    document_ = r.body;
    std::ofstream{dir_.sub("openapi.json")} << document_;
  }
  temp_dir dir_;
  std::unique_ptr<node_process> node_;
  std::string document_;
};

TEST_F(OpenApi, TheDocumentIsValidOpenApi31ForARealValidator) {
  auto npx = on_path("npx");
  if (npx.empty()) GTEST_SKIP() << "npx is not installed (Debian: npm)";
  std::string out;
  int status = run(npx, {"--yes", redocly, "lint", dir_.sub("openapi.json")}, dir_,
                   std::chrono::seconds{240}, out);
  EXPECT_EQ(status, 0) << "redocly lint:\n" << out;
  EXPECT_NE(out.find("Your API description is valid"), std::string::npos) << out;
  EXPECT_EQ(out.find("warning"), std::string::npos) << "redocly's recommended rules warn:\n" << out;
}

TEST_F(OpenApi, FieldsScopesAndStatusesAreAsTheNodeServesThem) {
  // The JSON mapping's names and types: camelCase, int64 as a string, enums by name.
  for (const char* expected : {
           R"("keel.rideshare.RequestRide":{"type":"object","properties":{"riderId":)",
           R"("requestedAtMs":{"type":"string","format":"int64","pattern":"^-?[0-9]+$"})",
           R"("status":{"type":"string","enum":["none","searching","matched","accepted",)"
           R"("in_progress","completed","cancelled"]})",
           R"("/v1/drivers/{id}/location":{"put":{"operationId":"put_v1_drivers__id__location")",
           R"("security":[{"apiKey":["partner"]}])",
           R"("security":[{"apiKey":["admin"]}])",
           R"("security":[{"apiKey":["public"]}])",
           R"("403":{"description":"forbidden")",
           R"("201":{"description":"success","content":{"application/json":{"schema":)"
           R"({"$ref":"#/components/schemas/keel.rideshare.Ride"}}}})",
       })
    EXPECT_NE(document_.find(expected), std::string::npos) << expected;
  // Open routes need no key, and /openapi.json describes itself.
  EXPECT_NE(document_.find(R"("/healthz":{"get":{"operationId":"get_healthz")"), std::string::npos);
  EXPECT_NE(document_.find(R"("/openapi.json":{"get":)"), std::string::npos);
}

TEST_F(OpenApi, LiveResponsesMatchTheirPublishedSchemas) {
  auto node = on_path("node");
  if (node.empty()) GTEST_SKIP() << "node is not installed (Debian: nodejs)";
  auto& n = *node_;
  const std::string pickup = R"({"lat":52.52,"lng":13.40})";
  const std::string dropoff = R"({"lat":52.53,"lng":13.42})";
  std::vector<sample> samples;
  samples.push_back({"PUT", "/v1/drivers/{id}/location",
                     n.put_json("/v1/drivers/d1/location", R"({"lat":52.521,"lng":13.401})")});
  samples.push_back({"PUT", "/v1/drivers/{id}/availability",
                     n.put_json("/v1/drivers/d1/availability", R"({"available":true})")});
  samples.push_back({"POST", "/v1/rides",
                     n.post("/v1/rides", R"({"riderId":"u1","pickup":)" + pickup +
                                             R"(,"dropoff":)" + dropoff + "}")});
  std::smatch id;
  ASSERT_TRUE(
      std::regex_search(samples.back().reply.body, id, std::regex{R"re("rideId":"([^"]+)")re"}))
      << samples.back().reply.body;
  const std::string ride = id[1];
  samples.push_back({"GET", "/v1/rides/{id}", n.get("/v1/rides/" + ride)});
  samples.push_back({"POST", "/v1/rides/{id}/accept",
                     n.post("/v1/rides/" + ride + "/accept", R"({"driverId":"d1"})")});
  samples.push_back({"POST", "/v1/rides/{id}/start", n.post("/v1/rides/" + ride + "/start", "")});
  samples.push_back(
      {"POST", "/v1/quotes",
       n.post("/v1/quotes", R"({"pickup":)" + pickup + R"(,"dropoff":)" + dropoff + "}")});
  samples.push_back({"GET", "/v1/drivers/{id}", n.get("/v1/drivers/d1")});
  samples.push_back({"GET", "/v1/riders/{id}", n.get("/v1/riders/u1")});
  samples.push_back({"GET", "/v1/riders/{id}/alerts", n.get("/v1/riders/u1/alerts")});
  samples.push_back({"GET", "/v1/cluster", n.get("/v1/cluster")});
  samples.push_back({"GET", "/v1/cluster/partitions", n.get("/v1/cluster/partitions")});
  samples.push_back({"POST", "/v1/actors/{type}/{key}/{message}",
                     n.post("/v1/actors/counter/a/Increment", R"({"by":2})")});
  samples.push_back({"GET", "/healthz", n.get("/healthz")});
  // Once an interval closed (5 s after the start), with every field it can have.
  ASSERT_TRUE(eventually(
      [&] { return n.get("/v1/stats").body.find("\"hotActors\":[{") != std::string::npos; },
      std::chrono::seconds{10}, std::chrono::milliseconds{20}))
      << "phase stats: no interval closed within 10 s";
  samples.push_back({"GET", "/v1/stats", n.get("/v1/stats")});
  samples.push_back({"GET", "/v1/cluster/events", n.get("/v1/cluster/events")});
  samples.push_back({"GET", "/v1/requests/recent", n.get("/v1/requests/recent")});
  // Errors have the error body, under the status their code maps to.
  samples.push_back({"GET", "/v1/payments/{id}", n.get("/v1/payments/pay-none")});
  samples.push_back({"POST", "/v1/rides", n.post("/v1/rides", R"({"riderId":"u1"})")});
  samples.push_back({"POST", "/v1/rides/{id}/start", n.post("/v1/rides/" + ride + "/start", "")});
  std::vector<int> statuses;
  for (const auto& s : samples) statuses.push_back(s.reply.status);
  EXPECT_EQ(statuses, (std::vector<int>{200, 200, 201, 200, 200, 200, 200, 200, 200, 200,
                                        200, 200, 200, 200, 200, 200, 200, 404, 400, 409}));

  auto check = fs::path{__FILE__}.parent_path() / "openapi_check.js";
  std::ofstream{dir_.sub("samples.json")} << samples_json(samples);
  std::string out;
  EXPECT_EQ(run(node, {check.string(), dir_.sub("openapi.json"), dir_.sub("samples.json")}, dir_,
                std::chrono::seconds{60}, out),
            0)
      << out;
  EXPECT_NE(out.find("20 of 20 responses match their schemas"), std::string::npos) << out;

  // The check can fail: a ride whose fare is a string does not match.
  sample bad{"GET", "/v1/rides/{id}", samples[3].reply};
  bad.reply.body =
      std::regex_replace(bad.reply.body, std::regex{R"("fareCents":(\d+))"}, R"("fareCents":"$1")");
  std::ofstream{dir_.sub("bad.json")} << samples_json({bad});
  EXPECT_EQ(run(node, {check.string(), dir_.sub("openapi.json"), dir_.sub("bad.json")}, dir_,
                std::chrono::seconds{60}, out),
            1)
      << out;
  EXPECT_NE(out.find("GET /v1/rides/{id} 200: $.fareCents: \""), std::string::npos) << out;
  EXPECT_NE(out.find("\" is string, not integer"), std::string::npos) << out;
}

}  // namespace
}  // namespace keel::test
