#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <caf/expected.hpp>

namespace leveldb {
class Env;
}

namespace keel {

/// Options for the node's one database.
struct store_options {
  std::string path;
  bool sync = true;  // fsync every commit batch; false only for benchmarks
  // Where LevelDB does its file I/O; null: LevelDB's own. A seam for tests that wrap it
  // (tests/support: a crash that drops unsynced writes). Requires: outlives the store.
  leveldb::Env* env = nullptr;
};

/// One write of a batch: a put, or an erase when `erase` is set.
struct store_write {
  std::string key;
  std::string value;
  bool erase = false;
};

/// The store as it was at one moment: reads through it see no write made after it.
/// Thread safety: thread-safe. Requires: released before its store.
class store_snapshot {
 public:
  virtual ~store_snapshot() = default;

  /// Every key-value pair with `prefix` as of the snapshot, in key order.
  [[nodiscard]] virtual caf::expected<std::vector<std::pair<std::string, std::string>>> scan(
      std::string_view prefix) const = 0;
};

/// The node's ordered key-value store, one per data directory. Keys are
/// partition-prefixed (see storage_keys.hpp), so a partition is one key range.
/// Thread safety: thread-safe. Calls block on disk, so only the runtime's detached store
/// actors call them, never a turn.
class state_store {
 public:
  virtual ~state_store() = default;

  /// The value at `key`, or nullopt if absent.
  [[nodiscard]] virtual caf::expected<std::optional<std::string>> get(std::string_view key) = 0;

  /// Every key-value pair with `prefix`, in key order.
  [[nodiscard]] virtual caf::expected<std::vector<std::pair<std::string, std::string>>> scan(
      std::string_view prefix) = 0;

  /// The store as it is now, for reads that must not see later writes.
  [[nodiscard]] virtual std::shared_ptr<const store_snapshot> snapshot() = 0;

  /// Applies all writes atomically; durable on return when the store syncs. A write that
  /// failed and may be on disk in part or whole answers `app_error`, and from then on the
  /// store refuses every write with `unavailable` (nothing written) until it is opened
  /// again: what follows a torn write could be lost when the log is replayed.
  [[nodiscard]] virtual caf::error write(const std::vector<store_write>& batch) = 0;
};

/// Layout 2 (storage_keys.hpp) for records an older build wrote: adds an empty state record
/// at version 0 for each actor that owns a reminder or entry among `writes` but has no state
/// record among them. `writes`: all records of a key range, as a handoff moves a partition.
void add_missing_state_records(std::vector<store_write>& writes);

/// Opens a LevelDB store, creating it only in a new dir (absent, or holding no LevelDB
/// record files). Refuses with errc::conflict, touching nothing: record files without a
/// CURRENT, records without the partition count, a damaged database (LevelDB's paranoid
/// checks), a DB made with another partition count (its keys would map to the wrong
/// partitions) or of a later layout. errc::unavailable: the dir cannot be read or locked.
caf::expected<std::unique_ptr<state_store>> open_leveldb_store(const store_options& opts);

}  // namespace keel
