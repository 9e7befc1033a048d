#include "keel/runtime/http/url_authority.hpp"

#include <gtest/gtest.h>

namespace keel::http {
namespace {

TEST(UrlAuthority, BracketsAnIpv6HostAndLeavesEveryOtherAddressAsItIs) {
  EXPECT_EQ(url_authority("::1:8081"), "[::1]:8081");
  EXPECT_EQ(url_authority("fe80::1:9"), "[fe80::1]:9");
  EXPECT_EQ(url_authority("[::1]:8081"), "[::1]:8081");
  EXPECT_EQ(url_authority("127.0.0.1:8081"), "127.0.0.1:8081");
  EXPECT_EQ(url_authority("keel-0.keel-cluster.ns.svc:8080"), "keel-0.keel-cluster.ns.svc:8080");
  EXPECT_EQ(url_authority("nohost"), "nohost");
}

}  // namespace
}  // namespace keel::http
