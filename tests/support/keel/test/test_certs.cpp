#include "keel/test/test_certs.hpp"

#include <fstream>
#include <sstream>
#include <stdexcept>
#include <vector>

#include "keel/test/node_process.hpp"

namespace keel::test {

namespace {

std::vector<std::string> split(const std::string& args) {
  std::vector<std::string> out;
  std::istringstream in{args};
  for (std::string word; in >> word;) out.push_back(word);
  return out;
}

}  // namespace

void test_certs::run(const std::string& what, const std::string& args) const {
  std::string output;
  if (run_to_exit("/usr/bin/openssl", split(args), output) != 0)
    throw std::runtime_error("openssl failed making " + what + ": " + output);
}

void test_certs::make_ca(const std::string& name) {
  run("CA " + name, "req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout " +
                        key(name) + " -out " + cert(name) + " -days 30 -subj /CN=" + name);
}

void test_certs::issue(const std::string& ca, const std::string& name, int days) {
  auto csr = dir_ + "/" + name + ".csr";
  auto ext = dir_ + "/" + name + ".ext";
  std::ofstream{ext} << "subjectAltName=IP:127.0.0.1,DNS:localhost\n"
                        "extendedKeyUsage=serverAuth,clientAuth\n";
  run("key " + name, "req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout " +
                         key(name) + " -out " + csr + " -subj /CN=" + name);
  run("certificate " + name, "x509 -req -in " + csr + " -CA " + cert(ca) + " -CAkey " + key(ca) +
                                 " -CAcreateserial -out " + cert(name) + " -days " +
                                 std::to_string(days) + " -extfile " + ext);
}

}  // namespace keel::test
