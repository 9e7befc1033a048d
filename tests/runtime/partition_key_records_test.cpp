#include "keel/runtime/partition_key_records.hpp"

#include <gtest/gtest.h>

#include "keel/runtime/errc.hpp"
#include "keel/runtime/registry.hpp"
#include "keel/runtime/runtime.pb.h"
#include "keel/runtime/storage_keys.hpp"
#include "keel/test/temp_dir.hpp"

namespace keel {
namespace {

// Type names are process-wide (partition_key.hpp): these tests use their own.
placement_key by_prefix(std::string_view key) noexcept {
  return {"pkr_group", std::string{key.substr(0, 2)}};
}

std::string record_of(const std::string& type) {
  return meta_key(std::string{meta_partition_key_prefix} + type);
}

std::optional<std::string> get(state_store& store, std::string_view key) {
  auto value = store.get(key);
  EXPECT_TRUE(value) << message_of(value.error());
  return value ? *value : std::nullopt;
}

void add_types(type_registry& types) {
  types.add_type<keel::runtime::ReminderFired>("pkr_placed")
      .partition_key("test.prefix.v1", by_prefix);
  types.add_type<keel::runtime::ReminderFired>("pkr_plain");
}

TEST(PartitionKeyRecords, ANewDataDirRecordsEveryTypesPartitionKey) {
  test::temp_dir dir;
  auto store = open_leveldb_store({dir.sub("db"), true});
  ASSERT_TRUE(store);
  type_registry types;
  add_types(types);
  ASSERT_FALSE(types.check());
  ASSERT_FALSE(check_partition_keys(**store, types));
  EXPECT_EQ(get(**store, record_of("pkr_placed")), "test.prefix.v1");
  EXPECT_EQ(get(**store, record_of("pkr_plain")), "id");
  // The same declarations start again.
  EXPECT_FALSE(check_partition_keys(**store, types));
}

TEST(PartitionKeyRecords, AnotherPartitionKeyThanTheRecordedOneRefusesToStart) {
  test::temp_dir dir;
  auto store = open_leveldb_store({dir.sub("db"), true});
  ASSERT_TRUE(store);
  ASSERT_FALSE((*store)->write({{record_of("pkr_placed"), "test.prefix.v0", false}}));
  type_registry types;
  add_types(types);
  auto err = check_partition_keys(**store, types);
  ASSERT_EQ(code_of(err), errc::conflict);
  EXPECT_NE(message_of(err).find("'pkr_placed' declares partition key 'test.prefix.v1'"),
            std::string::npos)
      << message_of(err);
  EXPECT_NE(message_of(err).find("placed its actors by 'test.prefix.v0'"), std::string::npos);
  // Nothing written: the type without a partition key was not recorded either.
  EXPECT_EQ(get(**store, record_of("pkr_plain")), std::nullopt);
}

TEST(PartitionKeyRecords, ADataDirFromBeforePartitionKeysPlacedEveryActorByItsId) {
  test::temp_dir dir;
  {
    auto store = open_leveldb_store({dir.sub("db"), true});
    ASSERT_TRUE(store);
    // What an older build left: no marker, no records.
    ASSERT_FALSE((*store)->write({{std::string{meta_partition_keys_key}, "", true}}));
  }
  auto store = open_leveldb_store({dir.sub("db"), true});
  ASSERT_TRUE(store);
  type_registry placed;
  add_types(placed);
  EXPECT_EQ(code_of(check_partition_keys(**store, placed)), errc::conflict);
  EXPECT_EQ(get(**store, meta_partition_keys_key), std::nullopt);

  // Types placed by their ids open it, and it records from then on.
  type_registry plain;
  plain.add_type<keel::runtime::ReminderFired>("pkr_plain");
  ASSERT_FALSE(check_partition_keys(**store, plain));
  EXPECT_EQ(get(**store, record_of("pkr_plain")), "id");
  EXPECT_TRUE(get(**store, meta_partition_keys_key));
  // A type first seen after that has no actors yet: its partition key is recorded.
  ASSERT_FALSE(check_partition_keys(**store, placed));
  EXPECT_EQ(get(**store, record_of("pkr_placed")), "test.prefix.v1");
}

TEST(PartitionKeyRecords, ACheckThatDoesNotRecordWritesNothing) {
  test::temp_dir dir;
  auto store = open_leveldb_store({dir.sub("db"), true});
  ASSERT_TRUE(store);
  type_registry types;
  add_types(types);
  ASSERT_FALSE(check_partition_keys(**store, types, false));
  EXPECT_EQ(get(**store, record_of("pkr_placed")), std::nullopt);
  EXPECT_EQ(get(**store, record_of("pkr_plain")), std::nullopt);
}

TEST(PartitionKeyRecords, ARegistryThatPlacesATypeOtherwiseThanThisProcessIsRefused) {
  type_registry first;
  first.add_type<keel::runtime::ReminderFired>("pkr_shared")
      .partition_key("test.prefix.v1", by_prefix);
  ASSERT_FALSE(first.check());
  // A second registry in the process serves the same type without a partition key: its ids
  // would still be placed by the first one's.
  type_registry second;
  second.add_type<keel::runtime::ReminderFired>("pkr_shared");
  test::temp_dir dir;
  auto store = open_leveldb_store({dir.sub("db"), true});
  ASSERT_TRUE(store);
  auto err = check_partition_keys(**store, second);
  ASSERT_EQ(code_of(err), errc::conflict);
  EXPECT_NE(message_of(err).find("this process places it by 'test.prefix.v1'"), std::string::npos)
      << message_of(err);
}

TEST(PartitionKeyRecords, ATypeDeclaringTwoPartitionKeysIsAWiringMistake) {
  type_registry types;
  types.add_type<keel::runtime::ReminderFired>("pkr_twice")
      .partition_key("test.prefix.v1", by_prefix)
      .partition_key("test.prefix.v2", by_prefix);
  auto err = types.check();
  ASSERT_EQ(code_of(err), errc::bad_payload);
  EXPECT_NE(message_of(err).find("'pkr_twice' declares two partition keys"), std::string::npos)
      << message_of(err);
}

}  // namespace
}  // namespace keel
