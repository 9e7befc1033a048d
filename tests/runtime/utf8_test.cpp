#include "keel/runtime/utf8.hpp"

#include <gtest/gtest.h>

namespace keel {
namespace {

TEST(Utf8, AcceptsEveryWellFormedLengthAtItsBounds) {
  for (std::string_view ok : {"", "plain ascii", "\x7f", "\xc2\x80", "\xdf\xbf", "\xe0\xa0\x80",
                              "\xed\x9f\xbf", "\xee\x80\x80", "\xef\xbf\xbf", "\xf0\x90\x80\x80",
                              "\xf4\x8f\xbf\xbf", "M\xc3\xbcnchen \xe2\x86\x92 \xf0\x9f\x9a\x95"})
    EXPECT_EQ(invalid_utf8_at(ok), std::nullopt) << ok;
}

TEST(Utf8, NamesTheFirstByteOfTheFirstIllFormedSequence) {
  const std::pair<std::string_view, size_t> cases[] = {
      {"\xc0\xaf", 0},              // overlong '/': the issue's %C0%AF
      {"ab\xc1\xbf", 2},            // overlong
      {"\xe0\x80\xaf", 0},          // overlong three-byte form
      {"\xf0\x80\x80\xaf", 0},      // overlong four-byte form
      {"x\xed\xa0\x80", 1},         // a surrogate, U+D800
      {"\xed\xbf\xbf", 0},          // a surrogate, U+DFFF
      {"\xf4\x90\x80\x80", 0},      // U+110000
      {"\xf5\x80\x80\x80", 0},      // no such lead
      {"\xff", 0},                  //
      {"ok\x80", 2},                // a stray continuation byte
      {"\xc3", 0},                  // cut short at the end
      {"\xe2\x86", 0},              //
      {"\xf0\x9f\x9a", 0},          //
      {"\xc3(", 0},                 // a lead followed by no continuation
      {"\xe2\x86(", 0},             //
      {"\xc3\xbc\xc3\xbc\xc0", 4},  // after good ones
  };
  for (auto [text, at] : cases)
    EXPECT_EQ(invalid_utf8_at(text), at) << testing::PrintToString(text);
}

}  // namespace
}  // namespace keel
