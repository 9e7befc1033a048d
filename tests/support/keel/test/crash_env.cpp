#include "keel/test/crash_env.hpp"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>

#include "keel/runtime/errc.hpp"

namespace keel::test {

/// A file written through a crash_env: reports its appends and routes its syncs through
/// the env, and writes nothing once the disk has stopped.
/// Thread safety: as LevelDB uses a WritableFile, one thread at a time.
class crash_tracked_file final : public leveldb::WritableFile {
 public:
  crash_tracked_file(crash_env& env, std::string name, leveldb::WritableFile* real)
      : env_(env), name_(std::move(name)), target_(real) {}

  leveldb::Status Append(const leveldb::Slice& data) override {
    if (auto st = env_.check_running(name_); !st.ok()) return st;
    auto st = target_->Append(data);
    if (st.ok()) env_.appended(name_, data.size());
    return st;
  }
  // Bytes buffered before the crash reach the OS here, but stay past the synced size,
  // so reboot() drops them.
  leveldb::Status Close() override { return target_->Close(); }
  leveldb::Status Flush() override {
    if (auto st = env_.check_running(name_); !st.ok()) return st;
    return target_->Flush();
  }
  leveldb::Status Sync() override { return env_.sync(name_, *target_); }

 private:
  crash_env& env_;
  std::string name_;
  std::unique_ptr<leveldb::WritableFile> target_;
};

crash_env::crash_env() : leveldb::EnvWrapper(leveldb::Env::Default()) {}

void crash_env::crash() {
  std::lock_guard guard{mutex_};
  crashed_ = true;
}

void crash_env::crash_at_sync(int n) {
  std::lock_guard guard{mutex_};
  sync_countdown_ = n;
}

bool crash_env::crashed() const {
  std::lock_guard guard{mutex_};
  return crashed_;
}

int crash_env::syncs() const {
  std::lock_guard guard{mutex_};
  return syncs_;
}

leveldb::Status crash_env::check_running(const std::string& name) const {
  std::lock_guard guard{mutex_};
  if (crashed_) return leveldb::Status::IOError(name, "simulated crash: the disk has stopped");
  return leveldb::Status::OK();
}

void crash_env::appended(const std::string& name, uint64_t bytes) {
  std::lock_guard guard{mutex_};
  files_[name].size += bytes;
}

// Under the lock for the whole sync, so that crash() falls either before a sync (which
// then fails) or after it (which then counts as durable), never inside it.
leveldb::Status crash_env::sync(const std::string& name, leveldb::WritableFile& target) {
  std::lock_guard guard{mutex_};
  if (!crashed_ && sync_countdown_ > 0 && --sync_countdown_ == 0) crashed_ = true;
  if (crashed_) return leveldb::Status::IOError(name, "simulated crash: the disk has stopped");
  auto st = target.Sync();
  if (!st.ok()) return st;
  auto& file = files_[name];
  file.synced = file.size;
  if (undurable_entries_.contains(name)) undurable_entries_.clear();
  ++syncs_;
  return st;
}

leveldb::Status crash_env::wrap(const std::string& name, leveldb::WritableFile* target,
                                file_state state, leveldb::WritableFile** out) {
  {
    std::lock_guard guard{mutex_};
    files_[name] = state;
  }
  *out = new crash_tracked_file(*this, name, target);  // LevelDB's API: the caller owns it
  return leveldb::Status::OK();
}

leveldb::Status crash_env::NewWritableFile(const std::string& name, leveldb::WritableFile** out) {
  if (auto st = check_running(name); !st.ok()) return st;
  leveldb::WritableFile* real = nullptr;
  auto st = target()->NewWritableFile(name, &real);
  if (!st.ok()) return st;
  {
    std::lock_guard guard{mutex_};
    undurable_entries_.insert(name);
  }
  return wrap(name, real, {}, out);  // created or truncated: nothing of it is durable
}

leveldb::Status crash_env::NewAppendableFile(const std::string& name, leveldb::WritableFile** out) {
  if (auto st = check_running(name); !st.ok()) return st;
  file_state state;
  bool known = false;
  {
    std::lock_guard guard{mutex_};
    if (auto it = files_.find(name); it != files_.end()) {
      state = it->second;
      known = true;
    }
  }
  bool existed = target()->FileExists(name);
  if (!known && existed) {
    // Present before this env saw it: all of it counts as durable.
    if (auto st = target()->GetFileSize(name, &state.size); !st.ok()) return st;
    state.synced = state.size;
  }
  leveldb::WritableFile* real = nullptr;
  auto st = target()->NewAppendableFile(name, &real);
  if (!st.ok()) return st;
  if (!existed) {
    std::lock_guard guard{mutex_};
    undurable_entries_.insert(name);
  }
  return wrap(name, real, state, out);
}

leveldb::Status crash_env::RemoveFile(const std::string& name) {
  if (auto st = check_running(name); !st.ok()) return st;
  auto st = target()->RemoveFile(name);
  if (!st.ok()) return st;
  std::lock_guard guard{mutex_};
  files_.erase(name);
  undurable_entries_.erase(name);
  return st;
}

leveldb::Status crash_env::RenameFile(const std::string& from, const std::string& to) {
  if (auto st = check_running(from); !st.ok()) return st;
  auto st = target()->RenameFile(from, to);
  if (!st.ok()) return st;
  std::lock_guard guard{mutex_};
  files_.erase(to);
  undurable_entries_.erase(to);
  if (auto node = files_.extract(from)) {
    node.key() = to;
    files_.insert(std::move(node));
  }
  if (undurable_entries_.erase(from) > 0) undurable_entries_.insert(to);
  return st;
}

leveldb::Status crash_env::CreateDir(const std::string& name) {
  if (auto st = check_running(name); !st.ok()) return st;
  return target()->CreateDir(name);
}

caf::expected<crash_env::dropped> crash_env::reboot() {
  std::lock_guard guard{mutex_};
  if (!crashed_) return make_error(errc::conflict, "reboot() without a crash");
  dropped out;
  for (const auto& name : undurable_entries_) {
    if (auto st = target()->RemoveFile(name); !st.ok())
      return make_error(errc::unavailable, "reboot: remove " + name + ": " + st.ToString());
    files_.erase(name);
    ++out.files;
  }
  for (const auto& [name, file] : files_) {
    if (file.size == file.synced) continue;
    if (::truncate(name.c_str(), static_cast<off_t>(file.synced)) != 0)
      return make_error(errc::unavailable,
                        "reboot: truncate " + name + ": " + std::strerror(errno));
    out.bytes += file.size - file.synced;
  }
  // What is on disk now is all durable: the machine is up again.
  files_.clear();
  undurable_entries_.clear();
  crashed_ = false;
  sync_countdown_ = 0;
  return out;
}

}  // namespace keel::test
