#include "keel/runtime/storage_keys.hpp"

#include <vector>

#include <gtest/gtest.h>

#include "keel/runtime/state_store.hpp"

namespace keel {
namespace {

TEST(StorageKeys, StateKeyStartsWithItsPartitionBigEndian) {
  actor_id id{"counter", "a"};  // partition 2440 = 0x0988
  auto key = state_key(id);
  ASSERT_GE(key.size(), 3u);
  EXPECT_EQ(static_cast<unsigned char>(key[0]), 0x09);
  EXPECT_EQ(static_cast<unsigned char>(key[1]), 0x88);
  EXPECT_EQ(key[2], 's');
  EXPECT_EQ(key.substr(3), std::string("counter\0a", 9));
  EXPECT_TRUE(key.starts_with(partition_prefix(2440, record_kind::state)));
}

TEST(StorageKeys, PartitionOfAKeyIsItsBigEndianPrefixAndMetaKeysHaveNone) {
  actor_id id{"counter", "a"};  // partition 2440
  EXPECT_EQ(partition_of_key(state_key(id)), 2440u);
  EXPECT_EQ(partition_of_key(reminder_key(id, "r")), 2440u);
  EXPECT_EQ(partition_of_key(entry_key(id, "e")), 2440u);
  EXPECT_EQ(partition_of_key(partition_range(partition_count - 1)), partition_count - 1);
  EXPECT_EQ(partition_of_key(meta_key("x")), std::nullopt);
  EXPECT_EQ(partition_of_key(meta_partition_count_key), std::nullopt);
  EXPECT_EQ(partition_of_key(std::string_view{"\x10\x00s", 3}), std::nullopt);  // 4096
  EXPECT_EQ(partition_of_key("\x01"), std::nullopt);
  EXPECT_EQ(partition_of_key(""), std::nullopt);
}

TEST(StorageKeys, RemindersOfOneActorShareAPrefixThatExcludesOtherKeys) {
  actor_id a{"t", "k"};
  actor_id b{"t", "k2"};
  EXPECT_TRUE(reminder_key(a, "x").starts_with(reminder_prefix(a)));
  EXPECT_FALSE(reminder_key(b, "x").starts_with(reminder_prefix(a)));
}

// Entries lie in their actor's partition range (a handoff moves them with the partition),
// apart from its state and reminders, and one actor's prefix excludes another's entries.
TEST(StorageKeys, EntriesOfOneActorShareAPrefixInsideTheirPartition) {
  actor_id a{"t", "k"};
  actor_id b{"t", "k2"};
  auto key = entry_key(a, "n");
  EXPECT_TRUE(key.starts_with(partition_range(a.partition())));
  EXPECT_TRUE(key.starts_with(partition_prefix(a.partition(), record_kind::entry)));
  EXPECT_TRUE(key.starts_with(entry_prefix(a)));
  EXPECT_EQ(key.substr(entry_prefix(a).size()), "n");
  EXPECT_FALSE(entry_key(b, "n").starts_with(entry_prefix(a)));
  EXPECT_FALSE(state_key(a).starts_with(entry_prefix(a)));
  EXPECT_FALSE(reminder_key(a, "n").starts_with(entry_prefix(a)));
}

TEST(StorageKeys, TheOwnerOfAReminderOrEntryIsItsActorsStateKey) {
  actor_id a{"ride", "r-1"};
  EXPECT_EQ(owner_state_key(reminder_key(a, "match")), state_key(a));
  EXPECT_EQ(owner_state_key(entry_key(a, "7")), state_key(a));
  EXPECT_EQ(owner_state_key(entry_key(a, "")), state_key(a));
  EXPECT_EQ(owner_state_key(state_key(a)), std::nullopt);
  EXPECT_EQ(owner_state_key(std::string{meta_partition_count_key}), std::nullopt);
  EXPECT_EQ(owner_state_key(partition_prefix(3, record_kind::reminder) + "ride"), std::nullopt);
  EXPECT_EQ(owner_state_key(""), std::nullopt);
  // An actor key may hold a '\0' (names may not).
  actor_id odd{"alerts", std::string("rider:\0x", 8)};
  EXPECT_EQ(owner_state_key(entry_key(odd, "3")), state_key(odd));
  EXPECT_EQ(owner_state_key(reminder_key(odd, "pay")), state_key(odd));
}

TEST(StorageKeys, AHandoffFromAnOlderBuildGetsTheStateRecordsItLacks) {
  actor_id reminder_only{"ride", "a"}, with_state{"ride", "b"};
  std::vector<store_write> writes{{reminder_key(reminder_only, "match"), "r"},
                                  {reminder_key(reminder_only, "pay"), "r"},
                                  {state_key(with_state), encode_versioned(4, "four")},
                                  {entry_key(with_state, "0"), "e"}};
  add_missing_state_records(writes);
  ASSERT_EQ(writes.size(), 5u);
  EXPECT_EQ(writes.back().key, state_key(reminder_only));
  EXPECT_EQ(writes.back().value, encode_versioned(0, {}));
  EXPECT_FALSE(writes.back().erase);
  add_missing_state_records(writes);  // nothing left to add
  EXPECT_EQ(writes.size(), 5u);
}

TEST(StorageKeys, MetadataSortsAfterEveryPartition) {
  EXPECT_GT(std::string{meta_partition_count_key},
            partition_prefix(partition_count - 1, record_kind::reminder) + "\xff\xff");
}

TEST(StorageKeys, VersionedValuesRoundTrip) {
  auto value = encode_versioned(0x0102030405060708ULL, std::string("a\0b", 3));
  uint64_t version = 0;
  std::string_view bytes;
  ASSERT_TRUE(decode_versioned(value, version, bytes));
  EXPECT_EQ(version, 0x0102030405060708ULL);
  EXPECT_EQ(bytes, std::string_view("a\0b", 3));
  EXPECT_FALSE(decode_versioned("short", version, bytes));
}

}  // namespace
}  // namespace keel
