#include "keel/runtime/commit_replicator.hpp"

#include <condition_variable>
#include <future>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>

#include "keel/runtime/builtin.pb.h"
#include "keel/runtime/builtin_actors.hpp"
#include "keel/runtime/detail/store_actors.hpp"
#include "keel/runtime/detail/wire.hpp"
#include "keel/runtime/errc.hpp"
#include "keel/runtime/metrics.hpp"
#include "keel/runtime/node_runtime.hpp"
#include "keel/runtime/storage_keys.hpp"
#include "keel/test/counter_messages.hpp"
#include "keel/test/faulty_store.hpp"
#include "keel/test/local_runtime.hpp"
#include "keel/test/temp_dir.hpp"

namespace keel {
namespace {

using namespace std::chrono_literals;
using namespace keel::builtin;

// A replicator whose replicas answer when the test says so. Records every admit() and
// every batch; admit() refuses the partitions in `refused`, and waits while `hold_admit` is
// set (so that commits pile up in the writer's mailbox behind it); replicate() appends
// `extra_record` to the batch when set, and runs done at once, before it returns, with
// `answer_at_once` when set.
// Thread safety: thread-safe.
class held_replicator final : public commit_replicator {
 public:
  caf::error admit(uint32_t partition) override {
    std::unique_lock lock{mutex_};
    admitted_.push_back(partition);
    changed_.notify_all();
    changed_.wait_for(lock, 10s, [this] { return !hold_admit_; });
    if (refused_.count(partition))
      return make_error(errc::unavailable, "fewer in-sync copies than required");
    return {};
  }

  void replicate(const std::vector<store_write>& writes, std::vector<store_write>& extra,
                 std::function<void(caf::error)> done) override {
    std::lock_guard guard{mutex_};
    if (extra_record_) extra.push_back(*extra_record_);
    if (answer_at_once_) {
      done(*answer_at_once_);
      batches_.push_back({writes, {}});
    } else {
      batches_.push_back({writes, std::move(done)});
    }
    changed_.notify_all();
  }

  void refuse(uint32_t partition) {
    std::lock_guard guard{mutex_};
    refused_.insert(partition);
  }
  void answer_at_once(caf::error outcome) {
    std::lock_guard guard{mutex_};
    answer_at_once_ = std::move(outcome);
  }
  void add_extra(store_write record) {
    std::lock_guard guard{mutex_};
    extra_record_ = std::move(record);
  }
  void hold_admit(bool hold) {
    {
      std::lock_guard guard{mutex_};
      hold_admit_ = hold;
    }
    changed_.notify_all();
  }

  // Waits (at most 10 s) until `n` batches were handed over; whether they were.
  bool wait_for_batches(size_t n) {
    std::unique_lock lock{mutex_};
    return changed_.wait_for(lock, 10s, [&] { return batches_.size() >= n; });
  }
  // Waits (at most 10 s) until admit() was called `n` times; whether it was.
  bool wait_for_admits(size_t n) {
    std::unique_lock lock{mutex_};
    return changed_.wait_for(lock, 10s, [&] { return admitted_.size() >= n; });
  }

  // Runs batch `i`'s done (0-based): the replicas acknowledged it, or failed with `outcome`.
  void acknowledge(size_t i, caf::error outcome = {}) {
    std::function<void(caf::error)> done;
    {
      std::lock_guard guard{mutex_};
      done = std::move(batches_.at(i).done);
    }
    done(std::move(outcome));
  }

  size_t batches() {
    std::lock_guard guard{mutex_};
    return batches_.size();
  }
  std::vector<store_write> writes_of(size_t i) {
    std::lock_guard guard{mutex_};
    return batches_.at(i).writes;
  }
  std::vector<uint32_t> admitted() {
    std::lock_guard guard{mutex_};
    return admitted_;
  }

 private:
  struct batch {
    std::vector<store_write> writes;
    std::function<void(caf::error)> done;
  };
  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<batch> batches_;
  std::vector<uint32_t> admitted_;
  std::set<uint32_t> refused_;
  std::optional<store_write> extra_record_;
  std::optional<caf::error> answer_at_once_;
  bool hold_admit_ = false;
};

using test::inc;
using test::msg;

// The versioned counter state stored under `id`'s state key: {version, value}; {0, -1} if none.
std::pair<uint64_t, int64_t> stored_counter(state_store& store, const actor_id& id) {
  auto value = store.get(state_key(id));
  if (!value || !*value) return {0, -1};
  uint64_t version = 0;
  std::string_view bytes;
  if (!decode_versioned(**value, version, bytes)) return {0, -1};
  CounterState state;
  if (!state.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) return {version, -1};
  return {version, state.value()};
}

// Replies in the order they arrived, by the name the test gave each call.
class arrivals {
 public:
  void add(std::string name) {
    std::lock_guard guard{mutex_};
    order_.push_back(std::move(name));
  }
  std::vector<std::string> order() {
    std::lock_guard guard{mutex_};
    return order_;
  }

 private:
  std::mutex mutex_;
  std::vector<std::string> order_;
};

class CommitReplicator : public ::testing::Test {
 protected:
  CommitReplicator() { register_counter(types_); }

  void SetUp() override {
    auto store = open_leveldb_store({dir_.sub("db"), true});
    ASSERT_TRUE(store) << message_of(store.error());
    auto wrapped = std::make_unique<test::faulty_store>(std::move(*store));
    store_ = wrapped.get();
    node_.start(types_, std::move(wrapped));
    ASSERT_TRUE(node_.rt) << "phase: starting the runtime";
    node_.rt->partitions().set_replicator(replicator_);
  }

  // Increments `id` by `by` without waiting; the future holds the reply, and `seen` (if
  // any) records its arrival under `name`.
  std::future<call_result> increment(const actor_id& id, int64_t by, arrivals* seen = nullptr,
                                     std::string name = {}) {
    auto promise = std::make_shared<std::promise<call_result>>();
    auto future = promise->get_future();
    node_.rt->call(id, msg(inc(by)), node_.rt->monotonic().now() + 60s, trace_id::make(), "test",
                   [promise, seen, name](call_result result) {
                     if (seen) seen->add(name);
                     promise->set_value(std::move(result));
                   });
    return future;
  }

  static int64_t value_of(std::future<call_result>& reply) {
    EXPECT_EQ(reply.wait_for(10s), std::future_status::ready) << "phase: waiting for a reply";
    auto r = reply.get();
    EXPECT_TRUE(r) << message_of(r.error());
    return r ? static_cast<const CounterValue&>(**r).value() : -1;
  }

  static bool arrived(std::future<call_result>& reply) {
    return reply.wait_for(0s) == std::future_status::ready;
  }

  test::temp_dir dir_;
  type_registry types_;
  test::local_runtime node_;
  test::faulty_store* store_ = nullptr;
  std::shared_ptr<held_replicator> replicator_ = std::make_shared<held_replicator>();
};

TEST_F(CommitReplicator, ReplyWaitsForTheReplicasAfterTheLocalWriteIsDurable) {
  actor_id a{"counter", "a"};
  auto reply = increment(a, 5);
  ASSERT_TRUE(replicator_->wait_for_batches(1)) << "phase: a's batch handed to the replicator";
  // The writer hands the next batch over only after it wrote this one.
  auto next = increment(actor_id{"counter", "b"}, 1);
  ASSERT_TRUE(replicator_->wait_for_batches(2)) << "phase: b's batch handed to the replicator";
  EXPECT_EQ(stored_counter(*store_, a), std::make_pair(uint64_t{1}, int64_t{5}));
  EXPECT_FALSE(arrived(reply)) << "a's reply left before its replicas acknowledged";
  auto writes = replicator_->writes_of(0);
  ASSERT_EQ(writes.size(), 1u);
  EXPECT_EQ(writes[0].key, state_key(a));
  EXPECT_FALSE(writes[0].erase);
  replicator_->acknowledge(0);
  EXPECT_EQ(value_of(reply), 5);
  EXPECT_FALSE(arrived(next)) << "b's reply left before its replicas acknowledged";
  replicator_->acknowledge(1);
  EXPECT_EQ(value_of(next), 1);
}

TEST_F(CommitReplicator, BatchesAreReleasedInCommitOrderWhateverOrderReplicasAnswer) {
  arrivals seen;
  auto first = increment(actor_id{"counter", "first"}, 1, &seen, "first");
  ASSERT_TRUE(replicator_->wait_for_batches(1)) << "phase: batch 1 handed over";
  auto second = increment(actor_id{"counter", "second"}, 2, &seen, "second");
  ASSERT_TRUE(replicator_->wait_for_batches(2)) << "phase: batch 2 handed over";
  auto third = increment(actor_id{"counter", "third"}, 3, &seen, "third");
  ASSERT_TRUE(replicator_->wait_for_batches(3)) << "phase: batch 3 handed over";
  replicator_->acknowledge(1);  // batch 2 first
  EXPECT_FALSE(arrived(second)) << "batch 2 released before batch 1";
  replicator_->acknowledge(0);
  EXPECT_EQ(value_of(first), 1);
  EXPECT_EQ(value_of(second), 2);
  EXPECT_FALSE(arrived(third)) << "batch 3 released before its replicas acknowledged";
  replicator_->acknowledge(2);
  EXPECT_EQ(value_of(third), 3);
  EXPECT_EQ(seen.order(), (std::vector<std::string>{"first", "second", "third"}));
}

TEST_F(CommitReplicator, RefusedAdmissionAnswersUnavailableAndWritesNothing) {
  actor_id a{"counter", "refused"};
  auto before = increment(a, 1);
  ASSERT_TRUE(replicator_->wait_for_batches(1));
  replicator_->acknowledge(0);
  ASSERT_EQ(value_of(before), 1);
  replicator_->refuse(a.partition());
  auto refused = increment(a, 10);
  ASSERT_EQ(refused.wait_for(10s), std::future_status::ready) << "phase: the refused turn";
  auto r = refused.get();
  ASSERT_FALSE(r);
  EXPECT_EQ(code_of(r.error()), errc::unavailable) << message_of(r.error());
  EXPECT_EQ(stored_counter(*store_, a), std::make_pair(uint64_t{1}, int64_t{1}));
  EXPECT_EQ(replicator_->batches(), 1u) << "a refused commit reached the replicator";
  // The activation reloaded what is durable: a Get (a version check, never admitted) sees 1.
  auto get = node_.rt->call_and_wait(a, msg(Get{}), 10s);
  ASSERT_TRUE(get) << message_of(get.error());
  EXPECT_EQ(static_cast<const CounterValue&>(**get).value(), 1);
}

// The writer on its own, so that the commits certainly share a batch: while admit() holds
// the writer on the first one, the next two wait in its mailbox ahead of its flush.
TEST(CommitReplicatorWriter, ARefusedCommitLeavesTheOthersOfItsBatchToSucceed) {
  test::temp_dir dir;
  auto store = open_leveldb_store({dir.sub("db"), true});
  ASSERT_TRUE(store) << message_of(store.error());
  caf::actor_system_config cfg;
  caf::actor_system sys{cfg};
  runtime_metrics metrics;
  auto writer = detail::spawn_store_writer(sys, **store, metrics);
  auto replicator = std::make_shared<held_replicator>();
  // Also when an assertion returns early: the writer uses `metrics` until it is gone.
  struct stop_at_exit {
    caf::actor_system& sys;
    caf::actor writer;
    std::shared_ptr<held_replicator> replicator;
    ~stop_at_exit() {
      replicator->hold_admit(false);
      caf::scoped_actor waiter{sys};
      caf::anon_send_exit(writer, caf::exit_reason::user_shutdown);
      waiter->wait_for(writer);
    }
  } stop{sys, writer, replicator};
  caf::anon_send(writer, detail::replicator_atom::value, detail::commit_replicator_ptr{replicator});
  actor_id held{"counter", "held"};
  actor_id refused{"counter", "no"};
  actor_id accepted{"counter", "yes"};
  ASSERT_NE(refused.partition(), accepted.partition());
  replicator->refuse(refused.partition());
  replicator->hold_admit(true);
  auto commit = [](const actor_id& id) {
    auto req = std::make_shared<detail::commit_request>();
    req->state_key = state_key(id);
    req->state_bytes = "v1";
    return detail::commit_request_ptr{std::move(req)};
  };
  caf::scoped_actor self{sys};
  auto first = self->request(writer, 10s, detail::commit_atom::value, commit(held));
  ASSERT_TRUE(replicator->wait_for_admits(1)) << "phase: the writer held in admit()";
  auto second = self->request(writer, 10s, detail::commit_atom::value, commit(refused));
  auto third = self->request(writer, 10s, detail::commit_atom::value, commit(accepted));
  replicator->hold_admit(false);
  ASSERT_TRUE(replicator->wait_for_batches(1)) << "phase: the batch handed over";
  auto batch = replicator->writes_of(0);
  ASSERT_EQ(batch.size(), 2u) << "the refused commit reached the replicator";
  EXPECT_EQ(batch[0].key, state_key(held));
  EXPECT_EQ(batch[1].key, state_key(accepted));
  replicator->acknowledge(0);
  auto answer = [](auto& handle) {
    caf::expected<uint64_t> out{uint64_t{0}};
    handle.receive([&](uint64_t version) { out = version; },
                   [&](caf::error& err) { out = std::move(err); });
    return out;
  };
  auto held_answer = answer(first);
  auto refused_answer = answer(second);
  auto accepted_answer = answer(third);
  ASSERT_TRUE(held_answer) << message_of(held_answer.error());
  EXPECT_EQ(*held_answer, 1u);
  ASSERT_FALSE(refused_answer);
  EXPECT_EQ(code_of(refused_answer.error()), errc::unavailable);
  ASSERT_TRUE(accepted_answer) << message_of(accepted_answer.error());
  EXPECT_EQ(*accepted_answer, 1u);
  EXPECT_FALSE(*(*store)->get(state_key(refused)));
  EXPECT_TRUE(*(*store)->get(state_key(accepted)));
  EXPECT_EQ(replicator->admitted(),
            (std::vector<uint32_t>{held.partition(), refused.partition(), accepted.partition()}));
}

TEST_F(CommitReplicator, ReplicationFailureAnswersUnknownOutcomeAndKeepsTheLocalWrite) {
  actor_id a{"counter", "lost"};
  auto failed = increment(a, 5);
  ASSERT_TRUE(replicator_->wait_for_batches(1)) << "phase: a's batch handed over";
  auto other = increment(actor_id{"counter", "other"}, 1);
  ASSERT_TRUE(replicator_->wait_for_batches(2)) << "phase: a's batch written, the next handed over";
  replicator_->acknowledge(0, make_error(errc::unavailable, "replica n2 timed out"));
  ASSERT_EQ(failed.wait_for(10s), std::future_status::ready) << "phase: the failed turn";
  auto r = failed.get();
  ASSERT_FALSE(r);
  EXPECT_EQ(code_of(r.error()), errc::unknown_outcome) << message_of(r.error());
  EXPECT_NE(message_of(r.error()).find("replica n2 timed out"), std::string::npos)
      << message_of(r.error());
  EXPECT_EQ(stored_counter(*store_, a), std::make_pair(uint64_t{1}, int64_t{5}));
  replicator_->acknowledge(1);
  EXPECT_EQ(value_of(other), 1);
  auto next = increment(a, 1);
  ASSERT_TRUE(replicator_->wait_for_batches(3)) << "phase: the next turn's batch handed over";
  replicator_->acknowledge(2);
  EXPECT_EQ(value_of(next), 6);
  EXPECT_EQ(stored_counter(*store_, a), std::make_pair(uint64_t{2}, int64_t{6}));
}

// An outcome that comes before the local write ends waits for it.
TEST_F(CommitReplicator, AFailureReportedBeforeTheLocalWriteEndsStillAnswersUnknownOutcome) {
  replicator_->answer_at_once(make_error(errc::unavailable, "no replica reachable"));
  actor_id a{"counter", "early"};
  auto failed = increment(a, 2);
  ASSERT_EQ(failed.wait_for(10s), std::future_status::ready) << "phase: the failed turn";
  auto r = failed.get();
  ASSERT_FALSE(r);
  EXPECT_EQ(code_of(r.error()), errc::unknown_outcome) << message_of(r.error());
  EXPECT_EQ(stored_counter(*store_, a), std::make_pair(uint64_t{1}, int64_t{2}));
  replicator_->answer_at_once({});
  auto next = node_.rt->call_and_wait(a, msg(inc(1)), 10s);
  ASSERT_TRUE(next) << message_of(next.error());
  EXPECT_EQ(static_cast<const CounterValue&>(**next).value(), 3);
}

TEST_F(CommitReplicator, StoppingNodeAnswersUnknownOutcomeForWhatReplicasNeverAcknowledged) {
  actor_id a{"counter", "stopping"};
  auto reply = increment(a, 4);
  ASSERT_TRUE(replicator_->wait_for_batches(1)) << "phase: the batch handed over";
  node_.rt->stop();  // waits for the releaser: at most replica_wait_at_stop
  ASSERT_TRUE(arrived(reply)) << "the stopped node left a turn unanswered";
  auto r = reply.get();
  ASSERT_FALSE(r);
  EXPECT_EQ(code_of(r.error()), errc::unknown_outcome) << message_of(r.error());
  EXPECT_NE(message_of(r.error()).find("node stopping"), std::string::npos)
      << message_of(r.error());
  EXPECT_EQ(stored_counter(*store_, a), std::make_pair(uint64_t{1}, int64_t{4}));
  replicator_->acknowledge(0);  // too late: nothing is left to release
}

TEST_F(CommitReplicator, AcknowledgementWhileTheNodeStopsReleasesTheReply) {
  actor_id a{"counter", "acked"};
  auto reply = increment(a, 4);
  ASSERT_TRUE(replicator_->wait_for_batches(1)) << "phase: the batch handed over";
  auto stopped = std::async(std::launch::async, [&] { node_.rt->stop(); });
  replicator_->acknowledge(0);
  stopped.get();
  EXPECT_EQ(value_of(reply), 4);
}

TEST_F(CommitReplicator, ExtraRecordsAreWrittenInTheSameLocalBatch) {
  auto seq_key = meta_key("replication/seq");
  replicator_->add_extra({seq_key, "7"});
  actor_id a{"counter", "extra"};
  auto reply = increment(a, 1);
  ASSERT_TRUE(replicator_->wait_for_batches(1)) << "phase: the batch handed over";
  replicator_->acknowledge(0);
  EXPECT_EQ(value_of(reply), 1);
  auto stored = store_->get(seq_key);
  ASSERT_TRUE(stored && *stored);
  EXPECT_EQ(**stored, "7");
  EXPECT_EQ(replicator_->writes_of(0).size(), 1u) << "the extra record was handed over";
}

TEST_F(CommitReplicator, AppliedReplicaWritesAreStoredAndNeverReplicated) {
  actor_id copied{"counter", "copy"};
  auto p = copied.partition();
  CounterState state;
  state.set_value(41);
  auto entry = entry_key(copied, "line");
  ASSERT_FALSE(node_.rt->partitions().apply_replicated(
      {p}, {{state_key(copied), encode_versioned(4, state.SerializeAsString())}}));
  ASSERT_FALSE(node_.rt->partitions().apply_replicated({p}, {{entry, "x"}}));
  EXPECT_EQ(stored_counter(*store_, copied), std::make_pair(uint64_t{4}, int64_t{41}))
      << "the second batch erased the first one's record";
  auto line = store_->get(entry);
  ASSERT_TRUE(line && *line);
  EXPECT_EQ(**line, "x");
  ASSERT_FALSE(node_.rt->partitions().apply_replicated({p}, {{entry, {}, true}}));
  line = store_->get(entry);
  ASSERT_TRUE(line);
  EXPECT_FALSE(*line);
  EXPECT_EQ(replicator_->batches(), 0u);
  EXPECT_TRUE(replicator_->admitted().empty());
}

// A replica is caught up from a range read while the partition serves: the read holds
// exactly the batches handed to the replicator before its moment (`at_snapshot`), so those
// handed over after it are the ones the replica must be sent.
TEST_F(CommitReplicator, ALiveReadHoldsExactlyTheBatchesHandedOverBeforeItsMoment) {
  replicator_->answer_at_once({});
  actor_id a{"counter", "live"};
  std::vector<std::future<call_result>> replies;
  for (int i = 0; i < 300; ++i) replies.push_back(increment(a, 1));
  auto state_in = [&](const partition_host::records& range) {
    std::optional<std::string> found;
    for (const auto& [key, value] : range)
      if (key == state_key(a)) found = value;
    return found;
  };
  int reads = 0;
  for (; reads < 2000 && !arrived(replies.back()); ++reads) {
    size_t before = 0;
    auto range = node_.rt->partitions().read_range_live(a.partition(),
                                                        [&] { before = replicator_->batches(); });
    ASSERT_TRUE(range) << message_of(range.error());
    std::optional<std::string> written;  // by the last of those batches that wrote it
    for (size_t i = 0; i < before; ++i)
      for (const auto& w : replicator_->writes_of(i))
        if (w.key == state_key(a)) written = w.value;
    ASSERT_EQ(state_in(*range), written) << "read " << reads << ", after " << before << " batches";
  }
  EXPECT_GT(reads, 1) << "the reads never overlapped the commits";
  EXPECT_EQ(value_of(replies.back()), 300);
  auto last = node_.rt->partitions().read_range_live(a.partition(), [] {});
  ASSERT_TRUE(last);
  EXPECT_EQ(stored_counter(*store_, a).second, 300);
  EXPECT_TRUE(state_in(*last).has_value());
}

TEST_F(CommitReplicator, RemovedReplicatorReleasesOnTheLocalSyncAlone) {
  actor_id a{"counter", "plain"};
  auto gated = increment(a, 1);
  ASSERT_TRUE(replicator_->wait_for_batches(1));
  replicator_->acknowledge(0);
  ASSERT_EQ(value_of(gated), 1);
  node_.rt->partitions().set_replicator(nullptr);
  auto plain = node_.rt->call_and_wait(a, msg(inc(2)), 10s);
  ASSERT_TRUE(plain) << message_of(plain.error());
  EXPECT_EQ(static_cast<const CounterValue&>(**plain).value(), 3);
  EXPECT_EQ(replicator_->batches(), 1u);
  EXPECT_EQ(replicator_->admitted().size(), 1u);
  EXPECT_EQ(stored_counter(*store_, a), std::make_pair(uint64_t{2}, int64_t{3}));
}

}  // namespace
}  // namespace keel
