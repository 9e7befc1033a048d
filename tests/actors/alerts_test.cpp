// The alerts inbox on a real node runtime and LevelDB: bounded, newest first, one entry per
// alert, and an inbox stored whole by an earlier version still read and carried over.
#include <gtest/gtest.h>
#include <leveldb/db.h>

#include "keel/rideshare/actor_names.hpp"
#include "keel/rideshare/placement.hpp"
#include "keel/rideshare/rideshare.hpp"
#include "keel/rideshare/rideshare.pb.h"
#include "keel/runtime/node_runtime.hpp"
#include "keel/runtime/registry.hpp"
#include "keel/runtime/storage_keys.hpp"
#include "keel/test/local_runtime.hpp"
#include "keel/test/temp_dir.hpp"

namespace keel::rideshare {
namespace {

using namespace std::chrono_literals;

class Alerts : public ::testing::Test {
 protected:
  Alerts() {
    rideshare_options opts;
    opts.alerts_kept = 3;
    register_rideshare(types_, opts);
  }
  ~Alerts() override { stop(); }

  void start() { node_.start(types_, {dir_.sub("db"), true}); }
  void stop() { node_.stop(); }

  void add(const actor_id& inbox, const std::string& text) {
    auto m = std::make_shared<AddAlert>();
    m->mutable_alert()->set_kind("test");
    m->mutable_alert()->set_text(text);
    auto r = node_.rt->call_and_wait(inbox, m, 5s);
    ASSERT_TRUE(r) << message_of(r.error());
  }

  std::vector<std::string> texts(const actor_id& inbox) {
    auto r = node_.rt->call_and_wait(inbox, std::make_shared<GetAlerts>(), 5s);
    EXPECT_TRUE(r) << message_of(r.error());
    std::vector<std::string> out;
    if (r)
      for (const auto& a : static_cast<const AlertInbox&>(**r).alerts()) out.push_back(a.text());
    return out;
  }

  using list = std::vector<std::string>;
  test::temp_dir dir_;
  type_registry types_;
  test::local_runtime node_;
};

TEST_F(Alerts, InboxKeepsTheNewestAlertsNewestFirstAcrossARestart) {
  start();
  auto inbox = alerts_actor("rider", "r1");
  EXPECT_EQ(texts(inbox), list{});
  for (const auto* t : {"1", "2"}) add(inbox, t);
  EXPECT_EQ(texts(inbox), (list{"2", "1"}));
  for (const auto* t : {"3", "4", "5", "6", "7"}) add(inbox, t);
  EXPECT_EQ(texts(inbox), (list{"7", "6", "5"}));
  stop();
  start();
  EXPECT_EQ(texts(inbox), (list{"7", "6", "5"}));
  add(inbox, "8");
  EXPECT_EQ(texts(inbox), (list{"8", "7", "6"}));
  EXPECT_EQ(texts(alerts_actor("driver", "r1")), list{});  // another inbox
}

// Before entries the inbox was the state itself (an AlertInbox, newest first).
TEST_F(Alerts, InboxStoredWholeByAnEarlierVersionIsReadAndCarriedOver) {
  auto inbox = alerts_actor("rider", "old");
  {
    leveldb::DB* raw = nullptr;
    leveldb::Options options;
    options.create_if_missing = true;
    ASSERT_TRUE(leveldb::DB::Open(options, dir_.sub("db"), &raw).ok());
    std::unique_ptr<leveldb::DB> db{raw};
    AlertInbox old;
    for (const auto* t : {"b", "a"}) old.add_alerts()->set_text(t);
    leveldb::WriteOptions wo;
    wo.sync = true;
    // As an earlier keel-node left it: its partition count first, no layout record. One
    // that placed inboxes with their owners already: a data dir from before partition keys
    // placed them by their ids, and refuses to start (partition_key_records_test.cpp).
    ASSERT_TRUE(
        db->Put(wo, std::string{meta_partition_count_key}, std::to_string(partition_count)).ok());
    ASSERT_TRUE(db->Put(wo, std::string{meta_partition_keys_key}, "1").ok());
    ASSERT_TRUE(
        db->Put(wo, meta_key("partition_key/alerts"), std::string{alerts_placement_name}).ok());
    ASSERT_TRUE(db->Put(wo, state_key(inbox), encode_versioned(4, old.SerializeAsString())).ok());
  }
  start();
  EXPECT_EQ(texts(inbox), (list{"b", "a"}));
  add(inbox, "c");
  EXPECT_EQ(texts(inbox), (list{"c", "b", "a"}));
  add(inbox, "d");
  EXPECT_EQ(texts(inbox), (list{"d", "c", "b"}));
  stop();
  start();
  EXPECT_EQ(texts(inbox), (list{"d", "c", "b"}));
}

}  // namespace
}  // namespace keel::rideshare
