#include "load_clients.hpp"

#include <random>
#include <thread>

#include <fmt/format.h>

namespace keel::chaos {

using namespace std::chrono_literals;

namespace {

constexpr int64_t anomalies_printed_per_kind = 20;

std::string_view name_of(anomaly kind) {
  switch (kind) {
    case anomaly::backwards:
      return "BACKWARDS";
    case anomaly::applied_though_failed:
      return "APPLIED THOUGH FAILED";
    case anomaly::lost:
      return "LOST";
  }
  return "?";
}

}  // namespace

struct load_clients::client {
  client(int index, std::vector<std::string> keys, const load_config& config)
      : ledger(std::move(keys)),
        rng(config.seed * 1000003 + static_cast<uint64_t>(index)),
        api(config.call_timeout),
        stats(static_cast<size_t>(config.phases)) {}
  key_ledger ledger;
  std::mt19937_64 rng;
  counter_client api;
  std::vector<phase_stats> stats;  // by phase
  std::vector<stuck_key> stuck;
  std::thread thread;
};

load_clients::load_clients(load_config config, live_targets& targets, progress_log& log)
    : config_(config), targets_(targets), log_(log) {
  for (int c = 0; c < config_.clients; ++c) {
    std::vector<std::string> keys;
    for (int k = c; k < config_.keys; k += config_.clients) keys.push_back("k" + std::to_string(k));
    clients_.push_back(std::make_unique<client>(c, std::move(keys), config_));
  }
}

load_clients::~load_clients() {
  stop();
}

void load_clients::start() {
  stopping_ = false;
  for (auto& c : clients_) c->thread = std::thread{[this, &c = *c] { run_load(c); }};
}

void load_clients::stop() {
  stopping_ = true;
  for (auto& c : clients_)
    if (c->thread.joinable()) c->thread.join();
}

void load_clients::run_load(client& c) {
  if (c.ledger.keys().empty()) return;
  std::uniform_int_distribution<size_t> pick_key{0, c.ledger.keys().size() - 1};
  while (!stopping_) {
    auto via = targets_.pick(c.rng);
    if (!via) {
      std::this_thread::sleep_for(50ms);
      continue;
    }
    size_t i = pick_key(c.rng);
    int began = phase_.load();
    auto r = c.api.increment(via->port, c.ledger.keys()[i]);
    int ended = phase_.load();
    bool fault_struck = ended != began && ended % 2 == 1 && r.kind != outcome::acked;
    note(c, (fault_struck ? ended : began) / 2, i, r, *via);
    // A refused call comes back at once: back off so an outage is not a busy loop.
    if (r.kind != outcome::acked) std::this_thread::sleep_for(20ms);
  }
}

void load_clients::note(client& c, int phase, size_t key, const call_result& r, const target& via) {
  if (r.kind == outcome::acked) {
    c.stats[static_cast<size_t>(phase)].add(r);
  } else {
    auto shown = r;  // the report's sample message says which node answered, about which key
    shown.message += " [via " + via.node_id + ", " + c.ledger.keys()[key] + "]";
    c.stats[static_cast<size_t>(phase)].add(shown);
  }
  ++requests_;
  if (r.kind != outcome::acked) ++failed_;
  if (auto found = c.ledger.record_increment(key, r))
    report(found->first, found->second + " (via " + via.node_id + ")");
}

void load_clients::report(anomaly kind, const std::string& what) {
  auto n = ++anomalies_[static_cast<int>(kind)];
  if (n <= anomalies_printed_per_kind)
    log_.line(fmt::format("ANOMALY {}: {}", name_of(kind), what));
  else if (n == anomalies_printed_per_kind + 1)
    log_.line(fmt::format("ANOMALY {}: more follow; only counted from now on", name_of(kind)));
}

void load_clients::run_each(const std::function<void(client&)>& body) {
  for (auto& c : clients_) c->thread = std::thread{[&body, &c = *c] { body(c); }};
  for (auto& c : clients_) c->thread.join();
}

void load_clients::sweep(int phase, int attempts) {
  run_each([this, phase, attempts](client& c) { run_sweep(c, phase, attempts); });
}

void load_clients::run_sweep(client& c, int phase, int attempts) {
  auto nodes = targets_.all();
  for (size_t i = 0; i < c.ledger.keys().size(); ++i) {
    for (const auto& via : nodes) {
      call_result last;
      for (int a = 0; a < attempts; ++a) {
        last = c.api.increment(via.port, c.ledger.keys()[i]);
        note(c, phase, i, last, via);
        if (last.kind == outcome::acked) break;
        std::this_thread::sleep_for(250ms);
      }
      if (last.kind != outcome::acked) {
        c.stuck.push_back({c.ledger.keys()[i], via.node_id, last.code, last.message});
        break;  // one stuck report per key
      }
    }
  }
}

void load_clients::final_read(int phase) {
  run_each([this, phase](client& c) { run_final_read(c, phase); });
}

void load_clients::run_final_read(client& c, int phase) {
  for (size_t i = 0; i < c.ledger.keys().size(); ++i) {
    call_result last;
    target via;
    for (int a = 0; a < 5; ++a) {
      if (auto t = targets_.pick(c.rng)) via = *t;
      last = c.api.get(via.port, c.ledger.keys()[i]);
      c.stats[static_cast<size_t>(phase)].add(last);
      if (last.kind == outcome::acked) break;
      std::this_thread::sleep_for(200ms);
    }
    if (last.kind != outcome::acked) {
      c.stuck.push_back({c.ledger.keys()[i], via.node_id, "read:" + last.code, last.message});
      continue;
    }
    if (auto found = c.ledger.check_read(i, last.value))
      report(found->first, found->second + " (via " + via.node_id + ")");
  }
}

phase_stats load_clients::stats(int phase) const {
  phase_stats out;
  for (const auto& c : clients_) out.merge(c->stats[static_cast<size_t>(phase)]);
  return out;
}

std::vector<stuck_key> load_clients::stuck() const {
  std::vector<stuck_key> out;
  for (const auto& c : clients_) out.insert(out.end(), c->stuck.begin(), c->stuck.end());
  return out;
}

int64_t load_clients::acked_total() const {
  int64_t total = 0;
  for (const auto& c : clients_) total += c->ledger.acked_total();
  return total;
}

std::pair<int64_t, int64_t> load_clients::unknown_settled_and_applied() const {
  std::pair<int64_t, int64_t> out{0, 0};
  for (const auto& c : clients_) {
    out.first += c->ledger.unknown_settled();
    out.second += c->ledger.unknown_applied();
  }
  return out;
}

}  // namespace keel::chaos
