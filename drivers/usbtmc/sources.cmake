# USBTMC transport (docs/usbtmc.md): protocol.cpp is the pure wire format, connection.cpp the
# session logic, fake_instrument.cpp the in-process device for tests, libusb_transport.cpp the glue.
target_sources(dira_drivers PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/protocol.cpp
  ${CMAKE_CURRENT_LIST_DIR}/transport.cpp
  ${CMAKE_CURRENT_LIST_DIR}/connection.cpp
  ${CMAKE_CURRENT_LIST_DIR}/fake_instrument.cpp
  ${CMAKE_CURRENT_LIST_DIR}/libusb_transport.cpp
)
