// libusb-1.0 glue: enumerate, claim, move bytes. The only file that includes libusb.h; the
// protocol logic is in protocol.cpp and connection.cpp, where the fake instrument tests it.
#include "dira/drivers/usbtmc/libusb_transport.hpp"

#include <libusb.h>

#include <memory>
#include <stdexcept>

namespace dira::drivers::usbtmc {

namespace {

std::string err(int code) {
  return libusb_error_name(code);
}

struct ContextDeleter {
  void operator()(libusb_context* c) const { libusb_exit(c); }
};
using ContextPtr = std::unique_ptr<libusb_context, ContextDeleter>;

struct ListDeleter {
  void operator()(libusb_device** l) const { libusb_free_device_list(l, 1); }
};

struct ConfigDeleter {
  void operator()(libusb_config_descriptor* c) const { libusb_free_config_descriptor(c); }
};

ContextPtr make_context(std::string& error) {
  libusb_context* ctx = nullptr;
  if (const int r = libusb_init(&ctx); r != 0) {
    error = "libusb_init: " + err(r);
    return nullptr;
  }
  return ContextPtr(ctx);
}

/// The first USBTMC interface of a device (class 0xFE, subclass 0x03; USBTMC Table 43), with its endpoints.
struct Found {
  bool ok = false;
  int configuration = 0;
  InterfaceInfo itf;
  int alt_setting = 0;
};

Found find_usbtmc_interface(libusb_device* dev) {
  Found f;
  libusb_config_descriptor* raw = nullptr;
  if (libusb_get_active_config_descriptor(dev, &raw) != 0 && libusb_get_config_descriptor(dev, 0, &raw) != 0) return f;
  std::unique_ptr<libusb_config_descriptor, ConfigDeleter> cfg(raw);
  for (int i = 0; i < cfg->bNumInterfaces; ++i) {
    const auto& iface = cfg->interface[i];
    for (int a = 0; a < iface.num_altsetting; ++a) {
      const auto& alt = iface.altsetting[a];
      if (alt.bInterfaceClass != kInterfaceClass || alt.bInterfaceSubClass != kInterfaceSubclass) continue;
      Found c;
      c.configuration = cfg->bConfigurationValue;
      c.alt_setting = alt.bAlternateSetting;
      c.itf.interface_number = alt.bInterfaceNumber;
      c.itf.usb488 = alt.bInterfaceProtocol == kProtocolUsb488;
      bool in = false, out = false;
      for (int e = 0; e < alt.bNumEndpoints; ++e) {
        const auto& ep = alt.endpoint[e];
        const int type = ep.bmAttributes & LIBUSB_TRANSFER_TYPE_MASK;
        const bool dir_in = (ep.bEndpointAddress & LIBUSB_ENDPOINT_DIR_MASK) == LIBUSB_ENDPOINT_IN;
        if (type == LIBUSB_TRANSFER_TYPE_BULK && dir_in && !in) {
          c.itf.bulk_in_endpoint = ep.bEndpointAddress;
          c.itf.max_packet_size = static_cast<std::uint16_t>(ep.wMaxPacketSize & 0x7FF);
          in = true;
        } else if (type == LIBUSB_TRANSFER_TYPE_BULK && !dir_in && !out) {
          c.itf.bulk_out_endpoint = ep.bEndpointAddress;
          out = true;
        } else if (type == LIBUSB_TRANSFER_TYPE_INTERRUPT && dir_in) {
          c.itf.interrupt_in_endpoint = ep.bEndpointAddress;
        }
      }
      if (in && out) {
        c.ok = true;
        return c;
      }
    }
  }
  return f;
}

std::string read_string(libusb_device_handle* h, std::uint8_t index) {
  if (!index) return {};
  unsigned char buf[256];
  const int n = libusb_get_string_descriptor_ascii(h, index, buf, sizeof buf);
  return n > 0 ? std::string(reinterpret_cast<const char*>(buf), static_cast<std::size_t>(n)) : std::string();
}

UsbDeviceInfo describe(libusb_device* dev) {
  UsbDeviceInfo d;
  libusb_device_descriptor desc{};
  libusb_get_device_descriptor(dev, &desc);
  d.vendor_id = desc.idVendor;
  d.product_id = desc.idProduct;
  d.bus = libusb_get_bus_number(dev);
  d.address = libusb_get_device_address(dev);
  const auto f = find_usbtmc_interface(dev);
  d.usbtmc = f.ok;
  d.usb488 = f.itf.usb488;
  d.interface_number = f.itf.interface_number;
  libusb_device_handle* h = nullptr;
  if (const int r = libusb_open(dev, &h); r != 0) {
    d.strings_error = err(r);
    return d;
  }
  d.manufacturer = read_string(h, desc.iManufacturer);
  d.product = read_string(h, desc.iProduct);
  d.serial = read_string(h, desc.iSerialNumber);
  libusb_close(h);
  return d;
}

class LibusbTransport : public Transport {
 public:
  LibusbTransport(ContextPtr ctx, libusb_device_handle* h, InterfaceInfo info)
      : ctx_(std::move(ctx)), h_(h), info_(std::move(info)) {}
  ~LibusbTransport() override {
    libusb_release_interface(h_, info_.interface_number);
    libusb_close(h_);
  }
  const InterfaceInfo& info() const override { return info_; }

  void bulk_out(std::span<const std::uint8_t> data, std::chrono::milliseconds timeout) override {
    int done = 0;
    const int r = libusb_bulk_transfer(h_, info_.bulk_out_endpoint, const_cast<unsigned char*>(data.data()),
                                       static_cast<int>(data.size()), &done, to_ms(timeout));
    if (r == LIBUSB_ERROR_TIMEOUT)
      throw TimeoutError("libusb Bulk-OUT: LIBUSB_ERROR_TIMEOUT after " + std::to_string(done) + " bytes");
    if (r != 0) throw hal::HardwareFault("libusb Bulk-OUT to " + info_.description + ": " + err(r));
    if (static_cast<std::size_t>(done) != data.size())
      throw hal::HardwareFault("libusb Bulk-OUT: " + std::to_string(done) + " of " + std::to_string(data.size()) +
                               " bytes sent");
  }

  std::vector<std::uint8_t> bulk_in(std::size_t max_length, std::chrono::milliseconds timeout) override {
    std::vector<std::uint8_t> buf(max_length);
    int done = 0;
    const int r = libusb_bulk_transfer(h_, info_.bulk_in_endpoint, buf.data(), static_cast<int>(buf.size()), &done,
                                       to_ms(timeout));
    if (r == LIBUSB_ERROR_TIMEOUT && done == 0) throw TimeoutError("libusb Bulk-IN: LIBUSB_ERROR_TIMEOUT");
    if (r != 0 && r != LIBUSB_ERROR_TIMEOUT)
      throw hal::HardwareFault("libusb Bulk-IN from " + info_.description + ": " + err(r));
    buf.resize(static_cast<std::size_t>(done));
    return buf;
  }

  std::vector<std::uint8_t> control_in(const ControlSetup& s, std::chrono::milliseconds timeout) override {
    std::vector<std::uint8_t> buf(s.length);
    const int r =
        libusb_control_transfer(h_, s.request_type, s.request, s.value, s.index, buf.data(), s.length, to_ms(timeout));
    if (r == LIBUSB_ERROR_TIMEOUT) throw TimeoutError("libusb control request: LIBUSB_ERROR_TIMEOUT");
    if (r < 0)
      throw hal::HardwareFault(std::string("libusb control request ") + to_string(static_cast<Request>(s.request)) +
                               ": " + err(r));
    buf.resize(static_cast<std::size_t>(r));
    return buf;
  }

  void clear_halt(std::uint8_t endpoint) override {
    if (const int r = libusb_clear_halt(h_, endpoint); r != 0)
      throw hal::HardwareFault("libusb_clear_halt(" + std::to_string(endpoint) + "): " + err(r));
  }

  std::vector<std::uint8_t> interrupt_in(std::size_t max_length, std::chrono::milliseconds timeout) override {
    if (!info_.interrupt_in_endpoint) throw hal::HardwareFault("USBTMC interface has no Interrupt-IN endpoint");
    std::vector<std::uint8_t> buf(max_length);
    int done = 0;
    const int r = libusb_interrupt_transfer(h_, *info_.interrupt_in_endpoint, buf.data(), static_cast<int>(buf.size()),
                                            &done, to_ms(timeout));
    if (r == LIBUSB_ERROR_TIMEOUT) throw TimeoutError("libusb Interrupt-IN: LIBUSB_ERROR_TIMEOUT");
    if (r != 0) throw hal::HardwareFault("libusb Interrupt-IN: " + err(r));
    buf.resize(static_cast<std::size_t>(done));
    return buf;
  }

 private:
  static unsigned to_ms(std::chrono::milliseconds t) { return t.count() <= 0 ? 1u : static_cast<unsigned>(t.count()); }
  ContextPtr ctx_;
  libusb_device_handle* h_;
  InterfaceInfo info_;
};

}  // namespace

std::vector<UsbDeviceInfo> list_usb_devices(std::string* error) {
  std::string e;
  auto ctx = make_context(e);
  std::vector<UsbDeviceInfo> out;
  if (!ctx) {
    if (error) *error = e;
    return out;
  }
  libusb_device** raw = nullptr;
  const auto n = libusb_get_device_list(ctx.get(), &raw);
  if (n < 0) {
    if (error) *error = "libusb_get_device_list: " + err(static_cast<int>(n));
    return out;
  }
  std::unique_ptr<libusb_device*, ListDeleter> list(raw);
  for (ssize_t i = 0; i < n; ++i) out.push_back(describe(raw[i]));
  return out;
}

std::unique_ptr<Transport> open_libusb(const DeviceMatch& match) {
  std::string e;
  auto ctx = make_context(e);
  if (!ctx) throw hal::HardwareFault(describe_missing_device(match, {}, e));
  libusb_device** raw = nullptr;
  const auto n = libusb_get_device_list(ctx.get(), &raw);
  if (n < 0)
    throw hal::HardwareFault(describe_missing_device(match, {}, "libusb_get_device_list: " + err(static_cast<int>(n))));
  std::unique_ptr<libusb_device*, ListDeleter> list(raw);
  std::vector<UsbDeviceInfo> seen;
  for (ssize_t i = 0; i < n; ++i) {
    auto d = describe(raw[i]);
    seen.push_back(d);
    if (!d.matches(match)) continue;
    const auto f = find_usbtmc_interface(raw[i]);
    libusb_device_handle* h = nullptr;
    if (const int r = libusb_open(raw[i], &h); r != 0)
      throw hal::HardwareFault("cannot open USBTMC device " + d.str() + ": " + err(r) +
                               (r == LIBUSB_ERROR_ACCESS ? " (no permission: add a udev rule for this VID:PID)" : ""));
    // The kernel's usbtmc driver may own the interface; libusb detaches it and reattaches on release.
    libusb_set_auto_detach_kernel_driver(h, 1);
    int current = 0;
    if (libusb_get_configuration(h, &current) == 0 && current != f.configuration)
      libusb_set_configuration(h, f.configuration);
    if (const int r = libusb_claim_interface(h, f.itf.interface_number); r != 0) {
      libusb_close(h);
      throw hal::HardwareFault("cannot claim USBTMC interface " + std::to_string(f.itf.interface_number) + " of " +
                               d.str() + ": " + err(r) +
                               (r == LIBUSB_ERROR_BUSY ? " (in use by another program)" : ""));
    }
    if (f.alt_setting) libusb_set_interface_alt_setting(h, f.itf.interface_number, f.alt_setting);
    // Start from a known data toggle, as libsigrok's scpi_usbtmc_libusb does.
    libusb_clear_halt(h, f.itf.bulk_in_endpoint);
    libusb_clear_halt(h, f.itf.bulk_out_endpoint);
    auto info = f.itf;
    info.description = d.str();
    return std::make_unique<LibusbTransport>(std::move(ctx), h, std::move(info));
  }
  throw hal::HardwareFault(describe_missing_device(match, seen, ""));
}

}  // namespace dira::drivers::usbtmc
