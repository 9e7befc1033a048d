#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "keel/cluster/etcd_watch_stream.hpp"
#include "keel/runtime/errc.hpp"

namespace keel::cluster {
namespace {

constexpr std::string_view two_responses =
    "{\"result\":{\"watch_id\":\"1\",\"created\":true}}\n"
    "\r\n"
    "{\"result\":{\"events\":[{\"kv\":{\"key\":\"YQ==\",\"mod_revision\":\"5\"}}]}}\n";

TEST(EtcdWatchStream, ResponsesArriveWholeHoweverTheTransportSplitsThem) {
  for (size_t piece = 1; piece <= two_responses.size(); ++piece) {
    etcd_watch_stream stream;
    std::vector<int64_t> revisions;
    for (size_t at = 0; at < two_responses.size(); at += piece)
      ASSERT_TRUE(stream.feed(two_responses.substr(at, piece), [&](const auto& res) {
        revisions.push_back(res.events_size() ? res.events(0).kv().mod_revision() : 0);
        return true;
      }));
    EXPECT_EQ(revisions, (std::vector<int64_t>{0, 5})) << "pieces of " << piece;
    EXPECT_FALSE(stream.failure());
  }
}

TEST(EtcdWatchStream, LineWithoutItsNewlineWaitsForTheRest) {
  etcd_watch_stream stream;
  int responses = 0;
  auto count = [&](const auto&) {
    ++responses;
    return true;
  };
  ASSERT_TRUE(stream.feed("{\"result\":{}}", count));
  EXPECT_EQ(responses, 0);
  ASSERT_TRUE(stream.feed("\n", count));
  EXPECT_EQ(responses, 1);
}

TEST(EtcdWatchStream, CancelledWatchEndsTheStreamNamingTheCompaction) {
  etcd_watch_stream stream;
  int responses = 0;
  EXPECT_FALSE(stream.feed(
      "{\"result\":{\"canceled\":true,\"compact_revision\":\"9\",\"cancel_reason\":\"old\"}}\n"
      "{\"result\":{}}\n",
      [&](const auto&) {
        ++responses;
        return true;
      }));
  EXPECT_EQ(responses, 0);
  ASSERT_TRUE(stream.failure());
  EXPECT_EQ(code_of(stream.failure()), errc::unavailable);
  EXPECT_NE(message_of(stream.failure()).find("compacted at revision 9"), std::string::npos);
}

TEST(EtcdWatchStream, ErrorItemAndUnparsableLineEndTheStreamWithTheirCodes) {
  etcd_watch_stream errored;
  EXPECT_FALSE(
      errored.feed("{\"error\":{\"message\":\"no leader\"}}\n", [](const auto&) { return true; }));
  EXPECT_EQ(code_of(errored.failure()), errc::unavailable);
  etcd_watch_stream garbled;
  EXPECT_FALSE(garbled.feed("{\"result\":\n", [](const auto&) { return true; }));
  EXPECT_EQ(code_of(garbled.failure()), errc::app_error);
}

TEST(EtcdWatchStream, HandlerThatDeclinesEndsTheStreamWithoutAFailure) {
  etcd_watch_stream stream;
  int responses = 0;
  EXPECT_FALSE(stream.feed("{\"result\":{}}\n{\"result\":{}}\n", [&](const auto&) {
    ++responses;
    return false;
  }));
  EXPECT_EQ(responses, 1);
  EXPECT_FALSE(stream.failure());
}

}  // namespace
}  // namespace keel::cluster
