#include "keel/runtime/http/json_printer.hpp"

#include <cfloat>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>
#include <google/protobuf/reflection.h>

namespace keel::http {

namespace {

using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

// Protobuf's JSON printer escapes more than JSON requires ('<', '>', non-ASCII forms); a
// string with anything but these characters goes to protobuf's printer instead.
bool plain_json_char(unsigned char c) {
  return c >= 0x20 && c < 0x7f && c != '"' && c != '\\' && c != '<' && c != '>';
}

// protobuf's SimpleDtoa / SimpleFtoa: the shortest of "%.{15,17}g" ("%.{6,9}g" for
// floats) that reads back as the same value.
void append_double(std::string& out, double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.*g", DBL_DIG, v);
  if (std::strtod(buf, nullptr) != v) std::snprintf(buf, sizeof buf, "%.*g", DBL_DIG + 2, v);
  out += buf;
}

void append_float(std::string& out, float v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.*g", FLT_DIG, static_cast<double>(v));
  if (std::strtof(buf, nullptr) != v)
    std::snprintf(buf, sizeof buf, "%.*g", FLT_DIG + 3, static_cast<double>(v));
  out += buf;
}

// Prints protobuf's JSON mapping with the options to_json() gives protobuf's printer
// (camelCase names, zeros printed, fields in declaration order), the same bytes for every
// message it accepts; false (with `out` partly written) for a value it leaves to protobuf:
// a string outside plain_json_char, a non-finite number.
// Thread safety: one object per call, on the calling thread; it writes only `out`.
class direct_printer {
 public:
  explicit direct_printer(std::string& out) : out_(out) {}

  bool message(const Message& m) {
    const auto* d = m.GetDescriptor();
    const auto* r = m.GetReflection();
    out_ += '{';
    bool first = true;
    for (int i = 0; i < d->field_count(); ++i) {
      const auto* f = d->field(i);
      if (!f->is_repeated() && (f->message_type() || f->containing_oneof()) && !r->HasField(m, f))
        continue;  // fields with presence print only when set
      if (!first) out_ += ',';
      first = false;
      out_ += '"';
      out_ += f->json_name();
      out_ += "\":";
      if (f->is_map()) {
        if (!map(m, r, f)) return false;
      } else if (f->is_repeated()) {
        out_ += '[';
        int n = r->FieldSize(m, f);
        for (int k = 0; k < n; ++k) {
          if (k > 0) out_ += ',';
          if (!value(m, r, f, k)) return false;
        }
        out_ += ']';
      } else if (!value(m, r, f, -1)) {
        return false;
      }
    }
    out_ += '}';
    return true;
  }

 private:
  bool map(const Message& m, const Reflection* r, const FieldDescriptor* f) {
    const auto* key_field = f->message_type()->map_key();
    const auto* value_field = f->message_type()->map_value();
    out_ += '{';
    int n = r->FieldSize(m, f);
    for (int k = 0; k < n; ++k) {
      const auto& entry = r->GetRepeatedMessage(m, f, k);
      const auto* er = entry.GetReflection();
      if (k > 0) out_ += ',';
      // JSON object keys are strings: numbers and bools print quoted.
      if (key_field->cpp_type() == FieldDescriptor::CPPTYPE_STRING) {
        if (!value(entry, er, key_field, -1)) return false;
      } else {
        out_ += '"';
        if (!scalar_unquoted(entry, er, key_field)) return false;
        out_ += '"';
      }
      out_ += ':';
      if (!value(entry, er, value_field, -1)) return false;
    }
    out_ += '}';
    return true;
  }

  // A map key's number or bool, as text.
  bool scalar_unquoted(const Message& m, const Reflection* r, const FieldDescriptor* f) {
    switch (f->cpp_type()) {
      case FieldDescriptor::CPPTYPE_INT32:
        out_ += std::to_string(r->GetInt32(m, f));
        return true;
      case FieldDescriptor::CPPTYPE_INT64:
        out_ += std::to_string(r->GetInt64(m, f));
        return true;
      case FieldDescriptor::CPPTYPE_UINT32:
        out_ += std::to_string(r->GetUInt32(m, f));
        return true;
      case FieldDescriptor::CPPTYPE_UINT64:
        out_ += std::to_string(r->GetUInt64(m, f));
        return true;
      case FieldDescriptor::CPPTYPE_BOOL:
        out_ += r->GetBool(m, f) ? "true" : "false";
        return true;
      default:
        return false;
    }
  }

  // One value of field `f`: element `index` of a repeated field, or the singular value
  // (index < 0).
  bool value(const Message& m, const Reflection* r, const FieldDescriptor* f, int index) {
    const bool rep = index >= 0;
    switch (f->cpp_type()) {
      case FieldDescriptor::CPPTYPE_INT32:
        out_ += std::to_string(rep ? r->GetRepeatedInt32(m, f, index) : r->GetInt32(m, f));
        return true;
      case FieldDescriptor::CPPTYPE_UINT32:
        out_ += std::to_string(rep ? r->GetRepeatedUInt32(m, f, index) : r->GetUInt32(m, f));
        return true;
      case FieldDescriptor::CPPTYPE_INT64:
        out_ += '"';
        out_ += std::to_string(rep ? r->GetRepeatedInt64(m, f, index) : r->GetInt64(m, f));
        out_ += '"';
        return true;
      case FieldDescriptor::CPPTYPE_UINT64:
        out_ += '"';
        out_ += std::to_string(rep ? r->GetRepeatedUInt64(m, f, index) : r->GetUInt64(m, f));
        out_ += '"';
        return true;
      case FieldDescriptor::CPPTYPE_DOUBLE: {
        double v = rep ? r->GetRepeatedDouble(m, f, index) : r->GetDouble(m, f);
        if (!std::isfinite(v)) return false;
        append_double(out_, v);
        return true;
      }
      case FieldDescriptor::CPPTYPE_FLOAT: {
        float v = rep ? r->GetRepeatedFloat(m, f, index) : r->GetFloat(m, f);
        if (!std::isfinite(v)) return false;
        append_float(out_, v);
        return true;
      }
      case FieldDescriptor::CPPTYPE_BOOL:
        out_ += (rep ? r->GetRepeatedBool(m, f, index) : r->GetBool(m, f)) ? "true" : "false";
        return true;
      case FieldDescriptor::CPPTYPE_ENUM: {
        int number = rep ? r->GetRepeatedEnumValue(m, f, index) : r->GetEnumValue(m, f);
        const auto* named = f->enum_type()->FindValueByNumber(number);
        if (!named) {
          out_ += std::to_string(number);
          return true;
        }
        return string(named->name());
      }
      case FieldDescriptor::CPPTYPE_STRING: {
        std::string scratch;
        const auto& v = rep ? r->GetRepeatedStringReference(m, f, index, &scratch)
                            : r->GetStringReference(m, f, &scratch);
        return string(v);
      }
      case FieldDescriptor::CPPTYPE_MESSAGE:
        return message(rep ? r->GetRepeatedMessage(m, f, index) : r->GetMessage(m, f));
    }
    return false;
  }

  bool string(std::string_view v) {
    for (unsigned char c : v)
      if (!plain_json_char(c)) return false;
    out_ += '"';
    out_ += v;
    out_ += '"';
    return true;
  }

  std::string& out_;
};

}  // namespace

bool print_json_directly(const Message& m, std::string& out) {
  return direct_printer{out}.message(m);
}

}  // namespace keel::http
