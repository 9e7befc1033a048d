#pragma once

namespace keel::cluster {

/// OpenSSL keeps one error queue per thread, and SSL_get_error() reads it first: a call
/// that would block is reported as SSL_ERROR_SSL while any error, from any session, is
/// still queued (SSL_get_error(3): "the current thread's error queue must be empty before
/// the TLS/SSL I/O operation is attempted"). CAF 0.17's openssl sessions neither clear it
/// before SSL_read, SSL_write, SSL_connect and SSL_accept nor drain it after a failure
/// (their only ERR_get_error() is in a log statement Debian's build compiles out). One
/// session's error (a peer's close without close_notify is "unexpected eof while reading"
/// in OpenSSL 3) then fails every other session of that multiplexer thread at its next
/// read or write, until a new handshake happens to clear the queue.
///
/// So Keel's binaries define those four functions themselves (ssl_error_queue.cpp): each
/// clears the calling thread's queue, then calls libssl's. Their definitions in the
/// executable come first in the dynamic linker's search, ahead of libssl's, for CAF's calls
/// too. True when this process's calls reach them. Any thread may call it.
bool ssl_error_queue_guarded() noexcept;

}  // namespace keel::cluster
