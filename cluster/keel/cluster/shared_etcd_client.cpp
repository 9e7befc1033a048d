#include "keel/cluster/shared_etcd_client.hpp"

#include "keel/cluster/etcd_client.hpp"

namespace keel::cluster {

shared_etcd_client::shared_etcd_client(std::string endpoint, etcd_tls tls)
    : endpoint_(std::move(endpoint)), tls_(std::move(tls)) {}

shared_etcd_client::~shared_etcd_client() = default;

shared_etcd_client::borrowed shared_etcd_client::borrow() {
  std::unique_lock lock{mutex_};
  if (!client_) client_ = std::make_unique<etcd_client>(endpoint_, tls_);
  return borrowed{std::move(lock), client_.get()};
}

}  // namespace keel::cluster
