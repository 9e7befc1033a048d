#include <cstdint>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <caf/binary_deserializer.hpp>
#include <caf/binary_serializer.hpp>

#include "keel/cluster/wire.hpp"

namespace keel::cluster {
namespace {

wire_partition_writes two_writes() {
  return wire_partition_writes{7, 3, 12, {"k1", "k2"}, {"v1", ""}, {0, 1}};
}

// What CAF's middleman puts on the wire for `xs`, one after the other.
template <class... Ts>
std::vector<char> bytes_of(Ts&... xs) {
  std::vector<char> bytes;
  caf::binary_serializer sink{nullptr, bytes};
  EXPECT_FALSE(sink(xs...));
  return bytes;
}

TEST(WireFormat, PartitionWritesComeBackAsTheyLeft) {
  auto sent = two_writes();
  auto bytes = bytes_of(sent);
  wire_partition_writes got;
  caf::binary_deserializer source{nullptr, bytes};
  ASSERT_FALSE(source(got));
  EXPECT_EQ(got.partition, 7u);
  EXPECT_EQ(got.seq, 12u);
  EXPECT_EQ(got.keys, sent.keys);
  EXPECT_EQ(got.values, sent.values);
  EXPECT_EQ(got.erase, (std::vector<uint8_t>{0, 1}));
  EXPECT_EQ(source.remaining(), 0u);
}

// The erase flags are read a byte at a time, yet written as CAF writes a byte vector: a node
// of this build and one of an older build still read each other's batches.
TEST(WireFormat, EraseFlagsKeepTheBytesOfAByteVector) {
  auto sent = two_writes();
  EXPECT_EQ(bytes_of(sent),
            bytes_of(sent.partition, sent.epoch, sent.seq, sent.keys, sent.values, sent.erase));
}

// fuzz/corpus/wire_message/oom-erase-length: a length of 2^32 - 1 flags with none after it
// made CAF allocate 4 GiB before finding the bytes missing. Now the read ends at the last
// byte there is.
TEST(WireFormat, EraseLengthBeyondTheMessageFailsWithoutReservingIt) {
  auto sent = two_writes();
  sent.erase.clear();
  auto bytes = bytes_of(sent);
  bytes.pop_back();  // the empty flags' length, 0
  for (char c : {'\xff', '\xff', '\xff', '\xff', '\x0f', '\x01', '\x00'}) bytes.push_back(c);
  wire_partition_writes got;
  caf::binary_deserializer source{nullptr, bytes};
  EXPECT_TRUE(source(got));
  EXPECT_LE(got.erase.size(), 2u);
}

}  // namespace
}  // namespace keel::cluster
