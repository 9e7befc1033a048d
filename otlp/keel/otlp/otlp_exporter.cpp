#include "keel/otlp/otlp_exporter.hpp"

#include <httplib.h>
#include <spdlog/spdlog.h>

#include "keel/runtime/clock.hpp"
#include "keel/runtime/errc.hpp"
#include "keel/runtime/metrics.hpp"
#include "keel/runtime/thread_name.hpp"

namespace keel::otlp {

caf::expected<otlp_endpoint> parse_endpoint(const std::string& url) {
  auto scheme_end = url.find("://");
  auto scheme = url.substr(0, scheme_end == std::string::npos ? 0 : scheme_end);
  if (scheme != "http" && scheme != "https")
    return make_error(errc::bad_payload, "'" + url + "': expected an http:// or https:// URL");
  auto path_start = url.find('/', scheme_end + 3);
  otlp_endpoint out;
  out.scheme_host_port = url.substr(0, path_start);
  if (out.scheme_host_port.size() == scheme_end + 3)
    return make_error(errc::bad_payload, "'" + url + "': no host");
  out.path = path_start == std::string::npos ? "/" : url.substr(path_start);
  if (out.path == "/") out.path = "/v1/traces";
  return out;
}

namespace {

std::unique_ptr<httplib::Client> make_client(const exporter_options& opts) {
  auto client = std::make_unique<httplib::Client>(opts.endpoint.scheme_host_port);
  client->set_connection_timeout(opts.timeout);
  client->set_read_timeout(opts.timeout);
  client->set_write_timeout(opts.timeout);
  client->set_keep_alive(true);
  return client;
}

}  // namespace

otlp_exporter::otlp_exporter(std::shared_ptr<span_buffer> spans, exporter_options opts,
                             std::shared_ptr<spdlog::logger> log)
    : spans_(std::move(spans)),
      opts_(std::move(opts)),
      log_(std::move(log)),
      client_(make_client(opts_)),
      thread_([this] { run(); }) {}

otlp_exporter::~otlp_exporter() {
  stop();
}

void otlp_exporter::stop() {
  {
    std::lock_guard guard{wake_mutex_};
    if (stopping_) return;
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
  // A collector that failed the last request is not waited for again at exit.
  bool failing = false;
  {
    std::lock_guard guard{export_mutex_};
    failing = failing_;
  }
  if (!failing) export_now();
}

void otlp_exporter::run() {
  name_this_thread("keel.otlp");
  std::unique_lock lock{wake_mutex_};
  while (!stopping_) {
    // steady_clock: the exporter paces itself in real time, outside any turn.
    if (wake_.wait_for(lock, opts_.interval, [this] { return stopping_; })) return;
    lock.unlock();
    export_now();
    lock.lock();
  }
}

void otlp_exporter::export_now() {
  std::lock_guard guard{export_mutex_};
  auto count = spans_->take(batch_);
  if (count == 0) return;
  auto unix_now = std::chrono::system_clock::now().time_since_epoch();
  clock_anchor now{fast_clock::ticks(),
                   std::chrono::duration_cast<std::chrono::nanoseconds>(unix_now).count()};
  for (size_t first = 0; first < count; first += opts_.spans_per_request) {
    auto last = std::min(count, first + opts_.spans_per_request);
    if (send(first, last, now)) continue;
    // The rest of the batch is dropped unsent: against a collector that hangs, each
    // request could take the timeout three times (connect, write, read).
    failed_spans_.fetch_add(count - last, std::memory_order_relaxed);
    return;
  }
}

bool otlp_exporter::send(size_t first, size_t last, clock_anchor now) {
  auto body = encode_spans(opts_.source, batch_, first, last, now).SerializeAsString();
  auto res = client_->Post(opts_.endpoint.path, body, "application/x-protobuf");
  const auto count = last - first;
  std::string why;
  if (!res)
    why = httplib::to_string(res.error());
  else if (res->status / 100 != 2)
    why = "HTTP " + std::to_string(res->status);
  if (!why.empty()) {
    failed_requests_.fetch_add(1, std::memory_order_relaxed);
    failed_spans_.fetch_add(count, std::memory_order_relaxed);
    note_outcome(false, why);
    return false;
  }
  // A collector may take part of a request (OTLP's partial success).
  ExportTraceServiceResponse answer;
  uint64_t rejected = 0;
  if (!res->body.empty() && answer.ParseFromString(res->body))
    rejected =
        std::min<uint64_t>(count, std::max<int64_t>(answer.partial_success().rejected_spans(), 0));
  failed_spans_.fetch_add(rejected, std::memory_order_relaxed);
  exported_.fetch_add(count - rejected, std::memory_order_relaxed);
  note_outcome(true, {});
  return true;
}

// One line when export starts failing and one when it works again, not one per batch.
void otlp_exporter::note_outcome(bool ok, const std::string& why) {
  if (ok == !failing_) return;
  failing_ = !ok;
  auto url = opts_.endpoint.scheme_host_port + opts_.endpoint.path;
  if (failing_)
    log_->warn("otlp: export to {} failed ({}); spans are dropped until it answers", url, why);
  else
    log_->info("otlp: export to {} works again", url);
}

void otlp_exporter::render_metrics(std::string& out) const {
  render_counter(out, "keel_otlp_spans_exported_total",
                 "Turn spans a collector took (--otlp-endpoint).", exported());
  render_counter(out, "keel_otlp_spans_dropped_total",
                 "Turn spans dropped: buffer full, collector down or slow, or rejected.",
                 dropped());
  render_counter(out, "keel_otlp_export_failures_total",
                 "Export requests that failed (no connection, timeout, non-2xx).",
                 failed_requests_.load(std::memory_order_relaxed));
}

}  // namespace keel::otlp
