#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>

#include "keel/runtime/metrics.hpp"

namespace keel::http {

/// How many HTTP connections the server keeps open. `max_connections` is the hard limit
/// (the server stops accepting at it); `per_client` caps one client address (0: no cap).
struct connection_limits {
  size_t max_connections = 10000;
  size_t per_client = 0;
};

/// The open HTTP connections of one server and which to close when they run short, so that
/// a flood of idle connections cannot lock a new client out. A connection is *idle* while
/// the server waits to read from it: between requests (keep-alive), or while a request
/// trickles in. Idle ones are ordered by when they became idle; a request being handled
/// or answered is never closed.
///
/// When a new connection arrives and the open ones reach the pressure mark (90 % of
/// `max_connections`, at least one below it), the connection idle the longest is closed
/// (shut down: its pending read ends, and the server closes it). A client at its
/// `per_client` cap has its own longest-idle connection closed, or the new one refused
/// when none of its connections is idle.
///
/// Connections are named by their socket's file descriptor plus a serial number, because a
/// descriptor is reused once closed. The server calls `opened` before the first read and
/// `closed` before the descriptor is closed, so this table never shuts down a descriptor
/// that belongs to another connection.
/// Thread safety: thread-safe.
class connection_table {
 public:
  explicit connection_table(connection_limits limits);
  connection_table(const connection_table&) = delete;
  connection_table& operator=(const connection_table&) = delete;

  enum class verdict { admit, refuse };

  /// A connection from `client` (an address) has been accepted: closes idle connections to
  /// make room, and says whether to serve it.
  verdict admit(std::string_view client);

  /// Registers connection `fd` of `client`; returns its serial number.
  uint64_t opened(int fd, std::string client);
  /// Requires: `fd` is still open. Forgets it.
  void closed(int fd, uint64_t serial);
  /// The server waits to read from `fd`.
  void reading(int fd, uint64_t serial);
  /// A read from `fd` has completed.
  void read_done(int fd, uint64_t serial);
  /// The server writes to `fd` (a response): its next read starts a new idle period.
  void writing(int fd, uint64_t serial);

  size_t open_connections() const;
  const connection_limits& limits() const noexcept { return limits_; }

  /// Appends the Prometheus series: open connections, closed idle ones, refused ones.
  void render_metrics(std::string& out) const;

 private:
  struct entry {
    uint64_t serial = 0;
    std::string client;
    uint64_t stamp = 0;    // when the current idle period began (an order, not a time)
    bool idle = false;     // in idle_
    bool fresh = true;     // the next read starts a new idle period
    bool evicted = false;  // shut down by this table, not closed yet
  };

  // Requires: mutex_ held. Shuts down the longest-idle connection (of `client` only, if
  // given); false if none is idle.
  bool evict_one(std::string_view client);
  // Requires: mutex_ held.
  entry* find(int fd, uint64_t serial);
  void set_idle(int fd, entry& e, bool idle);

  const connection_limits limits_;
  const size_t pressure_at_;

  mutable std::mutex mutex_;
  // Guarded by mutex_.
  std::unordered_map<int, entry> entries_;
  std::set<std::pair<uint64_t, int>> idle_;                // (stamp, fd), oldest first
  std::map<std::string, size_t, std::less<>> per_client_;  // live (not evicted) connections
  size_t live_ = 0;                                        // entries not evicted
  uint64_t next_serial_ = 0;
  uint64_t next_stamp_ = 0;

  counter evicted_;
  counter refused_;
};

}  // namespace keel::http
