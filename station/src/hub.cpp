// The coordinator's side of the station links (coordinator.hpp; docs/stations.md, docs/wire.md).
#include "dira/station/coordinator.hpp"
#include "dira/station/wire.hpp"

#include <nlohmann/json.hpp>

#include <pthread.h>

#include <ctime>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <thread>

namespace dira::station {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {

std::mutex hubs_mutex;
std::map<std::string, std::weak_ptr<StationHub>>& hubs() {
  static std::map<std::string, std::weak_ptr<StationHub>> m;
  return m;
}

}  // namespace

std::shared_ptr<StationHub> find_hub(const std::string& listen) {
  std::lock_guard<std::mutex> l(hubs_mutex);
  auto it = hubs().find(listen);
  return it == hubs().end() ? nullptr : it->second.lock();
}

namespace detail {
void remember_hub(const std::string& listen, const std::shared_ptr<StationHub>& hub) {
  std::lock_guard<std::mutex> l(hubs_mutex);
  hubs()[listen] = hub;
}
}  // namespace detail

struct StationHub::Impl {
  using State = LinkState;
  struct Station {
    std::string name;
    State state = State::waiting;
    std::string routing_id;
    Clock::time_point last_seen{};
    Clock::time_point lost_since{};
    SequenceCheck control_in;       // control frames from the station, per connection
    std::uint64_t control_out = 0;  // our control/settings frames to it, per connection
    // Frames the link would not take yet (its queue to this station at the high-water mark, or
    // the connection gone), kept in order and retried: a dropped frame is a gap in control_out
    // that the station can only close by reconnecting (seen under load in gui.window's run).
    // Cleared when the station says hello on a new connection (everything is resent from there).
    std::deque<std::vector<std::uint8_t>> unsent;
    std::vector<int> settings_for;      // parties whose settings it applies
    std::vector<int> chooses_settings;  // parties whose settings its own source chooses (hardware-chosen)
    std::vector<std::uint64_t> acked;   // per party: trials acknowledged
    std::uint64_t next_block = 0;       // tag frames: the next block number expected
    std::uint64_t tags = 0;             // tags received (the next frame's position)
    bool awaiting_resume = false;       // a frame was refused: drop until the station resends from next_block
    std::int64_t end_blocks = -1;       // blocks in its stream, once it said "end"
    bool end_error = false;
    std::string end_reason;
    // Tag frames received and verified (checksum, sequence, position), not yet taken by the
    // merge, which decodes them straight into its own buffers (SyncMerger::push_frame).
    std::vector<std::vector<std::uint8_t>> incoming;
    std::uint64_t incoming_tags = 0;   // tags in `incoming`
    std::uint64_t backfill_until = 0;  // while backfilling: the block count its hello reported
    Clock::time_point rate_since{};    // the tag rate's current window
    std::uint64_t rate_tags = 0;       // tags received when that window began
    std::uint64_t merge_pending = 0;   // tags the merge holds (RemoteTagger::next, note_merge)
    std::uint64_t credit = 0;          // flow control: the station may send tags below this (sent to it)
    std::uint64_t granted = 0;         // the highest credit ever sent to it: no honest block starts at or past it
    std::string fault;                 // a protocol fault of the station's (take_frames ends the run with it)
    StationHealth health;
  };

  HubConfig config;
  std::unique_ptr<CoordinatorLink> link;
  mutable std::mutex m;
  std::condition_variable cv;
  std::vector<Station> stations;
  std::map<std::string, std::size_t> index_of;
  std::vector<std::vector<std::uint8_t>> settings;  // per party: every setting sent, from trial 0
  std::vector<std::vector<std::uint8_t>> spare;     // frame buffers the merge gave back, for reuse
  bool started = false;
  bool stopping = false;
  std::atomic<bool> quit{false};
  std::thread io;

  void log(const std::string& s) {
    if (config.log) config.log(s);
  }

  // ---- I/O thread (owns the link) ----------------------------------------------------------
  void send_frame(Station& st, std::vector<std::uint8_t> f) {
    if (st.unsent.empty() && link->send(st.routing_id, f)) return;
    st.unsent.push_back(std::move(f));
  }
  void retry_unsent(Station& st) {
    while (!st.unsent.empty() && link->send(st.routing_id, st.unsent.front())) st.unsent.pop_front();
  }
  void send_control(Station& st, const json& j) { send_frame(st, encode_control(st.control_out++, j.dump())); }
  void send_settings_from(Station& st, int party, std::uint64_t from) {
    const auto& all = settings[static_cast<std::size_t>(party)];
    constexpr std::uint64_t kChunk = 1u << 20;
    for (std::uint64_t a = from; a < all.size(); a += kChunk) {
      const std::uint64_t n = std::min<std::uint64_t>(kChunk, all.size() - a);
      send_frame(st, encode_settings(st.control_out++, a, party, std::span(all).subspan(a, n)));
    }
  }

  void refuse_frame(Station& st, const std::string& why) {
    ++st.health.rejected_frames;
    log("station " + st.name + ": rejected a frame: " + why + "; asking it to resend from block " +
        std::to_string(st.next_block));
    if (!st.awaiting_resume) {
      st.awaiting_resume = true;
      send_control(st, {{"type", "resume"}, {"block", st.next_block}, {"tag", st.tags}});
    }
  }

  void on_message(Delivery& d) {
    std::lock_guard<std::mutex> l(m);
    auto it = index_of.find(d.station);
    if (it == index_of.end()) return;  // the ZAP handler admits listed keys only
    Station& st = stations[it->second];
    st.last_seen = Clock::now();
    if (st.state == State::lost) {
      log("station " + st.name + " is back after " +
          std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(st.last_seen - st.lost_since).count()) +
          " ms");
      st.state = State::connected;
    }
    FrameKind kind;
    try {
      kind = peek_kind(d.bytes);
    } catch (const WireError& e) {
      refuse_frame(st, e.what());
      return;
    }
    if (carries_tags(kind)) {
      if (st.routing_id != d.routing_id) return;  // from a connection it has since replaced
      if (!st.fault.empty()) return;              // the run ends with its fault (take_frames)
      // Header, checksum and tag count here; the tags are decoded by the merge (push_frame),
      // on the thread that uses them, without a 16-byte copy of every tag in between.
      std::uint64_t seq = 0, position = 0, n = 0;
      try {
        const TagFrameReader r(d.bytes);
        seq = r.sequence();
        position = r.position();
        n = r.tags();
      } catch (const WireError& e) {
        refuse_frame(st, e.what());
        return;
      }
      if (seq != st.next_block || position != st.tags) {
        if (st.awaiting_resume) return;  // frames sent before our resume request
        refuse_frame(st, "block " + std::to_string(seq) + " at tag " + std::to_string(position) + ", expected block " +
                             std::to_string(st.next_block) + " at tag " + std::to_string(st.tags));
        return;
      }
      // Flow control (docs/wire.md): a station sends a block only if its first tag is below the
      // credit it holds, which is never more than we granted. A block that starts at or past it
      // was sent by a station that does not obey flow control, or forged: held, it would let the
      // peer make this process hold any number of frames. Not a transmission error (a resend
      // would bring the same), so the run ends, as for a block that does not decode.
      if (position >= st.granted) {
        st.fault = "station " + st.name + " sent block " + std::to_string(seq) + " starting at tag " +
                   std::to_string(position) + ", at or past the credit of " + std::to_string(st.granted) +
                   " tags it was granted (docs/wire.md, \"Flow control\"): it does not obey flow control (a "
                   "station older than wire version 3 must be updated) or the block is forged; every trial "
                   "merged before is kept";
        ++st.health.rejected_frames;
        log(st.fault);
        cv.notify_all();
        return;
      }
      st.awaiting_resume = false;
      ++st.next_block;
      st.incoming.push_back(std::move(d.bytes));
      // The next frame is received into a buffer the merge gave back (take_frames): a frame
      // costs no allocation of its 0.25–1 MiB.
      d.bytes.clear();
      if (!spare.empty()) {
        d.bytes = std::move(spare.back());
        spare.pop_back();
      }
      st.incoming_tags += n;
      st.tags += n;
      st.health.tags = st.tags;
      if (st.health.backfill == Backfill::backfilling && st.next_block >= st.backfill_until) {
        st.health.backfill = Backfill::complete;
        log("station " + st.name + " caught up from its file: the merged record continues at block " +
            std::to_string(st.next_block) + " with no hole");
      }
      if (st.end_blocks >= 0 && st.next_block >= static_cast<std::uint64_t>(st.end_blocks)) st.state = State::ended;
      cv.notify_all();
      return;
    }
    Frame f;
    try {
      f = decode(d.bytes);
    } catch (const WireError& e) {
      refuse_frame(st, e.what());
      return;
    }
    if (kind == FrameKind::settings) {
      refuse_frame(st, "a station does not send settings");
      return;
    }
    json j;
    try {
      j = json::parse(f.text);
    } catch (const std::exception& e) {
      refuse_frame(st, std::string("control message is not JSON: ") + e.what());
      return;
    }
    const std::string type = j.value("type", "");
    if (type == "hello") {
      // A new connection (first, reconnect, or a restarted station process): sequences start
      // again at 0, and the station learns where its stream continues.
      if (!st.routing_id.empty() && st.routing_id != d.routing_id) ++st.health.reconnects;
      st.routing_id = d.routing_id;
      st.control_in.reset(0);
      st.control_out = 0;
      st.unsent.clear();
      try {
        st.control_in.accept(f.sequence);
      } catch (const WireError& e) {
        refuse_frame(st, e.what());
      }
      if (j.value("v", 0) != 1) {
        log("station " + st.name + " speaks protocol version " + std::to_string(j.value("v", 0)) + ", not 1");
        return;
      }
      st.settings_for = j.value("settings_for", std::vector<int>{});
      st.chooses_settings = j.value("chooses_settings", std::vector<int>{});
      const auto have = j.value("have_settings", std::vector<std::uint64_t>{});
      st.acked.assign(settings.size(), 0);
      for (std::size_t i = 0; i < st.settings_for.size(); ++i) {
        const int p = st.settings_for[i];
        if (p < 0 || static_cast<std::size_t>(p) >= settings.size()) continue;
        st.acked[static_cast<std::size_t>(p)] = i < have.size() ? have[i] : 0;
      }
      st.awaiting_resume = false;
      if (st.state != State::ended) st.state = State::connected;
      // What its file holds beyond what we received is resent now (backfill, the GUI's and
      // report's "backfill" state).
      const auto have_blocks = j.value("blocks", std::uint64_t{0});
      st.health.station_tags = std::max(st.health.station_tags, j.value("tags", std::uint64_t{0}));
      if (have_blocks > st.next_block) {
        st.backfill_until = have_blocks;
        st.health.backfill = Backfill::backfilling;
        ++st.health.backfills;
      }
      log("station " + st.name + " connected (" + (st.health.reconnects ? "again; " : "") +
          "its stream continues at block " + std::to_string(st.next_block) + ", tag " + std::to_string(st.tags) + ")");
      st.credit = credit_for(st);
      st.granted = std::max(st.granted, st.credit);
      send_control(st, {{"type", "welcome"},
                        {"v", 1},
                        {"block", st.next_block},
                        {"tag", st.tags},
                        {"credit", st.credit},
                        {"heartbeat_ms", config.heartbeat.count()},
                        {"started", started && !stopping}});
      for (int p : st.settings_for)
        if (p >= 0 && static_cast<std::size_t>(p) < settings.size())
          send_settings_from(st, p, st.acked[static_cast<std::size_t>(p)]);
      if (stopping) send_control(st, {{"type", "stop"}});
      cv.notify_all();
      return;
    }
    try {
      st.control_in.accept(f.sequence);
    } catch (const WireError& e) {
      refuse_frame(st, e.what());
      return;
    }
    if (type == "heartbeat") {
      st.health.station_tags = std::max(st.health.station_tags, j.value("tags", std::uint64_t{0}));
    } else if (type == "settings_ack") {
      const int p = j.value("party", -1);
      if (p >= 0 && static_cast<std::size_t>(p) < st.acked.size())
        st.acked[static_cast<std::size_t>(p)] =
            std::max(st.acked[static_cast<std::size_t>(p)], j.value("end", std::uint64_t{0}));
      cv.notify_all();
    } else if (type == "end") {
      st.end_blocks = j.value("blocks", std::int64_t{0});
      st.end_error = j.value("error", false);
      st.end_reason = j.value("reason", "");
      if (st.next_block >= static_cast<std::uint64_t>(st.end_blocks)) st.state = State::ended;
      log("station " + st.name + " ended its stream after " + std::to_string(st.end_blocks) + " blocks" +
          (st.end_error ? " with an error: " + st.end_reason : ""));
      cv.notify_all();
    } else if (type == "log") {
      log("station " + st.name + ": " + j.value("text", ""));
    }
  }

  // Flow control (docs/wire.md, "Flow control"): a station may send tags up to kCreditTags past
  // what the merge has consumed of its stream. A station that runs ahead of the others (its
  // tags wait for theirs) then waits with its blocks in its own file instead of the
  // coordinator's memory growing by its whole lead: the merge's buffers stay small and in
  // cache (page faults on ever-fresh buffers were most of the coordinator's CPU,
  // bench/README.md). 2^18 tags keep the waiting tags within 4 MiB (2^20's 16 MiB cost the
  // coordinator about 3 ns a tag, bench/README.md "Fifth round") and still cover about 13 ms of
  // a station at 20 M tags/s. The station behind always has credit: its tags merge as they arrive.
  static constexpr std::uint64_t kCreditTags = 1u << 18;
  std::uint64_t credit_for(const Station& st) const {
    const std::uint64_t unmerged = st.incoming_tags + st.merge_pending;
    const std::uint64_t merged = st.tags > unmerged ? st.tags - unmerged : 0;
    return merged + kCreditTags;
  }
  // Called with the lock held, from the I/O thread: a new credit once it moved by a quarter.
  void grant_credit() {
    for (auto& st : stations) {
      if (st.routing_id.empty() || st.state == State::lost || st.state == State::waiting) continue;
      const std::uint64_t c = credit_for(st);
      if (c >= st.credit + kCreditTags / 4) {
        st.credit = c;
        st.granted = std::max(st.granted, c);
        send_control(st, {{"type", "credit"}, {"tag", c}});
      }
    }
  }

  void beat(bool send) {
    std::lock_guard<std::mutex> l(m);
    const auto now = Clock::now();
    for (auto& st : stations) {
      // Tag rate over windows of half a second (the GUI polls at up to 25 Hz; a shorter window
      // would show the block granularity of the stream, not its rate).
      if (st.rate_since == Clock::time_point{}) {
        st.rate_since = now;
        st.rate_tags = st.tags;
      } else if (const double dt = std::chrono::duration<double>(now - st.rate_since).count(); dt >= 0.5) {
        st.health.tag_rate = static_cast<double>(st.tags - st.rate_tags) / dt;
        st.rate_since = now;
        st.rate_tags = st.tags;
      }
      if (send && (st.state == State::connected || st.state == State::ended))
        send_control(st, {{"type", "heartbeat"}, {"tags", st.tags}, {"block", st.next_block}});
      // Lost: nothing from it for two heartbeat periods (issue 14: "reported within 2 heartbeats").
      if (st.state == State::connected && now - st.last_seen > 2 * config.heartbeat) {
        st.state = State::lost;
        st.lost_since = st.last_seen;
        ++st.health.drops;
        log("station " + st.name + " lost: no message for " +
            std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(now - st.last_seen).count()) +
            " ms (heartbeat " + std::to_string(config.heartbeat.count()) + " ms)");
        cv.notify_all();
      }
    }
  }

  void run() {
    auto next_beat = Clock::now();
    auto next_check = next_beat;
    Delivery d;
    while (!quit.load()) {
      for (int i = 0; i < 64 && link->receive(d, std::chrono::milliseconds(i == 0 ? 5 : 0)); ++i) on_message(d);
      // Liveness is checked every 10 ms, so a silent station is reported at most 10 ms after
      // its second missed heartbeat.
      const bool send = Clock::now() >= next_beat;
      if (send) next_beat = Clock::now() + config.heartbeat;
      if (send || Clock::now() >= next_check) {
        beat(send);
        next_check = Clock::now() + std::chrono::milliseconds(10);
      }
      std::lock_guard<std::mutex> l(m);
      for (auto& st : stations) retry_unsent(st);
      flush_outbox();
      grant_credit();
    }
    // Closing: what is still queued for the stations — the final "stop" above all — gets up to a
    // second to leave. A station that never hears "stop" goes on waiting for settings (seen under
    // load: the coordinator ended the run and quit with "stop" still queued).
    const auto until = Clock::now() + std::chrono::seconds(1);
    for (;;) {
      {
        std::lock_guard<std::mutex> l(m);
        flush_outbox();
        bool pending = false;
        for (auto& st : stations) {
          retry_unsent(st);
          pending = pending || !st.unsent.empty();
        }
        if (!pending || Clock::now() >= until) break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }
  // Frames other threads (the scheduler's settings, start, stop) queue for the I/O thread. They
  // get their sequence number only when the I/O thread sends them: numbered when queued, a
  // heartbeat or welcome the I/O thread sent in between would overtake them, and the station
  // refuses a frame that arrives before a lower number (docs/wire.md, "Sequence"). Seen
  // under load: the station rejected "stop", lost the coordinator, and waited for it a minute.
  struct Outgoing {
    std::size_t station = 0;
    std::string control;  // a control message, or empty for settings
    std::uint64_t first_trial = 0;
    int party = 0;
    std::vector<std::uint8_t> settings;
  };
  std::vector<Outgoing> outbox;
  void flush_outbox() {
    for (auto& o : outbox) {
      Station& st = stations[o.station];
      if (st.routing_id.empty()) continue;  // not connected: its hello brings everything it lacks
      send_frame(st, o.control.empty() ? encode_settings(st.control_out++, o.first_trial, o.party, o.settings)
                                       : encode_control(st.control_out++, o.control));
    }
    outbox.clear();
  }

  // A station lost for longer than the station timeout, or one that broke the protocol (`fault`),
  // ends the run (hardware fault), whoever notices first: the tagger waiting for its tags or a
  // modulator waiting for its settings.
  void check_away(const Station& st, Clock::time_point now) const {
    if (!st.fault.empty()) throw hal::HardwareFault(st.fault);
    if (st.state == State::lost && now - st.lost_since > config.station_timeout)
      throw hal::HardwareFault("station " + st.name + " has been away for more than " +
                               std::to_string(config.station_timeout.count()) +
                               " ms; every trial merged before is kept, and the station's local file holds the rest");
  }

  bool applies(const Station& st, int party) const {
    return std::find(st.settings_for.begin(), st.settings_for.end(), party) != st.settings_for.end();
  }
};

StationHub::StationHub(HubConfig config) : impl_(std::make_unique<Impl>()) {
  keep_streaming_buffers();
  auto& d = *impl_;
  d.config = std::move(config);
  std::map<std::string, std::string> allowed;
  for (const auto& [name, key] : d.config.stations) {
    if (d.index_of.count(name)) throw std::invalid_argument("station " + name + " is listed twice");
    d.index_of[name] = d.stations.size();
    d.stations.emplace_back();
    d.stations.back().name = name;
    d.stations.back().health.name = name;
    allowed[name] = key;
  }
  d.link = std::make_unique<CoordinatorLink>(d.config.listen, d.config.key, allowed, d.config.log);
  d.io = std::thread([&d] { d.run(); });
}

StationHub::~StationHub() {
  impl_->quit = true;
  if (impl_->io.joinable()) impl_->io.join();
}

std::string StationHub::endpoint() const {
  return impl_->link->endpoint();
}
std::size_t StationHub::station_count() const {
  return impl_->stations.size();
}

void StationHub::wait_connected() {
  auto& d = *impl_;
  std::unique_lock<std::mutex> l(d.m);
  const bool all = d.cv.wait_for(l, d.config.connect_timeout, [&] {
    for (const auto& st : d.stations)
      if (st.state == Impl::State::waiting) return false;
    return true;
  });
  if (!all) {
    std::string missing;
    for (const auto& st : d.stations)
      if (st.state == Impl::State::waiting) missing += (missing.empty() ? "" : ", ") + st.name;
    throw hal::HardwareFault("stations did not connect within " + std::to_string(d.config.connect_timeout.count()) +
                             " ms: " + missing);
  }
}

void StationHub::send_settings(int party, std::uint64_t first, std::span<const std::uint8_t> s) {
  auto& d = *impl_;
  std::lock_guard<std::mutex> l(d.m);
  if (party < 0) throw std::invalid_argument("negative party");
  if (d.settings.size() <= static_cast<std::size_t>(party)) {
    d.settings.resize(static_cast<std::size_t>(party) + 1);
    for (auto& st : d.stations) st.acked.resize(d.settings.size(), 0);
  }
  // A station whose own source chooses this party's settings (settings_source) would apply
  // those, not dira's: the trials would carry settings nobody applied. The experiment must say
  // devices.settings_chosen_by: hardware instead (then no settings are sent at all).
  for (const auto& st : d.stations)
    if (std::find(st.chooses_settings.begin(), st.chooses_settings.end(), party) != st.chooses_settings.end())
      throw hal::HardwareFault("station " + st.name + " chooses party " + std::to_string(party) +
                               "'s settings with its own source, but this experiment has dira choose them: set "
                               "devices.settings_chosen_by: hardware, or remove the station's settings_source");
  auto& all = d.settings[static_cast<std::size_t>(party)];
  if (first != all.size())
    throw hal::HardwareFault("settings of party " + std::to_string(party) + " scheduled from trial " +
                             std::to_string(first) + ", expected " + std::to_string(all.size()));
  all.insert(all.end(), s.begin(), s.end());
  for (std::size_t i = 0; i < d.stations.size(); ++i) {
    auto& st = d.stations[i];
    if (!d.applies(st, party) || st.routing_id.empty()) continue;
    d.outbox.push_back({i, std::string(), first, party, std::vector<std::uint8_t>(s.begin(), s.end())});
  }
}

bool StationHub::settings_confirmed(int party, std::uint64_t end) {
  auto& d = *impl_;
  std::unique_lock<std::mutex> l(d.m);
  auto ok = [&] {
    for (const auto& st : d.stations)
      if (d.applies(st, party) &&
          (static_cast<std::size_t>(party) >= st.acked.size() || st.acked[static_cast<std::size_t>(party)] < end))
        return false;
    return true;
  };
  // The scheduler polls; waiting a little here saves it spinning.
  if (d.cv.wait_for(l, std::chrono::milliseconds(20), ok)) return true;
  const auto now = Clock::now();
  for (const auto& st : d.stations)
    if (d.applies(st, party)) d.check_away(st, now);
  return false;
}

void StationHub::start() {
  auto& d = *impl_;
  std::lock_guard<std::mutex> l(d.m);
  // The tagger starts only once the settings of the first trials are delivered (the scheduler's
  // prime), so a station waiting for a party's settings from us that none were sent for by now
  // will never get any: the experiment has the hardware choose them (settings_chosen_by:
  // hardware) but the station has no source of its own. Without this the run stalls forever.
  for (const auto& st : d.stations)
    for (int p : st.settings_for)
      if (std::find(st.chooses_settings.begin(), st.chooses_settings.end(), p) == st.chooses_settings.end() &&
          (p < 0 || static_cast<std::size_t>(p) >= d.settings.size() ||
           d.settings[static_cast<std::size_t>(p)].empty()))
        throw hal::HardwareFault("station " + st.name + " waits for party " + std::to_string(p) +
                                 "'s settings from the coordinator, but this experiment has the hardware choose them "
                                 "(devices.settings_chosen_by: hardware): give the station a settings_source, or "
                                 "have dira choose the settings");
  d.started = true;
  for (std::size_t i = 0; i < d.stations.size(); ++i) {
    auto& st = d.stations[i];
    if (st.routing_id.empty()) continue;
    d.outbox.push_back({i, R"({"type":"start"})", 0, 0, {}});
  }
}

void StationHub::stop() {
  auto& d = *impl_;
  std::lock_guard<std::mutex> l(d.m);
  if (d.stopping) return;
  d.stopping = true;
  for (std::size_t i = 0; i < d.stations.size(); ++i) {
    auto& st = d.stations[i];
    if (st.routing_id.empty()) continue;
    d.outbox.push_back({i, R"({"type":"stop"})", 0, 0, {}});
  }
}

void StationHub::take_frames(std::vector<std::vector<std::vector<std::uint8_t>>>& frames, std::vector<bool>& ended,
                             std::chrono::milliseconds timeout) {
  auto& d = *impl_;
  std::unique_lock<std::mutex> l(d.m);
  auto something = [&] {
    for (const auto& st : d.stations)
      if (!st.incoming.empty() || st.state == Impl::State::lost) return true;
    return false;
  };
  d.cv.wait_for(l, timeout, something);
  frames.resize(d.stations.size());
  ended.resize(d.stations.size());
  const auto now = Clock::now();
  for (std::size_t s = 0; s < d.stations.size(); ++s) {
    auto& st = d.stations[s];
    d.check_away(st, now);
    // What the caller holds from before is consumed: its buffers go back to the I/O thread.
    constexpr std::size_t kSpare = 64;
    for (auto& f : frames[s])
      if (d.spare.size() < kSpare && f.capacity() > 0) d.spare.push_back(std::move(f));
    frames[s].clear();
    frames[s].swap(st.incoming);
    st.incoming_tags = 0;  // the merge's now: its note_merge says how many it still holds
    ended[s] = st.state == Impl::State::ended;
    if (ended[s] && st.end_error) throw hal::HardwareFault("station " + st.name + "'s tagger failed: " + st.end_reason);
  }
}

void StationHub::take(std::vector<std::vector<hal::Tag>>& blocks, std::vector<bool>& ended,
                      std::chrono::milliseconds timeout) {
  std::vector<std::vector<std::vector<std::uint8_t>>> frames;
  take_frames(frames, ended, timeout);
  blocks.resize(frames.size());
  for (std::size_t s = 0; s < frames.size(); ++s)
    for (const auto& f : frames[s]) {
      TagFrameReader r(f, true);
      const std::size_t at = blocks[s].size();
      // Room a chunk at a time as the tags decode, never the frame's tag count at once: that
      // count is the peer's claim (bounded only by 2 bytes a tag, docs/wire.md), and the tags
      // behind it are checked only as they decode.
      constexpr std::size_t kChunk = 4096;
      try {
        for (std::size_t k = 1; k > 0;) {
          const std::size_t done = blocks[s].size();
          blocks[s].resize(done + kChunk);
          k = r.read(blocks[s].data() + done, kChunk);
          blocks[s].resize(done + k);
        }
      } catch (const WireError& e) {
        blocks[s].resize(at);
        throw hal::HardwareFault(undecodable_block(impl_->stations[s].name, e));
      }
    }
}

std::string undecodable_block(const std::string& station, const WireError& e) {
  return "station " + station + " sent a block whose checksum is right but whose tags do not decode (" + e.what() +
         "): its encoder is at fault, and its record holds the same block, so resending cannot help";
}

void StationHub::note_merge(std::size_t s, std::int64_t offset_ps, std::uint64_t unmerged_tags) {
  std::lock_guard<std::mutex> l(impl_->m);
  if (s >= impl_->stations.size()) return;
  impl_->stations[s].health.clock_offset_ps = offset_ps;
  impl_->stations[s].merge_pending = unmerged_tags;
}

double StationHub::io_cpu_seconds() const {
  clockid_t id{};
  timespec ts{};
  if (pthread_getcpuclockid(impl_->io.native_handle(), &id) != 0 || ::clock_gettime(id, &ts) != 0) return 0;
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

std::vector<StationHealth> StationHub::health() const {
  auto& d = *impl_;
  std::lock_guard<std::mutex> l(d.m);
  std::vector<StationHealth> out;
  const auto now = Clock::now();
  for (const auto& st : d.stations) {
    StationHealth h = st.health;
    h.link = st.state;
    h.heartbeat_age_s =
        st.last_seen == Clock::time_point{} ? -1 : std::chrono::duration<double>(now - st.last_seen).count();
    if (st.state == Impl::State::ended) h.station_tags = std::max(h.station_tags, st.tags);
    h.backlog_tags = h.station_tags > st.tags ? h.station_tags - st.tags : 0;
    h.unmerged_tags = st.incoming_tags + st.merge_pending;
    h.backfill_blocks_left = h.backfill == Backfill::backfilling && st.backfill_until > st.next_block
                                 ? st.backfill_until - st.next_block
                                 : 0;
    out.push_back(h);
  }
  return out;
}

const char* to_string(LinkState s) {
  switch (s) {
    case LinkState::waiting:
      return "waiting";
    case LinkState::connected:
      return "connected";
    case LinkState::lost:
      return "lost";
    case LinkState::ended:
      return "ended";
  }
  return "?";
}

const char* to_string(Backfill b) {
  switch (b) {
    case Backfill::none:
      return "none";
    case Backfill::backfilling:
      return "backfilling";
    case Backfill::complete:
      return "complete";
  }
  return "?";
}

std::vector<StationHealth> station_health() {
  std::vector<std::shared_ptr<StationHub>> live;
  {
    std::lock_guard<std::mutex> l(hubs_mutex);
    for (const auto& [listen, weak] : hubs())
      if (auto h = weak.lock()) live.push_back(std::move(h));
  }
  std::vector<StationHealth> out;
  for (const auto& h : live) {
    auto v = h->health();
    out.insert(out.end(), v.begin(), v.end());
  }
  return out;
}

nlohmann::json health_json(const std::vector<StationHealth>& hs) {
  nlohmann::json a = nlohmann::json::array();
  for (const auto& h : hs)
    a.push_back({{"station", h.name},
                 {"state", to_string(h.link)},
                 {"heartbeat_age_s", h.heartbeat_age_s},
                 {"tag_rate", h.tag_rate},
                 {"tags_received", h.tags},
                 {"tags_acquired", h.station_tags},
                 {"backlog_tags", h.backlog_tags},
                 {"unmerged_tags", h.unmerged_tags},
                 {"clock_offset_ps", h.clock_offset_ps},
                 {"backfill", to_string(h.backfill)},
                 {"backfill_blocks_left", h.backfill_blocks_left},
                 {"backfills", h.backfills},
                 {"rejected_frames", h.rejected_frames},
                 {"drops", h.drops},
                 {"reconnects", h.reconnects}});
  return a;
}

}  // namespace dira::station
