// --log-format=json: a real keel-node's stderr, one JSON object a line, with the trace id
// on the lines about a request.
#include <gtest/gtest.h>

#include <sstream>

#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>

#include "keel/test/node_process.hpp"
#include "keel/test/temp_dir.hpp"

namespace keel::test {
namespace {

std::string field(const google::protobuf::Struct& line, const std::string& name) {
  auto it = line.fields().find(name);
  return it == line.fields().end() ? std::string{} : it->second.string_value();
}

TEST(LogFormat, JsonLinesCarryTimeLevelLoggerMessageAndTheRequestsTraceId) {
  temp_dir dir;
  node_process node{
      dir.sub("data"),
      {"--test-actors", "--slow-request=100ms", "--log-level=debug", "--log-format=json"}};
  const std::string slow_trace = "6bf92f3577b34da6a3ce929d0e0e4731";
  const std::string failed_trace = "6bf92f3577b34da6a3ce929d0e0e4732";
  ASSERT_EQ(node.post("/v1/actors/relay/r1/Relay",
                      R"({"targetType":"slow","targetKey":"s1","sleepMs":400})",
                      {{"traceparent", "00-" + slow_trace + "-00f067aa0ba902b7-01"}})
                .status,
            200);
  ASSERT_EQ(node.post("/v1/actors/echo/e1/Fail", R"({"code":"conflict"})",
                      {{"traceparent", "00-" + failed_trace + "-00f067aa0ba902b7-01"}})
                .status,
            409);
  ASSERT_EQ(node.stop(SIGTERM), 0);
  std::istringstream log{node.log()};
  std::string text;
  int lines = 0, slow_lines = 0, failed_lines = 0, serving_lines = 0;
  while (std::getline(log, text)) {
    ++lines;
    google::protobuf::Struct line;
    ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(text, &line).ok())
        << "not a JSON object: " << text;
    EXPECT_EQ(field(line, "time").size(), 27u) << text;  // 2026-12-04T22:30:01.123456Z
    EXPECT_EQ(field(line, "time").back(), 'Z') << text;
    EXPECT_FALSE(field(line, "level").empty()) << text;
    EXPECT_FALSE(field(line, "logger").empty()) << text;
    auto message = field(line, "message");
    auto trace = field(line, "trace_id");
    // Every line that names a trace in its text carries it as a field too.
    if (auto at = message.find("trace"); at != std::string::npos) {
      EXPECT_TRUE(trace == slow_trace || trace == failed_trace) << text;
      EXPECT_NE(message.find(trace), std::string::npos) << text;
    }
    if (message.starts_with("slow request: Relay")) {
      ++slow_lines;
      EXPECT_EQ(trace, slow_trace) << text;
      EXPECT_EQ(field(line, "level"), "warning") << text;
    }
    // A stateless worker's turn names its activation (echo/#worker-0), not the key.
    if (message.starts_with("turn echo/") && message.find(" Fail trace=") != std::string::npos) {
      ++failed_lines;
      EXPECT_EQ(trace, failed_trace) << text;
      EXPECT_EQ(field(line, "level"), "debug") << text;
    }
    if (message.starts_with("node n1 serving")) {
      ++serving_lines;
      EXPECT_EQ(trace, "") << "a line about no request names no trace: " << text;
      EXPECT_EQ(field(line, "logger"), "node") << text;
    }
  }
  EXPECT_EQ(slow_lines, 1) << node.log();
  EXPECT_EQ(failed_lines, 1) << node.log();
  EXPECT_EQ(serving_lines, 1) << node.log();
  EXPECT_GT(lines, 3);
}

TEST(LogFormat, AnUnknownFormatIsRefusedNamingTheFlag) {
  std::string out;
  EXPECT_EQ(run_node_to_exit({"--log-format=xml"}, out), 2) << out;
  EXPECT_NE(out.find("--log-format"), std::string::npos) << out;
}

}  // namespace
}  // namespace keel::test
