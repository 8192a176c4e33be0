// Device matching and the "device not found" message: pure, shared by libusb and the tests.
#include "dira/drivers/usbtmc/transport.hpp"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <stdexcept>

namespace dira::drivers::usbtmc {

namespace {
std::string hex4(unsigned v) {
  char b[8];
  std::snprintf(b, sizeof b, "%04x", v & 0xFFFFu);
  return b;
}

std::vector<std::string> split(const std::string& s, const std::string& sep) {
  std::vector<std::string> out;
  std::size_t at = 0;
  while (true) {
    const auto p = s.find(sep, at);
    out.push_back(s.substr(at, p == std::string::npos ? std::string::npos : p - at));
    if (p == std::string::npos) break;
    at = p + sep.size();
  }
  return out;
}

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// A 16-bit id: hex with 0x, or `base` without (VISA allows decimal, lsusb style is hex).
std::optional<std::uint16_t> id16(const std::string& s, int base) {
  std::string t = s;
  if (t.size() > 2 && t[0] == '0' && (t[1] == 'x' || t[1] == 'X')) {
    t = t.substr(2);
    base = 16;
  }
  if (t.empty() || t.size() > 6) return std::nullopt;
  for (char c : t)
    if (!(base == 16 ? std::isxdigit(static_cast<unsigned char>(c)) : std::isdigit(static_cast<unsigned char>(c))))
      return std::nullopt;
  const unsigned long v = std::stoul(t, nullptr, base);
  if (v > 0xFFFF) return std::nullopt;
  return static_cast<std::uint16_t>(v);
}
}  // namespace

std::string DeviceMatch::str() const {
  return "0x" + hex4(vendor_id) + ":0x" + hex4(product_id) + (serial.empty() ? "" : " serial " + serial);
}

DeviceMatch parse_device_match(const std::string& resource) {
  const auto bad = [&]() {
    return std::invalid_argument("bad USB resource '" + resource +
                                 "': expected VID:PID[:SERIAL] in hex (e.g. 0957:2807 or 0x0957:0x2807:MY123) "
                                 "or USB0::0x0957::0x2807[::SERIAL]::INSTR");
  };
  DeviceMatch m;
  if (lower(resource).rfind("usb", 0) == 0 && resource.find("::") != std::string::npos) {
    auto parts = split(resource, "::");
    if (!parts.empty() && lower(parts.back()) == "instr") parts.pop_back();
    // USB[board]::manufacturer ID::model code::serial number[::USB interface number][::INSTR]
    if (parts.size() < 3 || parts.size() > 5) throw bad();
    const auto v = id16(parts[1], 10), p = id16(parts[2], 10);
    if (!v || !p) throw bad();
    if (parts.size() == 5 && !id16(parts[4], 10)) throw bad();
    m.vendor_id = *v;
    m.product_id = *p;
    if (parts.size() >= 4) m.serial = parts[3];
    return m;
  }
  const auto parts = split(resource, ":");
  if (parts.size() < 2 || parts.size() > 3) throw bad();
  const auto v = id16(parts[0], 16), p = id16(parts[1], 16);
  if (!v || !p) throw bad();
  m.vendor_id = *v;
  m.product_id = *p;
  if (parts.size() == 3) {
    if (parts[2].empty()) throw bad();
    m.serial = parts[2];
  }
  return m;
}

std::string UsbDeviceInfo::str() const {
  std::string s = hex4(vendor_id) + ":" + hex4(product_id);
  for (const auto* part : {&manufacturer, &product})
    if (!part->empty()) s += " " + *part;
  if (!serial.empty()) s += " serial " + serial;
  if (!strings_error.empty()) s += " (strings unreadable: " + strings_error + ")";
  if (usbtmc)
    s += std::string(" [USBTMC") + (usb488 ? "/USB488" : "") + " interface " + std::to_string(interface_number) + "]";
  s += " (bus " + std::to_string(bus) + " address " + std::to_string(address) + ")";
  return s;
}

bool UsbDeviceInfo::matches(const DeviceMatch& m) const {
  return usbtmc && vendor_id == m.vendor_id && product_id == m.product_id && (m.serial.empty() || m.serial == serial);
}

std::string describe_missing_device(const DeviceMatch& wanted, const std::vector<UsbDeviceInfo>& found,
                                    const std::string& bus_error) {
  std::string s = "no USBTMC device matching " + wanted.str();
  if (!bus_error.empty()) return s + "; the USB bus could not be read (" + bus_error + ")";
  if (found.empty()) return s + "; found: no USB devices (is /dev/bus/usb present and readable?)";
  auto sorted = found;
  std::stable_sort(sorted.begin(), sorted.end(),
                   [](const UsbDeviceInfo& a, const UsbDeviceInfo& b) { return a.usbtmc && !b.usbtmc; });
  s += "; found: ";
  for (std::size_t i = 0; i < sorted.size(); ++i) s += (i ? "; " : "") + sorted[i].str();
  return s;
}

}  // namespace dira::drivers::usbtmc
