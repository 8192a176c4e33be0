target_sources(dira_drivers PRIVATE ${CMAKE_CURRENT_LIST_DIR}/entropy_sources.cpp)
