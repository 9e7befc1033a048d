#include "keel/otlp/span_encoding.hpp"

#include <chrono>

#include "keel/runtime/clock.hpp"

namespace keel::otlp {

namespace {

// Big-endian: the byte order of the ids' hex form, which OTLP's bytes must match.
void append_be64(std::string& out, uint64_t value) {
  for (int shift = 56; shift >= 0; shift -= 8)
    out.push_back(static_cast<char>((value >> shift) & 0xff));
}

void add_string(google::protobuf::RepeatedPtrField<KeyValue>& to, const char* key,
                const std::string& value) {
  auto* kv = to.Add();
  kv->set_key(key);
  kv->mutable_value()->set_string_value(value);
}

void add_int(google::protobuf::RepeatedPtrField<KeyValue>& to, const char* key, uint64_t value) {
  auto* kv = to.Add();
  kv->set_key(key);
  kv->mutable_value()->set_int_value(static_cast<int64_t>(value));
}

// Unix nanoseconds of tick reading `ticks`, taken before `now`.
uint64_t unix_ns(uint64_t ticks, clock_anchor now) {
  auto ago = fast_clock::to_duration(now.ticks > ticks ? now.ticks - ticks : 0);
  return static_cast<uint64_t>(now.unix_ns - ago.count());
}

void encode_span(const span_record& rec, clock_anchor now, Span& out) {
  out.mutable_trace_id()->reserve(16);
  append_be64(*out.mutable_trace_id(), rec.trace.high());
  append_be64(*out.mutable_trace_id(), rec.trace.low());
  append_be64(*out.mutable_span_id(), rec.span.value());
  if (rec.parent.valid()) append_be64(*out.mutable_parent_span_id(), rec.parent.value());
  out.set_name(rec.actor.type() + "/" + rec.message);
  // A turn serves a call or a message; reminder and timer firings are the actor's own.
  const bool own = rec.caller == "reminder" || rec.caller == "timer";
  out.set_kind(own ? Span::SPAN_KIND_INTERNAL : Span::SPAN_KIND_SERVER);
  out.set_start_time_unix_nano(unix_ns(rec.start_ticks, now));
  out.set_end_time_unix_nano(unix_ns(rec.end_ticks, now));
  auto& attrs = *out.mutable_attributes();
  add_string(attrs, "keel.actor.type", rec.actor.type());
  add_string(attrs, "keel.actor.key", rec.actor.key());
  add_string(attrs, "keel.message", rec.message);
  add_string(attrs, "keel.caller", rec.caller);
  add_string(attrs, "keel.outcome", std::string{rec.outcome});
  add_int(attrs, "keel.version.before", rec.version_before);
  add_int(attrs, "keel.version.after", rec.version_after);
  // OpenTelemetry leaves a success's status unset; only a failure says so.
  if (rec.outcome != "ok") {
    out.mutable_status()->set_code(Status::STATUS_CODE_ERROR);
    out.mutable_status()->set_message(std::string{rec.outcome});
  }
}

}  // namespace

ExportTraceServiceRequest encode_spans(const span_source& source,
                                       const std::vector<span_record>& records, size_t first,
                                       size_t last, clock_anchor now) {
  ExportTraceServiceRequest request;
  auto* resource_spans = request.add_resource_spans();
  auto& attrs = *resource_spans->mutable_resource()->mutable_attributes();
  add_string(attrs, "service.name", "keel");
  add_string(attrs, "service.instance.id", source.node_id);
  add_string(attrs, "keel.node.id", source.node_id);
  add_string(attrs, "keel.cluster.name", source.cluster_name);
  auto* scope_spans = resource_spans->add_scope_spans();
  scope_spans->mutable_scope()->set_name("keel");
  scope_spans->mutable_spans()->Reserve(static_cast<int>(last - first));
  for (size_t i = first; i < last; ++i) encode_span(records[i], now, *scope_spans->add_spans());
  return request;
}

}  // namespace keel::otlp
