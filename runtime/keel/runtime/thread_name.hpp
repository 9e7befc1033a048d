#pragma once

#include <string_view>

namespace keel {

/// Names the calling thread as `top -H`, `ps -L`, gdb and /proc/<pid>/task/*/comm show it;
/// the kernel keeps the first 15 characters. Keel names its own threads `keel.<role>`
/// (docs/architecture.md "Threads"), where they would otherwise all show as `keel-node`
/// or CAF's `caf.actor`. Any thread may call it, for itself.
void name_this_thread(std::string_view name) noexcept;

}  // namespace keel
