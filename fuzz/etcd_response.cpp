// etcd's answers as its JSON gateway writes them, through what the node does with them:
// from_etcd_json into each response type a call reads, the watch stream's lines
// (etcd_watch_stream), and the cluster view reading keys and values (partition records,
// members, the coordinator, drain marks, the rebalance view) from a range read and from
// watch events. The first byte picks the path, the second shapes it, the rest is etcd's.
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <memory>
#include <string_view>

#include <spdlog/sinks/null_sink.h>
#include <spdlog/spdlog.h>

#include "keel/cluster/cluster_keys.hpp"
#include "keel/cluster/cluster_view.hpp"
#include "keel/cluster/etcd.pb.h"
#include "keel/cluster/etcd_client.hpp"
#include "keel/cluster/etcd_watch_stream.hpp"
#include "keel/cluster/partition_table.hpp"
#include "keel/runtime/actor_id.hpp"

namespace {

using namespace keel;
using namespace keel::cluster;

const cluster_keys keys{"c"};

std::unique_ptr<cluster_view> fresh_view() {
  static auto log =
      std::make_shared<spdlog::logger>("fuzz", std::make_shared<spdlog::sinks::null_sink_mt>());
  auto view = std::make_unique<cluster_view>(keys, "n1", log);
  view->set_partition_listener([](uint32_t p, const auto& before, const auto& after) {
    if (p >= partition_count || (!before && !after)) __builtin_trap();
  });
  return view;
}

template <class Response>
void decode(std::string_view body) {
  Response response;
  (void)from_etcd_json(body, response);
}

// A range read the view loads whole (at start, and after a compaction broke the watch).
void load(std::string_view body) {
  etcd::RangeResponse range;
  if (!from_etcd_json(body, range)) (void)fresh_view()->load(range);
}

// A unary call's body, as the call that reads it decodes it (`which` picks the call).
void unary(std::string_view body, uint8_t which) {
  constexpr void (*calls[])(std::string_view) = {
      load,
      decode<etcd::TxnResponse>,
      decode<etcd::PutResponse>,
      decode<etcd::DeleteRangeResponse>,
      decode<etcd::LeaseGrantResponse>,
      decode<etcd::KeepAliveStreamItem>,
      decode<etcd::ResponseHeader>,
  };
  calls[which % std::size(calls)](body);
}

struct stream_outcome {
  size_t responses = 0;
  bool ended = false;
  bool failed = false;
};

// Feeds `bytes` in pieces of `piece` bytes, applying each response to `view` if given.
stream_outcome feed(std::string_view bytes, size_t piece, cluster_view* view) {
  etcd_watch_stream stream;
  stream_outcome out;
  auto on_response = [&](const etcd::WatchResponse& res) {
    ++out.responses;
    if (view) (void)view->apply(res);
    return true;
  };
  for (size_t at = 0; at < bytes.size() && !out.ended; at += piece)
    out.ended = !stream.feed(bytes.substr(at, piece), on_response);
  out.failed = static_cast<bool>(stream.failure());
  if (out.ended != out.failed) __builtin_trap();  // the handler never ends it here
  return out;
}

// A watch stream arriving in pieces: how the transport splits it changes nothing.
void watch(std::string_view bytes, uint8_t piece) {
  auto view = fresh_view();
  auto split = feed(bytes, piece % 64 + 1, view.get());
  auto whole = feed(bytes, bytes.size() + 1, nullptr);
  if (split.responses != whole.responses || split.failed != whole.failed) __builtin_trap();
}

// A value the view reads out of a key: Keel's own records, written as protobuf JSON.
void value(std::string_view json, uint8_t) {
  if (auto rec = parse_partition_record(json); rec && !rec->has_state()) __builtin_trap();
  Member member;
  (void)from_etcd_json(json, member);
  RebalanceView rebalance;
  (void)from_etcd_json(json, rebalance);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  constexpr void (*paths[])(std::string_view, uint8_t) = {unary, watch, value};
  if (size < 2) return 0;
  paths[data[0] % std::size(paths)]({reinterpret_cast<const char*>(data + 2), size - 2}, data[1]);
  return 0;
}
