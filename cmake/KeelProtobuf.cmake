# keel_generate_protos(TARGET [IMPORT_DIRS DIR...]): generates the C++ of a target's .proto
# sources (listed in its sources, relative to the folder that owns the target, so
# "my/app/x.proto" includes as "my/app/x.pb.h") and puts the folder and the generated code
# on its public include path. Keel's own .proto files (keel/runtime/builtin.proto, ...) can
# be imported: KEEL_PROTO_IMPORT_DIRS holds where they are. Used by the build and, from
# the installed package, by applications.
function(keel_generate_protos target)
  cmake_parse_arguments(arg "" "" "IMPORT_DIRS" ${ARGN})
  file(MAKE_DIRECTORY ${CMAKE_CURRENT_BINARY_DIR}/gen)
  protobuf_generate(TARGET ${target}
    IMPORT_DIRS ${CMAKE_CURRENT_SOURCE_DIR} ${arg_IMPORT_DIRS} ${KEEL_PROTO_IMPORT_DIRS}
    PROTOC_OUT_DIR ${CMAKE_CURRENT_BINARY_DIR}/gen)
  target_include_directories(${target} PUBLIC
    $<BUILD_INTERFACE:${CMAKE_CURRENT_SOURCE_DIR}>
    $<BUILD_INTERFACE:${CMAKE_CURRENT_BINARY_DIR}/gen>)
endfunction()
