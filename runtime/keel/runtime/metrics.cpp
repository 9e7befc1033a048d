#include "keel/runtime/metrics.hpp"

#include <fmt/format.h>

namespace keel {

void histogram::observe_in(size_t bucket, double seconds) noexcept {
  auto& mine = stripes_[detail::metric_stripe()];
  mine.buckets[bucket].fetch_add(1, std::memory_order_relaxed);
  mine.sum_micros.fetch_add(static_cast<uint64_t>(seconds * 1e6), std::memory_order_relaxed);
}

histogram::counts histogram::bucket_counts() const noexcept {
  counts out{};
  for (const auto& s : stripes_)
    for (size_t i = 0; i < out.size(); ++i) out[i] += s.buckets[i].load(std::memory_order_relaxed);
  return out;
}

uint64_t histogram::count() const noexcept {
  uint64_t total = 0;
  for (const auto& s : stripes_)
    for (const auto& b : s.buckets) total += b.load(std::memory_order_relaxed);
  return total;
}

void histogram::render(std::string& out, std::string_view name, std::string_view labels) const {
  auto bucket = [this](size_t i) {
    uint64_t n = 0;
    for (const auto& s : stripes_) n += s.buckets[i].load(std::memory_order_relaxed);
    return n;
  };
  uint64_t cumulative = 0;
  uint64_t sum_micros = 0;
  for (const auto& s : stripes_) sum_micros += s.sum_micros.load(std::memory_order_relaxed);
  auto sep = labels.empty() ? "" : ",";
  for (size_t i = 0; i < bounds.size(); ++i) {
    cumulative += bucket(i);
    out += fmt::format("{}_bucket{{{}{}le=\"{}\"}} {}\n", name, labels, sep, bounds[i], cumulative);
  }
  cumulative += bucket(bounds.size());
  out += fmt::format("{}_bucket{{{}{}le=\"+Inf\"}} {}\n", name, labels, sep, cumulative);
  auto braces = labels.empty() ? std::string{} : fmt::format("{{{}}}", labels);
  out += fmt::format("{}_sum{} {}\n", name, braces, static_cast<double>(sum_micros) / 1e6);
  out += fmt::format("{}_count{} {}\n", name, braces, cumulative);
}

void render_header(std::string& out, std::string_view name, std::string_view type,
                   std::string_view help) {
  out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
}

void render_counter(std::string& out, std::string_view name, std::string_view help,
                    uint64_t value) {
  render_header(out, name, "counter", help);
  out += fmt::format("{} {}\n", name, value);
}

void render_gauge(std::string& out, std::string_view name, std::string_view help, int64_t value) {
  render_header(out, name, "gauge", help);
  out += fmt::format("{} {}\n", name, value);
}

void render_histogram(std::string& out, std::string_view name, std::string_view help,
                      const histogram& h) {
  render_header(out, name, "histogram", help);
  h.render(out, name, "");
}

namespace {

void render_gauge(std::string& out, std::string_view name, std::string_view help, const gauge& g) {
  keel::render_gauge(out, name, help, g.value());
}

}  // namespace

void runtime_metrics::render(std::string& out) const {
  render_counter(out, "keel_turns_total", "Turns run.", turns());
  render_counter(out, "keel_turn_failures_total", "Turns answered with an error.",
                 turn_failures.value());
  render_counter(out, "keel_commit_batches_total", "Group commits (one WriteBatch and sync).",
                 commit_batches.value());
  render_counter(out, "keel_commit_writes_total", "Turn commits inside group commits.",
                 commit_writes.value());
  render_counter(out, "keel_durable_turns_total",
                 "Turns whose state or reminder changes were written and synced.",
                 durable_turns.value());
  render_counter(out, "keel_calls_timed_out_total", "Calls failed by the deadline sweep.",
                 calls_timed_out.value());
  render_counter(out, "keel_activations_started_total", "Activations started.",
                 activations_started.value());
  render_counter(out, "keel_passivations_total", "Activations passivated.", passivations.value());
  render_counter(out, "keel_activations_evicted_total",
                 "Idle activations asked to leave early: the node neared --max-activations.",
                 activations_evicted.value());
  render_counter(out, "keel_activations_refused_total",
                 "Calls refused because the node held --max-activations activations.",
                 activations_refused.value());
  render_counter(out, "keel_reminders_fired_total", "Reminder firings delivered.",
                 reminders_fired.value());
  render_counter(out, "keel_reminder_load_failures_total",
                 "Chunks of 64 partitions whose reminders the start could not read.",
                 reminder_load_failures.value());
  render_gauge(out, "keel_activations", "Live activations on this node.", activations);
  render_gauge(out, "keel_reminders", "Reminders this node schedules.", reminders);
  render_gauge(out, "keel_calls_pending", "Calls waiting for an answer.", calls_pending);
  render_gauge(out, "keel_store_failed",
               "1 once a write to the data dir failed: the node takes no writes until restarted.",
               store_failed);
  render_histogram(out, "keel_commit_duration_seconds", "Group commit latency.", commit_seconds);
  render_histogram(out, "keel_turn_duration_seconds", "Turn latency, start to reply.",
                   turn_seconds);
}

}  // namespace keel
