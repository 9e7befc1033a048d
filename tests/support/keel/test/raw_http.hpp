#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <string>

namespace keel::test {

struct raw_response {
  int status = 0;
  std::map<std::string, std::string> headers;  // lowercase names
  std::string body;
};

/// One TCP connection to a node on loopback, written and read byte by byte as a test says:
/// for requests an HTTP client library would refuse to send.
/// Thread safety: none; one thread uses a connection.
class raw_connection {
 public:
  /// Throws std::runtime_error if 127.0.0.1:`port` refuses.
  explicit raw_connection(int port);
  ~raw_connection();
  raw_connection(const raw_connection&) = delete;
  raw_connection(raw_connection&& o) noexcept;

  /// Sends all of `bytes`; false if the connection broke.
  bool send(const std::string& bytes);

  /// The next response (a HEAD one has no body whatever its Content-Length); nullopt if
  /// the connection ends first or nothing comes within `limit`.
  std::optional<raw_response> read_response(bool head = false,
                                            std::chrono::milliseconds limit = std::chrono::seconds{
                                                10});

  /// True when the node has closed the connection: end of stream (or a reset) within
  /// `limit`, with no byte before it.
  bool closed_by_peer(std::chrono::milliseconds limit);
  /// True when the connection is open with nothing to read right now.
  bool open_and_quiet();

 private:
  bool fill(std::chrono::milliseconds limit);

  int fd_ = -1;
  std::string buffer_;
};

/// Takes one response off the front of `buffer` (a HEAD one has no body), calling `fill`
/// to append more bytes while it is incomplete; nullopt when `fill` returns false first.
std::optional<raw_response> read_response_from(std::string& buffer, bool head,
                                               const std::function<bool()>& fill);

}  // namespace keel::test
