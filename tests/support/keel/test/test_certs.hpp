#pragma once

#include <string>

namespace keel::test {

/// Certificate authorities and the certificates they sign, made by the `openssl` CLI in a
/// directory the caller owns: NAME.crt and NAME.key, PEM, EC P-256 keys. Every leaf
/// certificate names 127.0.0.1 and localhost and may serve and authenticate clients, so
/// one serves a node, etcd or a test client alike. Throws std::runtime_error with
/// openssl's output if a command fails.
/// Thread safety: externally synchronized.
class test_certs {
 public:
  explicit test_certs(std::string dir) : dir_(std::move(dir)) {}

  /// A self-signed CA, valid 30 days.
  void make_ca(const std::string& name);
  /// A certificate `name` signed by CA `ca`, valid for `days` from now (negative: it
  /// expired that many days ago).
  void issue(const std::string& ca, const std::string& name, int days = 30);

  std::string cert(const std::string& name) const { return dir_ + "/" + name + ".crt"; }
  std::string key(const std::string& name) const { return dir_ + "/" + name + ".key"; }

 private:
  void run(const std::string& what, const std::string& args) const;
  std::string dir_;
};

}  // namespace keel::test
