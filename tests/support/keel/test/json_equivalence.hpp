#pragma once

// Checks keel::http::to_json and parse_json against protobuf's own JSON printer and parser
// on random messages of every type in a .proto file: the same bytes printed, the same
// message (or a refusal) parsed.

#include <array>
#include <cmath>
#include <random>
#include <string>

#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>
#include <google/protobuf/reflection.h>
#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/message_differencer.h>
#include <gtest/gtest.h>

#include "keel/runtime/http/json.hpp"

namespace keel::test {

/// Fills `m` with random values: fields set or not, strings of plain or any characters
/// (valid UTF-8),
/// doubles of every magnitude, enums known and unknown, repeated fields of 0–3 elements and
/// maps of at most one entry (protobuf prints map entries in an unspecified order).
class random_message_filler {
 public:
  explicit random_message_filler(uint32_t seed) : rng_(seed) {}

  void fill(google::protobuf::Message& m, int depth = 0) {
    plain_ = pick(10) < 7;
    fill_fields(m, depth);
  }

 private:
  using field = google::protobuf::FieldDescriptor;

  void fill_fields(google::protobuf::Message& m, int depth) {
    const auto* d = m.GetDescriptor();
    const auto* r = m.GetReflection();
    for (int i = 0; i < d->field_count(); ++i) {
      const auto* f = d->field(i);
      if (pick(4) == 0) continue;  // left unset
      if (f->message_type() && depth >= 3) continue;
      if (f->is_map()) {
        if (pick(2) == 0) continue;
        auto* entry = r->AddMessage(&m, f);
        fill_fields(*entry, depth + 1);
      } else if (f->is_repeated()) {
        for (int n = pick(4); n > 0; --n) store(m, r, f, depth);
      } else {
        store(m, r, f, depth);
      }
    }
  }

  // One random value for `f`: appended to a repeated field, or set.
  void store(google::protobuf::Message& m, const google::protobuf::Reflection* r, const field* f,
             int depth) {
    const bool append = f->is_repeated();
    switch (f->cpp_type()) {
      case field::CPPTYPE_INT32: {
        auto v = static_cast<int32_t>(integer());
        append ? r->AddInt32(&m, f, v) : r->SetInt32(&m, f, v);
        break;
      }
      case field::CPPTYPE_INT64: {
        auto v = integer();
        append ? r->AddInt64(&m, f, v) : r->SetInt64(&m, f, v);
        break;
      }
      case field::CPPTYPE_UINT32: {
        auto v = static_cast<uint32_t>(integer());
        append ? r->AddUInt32(&m, f, v) : r->SetUInt32(&m, f, v);
        break;
      }
      case field::CPPTYPE_UINT64: {
        auto v = static_cast<uint64_t>(integer());
        append ? r->AddUInt64(&m, f, v) : r->SetUInt64(&m, f, v);
        break;
      }
      case field::CPPTYPE_DOUBLE: {
        auto v = real();
        append ? r->AddDouble(&m, f, v) : r->SetDouble(&m, f, v);
        break;
      }
      case field::CPPTYPE_FLOAT: {
        auto v = static_cast<float>(real());
        append ? r->AddFloat(&m, f, v) : r->SetFloat(&m, f, v);
        break;
      }
      case field::CPPTYPE_BOOL: {
        bool v = pick(2) == 1;
        append ? r->AddBool(&m, f, v) : r->SetBool(&m, f, v);
        break;
      }
      case field::CPPTYPE_ENUM: {
        int v = enum_number(f);
        append ? r->AddEnumValue(&m, f, v) : r->SetEnumValue(&m, f, v);
        break;
      }
      case field::CPPTYPE_STRING: {
        auto v = text();
        append ? r->AddString(&m, f, std::move(v)) : r->SetString(&m, f, std::move(v));
        break;
      }
      case field::CPPTYPE_MESSAGE:
        fill_fields(append ? *r->AddMessage(&m, f) : *r->MutableMessage(&m, f), depth + 1);
        break;
    }
  }

  int pick(int n) { return std::uniform_int_distribution<int>{0, n - 1}(rng_); }

  int64_t integer() {
    switch (pick(4)) {
      case 0:
        return 0;
      case 1:
        return pick(1000) - 500;
      case 2:
        return static_cast<int64_t>(rng_());
      default:
        return static_cast<int64_t>((uint64_t{rng_()} << 32) | rng_());
    }
  }

  double real() {
    switch (pick(6)) {
      case 0:
        return 0.0;
      case 1:
        return pick(100000) / 1000.0 - 50;  // like coordinates
      case 2:
        return std::uniform_real_distribution<double>{-180, 180}(rng_);
      case 3:
        return std::ldexp(std::uniform_real_distribution<double>{0.5, 1}(rng_), pick(2000) - 1000);
      case 4:
        return -0.0;
      default:
        return static_cast<double>(integer());
    }
  }

  int enum_number(const field* f) {
    const auto* e = f->enum_type();
    if (pick(10) == 0) return 1000 + pick(10);  // unknown to this build: printed as a number
    return e->value(pick(e->value_count()))->number();
  }

  std::string text() {
    std::string out;
    for (int n = pick(12); n > 0; --n) {
      if (plain_)
        out.push_back(static_cast<char>(0x20 + pick(0x5f)));
      else if (pick(4) > 0)
        out.push_back(static_cast<char>(pick(128)));  // controls, quotes, '<', DEL...
      else
        out += std::array<const char*, 4>{"\u00e9", "\u20ac", "\u2028", "\U0001F600"}[pick(4)];
    }
    return out;
  }

  std::mt19937 rng_;
  bool plain_ = true;
};

inline std::string protobuf_json(const google::protobuf::Message& m) {
  google::protobuf::util::JsonPrintOptions options;
  options.always_print_primitive_fields = true;
  std::string out;
  auto status = google::protobuf::util::MessageToJsonString(m, &out, options);
  return status.ok() ? out : "<" + status.ToString() + ">";
}

/// Expects to_json == protobuf's printer for `rounds` random messages of every message type
/// declared in `file` (top-level types; nested ones are reached through their fields).
inline void expect_to_json_matches_protobuf(const google::protobuf::FileDescriptor* file,
                                            int rounds) {
  auto* factory = google::protobuf::MessageFactory::generated_factory();
  random_message_filler filler{12345};
  for (int t = 0; t < file->message_type_count(); ++t) {
    const auto* prototype = factory->GetPrototype(file->message_type(t));
    for (int i = 0; i < rounds; ++i) {
      std::unique_ptr<google::protobuf::Message> m{prototype->New()};
      filler.fill(*m);
      std::string expected = protobuf_json(*m);
      if (expected.starts_with("<")) continue;  // protobuf refuses it (invalid UTF-8)
      ASSERT_EQ(http::to_json(*m), expected)
          << file->message_type(t)->full_name() << " round " << i << ": " << m->DebugString();
    }
  }
}

/// Expects parse_json to read what protobuf's parser reads (the same message, or a refusal
/// from both) for random messages of every type in `file`, printed with camelCase or proto
/// names, compact or spaced, and for copies with one character deleted or repeated.
inline void expect_parse_json_matches_protobuf(const google::protobuf::FileDescriptor* file,
                                               int rounds) {
  auto* factory = google::protobuf::MessageFactory::generated_factory();
  random_message_filler filler{54321};
  std::mt19937 rng{99};
  int fast_accepted = 0;
  for (int t = 0; t < file->message_type_count(); ++t) {
    const auto* prototype = factory->GetPrototype(file->message_type(t));
    for (int i = 0; i < rounds; ++i) {
      std::unique_ptr<google::protobuf::Message> m{prototype->New()};
      filler.fill(*m);
      google::protobuf::util::JsonPrintOptions print;
      print.preserve_proto_field_names = i % 3 == 1;
      print.add_whitespace = i % 5 == 2;
      print.always_print_primitive_fields = i % 2 == 0;
      std::string text;
      if (!google::protobuf::util::MessageToJsonString(*m, &text, print).ok()) continue;
      for (int variant = 0; variant < 3; ++variant) {
        std::string input = text;
        if (variant > 0 && !input.empty()) {
          auto at = std::uniform_int_distribution<size_t>{0, input.size() - 1}(rng);
          if (variant == 1)
            input.erase(at, 1);
          else
            input.insert(at, 1, input[at]);
        }
        std::unique_ptr<google::protobuf::Message> expected{prototype->New()};
        google::protobuf::util::JsonParseOptions options;
        bool expected_ok =
            input.find_first_not_of(" \t\r\n") == std::string::npos ||
            google::protobuf::util::JsonStringToMessage(input, expected.get(), options).ok();
        std::unique_ptr<google::protobuf::Message> got{prototype->New()};
        auto err = http::parse_json(input, *got);
        ASSERT_EQ(!err, expected_ok) << file->message_type(t)->full_name() << ": " << input;
        if (!expected_ok) continue;
        ++fast_accepted;
        ASSERT_TRUE(google::protobuf::util::MessageDifferencer::Equals(*got, *expected))
            << file->message_type(t)->full_name() << ": " << input << "\nparse_json read "
            << got->DebugString() << "protobuf read " << expected->DebugString();
      }
    }
  }
  EXPECT_GT(fast_accepted, 0);
}

}  // namespace keel::test
