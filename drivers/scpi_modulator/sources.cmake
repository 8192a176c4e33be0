# SCPI modulator `usbtmc-awg` (docs/usbtmc.md): profile.cpp turns an instrument profile
# (config/devices/*.yaml) and a schedule into SCPI text; modulator.cpp is the hal::Modulator.
target_sources(dira_drivers PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/profile.cpp
  ${CMAKE_CURRENT_LIST_DIR}/modulator.cpp
)
target_link_libraries(dira_drivers PRIVATE yaml-cpp)
# Profiles are found in the source tree's config/devices/ without installing (like app/'s inequalities).
set_source_files_properties(${CMAKE_CURRENT_LIST_DIR}/profile.cpp PROPERTIES
  COMPILE_DEFINITIONS "DIRA_SOURCE_CONFIG_DIR=\"${DIRA_SOURCE_CONFIG_DIR}\"")
