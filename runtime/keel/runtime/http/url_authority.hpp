#pragma once

#include <string>

namespace keel::http {

/// A node's address as it registered ("advertise-host:port", written as is) in the form a
/// URL and the Host header take: an IPv6 host in brackets ("::1:8081" -> "[::1]:8081",
/// RFC 3986), anything else unchanged, a bracketed one too. Any thread.
std::string url_authority(const std::string& registered);

}  // namespace keel::http
