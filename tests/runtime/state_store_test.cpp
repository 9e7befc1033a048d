#include "keel/runtime/state_store.hpp"

#include <signal.h>
#include <sys/resource.h>

#include <filesystem>
#include <fstream>
#include <map>

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

// A dir written before layout 2: an actor whose turns only registered a reminder (or kept
// an entry) had no state record.
TEST(StateStore, OpeningAnOlderDirGivesEveryActorWithSideRecordsAStateRecord) {
  test::temp_dir dir;
  actor_id reminder_only{"ride", "a"}, entry_only{"alerts", "b"}, both{"ride", "c"};
  {
    leveldb::Options options;
    options.create_if_missing = true;
    leveldb::DB* raw = nullptr;
    ASSERT_TRUE(leveldb::DB::Open(options, dir.sub("db"), &raw).ok());
    std::unique_ptr<leveldb::DB> db{raw};
    ASSERT_TRUE(
        db->Put({}, std::string{meta_partition_count_key}, std::to_string(partition_count)).ok());
    ASSERT_TRUE(db->Put({}, reminder_key(reminder_only, "match"), "r1").ok());
    ASSERT_TRUE(db->Put({}, reminder_key(reminder_only, "pay"), "r2").ok());
    ASSERT_TRUE(db->Put({}, entry_key(entry_only, "0"), "e").ok());
    ASSERT_TRUE(db->Put({}, state_key(both), encode_versioned(5, "five")).ok());
    ASSERT_TRUE(db->Put({}, reminder_key(both, "match"), "r3").ok());
  }
  auto store = open_leveldb_store({dir.sub("db"), true});
  ASSERT_TRUE(store) << to_string(store.error());
  auto version_of = [&](const actor_id& id) -> std::pair<uint64_t, std::string> {
    auto value = (*store)->get(state_key(id));
    if (!value || !*value) return {99, "missing"};
    uint64_t version = 0;
    std::string_view bytes;
    if (!decode_versioned(**value, version, bytes)) return {99, "corrupt"};
    return {version, std::string{bytes}};
  };
  EXPECT_EQ(version_of(reminder_only), (std::pair<uint64_t, std::string>{0, ""}));
  EXPECT_EQ(version_of(entry_only), (std::pair<uint64_t, std::string>{0, ""}));
  EXPECT_EQ(version_of(both), (std::pair<uint64_t, std::string>{5, "five"}));
  auto layout = (*store)->get(std::string{meta_layout_key});
  ASSERT_TRUE(layout && *layout);
  EXPECT_EQ(**layout, current_layout);
  // So loading the reminder-only actor still finds its reminders.
  caf::actor_system_config cfg;
  caf::actor_system sys{cfg};
  auto reader = detail::spawn_store_reader(sys, **store);
  caf::scoped_actor self{sys};
  size_t reminders = 0;
  self->request(reader, 5s, detail::load_atom::value, reminder_only, false)
      .receive([&](const detail::load_result_ptr& loaded) { reminders = loaded->reminders.size(); },
               [&](caf::error& e) { ADD_FAILURE() << to_string(e); });
  EXPECT_EQ(reminders, 2u);
  caf::anon_send_exit(reader, caf::exit_reason::user_shutdown);
}

TEST(StateStore, RefusesADirOfALaterLayout) {
  test::temp_dir dir;
  {
    auto store = open_leveldb_store({dir.sub("db"), true});
    ASSERT_TRUE(store);
    ASSERT_FALSE((*store)->write({{std::string{meta_layout_key}, "3"}}));
  }
  auto store = open_leveldb_store({dir.sub("db"), true});
  ASSERT_FALSE(store);
  EXPECT_EQ(code_of(store.error()), errc::conflict);
  EXPECT_NE(message_of(store.error()).find("layout 3"), std::string::npos);
}

// Every file of `dir` with its size: what an open that must touch nothing has to leave.
std::map<std::string, uintmax_t> files_of(const std::string& dir) {
  std::map<std::string, uintmax_t> out;
  for (const auto& entry : std::filesystem::directory_iterator{dir})
    out[entry.path().filename().string()] = entry.file_size();
  return out;
}

// A used store: `rows` state records of 1000 bytes in tables (a reopen turned the log into
// a table), and as many in the write-ahead log, in one commit.
void fill_store(const std::string& path, int rows) {
  for (int round = 0; round < 2; ++round) {
    auto store = open_leveldb_store({path, true});
    ASSERT_TRUE(store) << to_string(store.error());
    std::vector<store_write> batch;
    for (int i = 0; i < rows; ++i) {
      auto key =
          state_key(actor_id{"counter", "r" + std::to_string(round) + "-" + std::to_string(i)});
      batch.push_back({key, encode_versioned(1, std::string(1000, 'x'))});
    }
    ASSERT_FALSE((*store)->write(batch));
  }
}

bool has_file_ending(const std::map<std::string, uintmax_t>& files, std::string_view ext) {
  return std::ranges::any_of(files, [&](const auto& f) { return f.first.ends_with(ext); });
}

// LevelDB, asked to create a database where it finds no CURRENT, makes a new one and
// deletes the old tables and logs as obsolete.
TEST(StateStore, ADirWithLevelDBFilesButNoCurrentIsRefusedAndLeftUntouched) {
  test::temp_dir dir;
  auto path = dir.sub("db");
  fill_store(path, 100);
  std::string current;
  {
    std::ifstream in{path + "/CURRENT"};
    std::getline(in, current);
  }
  ASSERT_TRUE(current.starts_with("MANIFEST-")) << current;
  std::filesystem::remove(path + "/CURRENT");
  auto before = files_of(path);
  ASSERT_TRUE(has_file_ending(before, ".ldb"));
  ASSERT_TRUE(has_file_ending(before, ".log"));

  auto store = open_leveldb_store({path, true});
  ASSERT_FALSE(store) << "a dir without CURRENT was opened as a new database";
  EXPECT_EQ(code_of(store.error()), errc::conflict);
  EXPECT_NE(message_of(store.error()).find("data dir " + path + " holds LevelDB files ("),
            std::string::npos)
      << message_of(store.error());
  EXPECT_NE(message_of(store.error()).find(current), std::string::npos)
      << message_of(store.error());
  EXPECT_NE(message_of(store.error()).find("but no CURRENT: refusing to create a new database"),
            std::string::npos)
      << message_of(store.error());
  EXPECT_EQ(files_of(path), before);  // not even a LOCK or LOG was written

  // What docs/operations.md tells an operator to do: CURRENT names the newest manifest.
  std::ofstream{path + "/CURRENT"} << current << "\n";
  auto restored = open_leveldb_store({path, true});
  ASSERT_TRUE(restored) << to_string(restored.error());
  for (auto key : {"r0-0", "r0-99", "r1-0", "r1-99"}) {
    auto value = (*restored)->get(state_key(actor_id{"counter", key}));
    ASSERT_TRUE(value && *value) << key;
    EXPECT_EQ((*value)->size(), 8u + 1000u) << key;
  }
}

TEST(StateStore, AnEmptyDirOrOneWithOnlyLevelDBsLockAndLogIsNew) {
  test::temp_dir dir;
  std::filesystem::create_directories(dir.sub("empty"));
  std::filesystem::create_directories(dir.sub("no-records"));
  std::ofstream{dir.sub("no-records/LOCK")};
  std::ofstream{dir.sub("no-records/LOG")} << "a failed first start\n";
  std::ofstream{dir.sub("no-records/keel.out")} << "not LevelDB's\n";
  for (auto name : {"empty", "no-records", "absent"}) {
    auto store = open_leveldb_store({dir.sub(name), true});
    ASSERT_TRUE(store) << name << ": " << to_string(store.error());
    auto count = (*store)->get(meta_partition_count_key);
    ASSERT_TRUE(count && *count) << name;
    EXPECT_EQ(**count, std::to_string(partition_count)) << name;
  }
}

// A database whose meta records were lost would otherwise be taken for a new one: its
// partition count recorded afresh, its layout never checked.
TEST(StateStore, ADatabaseWithRecordsButNoPartitionCountIsRefused) {
  test::temp_dir dir;
  auto key = state_key(actor_id{"counter", "a"});
  {
    leveldb::Options options;
    options.create_if_missing = true;
    leveldb::DB* raw = nullptr;
    ASSERT_TRUE(leveldb::DB::Open(options, dir.sub("db"), &raw).ok());
    std::unique_ptr<leveldb::DB> db{raw};
    ASSERT_TRUE(db->Put({}, key, encode_versioned(3, "three")).ok());
  }
  auto store = open_leveldb_store({dir.sub("db"), true});
  ASSERT_FALSE(store) << "records without meta/partition_count were opened as new";
  EXPECT_EQ(code_of(store.error()), errc::conflict);
  EXPECT_NE(message_of(store.error()).find("holds records but no meta/partition_count"),
            std::string::npos)
      << message_of(store.error());
  leveldb::DB* raw = nullptr;
  ASSERT_TRUE(leveldb::DB::Open(leveldb::Options{}, dir.sub("db"), &raw).ok());
  std::unique_ptr<leveldb::DB> db{raw};
  std::string value;
  EXPECT_TRUE(db->Get({}, std::string{meta_partition_count_key}, &value).IsNotFound())
      << "the refused open recorded a partition count";
  ASSERT_TRUE(db->Get({}, key, &value).ok());
  EXPECT_EQ(value, encode_versioned(3, "three"));
}

TEST(StateStore, ACurrentNamingAMissingManifestIsRefusedAsDamaged) {
  test::temp_dir dir;
  auto path = dir.sub("db");
  fill_store(path, 10);
  std::ofstream{path + "/CURRENT", std::ios::trunc} << "MANIFEST-999999\n";
  auto before = files_of(path);
  auto store = open_leveldb_store({path, true});
  ASSERT_FALSE(store);
  EXPECT_EQ(code_of(store.error()), errc::conflict);
  auto message = message_of(store.error());
  EXPECT_NE(message.find("data dir " + path + " is damaged: "), std::string::npos) << message;
  EXPECT_NE(message.find("MANIFEST-999999"), std::string::npos) << message;
  EXPECT_NE(message.find("keel-node does not repair it"), std::string::npos) << message;
  before.erase("LOG");  // LevelDB's own log of the attempt
  before.erase("LOG.old");
  auto after = files_of(path);
  after.erase("LOG");
  after.erase("LOG.old");
  EXPECT_EQ(after, before);
}

// Without paranoid checks LevelDB drops a log block with a bad checksum, and every
// acknowledged commit in it, and opens as if nothing happened.
TEST(StateStore, ACorruptLogRecordFailsTheOpenInsteadOfDroppingCommits) {
  test::temp_dir dir;
  auto path = dir.sub("db");
  fill_store(path, 100);  // ~100 KiB in the newest log: four 32 KiB blocks, one commit
  std::string log;
  for (const auto& [name, size] : files_of(path))
    if (name.ends_with(".log") && size > 64 * 1024) log = path + "/" + name;
  ASSERT_FALSE(log.empty()) << "no log of over 64 KiB";
  {
    std::fstream f{log, std::ios::in | std::ios::out | std::ios::binary};
    f.seekp(40 * 1024);  // in the second block, inside a value
    f.put('y');
  }
  auto store = open_leveldb_store({path, true});
  ASSERT_FALSE(store) << "a log with a bad checksum opened: its block's commits are gone";
  EXPECT_EQ(code_of(store.error()), errc::conflict);
  EXPECT_NE(message_of(store.error()).find("is damaged: Corruption: "), std::string::npos)
      << message_of(store.error());
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

// A full disk, for real: a file size limit makes LevelDB's log append fail (EFBIG) as a
// full disk's ENOSPC does. Once a write failed, the store refuses every later one (it was
// acknowledging writes behind a torn log record, which a replay then dropped), and a
// reopen finds every write that was acknowledged.
TEST(StateStore, AfterAFailedWriteNoWriteIsAcknowledgedAndTheAcknowledgedSurviveAReopen) {
  test::temp_dir dir;
  auto path = dir.sub("db");
  std::vector<std::string> acknowledged;
  std::string value(7 * 1024, 'x');
  {
    auto store = open_leveldb_store({path, true});
    ASSERT_TRUE(store);
    signal(SIGXFSZ, SIG_IGN);
    rlimit normal{};
    ASSERT_EQ(getrlimit(RLIMIT_FSIZE, &normal), 0);
    rlimit small = normal;
    small.rlim_cur = 512 * 1024;
    ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &small), 0);
    caf::error failed;
    for (int i = 0; i < 1000 && !failed; ++i) {
      auto key = partition_range(1) + "s" + std::to_string(i);
      failed = (*store)->write({{key, value}});
      if (!failed) acknowledged.push_back(key);
    }
    ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &normal), 0);  // the disk has room again
    ASSERT_TRUE(failed) << "the size limit never stopped a write";
    EXPECT_EQ(code_of(failed), errc::app_error) << message_of(failed);
    ASSERT_GT(acknowledged.size(), 10u);
    for (int i = 0; i < 20; ++i) {
      auto refused = (*store)->write({{partition_range(1) + "late" + std::to_string(i), value}});
      ASSERT_TRUE(refused) << "a write after the failed one was acknowledged";
      EXPECT_EQ(code_of(refused), errc::unavailable) << message_of(refused);
    }
  }
  auto reopened = open_leveldb_store({path, true});
  ASSERT_TRUE(reopened) << message_of(reopened.error());
  for (const auto& key : acknowledged) {
    auto got = (*reopened)->get(key);
    ASSERT_TRUE(got);
    EXPECT_TRUE(got->has_value()) << "acknowledged " << key << " was lost";
  }
  EXPECT_FALSE((*reopened)->write({{partition_range(1) + "after", value}}));
}

}  // namespace
}  // namespace keel
