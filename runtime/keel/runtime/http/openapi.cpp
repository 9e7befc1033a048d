#include "keel/runtime/http/openapi.hpp"

#include <cctype>
#include <map>
#include <memory>

#include <fmt/format.h>
#include <google/protobuf/descriptor.h>

#include "keel/runtime/errc.hpp"
#include "keel/runtime/http/gateway.hpp"
#include "keel/runtime/http/json.hpp"
#include "keel/runtime/http/request_checks.hpp"

namespace keel::http {

namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;

std::string quoted(std::string_view s) {
  return "\"" + json_escape(s) + "\"";
}

std::string lower(std::string_view s) {
  std::string out;
  for (char c : s) out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// The JSON Schemas of the messages the routes name, each written once under its protobuf
// full name and referred to from wherever it is used.
// Thread safety: one object per document, on the calling thread.
class schema_set {
 public:
  /// The schema of a body or reply: a reference to the message's own.
  std::string of(const Descriptor* d) {
    // Struct is printed as any JSON object: nothing to name.
    if (d->full_name() == "google.protobuf.Struct") return R"({"type":"object"})";
    if (!schemas_.contains(d->full_name())) {
      schemas_[d->full_name()];  // taken before its fields: a message may contain itself
      schemas_[d->full_name()] = message(d);
    }
    return R"({"$ref":"#/components/schemas/)" + d->full_name() + "\"}";
  }

  /// `"name":schema,...` for the components section.
  std::string members() const {
    std::string out;
    for (const auto& [name, schema] : schemas_)
      out += (out.empty() ? "" : ",") + quoted(name) + ":" + schema;
    return out;
  }

 private:
  std::string message(const Descriptor* d) {
    std::string props;
    for (int i = 0; i < d->field_count(); ++i) {
      const auto* f = d->field(i);
      props += (i ? "," : "") + quoted(f->json_name()) + ":" + field(f);
    }
    return R"({"type":"object","properties":{)" + props + R"(},"additionalProperties":false})";
  }

  std::string field(const FieldDescriptor* f) {
    if (f->is_map())
      return R"({"type":"object","additionalProperties":)" + value(f->message_type()->map_value()) +
             "}";
    if (f->is_repeated()) return R"({"type":"array","items":)" + value(f) + "}";
    return value(f);
  }

  // As json_printer.cpp prints a single value of the field's type.
  std::string value(const FieldDescriptor* f) {
    switch (f->cpp_type()) {
      case FieldDescriptor::CPPTYPE_INT32:
        return R"({"type":"integer","format":"int32"})";
      case FieldDescriptor::CPPTYPE_UINT32:
        return R"({"type":"integer","minimum":0,"maximum":4294967295})";
      case FieldDescriptor::CPPTYPE_INT64:
        return R"({"type":"string","format":"int64","pattern":"^-?[0-9]+$"})";
      case FieldDescriptor::CPPTYPE_UINT64:
        return R"({"type":"string","format":"uint64","pattern":"^[0-9]+$"})";
      case FieldDescriptor::CPPTYPE_DOUBLE:
        return R"({"type":"number","format":"double"})";
      case FieldDescriptor::CPPTYPE_FLOAT:
        return R"({"type":"number","format":"float"})";
      case FieldDescriptor::CPPTYPE_BOOL:
        return R"({"type":"boolean"})";
      case FieldDescriptor::CPPTYPE_STRING:
        return f->type() == FieldDescriptor::TYPE_BYTES
                   ? R"({"type":"string","contentEncoding":"base64"})"
                   : R"({"type":"string"})";
      case FieldDescriptor::CPPTYPE_ENUM: {
        std::string names;
        for (int i = 0; i < f->enum_type()->value_count(); ++i)
          names += (i ? "," : "") + quoted(f->enum_type()->value(i)->name());
        return R"({"type":"string","enum":[)" + names + "]}";
      }
      case FieldDescriptor::CPPTYPE_MESSAGE:
        return of(f->message_type());
    }
    return R"({"type":"object"})";
  }

  std::map<std::string, std::string> schemas_;
};

// The statuses a keyed route can answer besides its success, each with the codes behind
// it, from errc's own table. 405 and 505 belong to a path or a protocol, not a route.
std::map<int, std::string> error_statuses() {
  std::map<int, std::string> out;
  for (uint8_t c = 1; c <= static_cast<uint8_t>(last_errc); ++c) {
    auto code = static_cast<errc>(c);
    auto status = http_status(code);
    if (status == 405 || status == 505) continue;
    auto& names = out[status];
    names += (names.empty() ? "" : ", ") + std::string{code_name(code)};
  }
  return out;
}

std::string error_response(const std::string& codes) {
  return R"({"description":")" + json_escape(codes) +
         R"(","content":{"application/json":{"schema":{"$ref":"#/components/schemas/Error"}}}})";
}

std::string parameters(std::string_view pattern) {
  std::string out;
  for (auto segment : split_path(pattern)) {
    if (segment.size() < 3 || segment.front() != '{') continue;
    auto name = segment.substr(1, segment.size() - 2);
    out += (out.empty() ? "" : ",") +
           fmt::format(R"({{"name":{},"in":"path","required":true,)"
                       R"("schema":{{"type":"string","minLength":1,"maxLength":{}}}}})",
                       quoted(name), max_key_bytes);
  }
  return "[" + out + "]";
}

std::string operation(const gateway::route_entry& r, schema_set& schemas) {
  std::string id = lower(r.method);
  for (char c : r.pattern) id += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
  const auto& doc = *r.doc;
  auto success_schema = doc.content_type != "application/json" ? R"({"type":"string"})"
                        : doc.reply                            ? schemas.of(doc.reply)
                                                               : R"({"type":"object"})";
  std::string responses = fmt::format(R"("{}":{{"description":"success","content":{{{}:)"
                                      R"({{"schema":{}}}}}}})",
                                      doc.success, quoted(doc.content_type), success_schema);
  // Every request can be refused before its route: a bad Host or header name is 400.
  auto errors = r.needs ? error_statuses() : std::map<int, std::string>{{400, "bad_payload"}};
  for (int status : doc.open_errors) errors.emplace(status, std::string{});
  for (const auto& [status, codes] : errors)
    responses += fmt::format(R"(,"{}":{})", status,
                             error_response(codes.empty() ? "see the error code" : codes));
  std::string out = fmt::format(R"({{"operationId":{},"summary":{},"parameters":{},)", quoted(id),
                                quoted(std::string{r.method} + " " + std::string{r.pattern}),
                                parameters(r.pattern));
  if (doc.request)
    out += R"("requestBody":{"required":false,"content":{"application/json":{"schema":)" +
           schemas.of(doc.request) + "}}},";
  out += R"("responses":{)" + responses + "},";
  out += r.needs ? R"("security":[{"apiKey":[")" + std::string{scope_name(*r.needs)} + R"("]}]})"
                 : std::string{R"("security":[]})"};
  return out;
}

std::string components(const schema_set& schemas) {
  std::string codes;
  for (uint8_t c = 1; c <= static_cast<uint8_t>(last_errc); ++c)
    codes += (c > 1 ? "," : "") + quoted(code_name(static_cast<errc>(c)));
  auto error = R"({"type":"object","required":["error"],"additionalProperties":false,)"
               R"("properties":{"error":{"type":"object","required":["code","message"],)"
               R"("additionalProperties":false,"properties":{"code":{"type":"string","enum":[)" +
               codes + R"(]},"message":{"type":"string"}}}}})";
  auto members = schemas.members();
  return R"({"schemas":{"Error":)" + error + (members.empty() ? "" : ",") + members +
         R"(},"securitySchemes":{"apiKey":{"type":"http","scheme":"bearer",)"
         R"("description":"An API key from the node's --api-keys-file, when it has one. )"
         R"(Scopes are ordered public < partner < admin; each operation lists the lowest )"
         R"(it needs."}}})";
}

}  // namespace

std::string openapi_document(const gateway& gw) {
  schema_set schemas;
  std::map<std::string_view, std::string> paths;  // pattern -> `"get":{...},...`
  for (const auto& r : gw.routes()) {
    auto& ops = paths[r.pattern];
    ops += (ops.empty() ? "" : ",") + quoted(lower(r.method)) + ":" + operation(r, schemas);
  }
  std::string out = R"({"openapi":"3.1.0","info":{"title":"Keel node HTTP API","version":"0.1",)"
                    R"("license":{"name":"Proprietary","identifier":"LicenseRef-Keel"}},)"
                    R"("servers":[{"url":"/"}],"paths":{)";
  bool first = true;
  for (const auto& [pattern, ops] : paths) {
    out += (first ? "" : ",") + quoted(pattern) + ":{" + ops + "}";
    first = false;
  }
  return out + R"(},"components":)" + components(schemas) + "}";
}

void add_openapi_route(gateway& gw) {
  auto document = std::make_shared<std::string>();
  route_doc doc;
  gw.add_open_route(
      "GET", "/openapi.json", [document](const exchange_ptr& ex) { ex->respond(200, *document); },
      doc);
  *document = openapi_document(gw);
}

}  // namespace keel::http
