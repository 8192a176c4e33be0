# drivers/picoquant: PicoQuant PTU (TTTR) files replayed as a hal::TimeTagger (docs/ptu.md).
target_sources(dira_drivers PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/ptu_format.cpp
  ${CMAKE_CURRENT_LIST_DIR}/ptu_records.cpp
  ${CMAKE_CURRENT_LIST_DIR}/ptu_replay.cpp
)
