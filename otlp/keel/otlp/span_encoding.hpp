#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "keel/otlp/trace_service.pb.h"
#include "keel/runtime/span_buffer.hpp"

namespace keel::otlp {

/// What the spans of one node are about: OTLP's resource attributes (service.name "keel",
/// service.instance.id and keel.node.id the node's id, keel.cluster.name its cluster).
/// Plain value.
struct span_source {
  std::string node_id;
  std::string cluster_name;
};

/// A fast_clock reading and the wall time, taken together: what turns the spans' tick
/// stamps into Unix time. Taken again for every batch, so the two clocks cannot drift
/// apart by more than a batch's age.
struct clock_anchor {
  uint64_t ticks = 0;
  int64_t unix_ns = 0;
};

/// Spans `records[first, last)` as one OTLP export request, all under `source`'s
/// resource: each turn a span named "<actor type>/<message>" with its parent, its outcome
/// (status ERROR and the code for a failed turn) and attributes keel.actor.type,
/// keel.actor.key, keel.message, keel.caller, keel.outcome, keel.version.before and
/// keel.version.after.
/// Requires: first <= last <= records.size().
ExportTraceServiceRequest encode_spans(const span_source& source,
                                       const std::vector<span_record>& records, size_t first,
                                       size_t last, clock_anchor now);

}  // namespace keel::otlp
