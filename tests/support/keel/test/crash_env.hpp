#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <set>
#include <string>

#include <leveldb/env.h>
#include <caf/expected.hpp>

namespace keel::test {

/// A LevelDB Env over the real one that simulates a machine crash, as LevelDB's own
/// db/fault_injection_test.cc does. It remembers, per file written through it, how many
/// bytes the last Sync made durable, and which files were created since the directory was
/// last made durable. crash() stops the disk at once: every later append, flush, sync,
/// creation, rename or removal fails and does nothing, as if the process died there, so
/// nothing LevelDB writes afterwards can be reported as durable. reboot() then drops what
/// no sync covered: it truncates each file to its last synced size and removes the files
/// whose directory entry no sync made durable, and the disk works again.
///
/// The model, like LevelDB's test: a Sync of a file created since the last directory sync
/// also makes the directory durable (LevelDB's POSIX Env syncs the directory with every
/// manifest), and a rename is durable at once. Files the env never saw written (present
/// before it, or LevelDB's info LOG) count as durable.
/// Thread safety: thread-safe. Requires: outlives every database opened on it.
class crash_env final : public leveldb::EnvWrapper {
 public:
  /// Over leveldb::Env::Default().
  crash_env();

  /// The disk stops now.
  void crash();
  /// The `n`-th Sync from now (1: the next) fails without syncing and stops the disk.
  /// Requires: n >= 1.
  void crash_at_sync(int n);
  bool crashed() const;
  /// Syncs that made data durable since this env was made.
  int syncs() const;

  /// What reboot() dropped.
  struct dropped {
    uint64_t bytes = 0;  // truncated off files that survived
    int files = 0;       // removed whole
  };
  /// Drops everything no sync made durable, then lets the disk work again (the machine
  /// restarted). Requires: crashed(), and no database open on this env.
  [[nodiscard]] caf::expected<dropped> reboot();

  leveldb::Status NewWritableFile(const std::string& name, leveldb::WritableFile** out) override;
  leveldb::Status NewAppendableFile(const std::string& name, leveldb::WritableFile** out) override;
  leveldb::Status RemoveFile(const std::string& name) override;
  leveldb::Status RenameFile(const std::string& from, const std::string& to) override;
  leveldb::Status CreateDir(const std::string& name) override;

 private:
  friend class crash_tracked_file;

  struct file_state {
    uint64_t size = 0;
    uint64_t synced = 0;
  };

  // Called by the files written through this env.
  leveldb::Status check_running(const std::string& name) const;
  void appended(const std::string& name, uint64_t bytes);
  leveldb::Status sync(const std::string& name, leveldb::WritableFile& target);

  leveldb::Status wrap(const std::string& name, leveldb::WritableFile* target, file_state state,
                       leveldb::WritableFile** out);

  mutable std::mutex mutex_;
  // Guarded by mutex_: files written through this env, and those whose directory entry no
  // sync has made durable yet.
  std::map<std::string, file_state> files_;
  std::set<std::string> undurable_entries_;
  bool crashed_ = false;
  int sync_countdown_ = 0;  // > 0: the sync that brings it to 0 crashes
  int syncs_ = 0;
};

}  // namespace keel::test
