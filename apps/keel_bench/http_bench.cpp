#include "http_bench.hpp"

#include "child_process.hpp"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <regex>
#include <sstream>
#include <thread>

#include <fmt/format.h>

#include "http_client.hpp"

namespace keel::bench {

namespace {

struct wrk_result {
  double rps = 0;
  double p50_ms = 0;
  double p99_ms = 0;
};

double to_ms(const std::string& number, const std::string& unit) {
  double v = std::stod(number);
  if (unit == "us") return v / 1000;
  if (unit == "s") return v * 1000;
  return v;
}

// `scheme` http or https: wrk keeps each connection alive either way.
wrk_result run_wrk(int port, const std::string& path, double seconds, int connections,
                   const std::string& script = {}, const std::string& scheme = "http") {
  auto cmd = fmt::format("wrk -t2 -c{} -d{}s --latency {} {}://127.0.0.1:{}{} 2>&1", connections,
                         static_cast<int>(seconds), script.empty() ? "" : "-s " + script, scheme,
                         port, path);
  FILE* pipe = popen(cmd.c_str(), "r");
  std::string text;
  char buf[4096];
  while (pipe && fgets(buf, sizeof buf, pipe)) text += buf;
  if (pipe) pclose(pipe);
  wrk_result r;
  std::smatch m;
  if (std::regex_search(text, m, std::regex{R"(Requests/sec:\s+([\d.]+))"}))
    r.rps = std::stod(m[1]);
  if (std::regex_search(text, m, std::regex{R"(\s50%\s+([\d.]+)(us|ms|s))"}))
    r.p50_ms = to_ms(m[1], m[2]);
  if (std::regex_search(text, m, std::regex{R"(\s99%\s+([\d.]+)(us|ms|s))"}))
    r.p99_ms = to_ms(m[1], m[2]);
  if (std::regex_search(text, m, std::regex{R"(Non-2xx or 3xx responses:\s+(\d+))"}))
    throw std::runtime_error("wrk saw " + std::string{m[1]} + " error responses on " + path);
  return r;
}

// An OTLP collector that takes every export and keeps nothing: what export costs a node
// is measured, not what a collector does with the spans.
class collector_sink {
 public:
  collector_sink() {
    server_.Post("/v1/traces", [](const httplib::Request&, httplib::Response& res) {
      res.set_content("", "application/x-protobuf");
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread{[this] { server_.listen_after_bind(); }};
  }
  ~collector_sink() {
    server_.stop();
    thread_.join();
  }
  int port() const { return port_; }

 private:
  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
};

uint64_t metric_of(int port, const std::string& name) {
  auto res = client_for(port)->Get("/metrics");
  std::smatch m;
  if (!res || !std::regex_search(res->body, m, std::regex{"\\n" + name + " (\\d+)"})) return 0;
  return std::stoull(m[1]);
}

// CPU seconds (user + system) process `pid` has used so far.
double cpu_seconds(pid_t pid) {
  std::ifstream in{"/proc/" + std::to_string(pid) + "/stat"};
  std::string text{std::istreambuf_iterator<char>{in}, {}};
  std::istringstream fields{text.substr(text.rfind(')') + 2)};  // after "pid (comm) "
  std::string skip;
  for (int i = 0; i < 11; ++i) fields >> skip;  // state .. cmajflt: fields 3-13
  double utime = 0, stime = 0;
  fields >> utime >> stime;
  return (utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

struct cpu_run {
  double rps = 0;
  double cpu_us = 0;  // the node's CPU per request
};

cpu_run run_wrk_on(const server_process& node, double seconds, int connections,
                   const std::string& script) {
  auto before = cpu_seconds(node.pid());
  auto rps = run_wrk(node.port(), "/", seconds, connections, script).rps;
  auto used = cpu_seconds(node.pid()) - before;
  return {rps, rps > 0 ? used / (rps * seconds) * 1e6 : 0};
}

// The durable Increment on two fresh nodes, span export off and on (to a collector sink),
// back to back in each round: throughput, and the node's CPU per request, which the
// host's noise moves less.
void bench_otlp_export(const bench_config& cfg, double seconds, int connections,
                       const std::string& script, progress& prog, std::vector<result>& out) {
  collector_sink sink;
  auto data = [](const char* what) {
    return "--data-dir=/tmp/keel-bench-" + std::string{what} + "-" + std::to_string(getpid());
  };
  std::vector<std::string> args{"--http-port=0", "--log-level=warn", "--http-threads=2"};
  auto off_args = args, on_args = args;
  off_args.push_back(data("otlp-off"));
  on_args.push_back(data("otlp-on"));
  on_args.push_back("--otlp-endpoint=http://127.0.0.1:" + std::to_string(sink.port()));
  server_process off{cfg.bin_dir + "/keel-node", off_args};
  server_process on{cfg.bin_dir + "/keel-node", on_args};
  std::vector<double> off_rps, on_rps, off_cpu, on_cpu;
  for (int r = 0; r < cfg.rounds; ++r) {
    auto without = run_wrk_on(off, seconds, connections, script);
    auto with = run_wrk_on(on, seconds, connections, script);
    off_rps.push_back(without.rps);
    on_rps.push_back(with.rps);
    off_cpu.push_back(without.cpu_us);
    on_cpu.push_back(with.cpu_us);
    prog.note(fmt::format(
        "round {}: Increment, OTLP export off {:.0f}/s {:.1f} us CPU, on {:.0f}/s {:.1f} us CPU",
        r + 1, without.rps, without.cpu_us, with.rps, with.cpu_us));
  }
  auto exported = metric_of(on.port(), "keel_otlp_spans_exported_total");
  auto dropped = metric_of(on.port(), "keel_otlp_spans_dropped_total");
  std::system(fmt::format("rm -rf /tmp/keel-bench-otlp-*-{}", getpid()).c_str());
  out.push_back({"d. durable Increment, OTLP export on vs off", median(on_rps), "req/s",
                 median(off_rps), median_ratio(on_rps, off_rps), std::nullopt});
  out.push_back({"d. node CPU per durable Increment, OTLP export on vs off", median(on_cpu), "us",
                 median(off_cpu), median_ratio(on_cpu, off_cpu), std::nullopt});
  auto sent = exported + dropped;
  out.push_back({"d. OTLP spans dropped at that load", sent ? 100.0 * dropped / sent : 0, "%", 0, 0,
                 std::nullopt});
}

}  // namespace

void bench_http(const bench_config& cfg, progress& prog, std::vector<result>& out) {
  prog.step("(d) HTTP with wrk: keel-node /healthz vs bare server, durable Increment vs /healthz");
  if (std::system("command -v wrk >/dev/null 2>&1") != 0) {
    prog.note("wrk not on PATH: skipped (make deps installs it)");
    return;
  }
  double seconds = cfg.quick ? 3 : 8;
  constexpr int connections = 64;
  // Both servers on two I/O threads (keel-node's default on 2 cores is one): the rows
  // compare the HTTP layers like for like, on requests whose HTTP work is most of the work.
  server_process bare{cfg.bin_dir + "/bare-http-server", {"2"}};
  // One node serves both: HTTPS on its --http-port, plaintext on --http-plaintext-port
  // (two servers with two I/O threads each), so the TLS rows compare like for like.
  bench_certs certs;
  server_process node{
      cfg.bin_dir + "/keel-node",
      {"--http-port=0", "--data-dir=/tmp/keel-bench-node-" + std::to_string(getpid()),
       "--log-level=warn", "--http-threads=2", "--tls-cert=" + certs.cert, "--tls-key=" + certs.key,
       "--http-plaintext-port=0"}};
  auto script = node.dir() + "/increment.lua";
  std::ofstream{script} << R"(math.randomseed(42)
request = function()
  return wrk.format("POST", "/v1/actors/counter/k" .. math.random(1, 10000) .. "/Increment",
                    {["Content-Type"] = "application/json"}, '{"by":1}')
end
)";
  // Every connection on one actor: its turns run one at a time, so this measures how many
  // durable turns one actor gets through per second (commits pipelined across syncs).
  auto hot_script = node.dir() + "/hot.lua";
  std::ofstream{hot_script} << R"(request = function()
  return wrk.format("POST", "/v1/actors/counter/hot/Increment",
                    {["Content-Type"] = "application/json"}, '{"by":1}')
end
)";
  std::vector<wrk_result> bare_runs, health_runs, inc_runs, hot_runs, tls_health_runs, tls_inc_runs;
  for (int r = 0; r < cfg.rounds; ++r) {
    bare_runs.push_back(run_wrk(bare.port(), "/healthz", seconds, connections));
    health_runs.push_back(run_wrk(node.port(), "/healthz", seconds, connections));
    tls_health_runs.push_back(
        run_wrk(node.tls_port(), "/healthz", seconds, connections, {}, "https"));
    inc_runs.push_back(run_wrk(node.port(), "/", seconds, connections, script));
    tls_inc_runs.push_back(run_wrk(node.tls_port(), "/", seconds, connections, script, "https"));
    hot_runs.push_back(run_wrk(node.port(), "/", seconds, connections, hot_script));
    prog.note(fmt::format(
        "round {}: bare {:.0f}/s, keel /healthz {:.0f}/s (TLS {:.0f}/s), Increment {:.0f}/s (TLS "
        "{:.0f}/s), one actor {:.0f}/s",
        r + 1, bare_runs.back().rps, health_runs.back().rps, tls_health_runs.back().rps,
        inc_runs.back().rps, tls_inc_runs.back().rps, hot_runs.back().rps));
  }
  std::system(fmt::format("rm -rf /tmp/keel-bench-node-{}", getpid()).c_str());
  auto med = [](const std::vector<wrk_result>& runs, double wrk_result::*field) {
    std::vector<double> xs;
    for (const auto& r : runs) xs.push_back(r.*field);
    return median(xs);
  };
  auto rates = [](const std::vector<wrk_result>& runs) {
    std::vector<double> xs;
    for (const auto& r : runs) xs.push_back(r.rps);
    return xs;
  };
  auto bare_rps = rates(bare_runs), health_rps = rates(health_runs), inc_rps = rates(inc_runs),
       hot_rps = rates(hot_runs), tls_health_rps = rates(tls_health_runs),
       tls_inc_rps = rates(tls_inc_runs);
  out.push_back({"d. GET /healthz, keel-node vs bare server", median(health_rps), "req/s",
                 median(bare_rps), median_ratio(health_rps, bare_rps), 0.8});
  out.push_back({"d. durable Increment vs /healthz", median(inc_rps), "req/s", median(health_rps),
                 median_ratio(inc_rps, health_rps), 0.5});
  out.push_back({"d. durable Increment, all on one actor", median(hot_rps), "req/s",
                 median(inc_rps), median_ratio(hot_rps, inc_rps), std::nullopt});
  out.push_back({"d. GET /healthz over TLS vs plaintext", median(tls_health_rps), "req/s",
                 median(health_rps), median_ratio(tls_health_rps, health_rps), std::nullopt});
  out.push_back({"d. durable Increment over TLS vs plaintext", median(tls_inc_rps), "req/s",
                 median(inc_rps), median_ratio(tls_inc_rps, inc_rps), std::nullopt});
  auto add_latency = [&](const std::string& name, const std::vector<wrk_result>& runs) {
    out.push_back({name + " p50", med(runs, &wrk_result::p50_ms), "ms", 0, 0, std::nullopt});
    out.push_back({name + " p99", med(runs, &wrk_result::p99_ms), "ms", 0, 0, std::nullopt});
  };
  add_latency("d. bare /healthz", bare_runs);
  add_latency("d. keel /healthz", health_runs);
  add_latency("d. keel Increment", inc_runs);
  add_latency("d. keel Increment, one actor", hot_runs);
  add_latency("d. keel /healthz over TLS", tls_health_runs);
  add_latency("d. keel Increment over TLS", tls_inc_runs);
  bench_otlp_export(cfg, seconds, connections, script, prog, out);
}

}  // namespace keel::bench
