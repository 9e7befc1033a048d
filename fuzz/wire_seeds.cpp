// Writes the wire_message seed corpus: one file per wire type, each a caf::message as a
// peer's middleman would put it on the wire, valid enough to pass the node's checks.
// Usage: fuzz_wire_seeds DIR (then commit DIR's files as fuzz/corpus/wire_message).
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/binary_serializer.hpp>
#include <caf/message.hpp>

#include "keel/cluster/wire.hpp"
#include "keel/runtime/builtin.pb.h"
#include "keel/runtime/errc.hpp"
#include "keel/runtime/runtime.pb.h"
#include "keel/runtime/storage_keys.hpp"

using namespace keel;
using namespace keel::cluster;

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s DIR\n", argv[0]);
    return 2;
  }
  caf::actor_system_config cfg;
  configure_cluster_transport(cfg);
  caf::actor_system sys{cfg};
  std::filesystem::create_directories(argv[1]);
  auto write = [&](const std::string& name, caf::message msg) {
    std::vector<char> bytes;
    caf::binary_serializer sink{sys, bytes};
    if (auto err = sink(msg)) {
      std::fprintf(stderr, "%s: %s\n", name.c_str(), sys.render(err).c_str());
      std::exit(1);
    }
    std::ofstream{std::filesystem::path{argv[1]} / name, std::ios::binary}.write(
        bytes.data(), static_cast<std::streamsize>(bytes.size()));
  };
  const actor_id counter{"counter", "a"};
  auto p = counter.partition();

  builtin::Increment increment;
  increment.set_by(2);
  wire_call call{"counter",
                 "a",
                 "Increment",
                 increment.SerializeAsString(),
                 3,
                 1000,
                 "4bf92f3577b34da6a3ce929d0e0e4736",
                 7,
                 "n2",
                 1,
                 false};
  write("call", caf::make_message(call));
  keel::runtime::ReminderFired fired;
  fired.set_name("tick");
  wire_call reminder{"counter", "a", "$reminder", fired.SerializeAsString(), 3, 0, "", 0,
                     "",        0,   true};
  write("call_reminder", caf::make_message(reminder));
  write("batch", caf::make_message(wire_batch{{7, 8}, {call, reminder}}));

  builtin::CounterValue value;
  value.set_value(2);
  write("reply", caf::make_message(
                     wire_reply{0, "keel.builtin.CounterValue", value.SerializeAsString(), ""}));
  write("reply_error", caf::make_message(wire_reply{static_cast<uint8_t>(errc::unavailable), "", "",
                                                    "owner down"}));
  write("answers", caf::make_message(wire_answers{
                       {7, 9},
                       {wire_reply{0, "keel.builtin.CounterValue", value.SerializeAsString(), ""},
                        wire_reply{static_cast<uint8_t>(errc::timeout), "", "", "too late"}}}));
  write("handoff", caf::make_message(wire_handoff{p, "n3", 4}));

  wire_chunk chunk{p, 4, "n2", 0, true, false, {state_key(counter)}, {"\x01state"}};
  write("chunk", caf::make_message(chunk));

  wire_partition_writes part{p, 4, 1, {state_key(counter)}, {"\x01state"}, {0}};
  write("replicate", caf::make_message(wire_replicate{"n2", {part}}));
  write("partition_writes", caf::make_message(part));
  write("sequences_ask", caf::make_message(wire_sequences_ask{{p, 4095}}));
  write("turns", caf::make_message(wire_turns{
                     turn_row{"n1", "counter/a", "Increment", "http", 1, 250, "ok", 1, 2}}));
  write("ping", caf::make_message(ping_atom::value));
  return 0;
}
