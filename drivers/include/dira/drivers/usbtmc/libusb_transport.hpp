#pragma once
/// @file libusb_transport.hpp
/// The libusb-1.0 glue (libsigrok's "api" half): find USBTMC interfaces, claim one, move bytes.
/// Everything else is in connection.hpp and protocol.hpp.

#include "dira/drivers/usbtmc/transport.hpp"

#include <memory>
#include <string>
#include <vector>

namespace dira::drivers::usbtmc {

/// Every USB device libusb can see, with its USBTMC interface if it has one. Returns an empty
/// list (never throws) when USB is not accessible; `error`, if given, then receives the reason.
std::vector<UsbDeviceInfo> list_usb_devices(std::string* error = nullptr);

/// Opens the first USBTMC interface matching `match`: detaches a kernel driver (usbtmc.ko),
/// claims the interface, finds its bulk endpoints and clears their halt state. Throws
/// hal::HardwareFault naming what was found on the bus if nothing matches, or why opening failed.
std::unique_ptr<Transport> open_libusb(const DeviceMatch& match);

}  // namespace dira::drivers::usbtmc
