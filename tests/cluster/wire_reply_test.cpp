#include <string>

#include <gtest/gtest.h>

#include "keel/cluster/wire.hpp"
#include "keel/runtime/errc.hpp"

namespace keel::cluster {
namespace {

TEST(WireReply, KnownErrorCodeCrossesNodesAsThatCode) {
  auto result = from_wire(failed_reply(errc::unknown_outcome, "link lost"), "n2");
  ASSERT_FALSE(result);
  EXPECT_EQ(code_of(result.error()), errc::unknown_outcome);
  EXPECT_EQ(message_of(result.error()), "link lost");
}

// A newer node may send a code this build does not know: it must never be cast into an
// errc, and the message must say which value came from where.
TEST(WireReply, UnknownErrorCodeBecomesAppErrorNamingTheValueAndTheNode) {
  wire_reply reply;
  reply.code = static_cast<uint8_t>(last_errc) + 1;
  reply.error = "from the future";
  auto result = from_wire(reply, "n2");
  ASSERT_FALSE(result);
  EXPECT_EQ(code_of(result.error()), errc::app_error);
  auto text = message_of(result.error());
  EXPECT_NE(text.find("error code " + std::to_string(reply.code)), std::string::npos) << text;
  EXPECT_NE(text.find("n2"), std::string::npos) << text;
  EXPECT_NE(text.find("from the future"), std::string::npos) << text;
}

TEST(WireReply, CodeZeroIsSuccessNotAnError) {
  wire_reply reply;
  reply.code = 0;
  reply.message_type = "keel.no.SuchType";
  auto result = from_wire(reply, "n2");
  ASSERT_FALSE(result);  // an unknown reply type is refused, never taken for an error code
  EXPECT_EQ(code_of(result.error()), errc::app_error);
  EXPECT_NE(message_of(result.error()).find("keel.no.SuchType"), std::string::npos);
}

}  // namespace
}  // namespace keel::cluster
