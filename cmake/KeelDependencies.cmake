# Finds Keel's Debian-packaged dependencies and exposes each as an imported target.
find_package(Threads REQUIRED)

# CAF 0.17 ships no CMake config (CAF_NOTES.md §2).
find_path(CAF_INCLUDE_DIR caf/all.hpp)
find_library(CAF_CORE_LIBRARY NAMES caf_core)
find_library(CAF_IO_LIBRARY NAMES caf_io)
if(NOT CAF_INCLUDE_DIR OR NOT CAF_CORE_LIBRARY OR NOT CAF_IO_LIBRARY)
  message(FATAL_ERROR "CAF not found: apt-get install libcaf-dev")
endif()
add_library(CAF::core UNKNOWN IMPORTED)
set_target_properties(CAF::core PROPERTIES IMPORTED_LOCATION "${CAF_CORE_LIBRARY}"
  INTERFACE_INCLUDE_DIRECTORIES "${CAF_INCLUDE_DIR}" INTERFACE_LINK_LIBRARIES Threads::Threads)
add_library(CAF::io UNKNOWN IMPORTED)
set_target_properties(CAF::io PROPERTIES IMPORTED_LOCATION "${CAF_IO_LIBRARY}"
  INTERFACE_LINK_LIBRARIES CAF::core)

find_package(Protobuf REQUIRED)
find_package(leveldb REQUIRED)
find_package(spdlog REQUIRED)
find_package(fmt REQUIRED)
find_package(GTest REQUIRED)
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

# Generates the C++ of a target's .proto sources (listed in its sources, relative to the
# folder that owns the target, so "keel/x/y.proto" includes as "keel/x/y.pb.h") and puts
# the folder and the generated code on its public include path.
function(keel_generate_protos target)
  file(MAKE_DIRECTORY ${CMAKE_CURRENT_BINARY_DIR}/gen)
  protobuf_generate(TARGET ${target}
    IMPORT_DIRS ${CMAKE_CURRENT_SOURCE_DIR}
    PROTOC_OUT_DIR ${CMAKE_CURRENT_BINARY_DIR}/gen)
  target_include_directories(${target} PUBLIC
    ${CMAKE_CURRENT_SOURCE_DIR} ${CMAKE_CURRENT_BINARY_DIR}/gen)
endfunction()
