# `cmake --install`: Keel as a package an application outside this tree finds with
# find_package(Keel CONFIG REQUIRED) and links as Keel::runtime, Keel::cluster and
# Keel::node (the node host, keel::node_main), and its tests as Keel::testing: the
# libraries, every header with the generated protobuf ones and the .proto files, the tools
# (keel-node, keelctl), and a relocatable CMake package (paths relative to the prefix).
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set_target_properties(keel_runtime PROPERTIES EXPORT_NAME runtime)
set_target_properties(keel_cluster PROPERTIES EXPORT_NAME cluster)
set_target_properties(keel_node PROPERTIES EXPORT_NAME node)
set_target_properties(keel_httplib PROPERTIES EXPORT_NAME httplib)
# Linked by keel_node only (span export); its headers stay out of the package.
set_target_properties(keel_otlp PROPERTIES EXPORT_NAME otlp)
set_target_properties(keel_testing PROPERTIES EXPORT_NAME testing)
foreach(lib keel_runtime keel_cluster keel_node keel_testing)
  target_include_directories(${lib} PUBLIC $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
endforeach()

install(TARGETS keel_runtime keel_cluster keel_node keel_testing keel_httplib keel_otlp
  EXPORT KeelTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(TARGETS keel-node keelctl RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})

# Headers and .proto files as they sit in the tree, generated headers next to them.
foreach(module runtime cluster node testing)
  install(DIRECTORY ${PROJECT_SOURCE_DIR}/${module}/keel/
    DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/keel
    FILES_MATCHING PATTERN "*.hpp" PATTERN "*.proto")
endforeach()
foreach(module runtime cluster)
  install(DIRECTORY ${PROJECT_BINARY_DIR}/${module}/gen/keel/
    DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/keel
    FILES_MATCHING PATTERN "*.pb.h")
endforeach()

set(KEEL_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/Keel)
install(EXPORT KeelTargets NAMESPACE Keel:: DESTINATION ${KEEL_CMAKE_DIR})
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/KeelConfig.cmake.in
  ${PROJECT_BINARY_DIR}/KeelConfig.cmake
  INSTALL_DESTINATION ${KEEL_CMAKE_DIR}
  PATH_VARS CMAKE_INSTALL_INCLUDEDIR)
# 0.x: a minor version may change the API.
write_basic_package_version_file(${PROJECT_BINARY_DIR}/KeelConfigVersion.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/KeelConfig.cmake ${PROJECT_BINARY_DIR}/KeelConfigVersion.cmake
  ${PROJECT_SOURCE_DIR}/cmake/KeelFindCAF.cmake ${PROJECT_SOURCE_DIR}/cmake/KeelProtobuf.cmake
  DESTINATION ${KEEL_CMAKE_DIR})
