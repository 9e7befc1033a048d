// Keel's guard in front of libssl's I/O calls (ssl_error_queue.hpp): an error another
// session left on this thread's OpenSSL error queue must not make a read that merely has
// to wait look like a failure of this session.
#include "keel/cluster/ssl_error_queue.hpp"

#include <dlfcn.h>

#include <memory>

#include <gtest/gtest.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "keel/test/temp_dir.hpp"
#include "keel/test/test_certs.hpp"

namespace keel::cluster {
namespace {

struct ssl_ctx_free {
  void operator()(SSL_CTX* ctx) const { SSL_CTX_free(ctx); }
};
struct ssl_free {
  void operator()(SSL* ssl) const { SSL_free(ssl); }
};
using ctx_ptr = std::unique_ptr<SSL_CTX, ssl_ctx_free>;
using ssl_ptr = std::unique_ptr<SSL, ssl_free>;
using read_fn = int (*)(SSL*, void*, int);

// TLS 1.2, as CAF's sessions speak it.
ctx_ptr tls12(const SSL_METHOD* method) {
  ctx_ptr ctx{SSL_CTX_new(method)};
  SSL_CTX_set_max_proto_version(ctx.get(), TLS1_2_VERSION);
  return ctx;
}

// A client and a server session joined by an in-memory pipe, handshake done, nothing sent.
class connected_pair {
 public:
  connected_pair() {
    certs_.make_ca("ca");
    certs_.issue("ca", "server");
    SSL_CTX_use_certificate_file(server_ctx_.get(), certs_.cert("server").c_str(),
                                 SSL_FILETYPE_PEM);
    SSL_CTX_use_PrivateKey_file(server_ctx_.get(), certs_.key("server").c_str(), SSL_FILETYPE_PEM);
    client_.reset(SSL_new(client_ctx_.get()));
    server_.reset(SSL_new(server_ctx_.get()));  // after the certificate: SSL_new copies it
    BIO* client_end = nullptr;
    BIO* server_end = nullptr;
    BIO_new_bio_pair(&client_end, 0, &server_end, 0);
    SSL_set_bio(client_.get(), client_end, client_end);
    SSL_set_bio(server_.get(), server_end, server_end);
    SSL_set_connect_state(client_.get());
    SSL_set_accept_state(server_.get());
    for (int step = 0; step < 10 && !done_; ++step)
      done_ = (SSL_do_handshake(client_.get()) == 1) & (SSL_do_handshake(server_.get()) == 1);
  }
  bool connected() const { return done_; }
  SSL* client() const { return client_.get(); }

 private:
  test::temp_dir dir_;
  test::test_certs certs_{dir_.path()};
  ctx_ptr client_ctx_ = tls12(TLS_client_method());
  ctx_ptr server_ctx_ = tls12(TLS_server_method());
  ssl_ptr client_;
  ssl_ptr server_;
  bool done_ = false;
};

// What SSL_get_error says of a read with nothing to read, through `read`, while an error
// another session left (its peer closed without close_notify) is queued.
int read_with_stale_error(SSL* ssl, read_fn read) {
  ERR_raise(ERR_LIB_SSL, SSL_R_UNEXPECTED_EOF_WHILE_READING);
  char buf[16];
  int ret = read(ssl, buf, sizeof buf);
  int err = SSL_get_error(ssl, ret);
  ERR_clear_error();
  return ret == -1 ? err : -100 - ret;
}

TEST(SslErrorQueue, CallsFromSharedLibrariesReachTheGuard) {
  EXPECT_TRUE(ssl_error_queue_guarded());
}

TEST(SslErrorQueue, AnotherSessionsQueuedErrorDoesNotFailAReadThatMustWait) {
  connected_pair pair;
  ASSERT_TRUE(pair.connected());
  // The SSL_read CAF's openssl module binds to, as any shared library does.
  auto guarded = reinterpret_cast<read_fn>(dlsym(RTLD_DEFAULT, "SSL_read"));
  auto unguarded = reinterpret_cast<read_fn>(dlsym(RTLD_NEXT, "SSL_read"));
  ASSERT_TRUE(guarded && unguarded);
  EXPECT_EQ(read_with_stale_error(pair.client(), guarded), SSL_ERROR_WANT_READ);
  // libssl's own SSL_read, unguarded, reports the other session's error as this one's.
  EXPECT_EQ(read_with_stale_error(pair.client(), unguarded), SSL_ERROR_SSL);
  // And the session is fine: the guarded read still only has to wait.
  EXPECT_EQ(read_with_stale_error(pair.client(), guarded), SSL_ERROR_WANT_READ);
}

}  // namespace
}  // namespace keel::cluster
