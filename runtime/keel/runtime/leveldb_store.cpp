#include <algorithm>
#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <leveldb/db.h>
#include <leveldb/env.h>
#include <leveldb/filter_policy.h>
#include <leveldb/write_batch.h>

#include "keel/runtime/errc.hpp"
#include "keel/runtime/state_store.hpp"
#include "keel/runtime/storage_keys.hpp"

namespace keel {

namespace {

// LevelDB's Status is translated here, once, where it enters Keel.
caf::error to_error(const leveldb::Status& st, std::string_view what) {
  return make_error(errc::unavailable, std::string{what} + ": " + st.ToString());
}

bool all_digits(std::string_view text) {
  return !text.empty() && std::ranges::all_of(text, [](char c) { return c >= '0' && c <= '9'; });
}

// LevelDB's own names (db/filename.cc) of the files that hold records: a manifest, a
// write-ahead log, a table. LOCK, LOG and LOG.old hold none; other names are not LevelDB's.
bool holds_records(std::string_view name) {
  if (name.starts_with("MANIFEST-")) return all_digits(name.substr(9));
  for (std::string_view ext : {".log", ".ldb", ".sst"})
    if (name.ends_with(ext)) return all_digits(name.substr(0, name.size() - ext.size()));
  return false;
}

enum class dir_kind { new_dir, database };

// Whether `path` is new (absent, or holding no LevelDB records) or a database (it has a
// CURRENT). Refuses LevelDB record files without a CURRENT, a database that lost it: asked
// to create a database there, LevelDB writes a fresh one and then deletes every table and
// log file of the old one as obsolete.
caf::expected<dir_kind> inspect_data_dir(leveldb::Env* env, const std::string& path) {
  if (!env->FileExists(path)) return dir_kind::new_dir;
  std::vector<std::string> names;
  auto st = env->GetChildren(path, &names);
  if (!st.ok()) return to_error(st, "list data dir " + path);
  if (std::ranges::find(names, "CURRENT") != names.end()) return dir_kind::database;
  std::vector<std::string> found;
  std::ranges::copy_if(names, std::back_inserter(found), holds_records);
  // Creating a database syncs its first manifest, then writes CURRENT: a crash between the
  // two leaves MANIFEST-000001 alone. No write was ever taken (the open had not returned,
  // and a write would have left a log file), so the dir is new and LevelDB rewrites it.
  if (found.empty() || found == std::vector<std::string>{"MANIFEST-000001"})
    return dir_kind::new_dir;
  std::ranges::sort(found);
  std::string listed;
  for (size_t i = 0; i < found.size() && i < 3; ++i) listed += (i ? ", " : "") + found[i];
  if (found.size() > 3) listed += ", ... (" + std::to_string(found.size()) + " files)";
  return make_error(errc::conflict, "data dir " + path + " holds LevelDB files (" + listed +
                                        ") but no CURRENT: refusing to create a new database "
                                        "over it; restore CURRENT or the dir from a backup "
                                        "(docs/operations.md, \"Data directory\")");
}

// Brings a dir to layout 2 (storage_keys.hpp): before it, a turn that only registered a
// reminder wrote no state record, so its actor's reminders could lie beside no state
// record. Each such actor gets an empty state record at version 0, which loads exactly as
// no record does. `fresh`: the dir was just created, and holds nothing to fix.
caf::error bring_to_current_layout(leveldb::DB& db, bool fresh) {
  std::string layout;
  auto st = db.Get(leveldb::ReadOptions{}, std::string{meta_layout_key}, &layout);
  if (st.ok() && layout == current_layout) return {};
  if (st.ok())
    return make_error(errc::conflict, "the data dir has layout " + layout +
                                          ", which this build does not know (it knows " +
                                          std::string{current_layout} + ")");
  if (!st.IsNotFound()) return to_error(st, "read layout");
  leveldb::WriteBatch fixes;
  if (!fresh) {
    // A partition at a time, as a handoff moves one: only its keys are held at once.
    std::unique_ptr<leveldb::Iterator> it{db.NewIterator(leveldb::ReadOptions{})};
    for (uint32_t p = 0; p < partition_count; ++p) {
      auto range = partition_range(p);
      std::vector<store_write> records;
      for (it->Seek(range); it->Valid() && it->key().starts_with(range); it->Next())
        records.push_back({it->key().ToString(), {}});
      auto listed = records.size();
      add_missing_state_records(records);
      for (auto i = listed; i < records.size(); ++i) fixes.Put(records[i].key, records[i].value);
    }
    if (!it->status().ok()) return to_error(it->status(), "scan for layout 2");
  }
  fixes.Put(std::string{meta_layout_key}, std::string{current_layout});
  leveldb::WriteOptions wo;
  wo.sync = true;
  st = db.Write(wo, &fixes);
  if (!st.ok()) return to_error(st, "record layout 2");
  return {};
}

caf::expected<std::vector<std::pair<std::string, std::string>>> scan_prefix(
    leveldb::DB& db, const leveldb::ReadOptions& read, std::string_view prefix) {
  std::vector<std::pair<std::string, std::string>> out;
  std::unique_ptr<leveldb::Iterator> it{db.NewIterator(read)};
  leveldb::Slice start{prefix.data(), prefix.size()};
  for (it->Seek(start); it->Valid() && it->key().starts_with(start); it->Next())
    out.emplace_back(it->key().ToString(), it->value().ToString());
  if (!it->status().ok()) return to_error(it->status(), "scan");
  return out;
}

class leveldb_snapshot final : public store_snapshot {
 public:
  explicit leveldb_snapshot(leveldb::DB& db) : db_(db), snapshot_(db.GetSnapshot()) {}
  ~leveldb_snapshot() override { db_.ReleaseSnapshot(snapshot_); }
  leveldb_snapshot(const leveldb_snapshot&) = delete;
  leveldb_snapshot& operator=(const leveldb_snapshot&) = delete;

  caf::expected<std::vector<std::pair<std::string, std::string>>> scan(
      std::string_view prefix) const override {
    leveldb::ReadOptions read;
    read.snapshot = snapshot_;
    return scan_prefix(db_, read, prefix);
  }

 private:
  leveldb::DB& db_;
  const leveldb::Snapshot* snapshot_;
};

class leveldb_store final : public state_store {
 public:
  leveldb_store(std::unique_ptr<const leveldb::FilterPolicy> filter,
                std::unique_ptr<leveldb::DB> db, bool sync)
      : filter_(std::move(filter)), db_(std::move(db)) {
    write_options_.sync = sync;
  }

  caf::expected<std::optional<std::string>> get(std::string_view key) override {
    std::string value;
    auto st = db_->Get(leveldb::ReadOptions{}, leveldb::Slice{key.data(), key.size()}, &value);
    if (st.IsNotFound()) return std::optional<std::string>{};
    if (!st.ok()) return to_error(st, "read");
    return std::optional<std::string>{std::move(value)};
  }

  caf::expected<std::vector<std::pair<std::string, std::string>>> scan(
      std::string_view prefix) override {
    return scan_prefix(*db_, leveldb::ReadOptions{}, prefix);
  }

  std::shared_ptr<const store_snapshot> snapshot() override {
    return std::make_shared<leveldb_snapshot>(*db_);
  }

  // A write that failed (a full disk, an I/O error) may have left a torn record at the end
  // of LevelDB's log; later records in the same log block are then dropped when the log is
  // replayed at the next open, so nothing written after it could be trusted to survive (a
  // full tmpfs that was grown lost 20 acknowledged writes that way). The store takes no
  // write after a failed one: the node must be restarted, which replays what was written.
  caf::error write(const std::vector<store_write>& batch) override {
    if (failed_.load(std::memory_order_acquire)) {
      std::lock_guard guard{failure_mutex_};
      return make_error(errc::unavailable, "the data dir takes no writes since one failed (" +
                                               failure_ +
                                               "); restart the node once the disk "
                                               "is fixed");
    }
    leveldb::WriteBatch wb;
    for (const auto& w : batch) {
      if (w.erase)
        wb.Delete(w.key);
      else
        wb.Put(w.key, w.value);
    }
    auto st = db_->Write(write_options_, &wb);
    if (st.ok()) return {};
    {
      std::lock_guard guard{failure_mutex_};
      failure_ = st.ToString();
    }
    failed_.store(true, std::memory_order_release);
    // May be on disk in part, or whole: the callers cannot be told it did not happen.
    return make_error(errc::app_error, "write to the data dir failed: " + st.ToString());
  }

 private:
  std::unique_ptr<const leveldb::FilterPolicy> filter_;  // used by db_: outlives it
  std::unique_ptr<leveldb::DB> db_;
  leveldb::WriteOptions write_options_;
  std::atomic<bool> failed_{false};
  std::mutex failure_mutex_;
  std::string failure_;  // the failed write's status; guarded by failure_mutex_
};

}  // namespace

caf::expected<std::unique_ptr<state_store>> open_leveldb_store(const store_options& opts) {
  leveldb::Options options;
  if (opts.env) options.env = opts.env;
  auto kind = inspect_data_dir(options.env, opts.path);
  if (!kind) return std::move(kind.error());
  // Only a new dir may be created: a database whose CURRENT vanished since
  // inspect_data_dir is refused by LevelDB instead of overwritten.
  options.create_if_missing = *kind == dir_kind::new_dir;
  // A corrupt log record fails the open instead of being dropped with the rest of its
  // 32 KiB block: replies leave only after their commit is synced, so whatever such a block
  // held was acknowledged. A crash's torn tail is no corruption to LevelDB and still opens.
  options.paranoid_checks = true;
  options.write_buffer_size = 16 << 20;
  // Every new actor's first load asks for a key that does not exist yet (each ride and
  // payment): a bloom filter answers that without reading a block of every level.
  std::unique_ptr<const leveldb::FilterPolicy> filter{leveldb::NewBloomFilterPolicy(10)};
  options.filter_policy = filter.get();
  leveldb::DB* raw = nullptr;
  auto st = leveldb::DB::Open(options, opts.path, &raw);
  if (st.IsCorruption())
    return make_error(errc::conflict, "data dir " + opts.path + " is damaged: " + st.ToString() +
                                          "; keel-node does not repair it (docs/operations.md, "
                                          "\"Data directory\")");
  if (!st.ok())
    return make_error(errc::unavailable,
                      "cannot open data dir " + opts.path + ": " + st.ToString());
  std::unique_ptr<leveldb::DB> db{raw};
  std::string recorded;
  auto expected = std::to_string(partition_count);
  st = db->Get(leveldb::ReadOptions{}, std::string{meta_partition_count_key}, &recorded);
  bool fresh = false;
  if (st.IsNotFound()) {
    // Every Keel database records its count before anything else, so records without it
    // are no database keel-node made whole: opening them as new would skip every check.
    std::unique_ptr<leveldb::Iterator> it{db->NewIterator(leveldb::ReadOptions{})};
    it->SeekToFirst();
    if (!it->status().ok()) return to_error(it->status(), "read data dir");
    if (it->Valid())
      return make_error(errc::conflict, "data dir " + opts.path +
                                            " holds records but no meta/partition_count: "
                                            "refusing to open it as a new database");
    fresh = true;
    leveldb::WriteOptions wo;
    wo.sync = true;
    leveldb::WriteBatch made;
    made.Put(std::string{meta_partition_count_key}, expected);
    // A new DB records every type's partition key from its first start on.
    made.Put(std::string{meta_partition_keys_key}, "1");
    st = db->Write(wo, &made);
    if (!st.ok()) return to_error(st, "record partition count");
  } else if (!st.ok()) {
    return to_error(st, "read partition count");
  } else if (recorded != expected) {
    return make_error(errc::conflict, "data dir " + opts.path + " was made with " + recorded +
                                          " partitions, this build uses " + expected);
  }
  if (auto err = bring_to_current_layout(*db, fresh)) return err;
  return std::unique_ptr<state_store>{
      std::make_unique<leveldb_store>(std::move(filter), std::move(db), opts.sync)};
}

}  // namespace keel
