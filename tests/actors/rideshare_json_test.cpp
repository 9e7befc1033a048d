#include <gtest/gtest.h>

#include "keel/rideshare/rideshare.pb.h"
#include "keel/test/json_equivalence.hpp"

namespace keel::rideshare {
namespace {

// Every ride-sharing message (optional fields, enums, maps, nested messages) prints through
// keel's own JSON printer exactly as protobuf's printer would print it.
TEST(RideshareJson, PrintsWhatProtobufPrintsForEveryMessage) {
  test::expect_to_json_matches_protobuf(Ride::descriptor()->file(), 300);
}

// ...and parse_json reads every one of them as protobuf's parser does.
TEST(RideshareJson, ReadsWhatProtobufReadsForEveryMessage) {
  test::expect_parse_json_matches_protobuf(Ride::descriptor()->file(), 300);
}

}  // namespace
}  // namespace keel::rideshare
