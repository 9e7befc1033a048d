#pragma once

#include <memory>
#include <mutex>
#include <string>

#include "keel/cluster/etcd_tls.hpp"

namespace keel::cluster {

class etcd_client;

/// The one etcd connection through which this node writes everything but its own lease:
/// placements, table writes, drain marks, rebalance progress, resigning, declaring a member
/// down. A caller borrows it for its whole exchange, so those writes never interleave: a
/// placement that waits for an election keeps table writes and drains waiting behind it.
/// Thread safety: thread-safe; a borrowed client is used only by the borrowing thread, and
/// only while it holds the borrow.
class shared_etcd_client {
 public:
  /// Exclusive use of the connection until destroyed.
  class borrowed {
   public:
    etcd_client& operator*() const noexcept { return *client_; }
    etcd_client* operator->() const noexcept { return client_; }

   private:
    friend class shared_etcd_client;
    borrowed(std::unique_lock<std::mutex> lock, etcd_client* client)
        : lock_(std::move(lock)), client_(client) {}
    std::unique_lock<std::mutex> lock_;
    etcd_client* client_;
  };

  /// `endpoint` is etcd's "host:port"; nothing connects before the first borrow().
  shared_etcd_client(std::string endpoint, etcd_tls tls);
  ~shared_etcd_client();
  shared_etcd_client(const shared_etcd_client&) = delete;
  shared_etcd_client& operator=(const shared_etcd_client&) = delete;

  /// Blocks while another thread holds it.
  borrowed borrow();

 private:
  const std::string endpoint_;
  const etcd_tls tls_;
  std::mutex mutex_;
  std::unique_ptr<etcd_client> client_;  // made on first borrow; guarded by mutex_
};

}  // namespace keel::cluster
