#include "keel/runtime/http/api_keys.hpp"

#include <algorithm>
#include <charconv>
#include <fstream>
#include <sstream>
#include <vector>

#include <fmt/format.h>
#include <openssl/crypto.h>
#include <openssl/sha.h>

#include "keel/runtime/errc.hpp"

namespace keel::http {

namespace {

std::string sha256(std::string_view text) {
  std::string digest(SHA256_DIGEST_LENGTH, '\0');
  SHA256(reinterpret_cast<const unsigned char*>(text.data()), text.size(),
         reinterpret_cast<unsigned char*>(digest.data()));
  return digest;
}

std::vector<std::string_view> words_of(std::string_view line) {
  std::vector<std::string_view> words;
  size_t i = 0;
  auto blank = [](char c) { return c == ' ' || c == '\t' || c == '\r'; };
  while (i < line.size()) {
    while (i < line.size() && blank(line[i])) ++i;
    size_t start = i;
    while (i < line.size() && !blank(line[i])) ++i;
    if (i > start) words.push_back(line.substr(start, i - start));
  }
  return words;
}

std::optional<api_scope> parse_scope(std::string_view text) {
  for (auto scope : {api_scope::public_, api_scope::partner, api_scope::admin})
    if (text == scope_name(scope)) return scope;
  return std::nullopt;
}

// Names end up in metric labels and logs: a small alphabet needs no escaping anywhere.
bool valid_name(std::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '.' || c == '-';
    if (!ok) return false;
  }
  return true;
}

// RATE: requests per second ("5"), or written like --rate-limit ("100/s,burst=200").
caf::expected<rate_limit> parse_key_rate(std::string_view text) {
  double per_second = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), per_second);
  if (ec == std::errc{} && end == text.data() + text.size()) {
    if (per_second > 0) return rate_limit{per_second, std::max(1.0, per_second)};
  } else if (auto parsed = parse_rate_limit(text); parsed && *parsed) {
    return **parsed;
  }
  return make_error(errc::bad_payload,
                    fmt::format("RATE '{}' must be requests per second (e.g. 5) or a rate such "
                                "as 100/s,burst=200",
                                text));
}

// One key's line, its comment removed; `number` is the line number for the default name.
caf::expected<std::pair<std::string, api_key>> parse_line(const std::vector<std::string_view>& w,
                                                          size_t number) {
  api_key key;
  if (w.size() == 1) {
    key.name = fmt::format("line-{}", number);
    return std::pair{std::string{w[0]}, std::move(key)};
  }
  if (w.size() < 3 || w.size() > 4)
    return make_error(
        errc::bad_payload,
        fmt::format("expected KEY SCOPE NAME [RATE] or a key alone, not {} words", w.size()));
  auto scope = parse_scope(w[1]);
  if (!scope)
    return make_error(errc::bad_payload,
                      fmt::format("unknown scope '{}' (public, partner or admin)", w[1]));
  key.scope = *scope;
  if (!valid_name(w[2]))
    return make_error(errc::bad_payload,
                      fmt::format("name '{}' must be 1-64 of A-Z a-z 0-9 _ . -", w[2]));
  key.name = std::string{w[2]};
  if (w.size() == 4) {
    auto rate = parse_key_rate(w[3]);
    if (!rate) return rate.error();
    key.limit = *rate;
  }
  return std::pair{std::string{w[0]}, std::move(key)};
}

}  // namespace

std::string_view scope_name(api_scope scope) noexcept {
  switch (scope) {
    case api_scope::public_:
      return "public";
    case api_scope::partner:
      return "partner";
    case api_scope::admin:
      return "admin";
  }
  return "admin";
}

caf::expected<api_key_table> api_key_table::parse(std::string_view text, std::string_view source) {
  api_key_table table;
  std::unordered_map<std::string, size_t> name_lines;
  size_t number = 0;
  while (!text.empty()) {
    auto end = text.find('\n');
    auto line = text.substr(0, end);
    text = end == std::string_view::npos ? std::string_view{} : text.substr(end + 1);
    ++number;
    auto words = words_of(line.substr(0, line.find('#')));
    if (words.empty()) continue;
    auto where = fmt::format("{}:{}", source, number);
    auto parsed = parse_line(words, number);
    if (!parsed) return make_error(errc::bad_payload, where + ": " + message_of(parsed.error()));
    auto& [secret, key] = *parsed;
    if (auto [it, fresh] = name_lines.emplace(key.name, number); !fresh)
      return make_error(errc::bad_payload, fmt::format("{}: name '{}' is already used on line {}",
                                                       where, key.name, it->second));
    auto digest = sha256(secret);
    if (table.by_digest_.contains(digest))
      return make_error(errc::bad_payload, where + ": this key is already on an earlier line");
    table.by_digest_.emplace(std::move(digest), std::move(key));
  }
  if (table.by_digest_.empty())
    return make_error(
        errc::bad_payload,
        fmt::format("{}: no key (a line is KEY SCOPE NAME [RATE] or a key alone)", source));
  return table;
}

caf::expected<api_key_table> api_key_table::read_file(const std::string& path) {
  std::ifstream in{path};
  if (!in) return make_error(errc::bad_payload, "cannot read API keys file " + path);
  std::stringstream text;
  text << in.rdbuf();
  if (in.bad()) return make_error(errc::bad_payload, "cannot read API keys file " + path);
  return parse(text.str(), path);
}

const api_key* api_key_table::find(std::string_view presented) const {
  // The map is searched by digest, never by the key: how long its comparisons take can only
  // tell about digests, from which no key can be worked back.
  auto digest = sha256(presented);
  auto it = by_digest_.find(digest);
  if (it == by_digest_.end()) return nullptr;
  if (CRYPTO_memcmp(it->first.data(), digest.data(), digest.size()) != 0) return nullptr;
  return &it->second;
}

}  // namespace keel::http
