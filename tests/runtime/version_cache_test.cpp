#include "keel/runtime/detail/version_cache.hpp"

#include <gtest/gtest.h>

#include "keel/runtime/storage_keys.hpp"

namespace keel::detail {
namespace {

TEST(VersionCache, ForgettingAPartitionForgetsOnlyItsKeys) {
  version_cache cache{100};
  actor_id a{"counter", "a"};
  actor_id b{"counter", "b"};
  ASSERT_NE(a.partition(), b.partition());
  cache.put(state_key(a), 3);
  cache.put(state_key(b), 5);
  cache.put(state_key(a), 4);
  EXPECT_EQ(cache.size(), 2u);
  cache.forget_partition(a.partition());
  EXPECT_EQ(cache.find(state_key(a)), std::nullopt);
  EXPECT_EQ(cache.find(state_key(b)), 5u);
  EXPECT_EQ(cache.size(), 1u);
}

TEST(VersionCache, FullCacheStartsOverAndMetadataIsNeverKept) {
  version_cache cache{2};
  cache.put(state_key(actor_id{"counter", "a"}), 1);
  cache.put(state_key(actor_id{"counter", "b"}), 1);
  cache.put(state_key(actor_id{"counter", "c"}), 1);
  EXPECT_EQ(cache.size(), 1u);
  EXPECT_EQ(cache.find(state_key(actor_id{"counter", "c"})), 1u);
  cache.put(meta_key("layout"), 2);
  EXPECT_EQ(cache.find(meta_key("layout")), std::nullopt);
}

}  // namespace
}  // namespace keel::detail
