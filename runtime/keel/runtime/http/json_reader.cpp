#include "keel/runtime/http/json_reader.hpp"

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>

#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>
#include <google/protobuf/reflection.h>
#include <simdjson.h>

namespace keel::http {

namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

// Reads the common cases of protobuf's JSON mapping into `out` exactly as protobuf's parser
// would: objects with camelCase or proto field names, each field once; integers as JSON
// integers in range; doubles as numbers; enums by name; strings; bools; nested messages and
// arrays of these. False for anything else (maps, null, numbers in strings, floats, ...):
// the caller then hands the body to protobuf's parser.
// Thread safety: stateless (static members only); safe from any thread.
class direct_reader {
 public:
  static bool message(simdjson::dom::object object, Message& out) {
    const auto* d = out.GetDescriptor();
    const auto* r = out.GetReflection();
    for (auto [key, value] : object) {
      const auto* f = field_named(d, key);
      if (!f || f->is_map()) return false;
      if (f->is_repeated() ? r->FieldSize(out, f) > 0 : r->HasField(out, f))
        return false;  // named twice
      if (const auto* oneof = f->containing_oneof(); oneof && r->HasOneof(out, oneof)) return false;
      if (!f->is_repeated()) {
        if (!store(out, r, f, value)) return false;
        // Proto3 fields without presence hold nothing for a zero: HasField cannot tell a
        // second mention from the first then, so zeros are left to protobuf.
        if (!f->has_presence() && !r->HasField(out, f)) return false;
        continue;
      }
      simdjson::dom::array items;
      if (value.get(items)) return false;
      for (auto item : items)
        if (!store(out, r, f, item)) return false;
      if (items.size() == 0) return false;  // as above: an empty list leaves no trace
    }
    return true;
  }

 private:
  // Protobuf's parser takes a field's JSON name or its proto name.
  static const FieldDescriptor* field_named(const Descriptor* d, std::string_view key) {
    for (int i = 0; i < d->field_count(); ++i) {
      const auto* f = d->field(i);
      if (f->json_name() == key || f->name() == key) return f;
    }
    return nullptr;
  }

  template <class Int>
  static bool integer(simdjson::dom::element value, Int& out) {
    if (value.is_int64()) {
      int64_t v = value.get_int64().value_unsafe();
      if (v < static_cast<int64_t>(std::numeric_limits<Int>::min()) ||
          (v > 0 && static_cast<uint64_t>(v) > std::numeric_limits<Int>::max()))
        return false;
      out = static_cast<Int>(v);
      return true;
    }
    if (value.is_uint64()) {
      uint64_t v = value.get_uint64().value_unsafe();
      if (v > std::numeric_limits<Int>::max()) return false;
      out = static_cast<Int>(v);
      return true;
    }
    return false;
  }

  static bool real(simdjson::dom::element value, double& out) {
    if (!value.is_number()) return false;
    out = value.get_double().value_unsafe();
    return std::isfinite(out);
  }

  // Stores `value` in field `f`: appended to a repeated field, or set.
  static bool store(Message& m, const Reflection* r, const FieldDescriptor* f,
                    simdjson::dom::element value) {
    const bool append = f->is_repeated();
    switch (f->cpp_type()) {
      case FieldDescriptor::CPPTYPE_INT32: {
        int32_t v;
        if (!integer(value, v)) return false;
        append ? r->AddInt32(&m, f, v) : r->SetInt32(&m, f, v);
        return true;
      }
      case FieldDescriptor::CPPTYPE_INT64: {
        int64_t v;
        if (!integer(value, v)) return false;
        append ? r->AddInt64(&m, f, v) : r->SetInt64(&m, f, v);
        return true;
      }
      case FieldDescriptor::CPPTYPE_UINT32: {
        uint32_t v;
        if (!integer(value, v)) return false;
        append ? r->AddUInt32(&m, f, v) : r->SetUInt32(&m, f, v);
        return true;
      }
      case FieldDescriptor::CPPTYPE_UINT64: {
        uint64_t v;
        if (!integer(value, v)) return false;
        append ? r->AddUInt64(&m, f, v) : r->SetUInt64(&m, f, v);
        return true;
      }
      case FieldDescriptor::CPPTYPE_DOUBLE: {
        double v;
        if (!real(value, v)) return false;
        append ? r->AddDouble(&m, f, v) : r->SetDouble(&m, f, v);
        return true;
      }
      case FieldDescriptor::CPPTYPE_BOOL: {
        bool v;
        if (value.get(v)) return false;
        append ? r->AddBool(&m, f, v) : r->SetBool(&m, f, v);
        return true;
      }
      case FieldDescriptor::CPPTYPE_ENUM: {
        std::string_view name;
        if (value.get(name)) return false;
        const auto* named = f->enum_type()->FindValueByName(std::string{name});
        if (!named) return false;
        append ? r->AddEnumValue(&m, f, named->number()) : r->SetEnumValue(&m, f, named->number());
        return true;
      }
      case FieldDescriptor::CPPTYPE_STRING: {
        std::string_view text;
        if (value.get(text)) return false;
        append ? r->AddString(&m, f, std::string{text}) : r->SetString(&m, f, std::string{text});
        return true;
      }
      case FieldDescriptor::CPPTYPE_MESSAGE: {
        simdjson::dom::object object;
        if (value.get(object)) return false;
        return message(object, append ? *r->AddMessage(&m, f) : *r->MutableMessage(&m, f));
      }
      default:
        return false;  // floats: protobuf's own double-to-float rules
    }
  }
};

}  // namespace

bool read_json_directly(std::string_view body, Message& out) {
  thread_local simdjson::dom::parser parser;
  simdjson::padded_string padded{body};
  simdjson::dom::object object;
  if (parser.parse(padded).get(object)) return false;
  return direct_reader::message(object, out);
}

}  // namespace keel::http
