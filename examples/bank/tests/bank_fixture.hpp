#pragma once

// What the bank's tests share: a test_node serving the bank, and calls that fail the test
// (naming the phase) instead of returning errors the test would have to unpack.
#include <chrono>
#include <memory>
#include <numeric>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "bank/bank.hpp"
#include "keel/runtime/errc.hpp"
#include "keel/runtime/registry.hpp"
#include "keel/testing/test_node.hpp"

namespace bank::test {

using namespace std::chrono_literals;

class BankTest : public ::testing::Test {
 protected:
  void SetUp() override {
    register_bank(types_);
    auto started = keel::testing::test_node::start(types_);
    ASSERT_TRUE(started) << keel::message_of(started.error());
    node_ = std::move(*started);
  }

  // Opens `key` with `cents` deposited (none if zero).
  void open(const std::string& key, int64_t cents) {
    ASSERT_TRUE(node_->call<Balance>(account(key), OpenAccount{})) << "opening " << key;
    if (cents == 0) return;
    Deposit d;
    d.set_amount_cents(cents);
    auto b = node_->call<Balance>(account(key), d);
    ASSERT_TRUE(b) << "depositing into " << key << ": " << keel::message_of(b.error());
  }

  caf::expected<Transfer> transfer(const std::string& id, const std::string& from,
                                   const std::string& to, int64_t cents) {
    MakeTransfer m;
    m.set_transfer_id(id);
    m.set_from(from);
    m.set_to(to);
    m.set_amount_cents(cents);
    return node_->call<Transfer>(desk(from), m);
  }

  // Step 1 alone, as a desk that stopped right after it left things.
  Transfer begin_only(const std::string& id, const std::string& from, const std::string& to,
                      int64_t cents) {
    BeginTransfer m;
    m.set_transfer_id(id);
    m.set_to(to);
    m.set_amount_cents(cents);
    auto t = node_->call<Transfer>(account(from), m);
    EXPECT_TRUE(t) << "beginning " << id << ": " << keel::message_of(t.error());
    return t ? *t : Transfer{};
  }

  Balance balance(const std::string& key) {
    auto b = node_->call<Balance>(account(key), GetBalance{});
    EXPECT_TRUE(b) << "balance of " << key << ": " << keel::message_of(b.error());
    return b ? *b : Balance{};
  }

  TransferStatus status(const std::string& from, const std::string& id) {
    GetTransfer m;
    m.set_transfer_id(id);
    auto t = node_->call<Transfer>(account(from), m);
    return t ? t->status() : TRANSFER_STATUS_UNSPECIFIED;
  }

  std::vector<Movement> audit(const std::string& key) {
    auto log = node_->call<AuditLog>(account(key), GetAudit{});
    EXPECT_TRUE(log) << "audit of " << key << ": " << keel::message_of(log.error());
    if (!log) return {};
    return {log->movements().begin(), log->movements().end()};
  }

  std::vector<MovementKind> kinds(const std::string& key) {
    std::vector<MovementKind> out;
    for (const auto& m : audit(key)) out.push_back(m.kind());
    return out;
  }

  // The audit log adds up to the balance: numbered from 0 without gaps, each movement's
  // balance the running sum, the last one the account's.
  void expect_audit_matches_balance(const std::string& key) {
    auto log = audit(key);
    int64_t sum = 0;
    for (size_t i = 0; i < log.size(); ++i) {
      EXPECT_EQ(log[i].seq(), static_cast<int64_t>(i)) << key << ": a gap in the audit log";
      sum += log[i].amount_cents();
      EXPECT_EQ(log[i].balance_cents(), sum) << key << ", movement " << i;
    }
    EXPECT_EQ(sum, balance(key).balance_cents()) << key << ": audit log and balance disagree";
  }

  int64_t total(const std::vector<std::string>& keys) {
    int64_t sum = 0;
    for (const auto& k : keys) sum += balance(k).balance_cents();
    return sum;
  }

  keel::type_registry types_;
  std::unique_ptr<keel::testing::test_node> node_;
};

}  // namespace bank::test
