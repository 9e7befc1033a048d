#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <caf/expected.hpp>

#include "keel/otlp/span_encoding.hpp"
#include "keel/runtime/span_buffer.hpp"

namespace httplib {
class Client;
}

namespace spdlog {
class logger;
}

namespace keel::otlp {

/// Where a collector takes spans: "http(s)://host:port" plus the path to POST to.
struct otlp_endpoint {
  std::string scheme_host_port;
  std::string path;  // "/v1/traces" when the URL names none
};

/// Parses `--otlp-endpoint`: an http:// or https:// URL with a host. A URL without a path
/// (or "/") is the collector's base and gets OTLP's "/v1/traces"; one with a path is used
/// as it is. Anything else: errc::bad_payload.
caf::expected<otlp_endpoint> parse_endpoint(const std::string& url);

/// How an otlp_exporter sends. Plain values.
struct exporter_options {
  otlp_endpoint endpoint;
  span_source source;
  std::chrono::milliseconds interval{100};  // between exports
  std::chrono::milliseconds timeout{2000};  // connect, and each read and write of a POST
  size_t spans_per_request = 2048;          // a batch goes in requests of at most this many
};

/// Sends the spans turns leave in a span buffer to an OTLP/HTTP collector (protobuf
/// encoding): every interval it takes the batch filled since the last one and POSTs it,
/// dropping the rest of the batch at the first request that fails.
/// Turns never wait for it: a collector that is slow or down holds up only this
/// exporter's thread, the buffer fills and drops, and a batch the collector did not take
/// is dropped too; both count in keel_otlp_spans_dropped_total.
/// Thread safety: thread-safe. Its own thread exports; export_now() may be called from any
/// thread (exports are serialized); stop() and the destructor from the owner only.
class otlp_exporter {
 public:
  /// Starts the exporting thread. Requires: `spans` and `log` are not null.
  otlp_exporter(std::shared_ptr<span_buffer> spans, exporter_options opts,
                std::shared_ptr<spdlog::logger> log);
  ~otlp_exporter();
  otlp_exporter(const otlp_exporter&) = delete;
  otlp_exporter& operator=(const otlp_exporter&) = delete;

  /// Takes what the buffer holds and sends it now; returns when the collector answered
  /// or the timeout passed.
  void export_now();

  /// Stops the thread after one last export of what the buffer holds, unless the last
  /// request failed. Idempotent.
  void stop();

  uint64_t exported() const noexcept { return exported_.load(std::memory_order_relaxed); }
  /// Dropped for a full buffer, a failed request or the collector's rejection.
  uint64_t dropped() const noexcept {
    return spans_->dropped() + failed_spans_.load(std::memory_order_relaxed);
  }

  /// The keel_otlp_* series in Prometheus text.
  void render_metrics(std::string& out) const;

 private:
  void run();
  // Sends records [first, last) of batch_ in one request; whether the collector took them.
  bool send(size_t first, size_t last, clock_anchor now);
  void note_outcome(bool ok, const std::string& why);

  const std::shared_ptr<span_buffer> spans_;
  const exporter_options opts_;
  const std::shared_ptr<spdlog::logger> log_;

  // Held for the whole of an export; guards the three below.
  std::mutex export_mutex_;
  std::unique_ptr<httplib::Client> client_;
  std::vector<span_record> batch_;  // the batch taken last: its slots go back to the buffer
  bool failing_ = false;            // the last request failed; logged once until one works

  std::atomic<uint64_t> exported_{0};
  std::atomic<uint64_t> failed_spans_{0};
  std::atomic<uint64_t> failed_requests_{0};

  std::mutex wake_mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;  // guarded by wake_mutex_
  std::thread thread_;     // last: starts once everything above is ready
};

}  // namespace keel::otlp
