#include "keel/runtime/state_store.hpp"

#include <gtest/gtest.h>
#include <leveldb/db.h>
#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/scoped_actor.hpp>

#include "keel/runtime/detail/store_actors.hpp"
#include "keel/runtime/detail/wire.hpp"
#include "keel/runtime/errc.hpp"
#include "keel/runtime/metrics.hpp"
#include "keel/runtime/storage_keys.hpp"
#include "keel/test/temp_dir.hpp"

namespace keel {
namespace {

using namespace std::chrono_literals;

caf::expected<uint64_t> commit(caf::scoped_actor& self, const caf::actor& writer,
                               const std::string& key, uint64_t expected, std::string bytes) {
  auto req = std::make_shared<detail::commit_request>();
  req->state_key = key;
  req->expected_version = expected;
  req->state_bytes = std::move(bytes);
  caf::expected<uint64_t> out{uint64_t{0}};
  self->request(writer, 5s, detail::commit_atom::value, detail::commit_request_ptr{req})
      .receive([&](uint64_t v) { out = v; }, [&](caf::error& e) { out = std::move(e); });
  return out;
}

TEST(StateStore, StaleVersionIsRefusedWithConflict) {
  test::temp_dir dir;
  auto store = open_leveldb_store({dir.sub("db"), true});
  ASSERT_TRUE(store);
  caf::actor_system_config cfg;
  caf::actor_system sys{cfg};
  runtime_metrics metrics;
  auto writer = detail::spawn_store_writer(sys, **store, metrics);
  caf::scoped_actor self{sys};
  auto key = state_key(actor_id{"counter", "v"});
  auto v1 = commit(self, writer, key, 0, "one");
  ASSERT_TRUE(v1);
  EXPECT_EQ(*v1, 1u);
  auto stale = commit(self, writer, key, 0, "other");  // also read version 0
  ASSERT_FALSE(stale);
  EXPECT_EQ(code_of(stale.error()), errc::conflict);
  auto v2 = commit(self, writer, key, 1, "two");
  ASSERT_TRUE(v2);
  EXPECT_EQ(*v2, 2u);
  auto stored = (*store)->get(key);
  ASSERT_TRUE(stored && *stored);
  uint64_t version = 0;
  std::string_view bytes;
  ASSERT_TRUE(decode_versioned(**stored, version, bytes));
  EXPECT_EQ(version, 2u);
  EXPECT_EQ(bytes, "two");  // the refused write left no trace
  caf::anon_send_exit(writer, caf::exit_reason::user_shutdown);
}

TEST(StateStore, RefusesADatabaseMadeWithAnotherPartitionCount) {
  test::temp_dir dir;
  {
    leveldb::Options options;
    options.create_if_missing = true;
    leveldb::DB* raw = nullptr;
    ASSERT_TRUE(leveldb::DB::Open(options, dir.sub("db"), &raw).ok());
    std::unique_ptr<leveldb::DB> db{raw};
    ASSERT_TRUE(db->Put({}, std::string{meta_partition_count_key}, "1024").ok());
  }
  auto store = open_leveldb_store({dir.sub("db"), true});
  ASSERT_FALSE(store);
  EXPECT_EQ(code_of(store.error()), errc::conflict);
  EXPECT_NE(message_of(store.error()).find("1024"), std::string::npos);
}

TEST(StateStore, ScanReturnsExactlyThePrefixInKeyOrder) {
  test::temp_dir dir;
  auto store = open_leveldb_store({dir.sub("db"), true});
  ASSERT_TRUE(store);
  ASSERT_FALSE((*store)->write({{"a1", "x"}, {"a2", "y"}, {"b1", "z"}, {"a0", "w", false}}));
  ASSERT_FALSE((*store)->write({{"a0", "", true}}));
  auto rows = (*store)->scan("a");
  ASSERT_TRUE(rows);
  ASSERT_EQ(rows->size(), 2u);
  EXPECT_EQ((*rows)[0], (std::pair<std::string, std::string>{"a1", "x"}));
  EXPECT_EQ((*rows)[1], (std::pair<std::string, std::string>{"a2", "y"}));
}

}  // namespace
}  // namespace keel
