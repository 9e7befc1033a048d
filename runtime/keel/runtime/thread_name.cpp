#include "keel/runtime/thread_name.hpp"

#include <pthread.h>

#include <algorithm>
#include <array>

namespace keel {

void name_this_thread(std::string_view name) noexcept {
  std::array<char, 16> buffer{};  // 15 characters and the terminator, as the kernel keeps
  auto n = std::min(name.size(), buffer.size() - 1);
  std::copy_n(name.data(), n, buffer.data());
  pthread_setname_np(pthread_self(), buffer.data());
}

}  // namespace keel
