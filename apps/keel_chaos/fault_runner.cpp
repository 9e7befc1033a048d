#include "fault_runner.hpp"

#include <signal.h>

#include <algorithm>
#include <thread>

#include <fmt/format.h>

namespace keel::chaos {

using namespace std::chrono_literals;
using std::chrono::milliseconds;

fault_runner::fault_runner(cluster_under_test& cluster, progress_log& log, fault_timing timing,
                           uint64_t seed, std::function<void()> tick)
    : cluster_(cluster), log_(log), timing_(timing), rng_(seed), tick_(std::move(tick)) {}

bool fault_runner::can_run(fault_kind kind) const {
  return static_cast<int>(cluster_.member_ids().size()) >= members_needed(kind);
}

fault_record fault_runner::run(fault_kind kind) {
  fault_record rec;
  rec.kind = kind;
  auto began = std::chrono::steady_clock::now();
  switch (kind) {
    case fault_kind::kill_member:
      kill_member(rec);
      break;
    case fault_kind::kill_coordinator:
      kill_coordinator(rec);
      break;
    case fault_kind::stop_member:
      stop_member(rec);
      break;
    case fault_kind::kill_etcd:
      kill_etcd(rec);
      break;
    case fault_kind::join:
      join(rec);
      break;
    case fault_kind::drain_rejoin:
      drain_rejoin(rec);
      break;
    case fault_kind::term_member:
      term_member(rec);
      break;
    case fault_kind::kill_two:
      kill_two(rec);
      break;
    case fault_kind::kill_during_join:
      kill_during_join(rec);
      break;
    case fault_kind::kill_during_drain:
      kill_during_drain(rec);
      break;
  }
  for (const auto& p : rec.problems) log_.line("PROBLEM: " + p);
  log_.line("  waiting for recovery");
  auto left = timing_.recovery_limit - (std::chrono::steady_clock::now() - began);
  auto result = cluster_.wait_recovered(
      std::max(std::chrono::duration_cast<milliseconds>(left), 5000ms), 1000ms, tick_);
  if (result.status.is_ok()) {
    rec.recovery_s = std::chrono::duration<double>(result.whole_since - began).count();
    log_.line(fmt::format("  recovered in {:.1f} s (whole since then, for 1 s): members {}",
                          *rec.recovery_s, fmt::join(cluster_.member_ids(), ",")));
  } else {
    rec.unrecovered = result.status.why();
    log_.line("PROBLEM: " + rec.unrecovered);
  }
  return rec;
}

void fault_runner::pause(milliseconds d) {
  auto until = std::chrono::steady_clock::now() + d;
  while (std::chrono::steady_clock::now() < until) {
    cluster_.check_crashes();
    tick_();
    std::this_thread::sleep_for(std::min<milliseconds>(
        100ms, std::chrono::duration_cast<milliseconds>(until - std::chrono::steady_clock::now())));
  }
}

std::string fault_runner::pick_member(const std::vector<std::string>& except) {
  std::vector<std::string> pool;
  for (const auto& id : cluster_.member_ids())
    if (std::find(except.begin(), except.end(), id) == except.end()) pool.push_back(id);
  if (pool.empty()) return {};
  return pool[std::uniform_int_distribution<size_t>{0, pool.size() - 1}(rng_)];
}

milliseconds fault_runner::draw(int low_ms, int high_ms) {
  return milliseconds{std::uniform_int_distribution<int>{low_ms, high_ms}(rng_)};
}

milliseconds fault_runner::draw_downtime() {
  return draw(500, 2000);
}

void fault_runner::describe(fault_record& rec, std::string action) {
  rec.action = std::move(action);
  log_.line("  " + rec.action);
}

void fault_runner::kill_for(const std::vector<std::string>& victims, milliseconds down,
                            fault_record& rec) {
  for (const auto& id : victims) cluster_.kill_node(id);
  pause(down);
  for (const auto& id : victims) restart(id, rec);
}

void fault_runner::restart(const std::string& id, fault_record& rec) {
  auto st = cluster_.start_node(id);
  if (!st.is_ok()) {
    rec.problems.push_back("restart of " + id + ": " + st.why());
    return;
  }
  log_.line(fmt::format("  {} started, http=127.0.0.1:{}", id, cluster_.port_of(id)));
}

void fault_runner::kill_member(fault_record& rec) {
  auto victim = pick_member({cluster_.coordinator()});
  auto down = draw_downtime();
  describe(rec, fmt::format("SIGKILL {}, down {} ms", victim, down.count()));
  kill_for({victim}, down, rec);
}

void fault_runner::kill_coordinator(fault_record& rec) {
  auto victim = cluster_.coordinator();
  if (victim.empty()) {
    rec.action = "no coordinator to kill";
    rec.problems.push_back("no running node named a coordinator within 5 s");
    return;
  }
  auto down = draw_downtime();
  describe(rec, fmt::format("SIGKILL {} (coordinator), down {} ms", victim, down.count()));
  kill_for({victim}, down, rec);
}

void fault_runner::stop_member(fault_record& rec) {
  auto victim = pick_member();
  auto held = std::chrono::duration_cast<milliseconds>(2 * timing_.lease_ttl);
  bool coordinator = victim == cluster_.coordinator();
  describe(rec, fmt::format("SIGSTOP {}{} for {} ms, then SIGCONT", victim,
                            coordinator ? " (coordinator)" : "", held.count()));
  cluster_.stop_node(victim);
  pause(held);
  cluster_.continue_node(victim);
}

void fault_runner::kill_etcd(fault_record& rec) {
  auto down = draw(1000, 3000);
  describe(rec, fmt::format("SIGKILL etcd, down {} ms", down.count()));
  cluster_.etcd().kill_now();
  pause(down);
  if (auto st = cluster_.etcd().start(); !st.is_ok())
    rec.problems.push_back("etcd restart: " + st.why());
}

void fault_runner::join(fault_record& rec) {
  auto id = cluster_.fresh_node_id();
  describe(rec, "join new node " + id);
  restart(id, rec);
}

void fault_runner::kill_two(fault_record& rec) {
  auto first = pick_member();
  auto second = pick_member({first});
  auto down = draw_downtime();
  describe(rec, fmt::format("SIGKILL {} and {}, down {} ms", first, second, down.count()));
  kill_for({first, second}, down, rec);
}

void fault_runner::kill_during_join(fault_record& rec) {
  auto id = cluster_.fresh_node_id();
  auto victim = pick_member();
  auto delay = draw(0, 500);
  auto down = draw_downtime();
  describe(rec, fmt::format("join {}, SIGKILL {} {} ms after its listening line, down {} ms", id,
                            victim, delay.count(), down.count()));
  cluster_.spawn_node(id);
  if (auto st = cluster_.await_node(id, 30s); !st.is_ok()) rec.problems.push_back(st.why());
  pause(delay);
  kill_for({victim}, down, rec);
}

std::unique_ptr<child_process> fault_runner::begin_drain(const std::string& victim,
                                                         const std::string& via) {
  cluster_.mark_leaving(victim);
  return cluster_.spawn_keelctl({"--node=127.0.0.1:" + std::to_string(cluster_.port_of(via)),
                                 "drain", victim,
                                 "--timeout=" + std::to_string(timing_.drain_limit.count())});
}

void fault_runner::finish_drain(child_process& keelctl, const std::string& victim,
                                fault_record& rec) {
  auto give_up = std::chrono::steady_clock::now() + timing_.drain_limit + 15s;
  while (!keelctl.poll_exit() && std::chrono::steady_clock::now() < give_up) pause(100ms);
  auto rc = keelctl.poll_exit();
  if (!rc) keelctl.kill_now();
  if (rc != 0)
    rec.problems.push_back(fmt::format("keelctl drain {} {}; see keelctl.log", victim,
                                       rc ? "exited " + std::to_string(*rc) : "did not end"));
  await_leave(victim, 15s, rec);
}

void fault_runner::await_leave(const std::string& id, milliseconds limit, fault_record& rec) {
  std::optional<int> st;
  auto give_up = std::chrono::steady_clock::now() + limit;
  while (!(st = cluster_.wait_node_exit(id, 100ms)) && std::chrono::steady_clock::now() < give_up)
    pause(0ms);
  if (!st) {
    rec.problems.push_back(fmt::format("{} still ran {} s after it was asked to leave; killed", id,
                                       limit.count() / 1000));
    cluster_.kill_node(id);
  } else if (*st != 0) {
    rec.problems.push_back(fmt::format("{} left with exit status {}", id, *st));
  }
}

void fault_runner::drain_rejoin(fault_record& rec) {
  auto victim = pick_member();
  auto via = pick_member({victim});
  describe(rec, fmt::format("keelctl drain {} (via {}), then start it again", victim, via));
  auto keelctl = begin_drain(victim, via);
  finish_drain(*keelctl, victim, rec);
  restart(victim, rec);
}

void fault_runner::term_member(fault_record& rec) {
  auto victim = pick_member();
  bool coordinator = victim == cluster_.coordinator();
  describe(rec, fmt::format("SIGTERM {}{} (graceful leave), then restart it", victim,
                            coordinator ? " (coordinator)" : ""));
  cluster_.mark_leaving(victim);
  cluster_.signal_node(victim, SIGTERM);
  await_leave(victim, std::chrono::duration_cast<milliseconds>(timing_.drain_limit), rec);
  restart(victim, rec);
}

void fault_runner::kill_during_drain(fault_record& rec) {
  auto victim = pick_member();
  auto killed = pick_member({victim});
  auto via = pick_member({victim, killed});
  auto delay = draw(200, 1000);
  auto down = draw_downtime();
  describe(rec, fmt::format("keelctl drain {} (via {}), SIGKILL {} after {} ms, down {} ms", victim,
                            via, killed, delay.count(), down.count()));
  auto keelctl = begin_drain(victim, via);
  pause(delay);
  kill_for({killed}, down, rec);
  finish_drain(*keelctl, victim, rec);
  restart(victim, rec);
}

}  // namespace keel::chaos
