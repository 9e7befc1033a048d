#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "keel/runtime/hot_actors.hpp"
#include "keel/runtime/metrics.hpp"
#include "keel/runtime/stats.pb.h"

namespace keel {

class type_registry;
struct actor_type_info;

/// The live counts of one actor type. Made by node_stats for each registered type and kept
/// as long as it; activations hold a pointer to theirs, so a turn finds it without a lookup.
/// Thread safety: thread-safe.
struct type_counters {
  std::string name;
  histogram turn_seconds;  // every turn of the type, failed ones too, once; counts only
  counter failures;
  gauge activations;
};

/// What `GET /v1/stats` shows: per actor type and per hot actor over the last closed
/// interval, and a bounded history of the node's totals per interval. Turns and HTTP
/// answers add to cumulative counters (as /metrics reads them); close_interval() diffs
/// them against the previous close, so every figure covers one interval, not the node's
/// life. Memory is bounded: a slot per type, the hot-actor sketch, and `history` samples.
/// Thread safety: thread-safe. record_turn() and record_http() are lock-free except for
/// the turn's own stripe of the sketch; close_interval() and view() take the stats' lock.
class node_stats {
 public:
  struct options {
    std::chrono::milliseconds interval{5000};
    size_t history = 180;  // samples kept: 15 minutes at one per 5 s
    size_t hot = 10;       // hot actors shown
  };

  /// The first interval opens at wall-clock `start_ms`.
  /// Requires: `metrics` outlives the stats; `types` is complete (the node has started).
  node_stats(const type_registry& types, const runtime_metrics& metrics, options opts,
             int64_t start_ms);

  /// The counters of `type`. Requires: `type` is one of the registry's.
  type_counters& of(const actor_type_info& type);

  /// Counts one finished turn of actor `id` (whose std::hash is `id_hash`) of `type`, whose
  /// duration fell in histogram bucket `bucket`.
  void record_turn(type_counters& type, uint64_t id_hash, const actor_id& id, size_t bucket,
                   bool ok) noexcept {
    type.turn_seconds.count_in(bucket);
    if (!ok) type.failures.add();
    hot_.record(id_hash, id);
  }

  /// Counts one HTTP answer.
  void record_http(int status, double seconds) noexcept;

  /// Ends the current interval at wall-clock `now_ms` and starts the next.
  void close_interval(int64_t now_ms);

  const options& settings() const noexcept { return opts_; }

  /// The last closed interval and the history, as node `node_id`.
  runtime::NodeStats view(const std::string& node_id) const;

 private:
  struct type_slot {
    std::unique_ptr<type_counters> live;
    histogram::counts seen_buckets{};  // at the last close
    uint64_t seen_failures = 0;
  };
  struct totals {
    uint64_t turns = 0;
    uint64_t durable = 0;
    std::array<uint64_t, 3> http{};  // 2xx, 4xx, 5xx
    histogram::counts http_buckets{};
    histogram::counts turn_buckets{};
  };
  totals read_totals() const;

  const runtime_metrics& metrics_;
  const options opts_;
  std::map<const actor_type_info*, type_slot> types_;  // fixed at construction
  hot_actors hot_;
  std::array<counter, 3> http_by_class_;  // 2xx, 4xx, 5xx
  histogram http_seconds_;

  mutable std::mutex mutex_;
  // Guarded by mutex_, with type_slot's seen_* fields.
  int64_t opened_ms_;  // when the current interval began
  totals seen_;
  runtime::NodeStats last_;  // the last closed interval, without node_id and history
  std::deque<runtime::StatsSample> history_;
};

/// The `q` quantile of an interval's bucket counts in ms: linear interpolation inside the
/// bucket the rank falls in (as Prometheus' histogram_quantile); the last bound (10000)
/// when it falls past it; 0 when there are no counts.
double quantile_ms(const histogram::counts& counts, double q);

}  // namespace keel
