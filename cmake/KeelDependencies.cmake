# Finds Keel's Debian-packaged dependencies and exposes each as an imported target.
find_package(Threads REQUIRED)

include(${CMAKE_CURRENT_LIST_DIR}/KeelFindCAF.cmake)

find_package(Protobuf REQUIRED)
find_package(leveldb REQUIRED)
find_package(spdlog REQUIRED)
find_package(fmt REQUIRED)
find_package(GTest REQUIRED)
# SHA-256 and a constant-time compare for API keys.
find_package(OpenSSL REQUIRED)
find_path(CLI11_INCLUDE_DIR CLI/CLI.hpp REQUIRED)
find_path(HTTPLIB_INCLUDE_DIR httplib.h REQUIRED)
find_library(HTTPLIB_LIBRARY NAMES cpp-httplib)
find_path(ASIO_INCLUDE_DIR asio.hpp REQUIRED)

# Debian builds cpp-httplib as a library with TLS, zlib and brotli: its headers must see the
# same macros, or class layouts differ between our code and the library.
add_library(keel_httplib INTERFACE)
target_include_directories(keel_httplib INTERFACE ${HTTPLIB_INCLUDE_DIR})
target_compile_definitions(keel_httplib INTERFACE CPPHTTPLIB_OPENSSL_SUPPORT
  CPPHTTPLIB_ZLIB_SUPPORT CPPHTTPLIB_BROTLI_SUPPORT)
target_link_libraries(keel_httplib INTERFACE ${HTTPLIB_LIBRARY} Threads::Threads)

# jemalloc is the executables' malloc: mailbox elements, envelopes and replies are allocated
# on one thread and freed on another, which glibc's per-thread caches serve poorly
# (docs/benchmarks.md). Every program Keel measures, baselines included, links it.
find_library(JEMALLOC_LIBRARY NAMES jemalloc REQUIRED)
add_library(keel_malloc INTERFACE)
target_link_libraries(keel_malloc INTERFACE ${JEMALLOC_LIBRARY})

find_package(restinio REQUIRED)
# RESTinio's HTTP parser; rideshare-sim's client parses responses with it too.
find_path(HTTP_PARSER_INCLUDE_DIR http_parser.h REQUIRED)
find_library(HTTP_PARSER_LIBRARY NAMES http_parser REQUIRED)
add_library(keel_http_parser INTERFACE)
target_include_directories(keel_http_parser INTERFACE ${HTTP_PARSER_INCLUDE_DIR})
target_link_libraries(keel_http_parser INTERFACE ${HTTP_PARSER_LIBRARY})
# Parses request bodies for the JSON mapping's common cases (docs/architecture.md).
find_package(simdjson REQUIRED)

include(${CMAKE_CURRENT_LIST_DIR}/KeelProtobuf.cmake)
