#include <gtest/gtest.h>

#include "keel/cluster/etcd.pb.h"
#include "keel/test/json_equivalence.hpp"

namespace keel::etcd {
namespace {

// etcd's messages have bytes fields and oneofs, which keel's JSON printer and reader leave
// to protobuf's: what comes out must still be protobuf's own.
TEST(EtcdJson, BytesAndOneofsPrintAndParseAsProtobufDoes) {
  test::expect_to_json_matches_protobuf(KeyValue::descriptor()->file(), 100);
  test::expect_parse_json_matches_protobuf(KeyValue::descriptor()->file(), 100);
}

}  // namespace
}  // namespace keel::etcd
