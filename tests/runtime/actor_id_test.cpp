#include "keel/runtime/actor_id.hpp"

#include <gtest/gtest.h>

#include "keel/runtime/errc.hpp"

#include <caf/binary_deserializer.hpp>
#include <caf/binary_serializer.hpp>
#include <caf/exit_reason.hpp>
#include <caf/sec.hpp>

namespace keel {
namespace {

TEST(Fnv1a64, MatchesTheReferenceVectors) {
  EXPECT_EQ(fnv1a64(""), 0xcbf29ce484222325ULL);
  EXPECT_EQ(fnv1a64("a"), 0xaf63dc4c8601ec8cULL);
}

TEST(ActorIdPartition, IsFnv1aOfTypeNulKeyModPartitionCount) {
  // Values computed independently (Python) from DESIGN.md's definition.
  EXPECT_EQ((actor_id{"counter", "a"}.partition()), 2440u);
  EXPECT_EQ((actor_id{"ride", "r-17"}.partition()), 1196u);
  EXPECT_EQ((actor_id{"driver", "d-3"}.partition()), 51u);
}

TEST(ActorIdPartition, TheSeparatorKeepsTypeAndKeyApart) {
  // Without the NUL, "ab"+"c" and "a"+"bc" would always share a partition.
  EXPECT_NE(fnv1a64(std::string{"ab\0c", 4}), fnv1a64(std::string{"a\0bc", 4}));
}

TEST(ActorIdHash, SurvivesCafSerializationAndCopies) {
  // The hash is computed once per id; an id read back by CAF (the cluster's wire) must
  // carry the hash of what it holds, not of what it was default-constructed with.
  actor_id original{"ride", "r-17"};
  std::vector<char> buf;
  caf::binary_serializer sink{nullptr, buf};
  ASSERT_FALSE(sink(original));
  actor_id read_back;
  caf::binary_deserializer source{nullptr, buf};
  ASSERT_FALSE(source(read_back));
  EXPECT_EQ(read_back, original);
  EXPECT_EQ(read_back.partition(), 1196u);
  EXPECT_EQ(std::hash<actor_id>{}(read_back), std::hash<actor_id>{}(original));
  actor_id copy = read_back;
  EXPECT_EQ(copy.hash(), original.hash());
  EXPECT_EQ(actor_id{}, (actor_id{"", ""}));
  EXPECT_NE((actor_id{"ride", "r-1"}), (actor_id{"ride", "r-2"}));
  EXPECT_LT((actor_id{"a", "z"}), (actor_id{"b", "a"}));  // ordered by type, then key
}

TEST(ActorIdParse, SplitsAtTheFirstSlash) {
  auto id = actor_id::parse("ride/r/1");
  ASSERT_TRUE(id);
  EXPECT_EQ(id->type(), "ride");
  EXPECT_EQ(id->key(), "r/1");
  EXPECT_EQ(to_string(*id), "ride/r/1");
}

TEST(ActorIdParse, RejectsMissingPartsWithBadPayload) {
  for (auto text : {"ride", "/r1", "ride/", ""}) {
    auto id = actor_id::parse(text);
    ASSERT_FALSE(id) << text;
    EXPECT_EQ(code_of(id.error()), errc::bad_payload) << text;
  }
}

TEST(ErrorCodes, MapToDesignStatuses) {
  EXPECT_EQ(http_status(errc::bad_payload), 400);
  EXPECT_EQ(http_status(errc::unauthenticated), 401);
  EXPECT_EQ(http_status(errc::unknown_actor_type), 404);
  EXPECT_EQ(http_status(errc::conflict), 409);
  EXPECT_EQ(http_status(errc::payload_too_large), 413);
  EXPECT_EQ(http_status(errc::rate_limited), 429);
  EXPECT_EQ(http_status(errc::app_error), 500);
  EXPECT_EQ(http_status(errc::overloaded), 503);
  EXPECT_EQ(http_status(errc::unavailable), 503);
  EXPECT_EQ(http_status(errc::timeout), 504);
  EXPECT_EQ(http_status(errc::unknown_outcome), 504);
  EXPECT_EQ(code_name(errc::unknown_outcome), "unknown_outcome");
  // A code from another node is checked, never cast blindly.
  EXPECT_EQ(errc_from_wire(static_cast<uint8_t>(errc::unknown_outcome)), errc::unknown_outcome);
  EXPECT_EQ(errc_from_wire(0), std::nullopt);
  EXPECT_EQ(errc_from_wire(static_cast<uint8_t>(last_errc) + 1), std::nullopt);
  EXPECT_EQ(code_of(caf::error{200, caf::atom("keel")}), errc::app_error);
  // CAF's errors reach callers in words, not as CAF's rendering of their internals.
  EXPECT_EQ(message_of(caf::make_error(caf::sec::cannot_connect_to_node, "ip_connect failed")),
            "cannot connect to node");
  EXPECT_EQ(message_of(caf::make_error(caf::exit_reason::remote_link_unreachable)),
            "remote link unreachable");
  EXPECT_EQ(message_of(caf::error{}), "no error");
  EXPECT_EQ(code_of(caf::make_error(caf::sec::request_receiver_down)), errc::unavailable);
  EXPECT_EQ(code_of(caf::make_error(caf::sec::cannot_connect_to_node)), errc::unavailable);
  EXPECT_EQ(code_of(caf::make_error(caf::sec::request_timeout)), errc::timeout);
  EXPECT_EQ(code_of(caf::make_error(caf::sec::unexpected_message)), errc::unknown_message);
  auto err = make_error(errc::conflict, "stale");
  EXPECT_EQ(code_of(err), errc::conflict);
  EXPECT_EQ(message_of(err), "stale");
  EXPECT_EQ(code_name(code_of(err)), "conflict");
}

}  // namespace
}  // namespace keel
