// CurveZMQ links (docs/stations.md, "Threat model"; ZAP is ZeroMQ RFC 27, CURVE RFC 26).
#include "dira/station/link.hpp"

#include "dira/station/wire.hpp"

#include <malloc.h>
#include <zmq.hpp>

#include <atomic>
#include <cstring>
#include <stdexcept>
#include <thread>

namespace dira::station {

void keep_streaming_buffers() {
  static const bool once = [] {
    mallopt(M_MMAP_THRESHOLD, 64 << 20);
    mallopt(M_TRIM_THRESHOLD, 256 << 20);
    return true;
  }();
  (void)once;
}

namespace {

constexpr int kLinger = 200;        // ms a closing socket keeps trying to deliver
constexpr int kSendHwm = 256;       // frames queued per peer before send() says "not now"
constexpr int kHandshakeMs = 5000;  // a handshake that takes longer is given up (and retried)
// The largest message either side takes: the largest frame (docs/wire.md: a header and at most
// kMaxPayload bytes), plus room for CURVE's wrapping of it (a MESSAGE command's name, nonce, MAC
// and flags: 33 bytes; 64 kept). ZeroMQ checks a message's announced size before it allocates
// it and drops the connection of a peer that announces more, so an authenticated peer cannot
// make this process allocate more than one frame's bytes for a message that verify() would
// refuse anyway.
constexpr std::int64_t kMaxMessageBytes = static_cast<std::int64_t>(kHeaderBytes + kMaxPayload) + 64;

std::string z85(const std::string& binary_key) {
  char text[41];
  if (binary_key.size() != 32 || !zmq_z85_encode(text, reinterpret_cast<const std::uint8_t*>(binary_key.data()), 32))
    return "<malformed key>";
  return text;
}

}  // namespace

// ---- coordinator ----------------------------------------------------------------------------

struct CoordinatorLink::Impl {
  zmq::context_t ctx{1};
  zmq::socket_t zap{ctx, zmq::socket_type::rep};
  zmq::socket_t router{ctx, zmq::socket_type::router};
  std::map<std::string, std::string> station_of_key;  // Z85 public key → station name
  LinkLog log;
  std::atomic<bool> stop{false};
  std::atomic<std::uint64_t> refused{0};
  std::thread zap_thread;
  std::string endpoint;

  // ZAP handler (RFC 27): one request per CURVE handshake; "200" admits the key and names the
  // connection (User-Id = station name), "400" refuses it. Nothing else decides who may talk.
  void serve_zap() {
    while (!stop.load()) {
      zmq::pollitem_t item{zap.handle(), 0, ZMQ_POLLIN, 0};
      zmq::poll(&item, 1, std::chrono::milliseconds(100));
      if (!(item.revents & ZMQ_POLLIN)) continue;
      std::vector<zmq::message_t> req;
      for (;;) {
        zmq::message_t m;
        if (!zap.recv(m)) break;
        const bool more = m.more();
        req.push_back(std::move(m));
        if (!more) break;
      }
      // version, request id, domain, address, identity, mechanism, credentials…
      std::string request_id = req.size() > 1 ? req[1].to_string() : std::string();
      std::string status = "400", text = "refused", user;
      if (req.size() >= 7 && req[0].to_string() == "1.0" && req[5].to_string() == "CURVE") {
        const std::string key = z85(req[6].to_string());
        if (auto it = station_of_key.find(key); it != station_of_key.end()) {
          status = "200";
          text = "OK";
          user = it->second;
        } else {
          ++refused;
          if (log)
            log("refused a connection from " + req[3].to_string() + ": its key " + key +
                " is not one of the experiment's stations");
        }
      } else {
        ++refused;
        if (log) log("refused a connection that is not a CURVE handshake");
      }
      const std::string parts[6] = {"1.0", request_id, status, text, user, ""};
      for (int i = 0; i < 6; ++i)
        zap.send(zmq::buffer(parts[i]), i < 5 ? zmq::send_flags::sndmore : zmq::send_flags::none);
    }
  }
};

CoordinatorLink::CoordinatorLink(const std::string& endpoint, const KeyPair& own,
                                 const std::map<std::string, std::string>& allowed, LinkLog log)
    : impl_(std::make_unique<Impl>()) {
  auto& d = *impl_;
  d.log = std::move(log);
  for (const auto& [name, key] : allowed) d.station_of_key[key] = name;
  // The ZAP handler must be bound before the first handshake.
  d.zap.bind("inproc://zeromq.zap.01");
  d.zap_thread = std::thread([&d] { d.serve_zap(); });
  try {
    d.router.set(zmq::sockopt::curve_server, 1);
    d.router.set(zmq::sockopt::curve_secretkey, own.secret_key);
    d.router.set(zmq::sockopt::zap_domain, "dira");
    d.router.set(zmq::sockopt::linger, kLinger);
    d.router.set(zmq::sockopt::sndhwm, kSendHwm);
    d.router.set(zmq::sockopt::rcvhwm, kSendHwm);
    d.router.set(zmq::sockopt::router_mandatory, 1);  // a send to a vanished station fails instead of vanishing
    d.router.set(zmq::sockopt::handshake_ivl, kHandshakeMs);
    d.router.set(zmq::sockopt::maxmsgsize, kMaxMessageBytes);
    d.router.bind(endpoint);
    d.endpoint = d.router.get(zmq::sockopt::last_endpoint);
  } catch (const zmq::error_t& e) {
    d.stop = true;
    d.zap_thread.join();
    throw std::runtime_error("cannot listen on " + endpoint + ": " + e.what());
  }
}

CoordinatorLink::~CoordinatorLink() {
  impl_->stop = true;
  if (impl_->zap_thread.joinable()) impl_->zap_thread.join();
}

std::string CoordinatorLink::endpoint() const {
  return impl_->endpoint;
}
std::uint64_t CoordinatorLink::refused() const {
  return impl_->refused.load();
}

bool CoordinatorLink::receive(Delivery& out, std::chrono::milliseconds timeout) {
  auto& d = *impl_;
  zmq::pollitem_t item{d.router.handle(), 0, ZMQ_POLLIN, 0};
  zmq::poll(&item, 1, timeout);
  if (!(item.revents & ZMQ_POLLIN)) return false;
  zmq::message_t id, body;
  if (!d.router.recv(id, zmq::recv_flags::dontwait)) return false;
  while (id.more() && d.router.recv(body)) {
    if (!body.more()) break;  // a DEALER sends exactly one body frame; extra ones are discarded
  }
  out.routing_id = id.to_string();
  out.station = body.gets("User-Id");
  out.bytes.assign(static_cast<const std::uint8_t*>(body.data()),
                   static_cast<const std::uint8_t*>(body.data()) + body.size());
  return true;
}

bool CoordinatorLink::send(const std::string& routing_id, std::span<const std::uint8_t> bytes) {
  auto& d = *impl_;
  try {
    if (!d.router.send(zmq::buffer(routing_id), zmq::send_flags::sndmore | zmq::send_flags::dontwait)) return false;
    return d.router.send(zmq::const_buffer(bytes.data(), bytes.size()), zmq::send_flags::dontwait).has_value();
  } catch (const zmq::error_t&) {
    return false;  // EHOSTUNREACH: the station's connection is gone
  }
}

// ---- station --------------------------------------------------------------------------------

struct StationLink::Impl {
  zmq::context_t ctx{1};
  zmq::socket_t dealer{ctx, zmq::socket_type::dealer};
  zmq::socket_t monitor{ctx, zmq::socket_type::pair};
  LinkLog log;
  std::uint64_t failures = 0;
  std::string endpoint;

  void read_monitor() {
    for (;;) {
      zmq::message_t ev, addr;
      if (!monitor.recv(ev, zmq::recv_flags::dontwait)) return;
      if (ev.more()) (void)monitor.recv(addr);
      if (ev.size() < 6) continue;
      std::uint16_t event = 0;
      std::memcpy(&event, ev.data(), 2);
      if (event == ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL || event == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL ||
          event == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) {
        ++failures;
        if (log)
          log("handshake with the coordinator at " + endpoint +
              " failed: it does not hold the key this station trusts, or it refused this station's key");
      }
    }
  }
};

StationLink::StationLink(const std::string& endpoint, const std::string& coordinator_key, const KeyPair& own,
                         LinkLog log)
    : impl_(std::make_unique<Impl>()) {
  auto& d = *impl_;
  d.log = std::move(log);
  d.endpoint = endpoint;
  try {
    d.dealer.set(zmq::sockopt::curve_serverkey, coordinator_key);
    d.dealer.set(zmq::sockopt::curve_publickey, own.public_key);
    d.dealer.set(zmq::sockopt::curve_secretkey, own.secret_key);
    d.dealer.set(zmq::sockopt::linger, kLinger);
    d.dealer.set(zmq::sockopt::sndhwm, kSendHwm);
    d.dealer.set(zmq::sockopt::rcvhwm, kSendHwm);
    d.dealer.set(zmq::sockopt::immediate, 1);  // queue only on a finished handshake: send() says "not now"
    d.dealer.set(zmq::sockopt::handshake_ivl, kHandshakeMs);
    d.dealer.set(zmq::sockopt::maxmsgsize, kMaxMessageBytes);
    d.dealer.set(zmq::sockopt::reconnect_ivl, 100);
    d.dealer.set(zmq::sockopt::reconnect_ivl_max, 1000);
    const std::string mon = "inproc://station-monitor";
    if (zmq_socket_monitor(d.dealer.handle(), mon.c_str(),
                           ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
                               ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) == 0)
      d.monitor.connect(mon);
    d.dealer.connect(endpoint);
  } catch (const zmq::error_t& e) {
    throw std::runtime_error("cannot connect to the coordinator at " + endpoint + ": " + e.what());
  }
}

StationLink::~StationLink() = default;

std::uint64_t StationLink::handshake_failures() const {
  return impl_->failures;
}

bool StationLink::receive(std::vector<std::uint8_t>& out, std::chrono::milliseconds timeout) {
  auto& d = *impl_;
  zmq::pollitem_t items[2] = {{d.dealer.handle(), 0, ZMQ_POLLIN, 0}, {d.monitor.handle(), 0, ZMQ_POLLIN, 0}};
  zmq::poll(items, 2, timeout);
  if (items[1].revents & ZMQ_POLLIN) d.read_monitor();
  if (!(items[0].revents & ZMQ_POLLIN)) return false;
  zmq::message_t m;
  if (!d.dealer.recv(m, zmq::recv_flags::dontwait)) return false;
  out.assign(static_cast<const std::uint8_t*>(m.data()), static_cast<const std::uint8_t*>(m.data()) + m.size());
  while (m.more()) (void)d.dealer.recv(m);  // the coordinator sends one frame; extra ones are discarded
  return true;
}

bool StationLink::send(std::span<const std::uint8_t> bytes) {
  try {
    return impl_->dealer.send(zmq::const_buffer(bytes.data(), bytes.size()), zmq::send_flags::dontwait).has_value();
  } catch (const zmq::error_t&) {
    return false;
  }
}

}  // namespace dira::station
