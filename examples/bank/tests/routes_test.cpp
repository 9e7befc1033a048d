// The bank's JSON routes on a gateway over a test node: status codes, bodies as the
// protobuf JSON mapping prints them, and errors with their HTTP status.
#include <future>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "keel/runtime/http/gateway.hpp"
#include "keel/runtime/http/runtime_routes.hpp"
#include "tests/bank_fixture.hpp"

namespace bank::test {
namespace {

class Routes : public BankTest {
 protected:
  void SetUp() override {
    BankTest::SetUp();
    if (!node_) return;
    // Deadlines on the node's clock, which the test advances.
    keel::http::gateway_options opts;
    opts.clock = node_->runtime().options().monotonic;
    gateway_ = std::make_unique<keel::http::gateway>(std::move(opts));
    keel::http::add_runtime_routes(*gateway_, node_->runtime());
    add_bank_routes(*gateway_, node_->runtime());
  }

  keel::http::response send(std::string method, std::string path, std::string body = "") {
    keel::http::request req;
    req.method = std::move(method);
    req.path = std::move(path);
    req.body = std::move(body);
    req.headers = {{"host", "bank.test"}, {"content-type", "application/json"}};
    auto answer = std::make_shared<std::promise<keel::http::response>>();
    auto future = answer->get_future();
    gateway_->handle(std::move(req),
                     [answer](keel::http::response r) { answer->set_value(std::move(r)); });
    if (future.wait_for(10s) != std::future_status::ready) {
      ADD_FAILURE() << "no HTTP answer in 10 s";
      return {};
    }
    return future.get();
  }

  std::unique_ptr<keel::http::gateway> gateway_;
};

TEST_F(Routes, OpenDepositTransferAndReadBackOverJson) {
  EXPECT_EQ(send("POST", "/v1/bank/accounts/ada").status, 201);
  EXPECT_EQ(send("POST", "/v1/bank/accounts/bob").status, 201);
  auto deposit = send("POST", "/v1/bank/accounts/ada/deposits", R"({"amountCents": 500})");
  EXPECT_EQ(deposit.status, 200) << deposit.body;
  EXPECT_NE(deposit.body.find(R"("balanceCents":"500")"), std::string::npos) << deposit.body;
  const std::string t1 = R"({"transferId": "t1", "to": "bob", "amountCents": 200})";
  auto first = send("POST", "/v1/bank/accounts/ada/transfers", t1);
  EXPECT_EQ(first.status, 200) << first.body;
  EXPECT_NE(first.body.find(R"("status":"COMPLETED")"), std::string::npos) << first.body;
  auto again = send("POST", "/v1/bank/accounts/ada/transfers", t1);
  EXPECT_EQ(again.status, 200);
  EXPECT_EQ(again.body, first.body) << "a repeated transfer answered otherwise";
  EXPECT_EQ(send("GET", "/v1/bank/accounts/ada/transfers/t1").body, first.body);
  auto bob = send("GET", "/v1/bank/accounts/bob");
  EXPECT_NE(bob.body.find(R"("balanceCents":"200")"), std::string::npos) << bob.body;
  auto audit = send("GET", "/v1/bank/accounts/ada/audit");
  EXPECT_EQ(audit.status, 200);
  EXPECT_NE(audit.body.find(R"("kind":"TRANSFER_OUT")"), std::string::npos) << audit.body;
}

TEST_F(Routes, BadRequestsAnswerTheirErrorStatus) {
  EXPECT_EQ(send("POST", "/v1/bank/accounts/ada").status, 201);
  EXPECT_EQ(send("POST", "/v1/bank/accounts/ada/deposits", R"({"amountCents": "x"})").status, 400);
  EXPECT_EQ(send("POST", "/v1/bank/accounts/ada/deposits", R"({"amountCents": -5})").status, 400);
  EXPECT_EQ(send("POST", "/v1/bank/accounts/ada/transfers",
                 R"({"transferId": "t", "to": "ada", "amountCents": 1})")
                .status,
            400);
  EXPECT_EQ(send("POST", "/v1/bank/accounts/nobody/deposits", R"({"amountCents": 5})").status, 404);
  EXPECT_EQ(send("GET", "/v1/bank/accounts/ada/transfers/none").status, 404);
}

// A request's deadline is set on the node's clock: an hour on it later, a request still
// has its whole timeout, not one already an hour past.
TEST_F(Routes, RequestsAfterTheClockAdvancedAreServed) {
  ASSERT_EQ(send("POST", "/v1/bank/accounts/ada").status, 201);
  node_->advance(std::chrono::hours{1});
  auto read = send("GET", "/v1/bank/accounts/ada");
  EXPECT_EQ(read.status, 200) << read.body;
}

// The raw actor route reaches every handler but a transfer's steps: a credit without a
// debit, or a refund of what was credited, would make money.
TEST_F(Routes, ATransfersStepsCannotBeSentFromOutside) {
  ASSERT_EQ(send("POST", "/v1/bank/accounts/ada").status, 201);
  ASSERT_EQ(send("POST", "/v1/bank/accounts/ada/deposits", R"({"amountCents": 100})").status, 200);
  for (const auto& [path, body] : std::vector<std::pair<std::string, std::string>>{
           {"/v1/actors/account/ada/Credit", R"({"transferId":"f","from":"x","amountCents":"5"})"},
           {"/v1/actors/account/ada/BeginTransfer",
            R"({"transferId":"w","to":"bob","amountCents":"5"})"},
           {"/v1/actors/account/ada/SettleTransfer", R"({"transferId":"w","credited":false})"},
           {"/v1/actors/transfer_desk/x/ResumeTransfer", R"({"transfer":{"transferId":"w"}})"}}) {
    auto refused = send("POST", path, body);
    EXPECT_EQ(refused.status, 403) << path << ": " << refused.body;
    EXPECT_NE(refused.body.find(R"("code":"forbidden")"), std::string::npos) << refused.body;
  }
  // What a client may ask still answers, and nothing moved.
  auto read = send("POST", "/v1/actors/account/ada/GetBalance", "{}");
  EXPECT_EQ(read.status, 200) << read.body;
  EXPECT_NE(read.body.find(R"("balanceCents":"100")"), std::string::npos) << read.body;
}

}  // namespace
}  // namespace bank::test
