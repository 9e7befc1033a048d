#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include <http_parser.h>

#include "sim_options.hpp"

namespace keel::sim {

/// One HTTP exchange as the sim saw it.
/// A plain value; immutable once returned.
struct http_reply {
  int status = 0;  // 0: no HTTP answer at all, see `transport_error`
  std::string body;
  std::string transport_error;  // what went wrong when status is 0: Connection, Write, Read
  // The node that owns the actor asked, as the answering node routed it (its
  // Keel-Owner-Address header; "" without one): where the actor's next requests may go.
  std::string owner_address;

  bool ok() const { return status >= 200 && status < 300; }
  /// "409 conflict", "503 unavailable" or "transport Read": the key errors are tallied by.
  std::string error_key() const;
};

http_reply transport_failure(std::string what);

/// Writes one request, headers and body together, into `out` (cleared first): it leaves in
/// one send, as browsers and curl send small requests.
void format_request(std::string& out, std::string_view method, std::string_view path,
                    const endpoint& node, std::string_view body);

/// Reads one HTTP/1.1 response from the bytes of a connection, with http_parser (the parser
/// RESTinio uses). Not movable: the parser points at it.
/// Thread safety: externally synchronized (one exchange, one thread).
class response_reader {
 public:
  response_reader();
  response_reader(const response_reader&) = delete;
  response_reader& operator=(const response_reader&) = delete;

  /// Feeds the next bytes received. False when they are not a valid response; failure()
  /// then says why.
  bool feed(const char* data, size_t size);
  bool complete() const { return complete_; }
  /// Whether the connection may carry the next request (only meaningful once complete).
  bool keep_alive() const { return keep_alive_; }
  http_reply failure() const;
  /// The response read; requires complete().
  http_reply take();

 private:
  http_parser parser_;
  std::string body_;
  std::string field_;            // the header name being read
  bool field_complete_ = false;  // its value has begun: the next name starts afresh
  std::string owner_address_;
  bool complete_ = false;
  bool keep_alive_ = false;
};

/// A kept connection unused this long may have been closed by the node's keep-alive
/// timeout; it is checked before reuse (busy connections are not: that check is a syscall).
inline constexpr std::chrono::milliseconds idle_check_after{500};

/// True if the kept connection `fd` is still usable: nothing to read while no response is
/// owed. Readable means closed, broken, or bytes nobody asked for (a server's parting error
/// page): none of them is usable.
bool idle_connection_usable(int fd);

}  // namespace keel::sim
