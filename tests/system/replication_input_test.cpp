// What a replica takes from another node (DESIGN.md "Replication and failover"): writes for
// a partition it holds no record of, from a node that is not the owner, at an old epoch,
// out of sequence or malformed are refused with a code, counted and logged; the replica
// stays up, its copy unchanged, and the owner's own writes go on being copied. The sender
// here is the test itself, speaking the wire types to a real node.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <string>
#include <vector>

#include <caf/actor_system_config.hpp>

#include "keel/cluster/wire.hpp"
#include "keel/runtime/builtin.pb.h"
#include "keel/runtime/storage_keys.hpp"
#include "replication_fixture.hpp"
#include "wire_peer.hpp"

namespace keel::test {
namespace {

// Bytes that are no CAF message at all, sent to `address`'s cluster port.
void send_garbage(const std::string& address) {
  auto colon = address.rfind(':');
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(static_cast<uint16_t>(std::stoi(address.substr(colon + 1))));
  ::inet_pton(AF_INET, address.substr(0, colon).c_str(), &to.sin_addr);
  ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof to), 0);
  std::string junk(4096, '\xff');
  EXPECT_GT(::send(fd, junk.data(), junk.size(), MSG_NOSIGNAL), 0);
  ::close(fd);
}

TEST_F(Replication, BadReplicationMessagesAreRefusedWithACodeAndChangeNothing) {
  auto& n1 = start_replicated("n1");
  auto& n2 = start_replicated("n2");
  ASSERT_TRUE(eventually([&] { return member_ids(n1).size() == 2; }, 5s));
  auto key = counter_copied(n1, "n1", "n2", "b");
  ASSERT_FALSE(key.empty());
  ASSERT_EQ(increment(n1, key), 200);  // at 2 on both copies
  auto row = partition_of(n1, key);
  ASSERT_TRUE(row);
  auto address = cluster_address_of(view(n1), "n2");
  ASSERT_FALSE(address.empty());

  caf::actor_system_config cfg;
  cluster::configure_cluster_transport(cfg);
  caf::actor_system sys{cfg};
  // A write that would set the counter to 1000 if it were applied.
  auto forged = [&](uint64_t epoch, uint64_t seq) {
    cluster::wire_partition_writes part;
    part.partition = row->partition();
    part.epoch = epoch;
    part.seq = seq;
    part.keys.push_back(state_key(actor_id{"counter", key}));
    builtin::CounterState state;
    state.set_value(1000);
    part.values.push_back(state.SerializeAsString());
    part.erase.push_back(0);
    return part;
  };
  auto unplaced = forged(row->epoch(), 1);
  auto table = get_json<cluster::PartitionTableView>(n1, "/v1/cluster/partitions");
  auto placed = [&](uint32_t p) {
    return std::any_of(table.partitions().begin(), table.partitions().end(),
                       [&](const auto& r) { return r.partition() == p; });
  };
  do unplaced.partition = (unplaced.partition + 1) % partition_count;
  while (placed(unplaced.partition));
  unplaced.keys[0] = partition_prefix(unplaced.partition, record_kind::state) + "counter/u";
  auto outside = forged(row->epoch(), 1000);
  outside.keys[0] = "meta/cluster";
  auto uneven = forged(row->epoch(), 1000);
  uneven.values.push_back("x");
  struct bad_case {
    std::string from;
    cluster::wire_partition_writes part;
    errc code;
    std::string says;
  };
  std::vector<bad_case> cases{
      {"n1", unplaced, errc::conflict, "has no owner in this node's table"},
      {"n2", forged(row->epoch(), 1000), errc::conflict, "does not give partition"},
      {"n9", forged(row->epoch(), 1000), errc::conflict, "does not give partition"},
      {"n1", forged(row->epoch() - 1, 1), errc::conflict, "the writes at"},
      {"n1", forged(row->epoch(), 1000), errc::conflict, "is not the next after"},
      {"n1", forged(row->epoch(), 0), errc::bad_payload, "carry sequence 0"},
      {"n1", outside, errc::bad_payload, "touch a key outside"},
      {"n1", uneven, errc::bad_payload, "2 values"},
  };
  for (const auto& c : cases) {
    cluster::wire_replicate msg;
    msg.from = c.from;
    msg.parts.push_back(c.part);
    auto reply = ask_as_peer(sys, address, msg);
    EXPECT_EQ(reply.code, static_cast<uint8_t>(c.code)) << c.says << ": " << reply.error;
    EXPECT_NE(reply.error.find(c.says), std::string::npos) << reply.error;
  }
  send_garbage(address);
  EXPECT_EQ(n2.get("/healthz").status, 200);
  auto metrics = n2.get("/metrics").body;
  EXPECT_NE(
      metrics.find("keel_replica_batches_refused_total " + std::to_string(cases.size()) + "\n"),
      std::string::npos)
      << metrics;
  EXPECT_NE(n2.log().find("replication: refused writes from n9"), std::string::npos);
  // The owner's own writes are still copied in sequence: the refused ones took no number.
  ASSERT_EQ(increment(n1, key), 200);
  auto after = partition_of(n1, key);
  ASSERT_TRUE(after);
  EXPECT_EQ(after->isr_size(), 1) << "n2 refused the owner's next write";
  // n2's copy holds exactly the owner's three increments.
  nodes_[0]->stop(SIGKILL);
  ASSERT_TRUE(eventually([&] { return value_of(n2, key).has_value(); }, 5s));
  EXPECT_EQ(value_of(n2, key), 3);
}

}  // namespace
}  // namespace keel::test
