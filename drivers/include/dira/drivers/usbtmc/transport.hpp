#pragma once
/// @file transport.hpp
/// What USBTMC needs from USB: bulk OUT, bulk IN, class control requests, each with a timeout.
/// Two implementations: libusb (libusb_transport.hpp, real hardware) and FakeInstrument
/// (fake_instrument.hpp, an in-process instrument for tests and demos).

#include "dira/drivers/usbtmc/protocol.hpp"
#include "dira/hal/device.hpp"

#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace dira::drivers::usbtmc {

/// A USB transfer did not complete in time (the device NAKed or sent nothing).
class TimeoutError : public hal::HardwareFault {
 public:
  using hal::HardwareFault::HardwareFault;
};

/// Where the USBTMC interface lives on the device.
struct InterfaceInfo {
  std::uint8_t interface_number = 0;
  std::uint8_t bulk_out_endpoint = 0x01;              ///< address, direction bit clear
  std::uint8_t bulk_in_endpoint = 0x81;               ///< address, direction bit set
  std::optional<std::uint8_t> interrupt_in_endpoint;  ///< USB488 Interrupt-IN, if any
  std::uint16_t max_packet_size = 64;                 ///< wMaxPacketSize of the Bulk-IN endpoint
  bool usb488 = false;                                ///< bInterfaceProtocol == 1
  std::string description;                            ///< e.g. "0957:2807 Keysight 33522B serial MY123"
};

class Transport {
 public:
  virtual ~Transport() = default;
  virtual const InterfaceInfo& info() const = 0;
  /// Sends one Bulk-OUT transfer. Throws TimeoutError, or hal::HardwareFault on any other failure.
  virtual void bulk_out(std::span<const std::uint8_t> data, std::chrono::milliseconds timeout) = 0;
  /// One Bulk-IN read of at most `max_length` bytes: returns when the device ends it with a short
  /// packet or `max_length` bytes have arrived. Throws TimeoutError if nothing arrived in time.
  virtual std::vector<std::uint8_t> bulk_in(std::size_t max_length, std::chrono::milliseconds timeout) = 0;
  /// A device-to-host control request; returns the bytes of the data stage (at most setup.length).
  virtual std::vector<std::uint8_t> control_in(const ControlSetup& setup, std::chrono::milliseconds timeout) = 0;
  /// CLEAR_FEATURE(ENDPOINT_HALT) on an endpoint (USB 2.0 §9.4.1; USBTMC §4.2.1.3, §4.2.1.7 ask for it).
  virtual void clear_halt(std::uint8_t endpoint) = 0;
  /// Reads the Interrupt-IN endpoint (USB488 §3.4); only called when info().interrupt_in_endpoint is set.
  virtual std::vector<std::uint8_t> interrupt_in(std::size_t max_length, std::chrono::milliseconds timeout) = 0;
};

/// Which device to open: `VID:PID[:SERIAL]` (hex, with or without 0x) or the VISA form
/// `USB[board]::0xVID::0xPID[::SERIAL[::INTERFACE]][::INSTR]`. An absent serial matches any.
struct DeviceMatch {
  std::uint16_t vendor_id = 0;
  std::uint16_t product_id = 0;
  std::string serial;
  /// "0x0957:0x1234" or "0x0957:0x1234 serial MY123".
  std::string str() const;
};
/// Throws std::invalid_argument with the accepted forms if `resource` is neither form.
DeviceMatch parse_device_match(const std::string& resource);

/// A USB device seen on the bus, for scanning and for the "not found" message.
struct UsbDeviceInfo {
  std::uint16_t vendor_id = 0;
  std::uint16_t product_id = 0;
  std::uint8_t bus = 0;
  std::uint8_t address = 0;
  std::string manufacturer;  ///< empty if unreadable
  std::string product;
  std::string serial;
  std::string strings_error;  ///< why the strings could not be read (e.g. "LIBUSB_ERROR_ACCESS"), or empty
  bool usbtmc = false;        ///< has an interface of class 0xFE subclass 0x03
  bool usb488 = false;
  std::uint8_t interface_number = 0;
  /// "0957:2807 Keysight Technologies 33522B serial MY123 (USBTMC/USB488, bus 1 address 4)".
  std::string str() const;
  bool matches(const DeviceMatch& m) const;
};

/// The message for a device that is not there: "no USBTMC device matching 0x0957:0x1234; found: …"
/// listing every device seen (USBTMC ones first), or why the bus could not be read.
std::string describe_missing_device(const DeviceMatch& wanted, const std::vector<UsbDeviceInfo>& found,
                                    const std::string& bus_error);

}  // namespace dira::drivers::usbtmc
