#pragma once

#include <vector>

#include "bench_report.hpp"
#include "runtime_benches.hpp"

namespace keel::bench {

/// (i) a turn that asks once and replies with the answer, written as a coroutine (`co_await
/// ctx.ask`) against the same turn written with a continuation, in one process.
void bench_coroutine_turns(const bench_config& cfg, progress& prog, std::vector<result>& out);

}  // namespace keel::bench
