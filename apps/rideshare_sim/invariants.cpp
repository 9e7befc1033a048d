#include "invariants.hpp"

#include <algorithm>
#include <atomic>
#include <map>
#include <memory>
#include <thread>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <google/protobuf/util/json_util.h>

#include "keel/rideshare/rideshare.pb.h"
#include "node_client.hpp"

namespace keel::sim {

namespace {

using clock = std::chrono::steady_clock;

template <class M>
bool parse_json(const std::string& json, M& out) {
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = true;
  return google::protobuf::util::JsonStringToMessage(json, &out, options).ok();
}

// Runs fn(client, i) for i in [0, n) on `opts.concurrency` threads, each with its own
// connection. Threads take no new index after `give_up`, which bounds the whole call even
// when the node stops answering (each call is bounded by the request timeout).
template <class Fn>
void parallel_for(const sim_options& opts, size_t n, clock::time_point give_up, Fn fn) {
  std::atomic<size_t> next{0};
  std::vector<std::thread> threads;
  auto count = std::min<size_t>(static_cast<size_t>(std::max(opts.concurrency, 1)), n);
  for (size_t t = 0; t < count; ++t) {
    threads.emplace_back([&] {
      node_client client{opts.node, opts.request_timeout};
      for (size_t i = next++; i < n && clock::now() < give_up; i = next++) fn(client, i);
    });
  }
  for (auto& th : threads) th.join();
}

// The sim knows how the ride ended, so what its payment must end as.
bool checkable(const ride_record& r) {
  return r.expect != payment_expectation::unknown && !r.payment_id.empty();
}

// A check's read, tried again (check_read_tries in all) when it failed in transport rather
// than in HTTP: a connection the checker could not open (a burst of TLS handshakes from
// every checker thread at once) says nothing about the node's state.
template <class Exchange>
http_reply read_for_check(Exchange exchange) {
  http_reply reply;
  for (int attempt = 0; attempt < check_read_tries; ++attempt) {
    reply = exchange();
    if (reply.status != 0) break;
  }
  return reply;
}

void fetch_payment(node_client& client, const ride_record& ride, payment_view& view) {
  record_payment(read_for_check([&] { return client.get("/v1/payments/" + ride.payment_id); }),
                 view);
}

void fetch_ledger(node_client& client, const ride_record& ride, payment_view& view) {
  record_ledger(ride, read_for_check([&] {
                  return client.post("/v1/actors/processor/" + ride.payment_id + "/GetLedger",
                                     "{}");
                }),
                view);
}

// Collects the failures of one invariant; keeps a few examples for the report.
class verdict {
 public:
  explicit verdict(std::string name) : name_(std::move(name)) {}
  void judged() { ++judged_; }
  void fail(const std::string& what) {
    if (failures_++ < 3) examples_.push_back(what);
  }
  check_result result(const std::string& ok_detail) const {
    if (failures_ == 0) return {name_, true, ok_detail};
    return {name_, false,
            fmt::format("{} of {} violate it, e.g. {}", failures_, judged_,
                        fmt::join(examples_, "; "))};
  }

 private:
  std::string name_;
  int64_t judged_ = 0;
  int64_t failures_ = 0;
  std::vector<std::string> examples_;
};

std::string describe(const ride_record& r, const payment_view& v) {
  if (!v.fetch_error.empty()) return fmt::format("{}: GET payment {}", r.ride_id, v.fetch_error);
  auto ledger =
      !v.ledger_error.empty()
          ? "ledger " + v.ledger_error
          : fmt::format("ledger capture={} void={} entries={}",
                        v.ledger_capture ? std::to_string(*v.ledger_capture) : "none",
                        v.ledger_void ? std::to_string(*v.ledger_void) : "none", v.ledger_entries);
  return fmt::format("{} ({}, fare {}, fee {}): payment {} {} cents, {}", r.ride_id,
                     path_name(r.path), r.fare_cents, r.fee_cents, v.status, v.amount_cents,
                     ledger);
}

// A capture of exactly `amount`: the payment says so and the processor did it, once (the
// ledger is keyed by operation, so "once" means one capture key and no void besides).
bool captured_exactly(const payment_view& v, int32_t amount) {
  return v.fetch_error.empty() && v.ledger_error.empty() && v.status == "captured" &&
         v.amount_cents == amount && v.ledger_capture == amount && !v.ledger_void;
}

check_result check_drivers(const std::vector<ride_record>& rides) {
  std::map<std::string, std::vector<const ride_record*>> by_driver;
  for (const auto& r : rides)
    if (!r.driver_id.empty() && r.matched != never) by_driver[r.driver_id].push_back(&r);
  int64_t certain = 0;
  int64_t loose = 0;
  std::vector<std::string> examples;
  for (auto& [driver, held] : by_driver) {
    std::sort(held.begin(), held.end(),
              [](const auto* a, const auto* b) { return a->matched < b->matched; });
    // Against every earlier ride, through the latest end seen so far.
    const ride_record* latest_sent = nullptr;
    run_ns latest_received = -1;
    for (const auto* r : held) {
      if (latest_sent && r->matched < latest_sent->end_sent) {
        if (certain++ < 3)
          examples.push_back(
              fmt::format("{} matched to {} at {:.3f} s, still holding {} "
                          "(complete/cancel not sent before {:.3f} s)",
                          driver, r->ride_id, r->matched / 1e9, latest_sent->ride_id,
                          latest_sent->end_sent / 1e9));
      }
      if (r->matched < latest_received) ++loose;
      if (!latest_sent || r->end_sent > latest_sent->end_sent) latest_sent = r;
      latest_received = std::max(latest_received, r->end_received);
    }
  }
  auto loose_note = fmt::format(
      "{} overlaps of [matched response, end response) windows, which a release racing its "
      "response can cause",
      loose);
  if (certain == 0)
    return {"no driver on two rides at once", true,
            fmt::format("{} drivers; {}", by_driver.size(), loose_note)};
  return {"no driver on two rides at once", false,
          fmt::format("{} certain overlaps, e.g. {}; {}", certain, fmt::join(examples, "; "),
                      loose_note)};
}

// Whether enough rides could be judged for the other verdicts to vouch for the run.
check_result check_judged(const check_coverage& c) {
  static const std::string name = "rides judged";
  if (c.not_judged == 0) return {name, true, fmt::format("all {} rides", c.rides)};
  std::vector<std::string> why;
  for (const auto& [read, n] : c.why) why.push_back(fmt::format("{}: {}", read, n));
  auto what = fmt::format("the node did not answer their reads after {} tries ({})",
                          check_read_tries, fmt::join(why, ", "));
  if (c.not_judged == c.rides)
    return {name, false, fmt::format("none of {} rides judged: {}", c.rides, what)};
  auto limit = max_not_judged_share * 100;
  if (static_cast<double>(c.not_judged) > max_not_judged_share * static_cast<double>(c.rides))
    return {name, false,
            fmt::format("{} of {} rides not judged, over the {} % allowed: {}", c.not_judged,
                        c.rides, limit, what)};
  return {name, true,
          fmt::format("{} of {} rides not judged, within the {} % allowed: {}", c.not_judged,
                      c.rides, limit, what)};
}

// The message a read answered with; nullopt when it got no answer (`unanswered` says why,
// and what an earlier read said stays: it was the node's answer, and this is none) or an
// answer that is not the message (`error` says which, with the body: a read that stays
// unreadable must say why, which node, which move).
template <class Message>
std::optional<Message> answered(const http_reply& reply, std::string& unanswered,
                                std::string& error) {
  if (reply.status == 0) {
    unanswered = reply.transport_error;
    return std::nullopt;
  }
  unanswered.clear();
  Message m;
  if (!reply.ok() || !parse_json(reply.body, m)) {
    error = reply.ok() ? "unparseable body" : reply.error_key() + " " + reply.body.substr(0, 300);
    return std::nullopt;
  }
  error.clear();
  return m;
}

}  // namespace

void record_payment(const http_reply& reply, payment_view& view) {
  auto payment = answered<rideshare::Payment>(reply, view.payment_unanswered, view.fetch_error);
  if (!payment) return;
  view.status = rideshare::Payment::Status_Name(payment->status());
  view.amount_cents = payment->amount_cents();
}

void record_ledger(const ride_record& ride, const http_reply& reply, payment_view& view) {
  auto ledger =
      answered<rideshare::ProcessorState>(reply, view.ledger_unanswered, view.ledger_error);
  if (!ledger) return;
  view.ledger_entries = ledger->done_size();
  // The payment actor's idempotency keys: "<paymentId>:<operation>".
  view.ledger_capture.reset();
  view.ledger_void.reset();
  if (auto it = ledger->done().find(ride.payment_id + ":capture"); it != ledger->done().end())
    view.ledger_capture = it->second;
  if (auto it = ledger->done().find(ride.payment_id + ":void"); it != ledger->done().end())
    view.ledger_void = it->second;
}

bool payment_view::settled() const {
  return status == "captured" || status == "voided" || status == "failed" || status == "refunded";
}

settled_payments settle_payments(const sim_options& opts, const std::vector<ride_record>& rides) {
  settled_payments out;
  out.views.resize(rides.size());
  std::vector<size_t> pending;
  for (size_t i = 0; i < rides.size(); ++i)
    if (checkable(rides[i])) pending.push_back(i);
  auto t0 = clock::now();
  auto deadline = t0 + opts.settle_timeout;
  // Rounds until settled or the deadline; each round is itself bounded by the deadline.
  std::atomic<int64_t> reads{0};
  for (int round = 0; !pending.empty(); ++round) {
    parallel_for(opts, pending.size(), deadline, [&](node_client& client, size_t k) {
      reads.fetch_add(1);
      fetch_payment(client, rides[pending[k]], out.views[pending[k]]);
    });
    std::erase_if(pending, [&](size_t i) { return out.views[i].settled(); });
    if (pending.empty() || clock::now() >= deadline) break;
    std::this_thread::sleep_for(std::chrono::milliseconds{round < 10 ? 100 : 500});
  }
  out.waited_s = std::chrono::duration<double>(clock::now() - t0).count();
  auto ledgers_deadline = clock::now() + std::chrono::seconds{60};
  parallel_for(opts, rides.size(), ledgers_deadline, [&](node_client& client, size_t i) {
    if (!checkable(rides[i])) return;
    reads.fetch_add(1);
    fetch_ledger(client, rides[i], out.views[i]);
  });
  out.reads = reads.load();
  return out;
}

judgement judge(const sim_options& opts, const std::vector<ride_record>& rides,
                const settled_payments& payments) {
  check_coverage coverage;
  verdict settle{"payments settle"};
  verdict fare{"completed -> fare captured once"};
  verdict fee{"cancelled after accept -> fee captured once"};
  verdict voided{"cancelled before accept -> voided, nothing captured"};
  int64_t expected_total = 0;
  int64_t payment_total = 0;
  int64_t ledger_total = 0;
  int64_t counts[4] = {};
  for (size_t i = 0; i < rides.size(); ++i) {
    const auto& r = rides[i];
    if (!checkable(r)) continue;
    const auto& v = payments.views[i];
    ++coverage.rides;
    // Left out of every payment check, the sums included: nothing is known of its money.
    if (!v.payment_unanswered.empty() || !v.ledger_unanswered.empty()) {
      ++coverage.not_judged;
      ++coverage
            .why[v.payment_unanswered.empty() ? "ledger read: transport " + v.ledger_unanswered
                                              : "payment read: transport " + v.payment_unanswered];
      continue;
    }
    ++counts[static_cast<int>(r.expect)];
    settle.judged();
    if (!v.settled()) settle.fail(describe(r, v));
    if (v.status == "captured") payment_total += v.amount_cents;
    if (v.ledger_capture) ledger_total += *v.ledger_capture;
    switch (r.expect) {
      case payment_expectation::capture_fare:
        expected_total += r.fare_cents;
        fare.judged();
        if (!captured_exactly(v, r.fare_cents)) fare.fail(describe(r, v));
        break;
      case payment_expectation::capture_fee:
        expected_total += cancellation_fee_cents;
        fee.judged();
        // The ride's answer must carry the fee too, or the fee rule broke before payment.
        if (r.fee_cents != cancellation_fee_cents || !captured_exactly(v, cancellation_fee_cents))
          fee.fail(describe(r, v));
        break;
      case payment_expectation::void_payment:
        voided.judged();
        if (!v.fetch_error.empty() || !v.ledger_error.empty() || v.status != "voided" ||
            v.ledger_capture || r.fee_cents != 0)
          voided.fail(describe(r, v));
        break;
      case payment_expectation::unknown:
        break;
    }
  }
  auto n = [&](payment_expectation e) { return counts[static_cast<int>(e)]; };
  std::vector<check_result> out;
  out.push_back(settle.result(
      fmt::format("all {} payments final after {:.1f} s of waiting "
                  "(limit {} s)",
                  n(payment_expectation::capture_fare) + n(payment_expectation::capture_fee) +
                      n(payment_expectation::void_payment),
                  payments.waited_s, opts.settle_timeout.count() / 1000.0)));
  out.push_back(fare.result(
      fmt::format("{} rides: payment and ledger agree", n(payment_expectation::capture_fare))));
  out.push_back(fee.result(fmt::format(
      "{} rides: {} cents each", n(payment_expectation::capture_fee), cancellation_fee_cents)));
  out.push_back(voided.result(
      fmt::format("{} rides: voided, no capture", n(payment_expectation::void_payment))));
  out.push_back(check_drivers(rides));
  bool sums = payment_total == expected_total && ledger_total == expected_total;
  out.push_back({"captured == completed fares + fees", sums,
                 fmt::format("expected {} cents; payments captured {}, processor captured {}",
                             expected_total, payment_total, ledger_total)});
  out.push_back(check_judged(coverage));
  return {std::move(out), std::move(coverage)};
}

}  // namespace keel::sim
