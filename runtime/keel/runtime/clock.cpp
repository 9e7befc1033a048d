#include "keel/runtime/clock.hpp"

#include <chrono>

namespace keel {

namespace {

class system_wall_clock final : public wall_clock {
 public:
  int64_t now_ms() const override {
    using namespace std::chrono;
    return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
  }
};

}  // namespace

std::shared_ptr<wall_clock> make_system_clock() {
  return std::make_shared<system_wall_clock>();
}

}  // namespace keel
