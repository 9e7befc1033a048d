#include "keel/cluster/shared_etcd_client.hpp"

#include "keel/cluster/etcd_client.hpp"

namespace keel::cluster {

shared_etcd_client::shared_etcd_client(std::string endpoint) : endpoint_(std::move(endpoint)) {}

shared_etcd_client::~shared_etcd_client() = default;

shared_etcd_client::borrowed shared_etcd_client::borrow() {
  std::unique_lock lock{mutex_};
  if (!client_) client_ = std::make_unique<etcd_client>(endpoint_);
  return borrowed{std::move(lock), client_.get()};
}

}  // namespace keel::cluster
