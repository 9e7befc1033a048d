#include "keel/cluster/ssl_error_queue.hpp"

#include <dlfcn.h>

#include <cstdio>
#include <cstdlib>

#include <openssl/err.h>
#include <openssl/ssl.h>

namespace {

// libssl's definition of `name`, the one these stand in front of. Without it no TLS call
// can work: the process stops, naming it.
template <class Fn>
Fn* libssl_definition(const char* name) noexcept {
  auto* fn = reinterpret_cast<Fn*>(dlsym(RTLD_NEXT, name));
  if (fn) return fn;
  std::fprintf(stderr, "keel: libssl's %s not found: %s\n", name, dlerror());
  std::abort();
}

}  // namespace

// Called by CAF's openssl module (and by any other caller in the process) on the thread
// that runs the session; as thread-safe as libssl's own.
extern "C" {

__attribute__((visibility("default"))) int SSL_read(SSL* ssl, void* buf, int num) {
  static auto* next = libssl_definition<int(SSL*, void*, int)>("SSL_read");
  ERR_clear_error();
  return next(ssl, buf, num);
}

__attribute__((visibility("default"))) int SSL_write(SSL* ssl, const void* buf, int num) {
  static auto* next = libssl_definition<int(SSL*, const void*, int)>("SSL_write");
  ERR_clear_error();
  return next(ssl, buf, num);
}

__attribute__((visibility("default"))) int SSL_connect(SSL* ssl) {
  static auto* next = libssl_definition<int(SSL*)>("SSL_connect");
  ERR_clear_error();
  return next(ssl);
}

__attribute__((visibility("default"))) int SSL_accept(SSL* ssl) {
  static auto* next = libssl_definition<int(SSL*)>("SSL_accept");
  ERR_clear_error();
  return next(ssl);
}

// Named by keel_cluster's link options (`--undefined`), so that every binary linking
// keel_cluster links this file, and with it the four functions above.
__attribute__((visibility("default"))) void keel_ssl_error_queue_anchor() {}

}  // extern "C"

namespace keel::cluster {

bool ssl_error_queue_guarded() noexcept {
  // What a call from a shared library (CAF's) binds to: the first definition in the
  // process's global search order.
  return dlsym(RTLD_DEFAULT, "SSL_read") == reinterpret_cast<void*>(&SSL_read) &&
         dlsym(RTLD_DEFAULT, "SSL_write") == reinterpret_cast<void*>(&SSL_write) &&
         dlsym(RTLD_DEFAULT, "SSL_connect") == reinterpret_cast<void*>(&SSL_connect) &&
         dlsym(RTLD_DEFAULT, "SSL_accept") == reinterpret_cast<void*>(&SSL_accept);
}

}  // namespace keel::cluster
