#include "keel/runtime/node_stats.hpp"

#include <algorithm>

#include "keel/runtime/registry.hpp"

namespace keel {

namespace {

histogram::counts minus(const histogram::counts& now, const histogram::counts& before) {
  histogram::counts out{};
  for (size_t i = 0; i < out.size(); ++i) out[i] = now[i] - before[i];
  return out;
}

uint32_t narrow(uint64_t n) {
  return static_cast<uint32_t>(std::min<uint64_t>(n, UINT32_MAX));
}

double per_second(uint64_t n, int64_t length_ms) {
  return length_ms > 0 ? static_cast<double>(n) * 1000.0 / static_cast<double>(length_ms) : 0.0;
}

}  // namespace

double quantile_ms(const histogram::counts& counts, double q) {
  uint64_t total = 0;
  for (auto c : counts) total += c;
  if (total == 0) return 0.0;
  const double rank = q * static_cast<double>(total);
  uint64_t below = 0;
  for (size_t i = 0; i < counts.size(); ++i) {
    if (static_cast<double>(below + counts[i]) < rank) {
      below += counts[i];
      continue;
    }
    if (i == histogram::bounds.size()) break;  // past the last bound: its value is unknown
    const double lo = i == 0 ? 0.0 : histogram::bounds[i - 1];
    const double hi = histogram::bounds[i];
    const double within = (rank - static_cast<double>(below)) / static_cast<double>(counts[i]);
    return (lo + (hi - lo) * within) * 1000.0;
  }
  return histogram::bounds.back() * 1000.0;
}

node_stats::node_stats(const type_registry& types, const runtime_metrics& metrics, options opts,
                       int64_t start_ms)
    : metrics_(metrics), opts_(opts), opened_ms_(start_ms) {
  for (const auto& [name, info] : types.types()) {
    auto& slot = types_[info.get()];
    slot.live = std::make_unique<type_counters>();
    slot.live->name = name;
  }
}

type_counters& node_stats::of(const actor_type_info& type) {
  return *types_.at(&type).live;
}

void node_stats::record_http(int status, double seconds) noexcept {
  const int cls = status / 100;
  if (cls == 2) http_by_class_[0].add();
  if (cls == 4) http_by_class_[1].add();
  if (cls == 5) http_by_class_[2].add();
  http_seconds_.observe(seconds);
}

node_stats::totals node_stats::read_totals() const {
  totals t;
  t.turns = metrics_.turns();
  t.durable = metrics_.durable_turns.value();
  for (size_t i = 0; i < t.http.size(); ++i) t.http[i] = http_by_class_[i].value();
  t.http_buckets = http_seconds_.bucket_counts();
  t.turn_buckets = metrics_.turn_seconds.bucket_counts();
  return t;
}

void node_stats::close_interval(int64_t now_ms) {
  std::lock_guard guard{mutex_};
  auto hot = hot_.take(opts_.hot);
  // A wall clock stepped back gives no negative length; rates then use the nominal one.
  const int64_t length = now_ms > opened_ms_ ? now_ms - opened_ms_ : opts_.interval.count();
  runtime::NodeStats out;
  out.set_interval_end_ms(now_ms);
  out.set_interval_length_ms(narrow(static_cast<uint64_t>(length)));
  // By name: the map is keyed by address, which orders nothing a reader cares about.
  std::vector<std::pair<const std::string*, type_slot*>> by_name;
  for (auto& [info, slot] : types_) by_name.emplace_back(&slot.live->name, &slot);
  std::sort(by_name.begin(), by_name.end(), [](auto& a, auto& b) { return *a.first < *b.first; });
  for (auto& [name, slot] : by_name) {
    auto buckets = slot->live->turn_seconds.bucket_counts();
    auto failures = slot->live->failures.value();
    auto in_interval = minus(buckets, slot->seen_buckets);
    uint64_t turns = 0;
    for (auto c : in_interval) turns += c;
    auto* row = out.add_types();
    row->set_type(*name);
    row->set_turns(narrow(turns));
    row->set_turns_per_second(per_second(turns, length));
    row->set_failures(narrow(failures - slot->seen_failures));
    row->set_p50_ms(quantile_ms(in_interval, 0.5));
    row->set_p99_ms(quantile_ms(in_interval, 0.99));
    auto live = std::max<int64_t>(0, slot->live->activations.value());
    row->set_activations(narrow(static_cast<uint64_t>(live)));
    slot->seen_buckets = buckets;
    slot->seen_failures = failures;
  }
  for (const auto& h : hot) {
    auto* row = out.add_hot_actors();
    row->set_actor(h.actor);
    row->set_turns(narrow(h.turns));
    row->set_overcount(narrow(h.overcount));
    row->set_turns_per_second(per_second(h.turns, length));
  }
  auto now = read_totals();
  runtime::StatsSample sample;
  sample.set_end_ms(now_ms);
  sample.set_length_ms(narrow(static_cast<uint64_t>(length)));
  sample.set_turns(narrow(now.turns - seen_.turns));
  sample.set_durable_commits(narrow(now.durable - seen_.durable));
  sample.set_http_2xx(narrow(now.http[0] - seen_.http[0]));
  sample.set_http_4xx(narrow(now.http[1] - seen_.http[1]));
  sample.set_http_5xx(narrow(now.http[2] - seen_.http[2]));
  auto http = minus(now.http_buckets, seen_.http_buckets);
  sample.set_http_p50_ms(quantile_ms(http, 0.5));
  sample.set_http_p99_ms(quantile_ms(http, 0.99));
  auto turns = minus(now.turn_buckets, seen_.turn_buckets);
  sample.set_turn_p50_ms(quantile_ms(turns, 0.5));
  sample.set_turn_p99_ms(quantile_ms(turns, 0.99));
  history_.push_back(std::move(sample));
  while (history_.size() > std::max<size_t>(opts_.history, 1)) history_.pop_front();
  seen_ = now;
  last_ = std::move(out);
  opened_ms_ = now_ms;
}

runtime::NodeStats node_stats::view(const std::string& node_id) const {
  std::lock_guard guard{mutex_};
  runtime::NodeStats out = last_;
  out.set_node_id(node_id);
  out.set_interval_ms(narrow(static_cast<uint64_t>(opts_.interval.count())));
  if (last_.interval_end_ms() == 0) {
    // Nothing closed yet: every type, with nothing counted.
    std::vector<const std::string*> names;
    for (const auto& [info, slot] : types_) names.push_back(&slot.live->name);
    std::sort(names.begin(), names.end(), [](auto* a, auto* b) { return *a < *b; });
    for (const auto* name : names) out.add_types()->set_type(*name);
  }
  for (const auto& s : history_) *out.add_history() = s;
  return out;
}

}  // namespace keel
