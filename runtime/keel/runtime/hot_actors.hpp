#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "keel/runtime/actor_id.hpp"
#include "keel/runtime/metrics.hpp"

namespace keel {

/// One actor of the hottest ones in an interval: `turns` counted for it, of which at most
/// `overcount` may belong to actors it displaced (0: exact).
struct hot_actor {
  std::string actor;  // type/key
  uint64_t turns = 0;
  uint64_t overcount = 0;
};

/// The actors that ran the most turns since the last take(), in bounded memory: a
/// space-saving sketch (Metwally et al.) of `slots` counters per metric stripe. An actor
/// not counted takes the smallest counter and inherits its count as its overcount, so any
/// actor that ran more than 1/`slots` of a stripe's turns is kept, with a count that is at
/// most its overcount too high. While a stripe sees at most `slots` actors every count is
/// exact.
/// Per stripe, not one shared sketch: each turn locks only its own thread's stripe, so the
/// lock is uncontended except while take() merges. A spin lock, not a mutex: taking it is
/// one atomic exchange and giving it back a plain store, on every turn, and the only
/// wait is take() copying one stripe, every few seconds. A count is O(1) (amortized) also
/// when most turns are of actors not counted, as with many actors each running a few
/// turns: a hash index finds an actor's counter, and a list of the counters that had the
/// smallest count gives the one to take over (scanning the 64 for both cost ~140 ns).
/// Thread safety: thread-safe.
class hot_actors {
 public:
  static constexpr size_t slots = 64;

  /// Counts one turn of `id`, whose std::hash is `hash` (cached by the caller: hashing the
  /// key on every turn would cost more than the count).
  void record(uint64_t hash, const actor_id& id) noexcept;

  /// The `n` actors with the most turns since the previous take(), most first (ties by
  /// name), summed over the stripes; starts the next interval empty.
  std::vector<hot_actor> take(size_t n);

 private:
  // Four index positions per counter: linear probes stay short.
  static constexpr size_t index_size = 4 * slots;

  struct alignas(64) stripe {
    std::atomic_flag busy;  // guards the rest of the stripe; clear: free
    std::array<uint64_t, slots> hashes{};
    std::array<uint64_t, slots> counts{};
    std::array<uint64_t, slots> overcounts{};
    // Assigned in place when a slot changes hands: its buffer is reused, so a turn does
    // not allocate once names of the usual length were seen.
    std::array<std::string, slots> names;
    size_t used = 0;  // slots [0, used) hold an actor
    // Open addressing by hash, linear probing: slot + 1 of each used slot; 0: empty.
    std::array<uint8_t, index_size> index{};
    // Slots whose count was `low_count`, the smallest, when the counts were last scanned;
    // a slot counted since is skipped when it comes up. Counts only grow, so one that
    // still has `low_count` is a smallest one.
    std::array<uint8_t, slots> low{};
    size_t lows = 0;
    uint64_t low_count = 0;
  };
  /// Holds a stripe's flag for a scope.
  class stripe_guard {
   public:
    explicit stripe_guard(stripe& s) noexcept;
    ~stripe_guard() { s_.busy.clear(std::memory_order_release); }
    stripe_guard(const stripe_guard&) = delete;
    stripe_guard& operator=(const stripe_guard&) = delete;

   private:
    stripe& s_;
  };

  /// The index position of `hash`, or of the empty one where it would go.
  static size_t position(const stripe& s, uint64_t hash) noexcept;
  static void index_erase(stripe& s, size_t at) noexcept;
  /// A slot with the smallest count, to be taken over. Requires: every slot is used.
  static size_t smallest(stripe& s) noexcept;

  std::array<stripe, detail::metric_stripes> stripes_;
};

}  // namespace keel
