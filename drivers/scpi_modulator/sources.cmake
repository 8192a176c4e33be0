# SCPI modulator `usbtmc-awg` (docs/usbtmc.md): profile.cpp turns an instrument profile
# (config/devices/*.yaml) and a schedule into SCPI text; modulator.cpp is the hal::Modulator.
target_sources(dira_drivers PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/profile.cpp
  ${CMAKE_CURRENT_LIST_DIR}/modulator.cpp
)
# Profiles are read with the config toolkit (conf/: one reader, one search path).
