// Records as LevelDB hands them back after a crash or from a damaged disk: a versioned
// state value, a side record's key, a stored reminder. Decoding refuses what it cannot
// read and never reads past the bytes.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "keel/runtime/runtime.pb.h"
#include "keel/runtime/storage_keys.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view bytes{reinterpret_cast<const char*>(data), size};
  uint64_t version = 0;
  std::string_view payload;
  if (keel::decode_versioned(bytes, version, payload)) {
    if (payload.data() < bytes.data() || payload.data() + payload.size() > bytes.data() + size)
      __builtin_trap();
    // Encoding what was decoded gives back the same record.
    auto again = keel::encode_versioned(version, payload);
    uint64_t version2 = 0;
    std::string_view payload2;
    if (!keel::decode_versioned(again, version2, payload2) || version2 != version ||
        payload2 != payload || again != bytes)
      __builtin_trap();
  }
  (void)keel::owner_state_key(bytes);
  keel::runtime::ReminderRecord record;
  (void)record.ParseFromArray(data, static_cast<int>(size));
  return 0;
}
