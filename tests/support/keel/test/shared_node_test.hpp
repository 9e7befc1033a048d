#pragma once

#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "keel/test/node_process.hpp"
#include "keel/test/temp_dir.hpp"

namespace keel::test {

/// A gtest fixture whose tests share one keel-node, started once per suite with
/// `Config::args()` on a fresh data dir and killed after the suite.
/// Thread safety: gtest's (the suite's tests run one at a time).
template <class Config>
class shared_node_test : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = std::make_unique<temp_dir>();
    node_ = std::make_unique<node_process>(dir_->sub("data"), Config::args());
  }
  static void TearDownTestSuite() {
    node_.reset();
    dir_.reset();
  }

  static inline std::unique_ptr<temp_dir> dir_;
  static inline std::unique_ptr<node_process> node_;
};

}  // namespace keel::test
