#pragma once

#include <string>
#include <string_view>

#include "keel/rideshare/geo.hpp"
#include "keel/runtime/partition_key.hpp"

namespace keel::rideshare {

// Where the ride-sharing actors live (architecture.md "Where the actors live"): a ride lives
// with its rider (its id names the rider's group), a payment and its processor with their
// ride, a rider's or driver's alerts with them, and the cells of a region together, so that
// a ride's updates and alerts to its rider stay on one node and a search's asks to one
// ring's cells mostly go to one node, in one wire send. Drivers, areas and ride keys are
// placed by their ids: drivers move across the city and take rides of any rider. A
// partition is the unit a move holds, so a group must stay small: one rider's rides are
// (a region's rides in one partition were not).

/// A region: a block of cells_per_region x cells_per_region cells, the unit cells are
/// placed by. Small enough that a city has many more regions than a cluster has nodes,
/// large enough that most of a search's first two rings lie in one.
inline constexpr int64_t cells_per_region = 4;

/// The region holding cell `c` (floor division: cell -1 lies in region -1).
cell_id region_of(cell_id c);

/// What each type is placed by; a key that does not have the form the app makes is placed
/// by its own id.
placement_key cell_placement(std::string_view key) noexcept;     // "x:y": "region/<x/4>:<y/4>"
placement_key rider_placement(std::string_view key) noexcept;    // "rider-group/<group>"
placement_key ride_placement(std::string_view key) noexcept;     // "r-<group>-<n>": its rider's
placement_key payment_placement(std::string_view key) noexcept;  // "pay-<ride id>": the ride's
placement_key alerts_placement(std::string_view key) noexcept;   // "rider:<id>": the rider's

/// The names the placements are recorded under: change one whenever its function does.
inline constexpr std::string_view cell_placement_name = "rideshare.region4.v1";
inline constexpr std::string_view rider_placement_name = "rideshare.rider-group.v1";
inline constexpr std::string_view ride_placement_name = "rideshare.with-rider.v1";
inline constexpr std::string_view payment_placement_name = "rideshare.with-ride.v2";
inline constexpr std::string_view alerts_placement_name = "rideshare.with-owner.v2";

}  // namespace keel::rideshare
