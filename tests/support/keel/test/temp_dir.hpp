#pragma once

#include <string>

namespace keel::test {

/// A fresh directory under $TMPDIR, removed with everything in it on destruction.
/// Thread safety: externally synchronized (one test owns it).
class temp_dir {
 public:
  temp_dir();
  ~temp_dir();
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;
  const std::string& path() const noexcept { return path_; }
  /// `path()/name`.
  std::string sub(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

/// The whole content of the file at `path` ("" if it cannot be read).
std::string read_file(const std::string& path);

}  // namespace keel::test
