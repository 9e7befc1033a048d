#include "keel/otlp/otlp_exporter.hpp"

#include <gtest/gtest.h>

#include <spdlog/logger.h>
#include <chrono>

#include "keel/test/etcd_process.hpp"
#include "keel/test/otlp_receiver.hpp"

namespace keel::otlp {
namespace {

using namespace std::chrono_literals;

const std::string trace_hex = "4bf92f3577b34da6a3ce929d0e0e4736";

void add_turns(span_buffer& buffer, int n) {
  for (int i = 0; i < n; ++i)
    buffer.add([&](span_record& rec) {
      rec.trace = *trace_id::from_hex(trace_hex);
      rec.span = span_id::make();
      rec.actor = actor_id{"counter", "k" + std::to_string(i)};
      rec.message = "Increment";
      rec.caller = "http";
      rec.outcome = "ok";
    });
}

// The thread never exports by itself here (an hour apart): the test exports when it says.
otlp_exporter exporter_to(const std::string& url, std::shared_ptr<span_buffer> spans) {
  exporter_options opts;
  opts.endpoint = *parse_endpoint(url);
  opts.source = {"n1", "keel"};
  opts.interval = 1h;
  opts.spans_per_request = 2;
  return {std::move(spans), std::move(opts), std::make_shared<spdlog::logger>("test")};
}

TEST(OtlpExporter, SendsEveryBufferedSpanInBoundedRequestsAndCountsThem) {
  test::otlp_receiver collector;
  auto spans = std::make_shared<span_buffer>(8);
  auto exporter = exporter_to(collector.endpoint(), spans);
  add_turns(*spans, 5);
  exporter.export_now();  // three requests: 2 + 2 + 1
  auto got = collector.spans_of(trace_hex);
  ASSERT_EQ(got.size(), 5u);
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].node, "n1");
    EXPECT_EQ(got[i].span.name(), "counter/Increment");
  }
  EXPECT_EQ(exporter.exported(), 5u);
  EXPECT_EQ(exporter.dropped(), 0u);
  EXPECT_EQ(collector.bad_requests(), 0u);
  exporter.export_now();  // nothing new: nothing sent twice
  EXPECT_EQ(collector.spans_of(trace_hex).size(), 5u);
}

TEST(OtlpExporter, ADeadCollectorDropsTheBatchAndTheCounterSaysSo) {
  auto spans = std::make_shared<span_buffer>(8);
  auto exporter = exporter_to("http://127.0.0.1:" + std::to_string(test::free_port()), spans);
  add_turns(*spans, 3);
  exporter.export_now();
  EXPECT_EQ(exporter.exported(), 0u);
  EXPECT_EQ(exporter.dropped(), 3u);
  std::string metrics;
  exporter.render_metrics(metrics);
  EXPECT_NE(metrics.find("keel_otlp_spans_dropped_total 3\n"), std::string::npos) << metrics;
  // The first request failed: the second half of the batch was not tried.
  EXPECT_NE(metrics.find("keel_otlp_export_failures_total 1\n"), std::string::npos) << metrics;
}

TEST(OtlpExporter, SpansBeyondAFullBufferAreDroppedWhileTheRestAreSent) {
  test::otlp_receiver collector;
  auto spans = std::make_shared<span_buffer>(2);
  auto exporter = exporter_to(collector.endpoint(), spans);
  add_turns(*spans, 3);
  exporter.export_now();
  EXPECT_EQ(collector.spans_of(trace_hex).size(), 2u);
  EXPECT_EQ(exporter.exported(), 2u);
  EXPECT_EQ(exporter.dropped(), 1u);
}

}  // namespace
}  // namespace keel::otlp
