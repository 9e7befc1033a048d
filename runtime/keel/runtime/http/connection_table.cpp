#include "keel/runtime/http/connection_table.hpp"

#include <algorithm>

#include <sys/socket.h>

namespace keel::http {

connection_table::connection_table(connection_limits limits)
    : limits_(limits),
      // Room above the mark lets a burst of new clients in while the connections closed
      // for them are still shutting down.
      pressure_at_(std::max<size_t>(
          1, limits.max_connections - std::max<size_t>(1, limits.max_connections / 10))) {}

connection_table::verdict connection_table::admit(std::string_view client) {
  std::lock_guard guard{mutex_};
  if (limits_.per_client > 0) {
    auto it = per_client_.find(client);
    if (it != per_client_.end() && it->second >= limits_.per_client && !evict_one(client)) {
      refused_.add();
      return verdict::refuse;
    }
  }
  while (live_ + 1 > pressure_at_ && evict_one({})) {
  }
  return verdict::admit;
}

bool connection_table::evict_one(std::string_view client) {
  for (auto it = idle_.begin(); it != idle_.end(); ++it) {
    auto& e = entries_.at(it->second);
    if (!client.empty() && e.client != client) continue;
    // The server's pending read ends (end of stream) and it closes the connection itself;
    // the descriptor stays valid until closed() has removed it from this table.
    ::shutdown(it->second, SHUT_RDWR);
    e.evicted = true;
    e.idle = false;
    idle_.erase(it);
    --live_;
    if (auto pc = per_client_.find(e.client); pc != per_client_.end() && --pc->second == 0)
      per_client_.erase(pc);
    evicted_.add();
    return true;
  }
  return false;
}

uint64_t connection_table::opened(int fd, std::string client) {
  std::lock_guard guard{mutex_};
  entry e;
  e.serial = ++next_serial_;
  e.client = std::move(client);
  auto pc = per_client_.find(e.client);
  if (pc == per_client_.end()) pc = per_client_.emplace(e.client, 0).first;
  ++pc->second;
  ++live_;
  auto serial = e.serial;
  entries_[fd] = std::move(e);
  return serial;
}

connection_table::entry* connection_table::find(int fd, uint64_t serial) {
  auto it = entries_.find(fd);
  return it != entries_.end() && it->second.serial == serial ? &it->second : nullptr;
}

void connection_table::closed(int fd, uint64_t serial) {
  std::lock_guard guard{mutex_};
  auto* e = find(fd, serial);
  if (!e) return;
  if (e->idle) idle_.erase({e->stamp, fd});
  if (!e->evicted) {
    --live_;
    if (auto pc = per_client_.find(e->client); pc != per_client_.end() && --pc->second == 0)
      per_client_.erase(pc);
  }
  entries_.erase(fd);
}

void connection_table::set_idle(int fd, entry& e, bool idle) {
  if (e.evicted || e.idle == idle) return;
  e.idle = idle;
  if (!idle) {
    idle_.erase({e.stamp, fd});
    return;
  }
  // A request trickling in keeps the stamp of its first read, so slow senders age too.
  if (e.fresh) {
    e.fresh = false;
    e.stamp = ++next_stamp_;
  }
  idle_.emplace(e.stamp, fd);
}

void connection_table::reading(int fd, uint64_t serial) {
  std::lock_guard guard{mutex_};
  if (auto* e = find(fd, serial)) set_idle(fd, *e, true);
}

void connection_table::read_done(int fd, uint64_t serial) {
  std::lock_guard guard{mutex_};
  if (auto* e = find(fd, serial)) set_idle(fd, *e, false);
}

void connection_table::writing(int fd, uint64_t serial) {
  std::lock_guard guard{mutex_};
  if (auto* e = find(fd, serial)) e->fresh = true;
}

size_t connection_table::open_connections() const {
  std::lock_guard guard{mutex_};
  return live_;
}

void connection_table::render_metrics(std::string& out) const {
  render_gauge(out, "keel_http_connections", "Open HTTP connections.",
               static_cast<int64_t>(open_connections()));
  render_counter(out, "keel_http_connections_closed_idle_total",
                 "Idle HTTP connections closed to make room for new ones.", evicted_.value());
  render_counter(out, "keel_http_connections_refused_total",
                 "HTTP connections refused: their client was at --max-connections-per-client "
                 "with none idle.",
                 refused_.value());
}

}  // namespace keel::http
