// Many transfers at once among a few accounts, from several threads: the sum of the
// balances stays exactly the sum deposited, every account's audit log adds up to its
// balance, and a restart afterwards serves exactly what was acknowledged.
#include <atomic>
#include <map>
#include <random>
#include <thread>

#include "tests/bank_fixture.hpp"

namespace bank::test {
namespace {

using ConcurrentTransfers = BankTest;

constexpr int accounts = 6;
constexpr int threads = 4;
constexpr int transfers_per_thread = 40;
constexpr int64_t initial_cents = 10'000;

std::string key(int i) {
  return "acct-" + std::to_string(i);
}

TEST_F(ConcurrentTransfers, NeitherLoseNorMakeMoneyAndEveryLogAddsUp) {
  std::vector<std::string> keys;
  for (int i = 0; i < accounts; ++i) {
    keys.push_back(key(i));
    open(keys.back(), initial_cents);
  }
  std::atomic<int> completed{0}, refused{0}, other{0};
  std::vector<std::thread> workers;
  for (int w = 0; w < threads; ++w) {
    workers.emplace_back([&, w] {
      std::mt19937 rng{static_cast<unsigned>(w + 1)};  // fixed seeds: the same run each time
      for (int n = 0; n < transfers_per_thread; ++n) {
        int from = static_cast<int>(rng() % accounts);
        int to = static_cast<int>((from + 1 + rng() % (accounts - 1)) % accounts);
        auto cents = static_cast<int64_t>(1 + rng() % 4000);
        auto id = "w" + std::to_string(w) + "-" + std::to_string(n);
        auto t = transfer(id, key(from), key(to), cents);
        if (t && t->status() == COMPLETED)
          ++completed;
        else if (t && t->status() == REFUSED)
          ++refused;
        else
          ++other;
      }
    });
  }
  for (auto& w : workers) w.join();
  EXPECT_EQ(other.load(), 0) << "transfers neither completed nor refused";
  EXPECT_EQ(completed + refused, threads * transfers_per_thread);
  EXPECT_GT(completed.load(), 0);
  EXPECT_EQ(total(keys), accounts * initial_cents);
  int64_t outs = 0, ins = 0;
  std::map<std::string, int64_t> before_restart;
  for (const auto& k : keys) {
    expect_audit_matches_balance(k);
    EXPECT_EQ(balance(k).pending_out_cents(), 0) << k;
    for (const auto& m : audit(k)) {
      outs += m.kind() == TRANSFER_OUT;
      ins += m.kind() == TRANSFER_IN;
    }
    before_restart[k] = balance(k).balance_cents();
  }
  EXPECT_EQ(outs, completed.load()) << "one debit per completed transfer";
  EXPECT_EQ(ins, completed.load()) << "one credit per completed transfer";

  auto err = node_->restart();
  ASSERT_FALSE(err) << keel::message_of(err);
  for (const auto& k : keys) {
    EXPECT_EQ(balance(k).balance_cents(), before_restart[k]) << k << " after the restart";
    expect_audit_matches_balance(k);
  }
}

}  // namespace
}  // namespace bank::test
