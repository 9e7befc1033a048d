#pragma once

// What the dashboard's browser tests share: the load a node serves before the page opens,
// the page's timing, and readers of the DOM the page's script builds.
#include <chrono>
#include <filesystem>
#include <memory>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>

#include "keel/runtime/stats.pb.h"
#include "keel/test/headless_chromium.hpp"
#include "keel/test/node_process.hpp"
#include "keel/test/temp_dir.hpp"

namespace keel::test {

constexpr int increments = 300;
constexpr int unknown_messages = 7;  // 404 on the actor route
constexpr int unknown_routes = 12;   // 404 counted as route "unmatched"

// The page samples /metrics at load and every 2 s: in 7 s of virtual time it takes samples
// at 0, 2, 4 and 6 s. Virtual time stands still while a fetch is in flight, so the count
// does not depend on how fast the node answers.
constexpr std::chrono::milliseconds page_time{7000};
constexpr int samples = 4;
constexpr std::chrono::seconds browser_limit{60};

inline std::string artifact(const std::string& name) {
  std::filesystem::create_directories(KEEL_TEST_ARTIFACT_DIR);
  return std::string{KEEL_TEST_ARTIFACT_DIR} + "/" + name;
}

// The value of attribute `name` on the element with id `id`, or "<...>" saying what is missing.
inline std::string attribute(const std::string& dom, const std::string& id,
                             const std::string& name) {
  auto at = dom.find("id=\"" + id + "\"");
  if (at == std::string::npos) return "<no element #" + id + ">";
  auto begin = dom.rfind('<', at), end = dom.find('>', at);
  auto tag = dom.substr(begin, end - begin);
  auto key = " " + name + "=\"";
  auto v = tag.find(key);
  if (v == std::string::npos) return "<#" + id + " has no " + name + ">";
  v += key.size();
  return tag.substr(v, tag.find('"', v) - v);
}

// The text of the element with id `id` that holds no other element.
inline std::string text_of(const std::string& dom, const std::string& id) {
  auto at = dom.find("id=\"" + id + "\">");
  if (at == std::string::npos) return "<no element #" + id + ">";
  at = dom.find('>', at) + 1;
  return dom.substr(at, dom.find('<', at) - at);
}

inline std::vector<std::string> words(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in{text};
  for (std::string w; in >> w;) out.push_back(w);
  return out;
}

inline runtime::NodeStats stats_of(node_process& node) {
  auto reply = node.get("/v1/stats");
  runtime::NodeStats out;
  EXPECT_EQ(reply.status, 200) << reply.body;
  EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(reply.body, &out).ok()) << reply.body;
  return out;
}

// The numbers of the table row whose first cell is `first`, or none.
inline std::vector<double> row_numbers(const std::string& dom, const std::string& first) {
  auto at = dom.find("<tr><td>" + first + "</td>");
  if (at == std::string::npos) return {};
  auto row = dom.substr(at, dom.find("</tr>", at) - at);
  std::vector<double> out;
  std::regex cell{"<td>([0-9.]+)</td>"};
  for (std::sregex_iterator it{row.begin(), row.end(), cell}, end; it != end; ++it)
    out.push_back(std::stod((*it)[1]));
  return out;
}

// The latest value a chart's legend shows for `series`, or -1.
inline double legend_value(const std::string& dom, const std::string& chart,
                           const std::string& series) {
  auto legend = dom.find("id=\"" + chart + "-legend\"");
  if (legend == std::string::npos) return -1;
  auto at = dom.find("</i>" + series + " <b>", legend);
  if (at == std::string::npos) return -1;
  at = dom.find("<b>", at) + 3;
  auto text = dom.substr(at, dom.find('<', at) - at);
  return text == "–" ? -1 : std::stod(text);
}

inline int seconds_of_day(const std::string& hh_mm_ss) {
  return std::stoi(hh_mm_ss.substr(0, 2)) * 3600 + std::stoi(hh_mm_ss.substr(3, 2)) * 60 +
         std::stoi(hh_mm_ss.substr(6, 2));
}

// One keel-node that has served a known load before the browser opens its page.
class DashboardInChromium : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(headless_chromium::missing(), "");
    node_ = std::make_unique<node_process>(dir_.sub("data"));
    for (int i = 1; i <= increments; ++i) {
      auto r = node_->post("/v1/actors/counter/dash/Increment", R"({"by":1})");
      ASSERT_EQ(r.status, 200) << "load: increment " << i << ": " << r.body;
      ASSERT_EQ(r.body, R"({"value":")" + std::to_string(i) + R"("})") << "load: increment " << i;
    }
    for (int i = 0; i < unknown_messages; ++i)
      ASSERT_EQ(node_->post("/v1/actors/counter/dash/Nope", "").status, 404) << "load: Nope";
    for (int i = 0; i < unknown_routes; ++i)
      ASSERT_EQ(node_->get("/v1/nothing").status, 404) << "load: unmatched route";
  }

  std::string url() const { return "http://127.0.0.1:" + std::to_string(node_->port()) + "/"; }

  temp_dir dir_;
  std::unique_ptr<node_process> node_;
};

}  // namespace keel::test
