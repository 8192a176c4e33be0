#pragma once
/// @file link.hpp
/// CurveZMQ links between stations and their coordinator (docs/stations.md, "Threat model").
/// The coordinator binds a ROUTER socket as CURVE server; a ZAP handler admits exactly the
/// public keys the experiment lists and names each connection by its station, so a message's
/// sender is what its key proves, never what the message claims. A station connects a DEALER
/// socket as CURVE client that knows the coordinator's public key: a server without the
/// matching secret key fails the handshake, so a station talks to its coordinator only.
/// Each link object belongs to one thread (ZeroMQ sockets are not thread-safe).

#include "dira/station/keys.hpp"

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace dira::station {

/// Keeps freed tag-block and frame buffers in the process instead of returning them to the
/// kernel (glibc: a fixed mmap threshold of 64 MiB and a trim threshold of 256 MiB). A station
/// and a coordinator allocate and free a 0.25–1 MiB buffer per block on several threads; with
/// glibc's defaults many of those came from fresh mmap'd pages, and zeroing and faulting them in
/// was ~15 % of the CPU of the loopback benchmark (bench/README.md, "Stations"). Called by
/// run_station and the StationHub constructor; process-wide, idempotent.
void keep_streaming_buffers();

/// Where a link reports what it refused or lost (e.g. the run log); called from the link's
/// threads.
using LinkLog = std::function<void(const std::string&)>;

/// A message as the coordinator received it.
struct Delivery {
  std::string station;     ///< the name the ZAP handler gave its key (never taken from the message)
  std::string routing_id;  ///< the connection (ROUTER identity), for replies
  std::vector<std::uint8_t> bytes;
};

class CoordinatorLink {
 public:
  /// Binds `endpoint` (e.g. tcp://127.0.0.1:5555; port 0 or * picks a free one) with the
  /// coordinator's key pair; `allowed` maps station name → its public key (Z85). Throws
  /// std::runtime_error when the endpoint cannot be bound.
  CoordinatorLink(const std::string& endpoint, const KeyPair& own, const std::map<std::string, std::string>& allowed,
                  LinkLog log);
  ~CoordinatorLink();
  CoordinatorLink(const CoordinatorLink&) = delete;
  CoordinatorLink& operator=(const CoordinatorLink&) = delete;

  /// The bound endpoint (with the port the system picked).
  std::string endpoint() const;
  /// Waits at most `timeout` for a message; false if none came.
  bool receive(Delivery& out, std::chrono::milliseconds timeout);
  /// Sends to a connection; false when it cannot be queued now (peer gone or its queue full).
  bool send(const std::string& routing_id, std::span<const std::uint8_t> bytes);
  /// Connections refused by the key check so far.
  std::uint64_t refused() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

class StationLink {
 public:
  /// Connects to the coordinator at `endpoint` whose public key is `coordinator_key`, with the
  /// station's own key pair. Connection and reconnection happen in the background.
  StationLink(const std::string& endpoint, const std::string& coordinator_key, const KeyPair& own, LinkLog log);
  ~StationLink();
  StationLink(const StationLink&) = delete;
  StationLink& operator=(const StationLink&) = delete;

  bool receive(std::vector<std::uint8_t>& out, std::chrono::milliseconds timeout);
  /// Queues a message; false when it cannot be queued now (not connected, or the send queue is
  /// full: the caller keeps the data and tries again — nothing is dropped silently).
  bool send(std::span<const std::uint8_t> bytes);
  /// Handshake failures seen so far (a server with the wrong key, or one that refused ours).
  std::uint64_t handshake_failures() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace dira::station
