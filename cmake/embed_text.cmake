# Writes OUTPUT, a C++ file defining `std::string_view NAMESPACE::FUNCTION()` (declared in
# HEADER) that returns the bytes of INPUT, so a text asset such as the dashboard page is
# edited as its own file and still ships inside the binary. Run at build time:
#   cmake -DINPUT=page.html -DOUTPUT=page.cpp -DHEADER=a/b.hpp -DNAMESPACE=a::b
#         -DFUNCTION=page_html -P embed_text.cmake
foreach(arg INPUT OUTPUT HEADER NAMESPACE FUNCTION)
  if(NOT DEFINED ${arg})
    message(FATAL_ERROR "embed_text.cmake: -D${arg}=... is missing")
  endif()
endforeach()

# Not configure_file or string(CONFIGURE): they would expand the page's own ${...} and @...@.
file(READ "${INPUT}" text)
# INLINE: scripts kept as files of their own, separated by commas; each `<script
# src="NAME"></script>` in INPUT becomes the script's text, so the embedded page still loads
# nothing else.
string(REPLACE "," ";" INLINE "${INLINE}")
foreach(script ${INLINE})
  get_filename_component(name "${script}" NAME)
  file(READ "${script}" code)
  set(tag "<script src=\"${name}\"></script>")
  string(FIND "${text}" "${tag}" at)
  if(at EQUAL -1)
    message(FATAL_ERROR "embed_text.cmake: ${INPUT} has no ${tag}")
  endif()
  string(REPLACE "${tag}" "<script>\n${code}</script>" text "${text}")
endforeach()
set(delimiter "keel_embed")
string(FIND "${text}" ")${delimiter}\"" clash)
if(NOT clash EQUAL -1)
  message(FATAL_ERROR "${INPUT} contains )${delimiter}\", which would end the raw string early")
endif()

file(WRITE "${OUTPUT}.tmp"
  "// Generated from ${INPUT} by cmake/embed_text.cmake: edit that file, not this one.\n"
  "#include \"${HEADER}\"\n\n"
  "namespace ${NAMESPACE} {\n\n"
  "std::string_view ${FUNCTION}() {\n"
  "  static constexpr std::string_view text = R\"${delimiter}(${text})${delimiter}\";\n"
  "  return text;\n"
  "}\n\n"
  "}  // namespace ${NAMESPACE}\n")
# Only a changed page recompiles the file.
file(COPY_FILE "${OUTPUT}.tmp" "${OUTPUT}" ONLY_IF_DIFFERENT)
file(REMOVE "${OUTPUT}.tmp")
