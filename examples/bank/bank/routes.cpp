// The bank's JSON API: parse at the edge, then one call to one actor. Every route needs a
// key of scope public when the node has keys.
#include <memory>
#include <string>
#include <type_traits>

#include "bank/bank.hpp"
#include "keel/runtime/errc.hpp"
#include "keel/runtime/http/gateway.hpp"
#include "keel/runtime/http/json.hpp"
#include "keel/runtime/node_runtime.hpp"

namespace bank {

namespace {

using keel::call_result;
using keel::http::exchange_ptr;

constexpr auto scope = keel::http::api_scope::public_;

// Calls `target` and answers the reply as JSON with the status `status_of` gives it, or
// the error's status.
template <class StatusOf>
void forward_with(keel::node_runtime& rt, const exchange_ptr& ex, keel::actor_id target,
                  std::shared_ptr<google::protobuf::Message> request, StatusOf status_of) {
  rt.call(
      std::move(target), std::move(request), ex->deadline(), ex->trace(), "http",
      [ex, status_of](call_result result) {
        if (!result) return ex->fail(result.error());
        ex->respond(status_of(**result), keel::http::to_json(**result));
      },
      ex->parent_span());
}

void forward(keel::node_runtime& rt, const exchange_ptr& ex, keel::actor_id target,
             std::shared_ptr<google::protobuf::Message> request, int status = 200) {
  forward_with(rt, ex, std::move(target), std::move(request),
               [status](const google::protobuf::Message&) { return status; });
}

// The body as a fresh `M`; null after answering 400 if it does not parse.
template <class M>
std::shared_ptr<M> parse(const exchange_ptr& ex) {
  auto m = std::make_shared<M>();
  if (auto err = keel::http::parse_json(ex->req().body, *m)) {
    ex->fail(err);
    return nullptr;
  }
  return m;
}

std::string id_of(const exchange_ptr& ex) {
  return std::string{ex->param("id")};
}

template <class Request, class Reply>
keel::http::route_doc doc(int success = 200) {
  const google::protobuf::Descriptor* request = nullptr;
  if constexpr (!std::is_void_v<Request>) request = Request::descriptor();
  return keel::http::route_doc::json(request, Reply::descriptor(), success);
}

// 202 while the transfer is in doubt: it will complete or be refunded, and asking again
// with the same id is safe.
void transfer(keel::node_runtime& rt, const exchange_ptr& ex) {
  auto body = parse<MakeTransfer>(ex);
  if (!body) return;
  body->set_from(id_of(ex));
  forward_with(rt, ex, desk(body->from()), body, [](const google::protobuf::Message& reply) {
    return static_cast<const Transfer&>(reply).status() == PENDING ? 202 : 200;
  });
}

}  // namespace

void add_bank_routes(keel::http::gateway& gw, keel::node_runtime& rt) {
  gw.add_route(
      "POST", "/v1/bank/accounts/{id}",
      [&rt](const exchange_ptr& ex) {
        forward(rt, ex, account(id_of(ex)), std::make_shared<OpenAccount>(), 201);
      },
      scope, doc<void, Balance>(201));
  gw.add_route(
      "GET", "/v1/bank/accounts/{id}",
      [&rt](const exchange_ptr& ex) {
        forward(rt, ex, account(id_of(ex)), std::make_shared<GetBalance>());
      },
      scope, doc<void, Balance>());
  gw.add_route(
      "POST", "/v1/bank/accounts/{id}/deposits",
      [&rt](const exchange_ptr& ex) {
        if (auto m = parse<Deposit>(ex)) forward(rt, ex, account(id_of(ex)), m);
      },
      scope, doc<Deposit, Balance>());
  gw.add_route(
      "POST", "/v1/bank/accounts/{id}/transfers",
      [&rt](const exchange_ptr& ex) { transfer(rt, ex); }, scope, doc<MakeTransfer, Transfer>());
  gw.add_route(
      "GET", "/v1/bank/accounts/{id}/transfers/{transferId}",
      [&rt](const exchange_ptr& ex) {
        auto m = std::make_shared<GetTransfer>();
        m->set_transfer_id(std::string{ex->param("transferId")});
        forward(rt, ex, account(id_of(ex)), m);
      },
      scope, doc<void, Transfer>());
  gw.add_route(
      "GET", "/v1/bank/accounts/{id}/audit",
      [&rt](const exchange_ptr& ex) {
        forward(rt, ex, account(id_of(ex)), std::make_shared<GetAudit>());
      },
      scope, doc<void, AuditLog>());
}

}  // namespace bank
