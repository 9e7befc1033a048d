// --otlp-endpoint against a real collector of the test's own: the spans of a ride request
// across a 3-node cluster form one tree, and a collector that is down or hangs costs spans
// (counted), never an answer.
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <map>
#include <set>

#include <fmt/format.h>
#include <google/protobuf/struct.pb.h>

#include "cluster_fixture.hpp"
#include "keel/test/otlp_receiver.hpp"

namespace keel::test {
namespace {

std::string attribute(const otlp::Span& span, const std::string& key) {
  for (const auto& kv : span.attributes())
    if (kv.key() == key) return kv.value().string_value();
  return {};
}

// "node actor message" of each turn, as GET /v1/traces lists them and as spans name them.
using turn_keys = std::multiset<std::string>;

turn_keys rows_of(node_process& node, const std::string& trace) {
  google::protobuf::Struct body;
  auto reply = node.get("/v1/traces/" + trace);
  EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(reply.body, &body).ok()) << reply.body;
  turn_keys out;
  auto turns = body.fields().find("turns");
  if (turns == body.fields().end()) return out;
  for (const auto& t : turns->second.list_value().values()) {
    const auto& f = t.struct_value().fields();
    out.insert(f.at("node").string_value() + " " + f.at("actor").string_value() + " " +
               f.at("message").string_value());
  }
  return out;
}

turn_keys keys_of(const std::vector<received_span>& spans) {
  turn_keys out;
  for (const auto& s : spans)
    out.insert(s.node + " " + attribute(s.span, "keel.actor.type") + "/" +
               attribute(s.span, "keel.actor.key") + " " + attribute(s.span, "keel.message"));
  return out;
}

class Otlp : public Cluster {
 protected:
  otlp_receiver collector_;
};

// Every turn of a ride request is one span, on the node that ran it; the request's first
// turn is the child of the client's span and every other span's parent is a span of the
// same trace, also where an ask or a tell crossed nodes.
TEST_F(Otlp, RideRequestAcrossThreeNodesExportsOneSpanTree) {
  std::vector<node_process*> nodes;
  for (const char* id : {"n1", "n2", "n3"})
    nodes.push_back(&start_node(id, {"--otlp-endpoint=" + collector_.endpoint()}));
  ASSERT_TRUE(eventually([&] { return member_ids(*nodes[0]).size() == 3; }, 10s)) << "phase: join";
  for (int d = 0; d < 3; ++d) {
    auto id = "d" + std::to_string(d);
    ASSERT_EQ(nodes[0]
                  ->put_json("/v1/drivers/" + id + "/location", R"({"lat":52.521,"lng":13.401})")
                  .status,
              200);
    ASSERT_EQ(
        nodes[0]->put_json("/v1/drivers/" + id + "/availability", R"({"available":true})").status,
        200);
  }
  std::string trace;
  std::vector<received_span> spans;
  std::set<std::string> span_nodes;
  // A ride's actors are placed by hash: ask again until one request ran on two nodes.
  for (int attempt = 0; attempt < 10 && span_nodes.size() < 2; ++attempt) {
    trace = fmt::format("{:016x}{:016x}", 0x7bf92f3577b34da6ULL, 0xa3ce929d0e0e4000ULL + attempt);
    auto& via = *nodes[attempt % 3];
    auto reply = via.post("/v1/rides",
                          R"({"riderId":"u1","pickup":{"lat":52.52,"lng":13.40},)"
                          R"("dropoff":{"lat":52.53,"lng":13.42}})",
                          {{"traceparent", "00-" + trace + "-00f067aa0ba902b7-01"}});
    ASSERT_EQ(reply.status, 201) << reply.body;
    turn_keys rows;
    ASSERT_TRUE(eventually(
        [&] {
          rows = rows_of(via, trace);
          spans = collector_.spans_of(trace);
          return rows.size() >= 2 && keys_of(spans) == rows;
        },
        10s))
        << "phase: spans of ride request " << attempt << " at the collector\nturns:\n"
        << fmt::format("{}", fmt::join(rows, "\n")) << "\nspans:\n"
        << fmt::format("{}", fmt::join(keys_of(spans), "\n"));
    span_nodes.clear();
    for (const auto& s : spans) span_nodes.insert(s.node);
  }
  ASSERT_GE(span_nodes.size(), 2u) << "no ride request in 10 ran on more than one node";
  std::map<std::string, const received_span*> by_id;
  for (const auto& s : spans) {
    EXPECT_EQ(s.service, "keel");
    EXPECT_EQ(s.cluster, "keel");
    EXPECT_TRUE(by_id.emplace(hex_of(s.span.span_id()), &s).second) << "span id twice";
  }
  int roots = 0, cross_node = 0;
  for (const auto& s : spans) {
    auto parent = by_id.find(hex_of(s.span.parent_span_id()));
    if (parent == by_id.end()) {
      // The request's first turn hangs under the client's span from its traceparent.
      ++roots;
      EXPECT_EQ(hex_of(s.span.parent_span_id()), "00f067aa0ba902b7") << s.span.name();
      EXPECT_EQ(s.span.name(), "ride/RequestRide");
      EXPECT_EQ(attribute(s.span, "keel.caller"), "http");
      continue;
    }
    if (parent->second->node != s.node) ++cross_node;
    // The caller is the parent turn's actor.
    EXPECT_EQ(attribute(s.span, "keel.caller"),
              attribute(parent->second->span, "keel.actor.type") + "/" +
                  attribute(parent->second->span, "keel.actor.key"))
        << s.span.name();
  }
  EXPECT_EQ(roots, 1);
  EXPECT_GE(cross_node, 1) << "spans on two nodes, yet no parent link between them";
  EXPECT_EQ(collector_.bad_requests(), 0u);
}

// Increments counters c0..c<n-1> once each; every answer must be 200. Returns the slowest
// answer's time.
std::chrono::steady_clock::duration increment_each(node_process& node, int n) {
  auto slowest = std::chrono::steady_clock::duration::zero();
  for (int i = 0; i < n; ++i) {
    auto start = std::chrono::steady_clock::now();
    auto status =
        node.post("/v1/actors/counter/c" + std::to_string(i) + "/Increment", R"({"by":1})").status;
    EXPECT_EQ(status, 200) << "increment " << i;
    slowest = std::max(slowest, std::chrono::steady_clock::now() - start);
  }
  return slowest;
}

// The node's /metrics once `keel_otlp_spans_dropped_total` reads `dropped` (or at `limit`,
// failing the test).
std::string metrics_once_dropped(node_process& node, uint64_t dropped,
                                 std::chrono::milliseconds limit) {
  std::string metrics;
  EXPECT_TRUE(eventually(
      [&] {
        metrics = node.get("/metrics").body;
        return metric_value(metrics, "keel_otlp_spans_dropped_total") == dropped;
      },
      limit))
      << "phase: " << dropped << " drops counted\n"
      << metrics;
  return metrics;
}

// With nothing listening at the endpoint every request still answers; each turn's span is
// dropped and counted.
TEST(OtlpCollectorDown, TurnsAnswerAndEverySpanIsCountedAsDropped) {
  temp_dir dir;
  node_process node{dir.sub("data"),
                    {"--otlp-endpoint=http://127.0.0.1:" + std::to_string(free_port())}};
  increment_each(node, 50);
  auto metrics = metrics_once_dropped(node, 50, 10s);
  EXPECT_EQ(metric_value(metrics, "keel_turns_total"), 50u);
  EXPECT_EQ(metric_value(metrics, "keel_otlp_spans_exported_total"), 0u);
  EXPECT_GE(metric_value(metrics, "keel_otlp_export_failures_total"), 1u);
}

// A collector that takes the connection and never answers holds up the exporter (2 s per
// request), not the turns: requests answer at their usual speed meanwhile.
TEST(OtlpCollectorHangs, TurnsAnswerWithoutWaitingAndTheSpansAreDropped) {
  int hung = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(hung, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(hung, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(listen(hung, 16), 0);  // the kernel accepts connections; nobody reads them
  socklen_t len = sizeof addr;
  ASSERT_EQ(getsockname(hung, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  temp_dir dir;
  node_process node{dir.sub("data"),
                    {"--otlp-endpoint=http://127.0.0.1:" + std::to_string(ntohs(addr.sin_port))}};
  // The exporter's requests time out after 2 s; no turn may have waited for one.
  EXPECT_LT(increment_each(node, 100), 1s) << "a turn waited for the hung collector";
  auto metrics = metrics_once_dropped(node, 100, 15s);
  EXPECT_EQ(metric_value(metrics, "keel_otlp_spans_exported_total"), 0u);
  close(hung);
}

}  // namespace
}  // namespace keel::test
