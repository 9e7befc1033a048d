#include "ride_record.hpp"

namespace keel::sim {

std::string_view path_name(ride_path p) {
  switch (p) {
    case ride_path::completed:
      return "completed";
    case ride_path::cancelled_before_accept:
      return "cancelled before accept";
    case ride_path::cancelled_after_accept:
      return "cancelled after accept";
    case ride_path::cancelled_after_start:
      return "cancelled after start";
    case ride_path::cancelled_searching:
      return "searching, cancelled";
    case ride_path::recovered:
      return "recovered after an error";
    case ride_path::lost:
      return "lost after an error";
  }
  return "?";
}

}  // namespace keel::sim
