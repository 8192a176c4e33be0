// One station: acquisition, local record, link (station.hpp; docs/stations.md).
#include "dira/station/station.hpp"
#include "dira/station/wire.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <ctime>
#include <deque>
#include <limits>
#include <thread>

namespace dira::station {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {
// CPU time of the calling thread, in seconds.
double thread_cpu_s() {
  timespec ts{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}
}  // namespace

// ---- the local record ------------------------------------------------------------------------

namespace {
bool pread_all(int fd, std::uint8_t* p, std::size_t n, std::uint64_t off) {
  while (n > 0) {
    const ssize_t r = ::pread(fd, p, n, static_cast<off_t>(off));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    p += r;
    n -= static_cast<std::size_t>(r);
    off += static_cast<std::uint64_t>(r);
  }
  return true;
}
}  // namespace

StationFile::StationFile(const std::filesystem::path& path) : path_(path) {
  fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd_ < 0) throw std::runtime_error("cannot open the station file " + path.string() + ": " + std::strerror(errno));
  struct stat st {};
  ::fstat(fd_, &st);
  const std::uint64_t size = static_cast<std::uint64_t>(st.st_size);
  // Verify frame by frame; the first one that is incomplete or fails its checksum and
  // everything after it is a torn write from a crash: cut it.
  std::uint64_t off = 0;
  offsets_.push_back(0);
  first_tags_.push_back(0);
  std::vector<std::uint8_t> frame;
  while (off + kHeaderBytes <= size) {
    std::uint8_t h[kHeaderBytes];
    if (!pread_all(fd_, h, kHeaderBytes, off)) break;
    std::uint32_t len = 0;
    std::memcpy(&len, h + 24, 4);
    if (len > kMaxPayload || off + kHeaderBytes + len > size) break;
    frame.resize(kHeaderBytes + len);
    if (!pread_all(fd_, frame.data(), frame.size(), off)) break;
    std::uint64_t seq = 0;
    hal::TagBlock tags;
    try {
      const std::uint64_t pos = decode_tags_into(frame, seq, tags);
      if (seq != offsets_.size() - 1 || pos != tags_) break;  // not the next block of this stream
    } catch (const WireError&) {
      break;
    }
    tags_ += tags.size();
    off += frame.size();
    offsets_.push_back(off);
    first_tags_.push_back(tags_);
  }
  if (off < size) {
    truncated_ = size - off;
    if (::ftruncate(fd_, static_cast<off_t>(off)) != 0)
      throw std::runtime_error("cannot cut the torn tail of " + path.string() + ": " + std::strerror(errno));
  }
}

StationFile::~StationFile() {
  if (fd_ >= 0) {
    ::fdatasync(fd_);
    ::close(fd_);
  }
}

void StationFile::append(const std::vector<std::uint8_t>& frame, std::uint64_t tags) {
  std::uint64_t off;
  {
    std::lock_guard<std::mutex> l(m_);
    off = offsets_.back();
  }
  std::size_t done = 0;
  while (done < frame.size()) {
    const ssize_t n = ::pwrite(fd_, frame.data() + done, frame.size() - done, static_cast<off_t>(off + done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0)
      throw std::runtime_error("cannot write the station file " + path_.string() + ": " + std::strerror(errno));
    done += static_cast<std::size_t>(n);
  }
  unsynced_ += frame.size();
  if (unsynced_ >= (64u << 20)) {  // bound what a power cut can take: the page cache flushed every 64 MiB
    ::fdatasync(fd_);
    unsynced_ = 0;
  }
  std::lock_guard<std::mutex> l(m_);
  offsets_.push_back(off + frame.size());
  tags_ += tags;
  first_tags_.push_back(tags_);
}

std::vector<std::uint8_t> StationFile::read(std::uint64_t b) const {
  std::vector<std::uint8_t> out;
  read_into(b, out);
  return out;
}

void StationFile::read_into(std::uint64_t b, std::vector<std::uint8_t>& out) const {
  std::uint64_t from, to;
  {
    std::lock_guard<std::mutex> l(m_);
    if (b + 1 >= offsets_.size()) throw std::out_of_range("block " + std::to_string(b) + " is not in the file");
    from = offsets_[b];
    to = offsets_[b + 1];
  }
  out.resize(to - from);  // zero-fills only what the buffer grows by
  if (!pread_all(fd_, out.data(), out.size(), from))
    throw std::runtime_error("cannot read block " + std::to_string(b) + " of " + path_.string());
}

std::uint64_t StationFile::first_tag(std::uint64_t b) const {
  std::lock_guard<std::mutex> l(m_);
  return first_tags_.at(static_cast<std::size_t>(b));
}

std::uint64_t StationFile::blocks() const {
  std::lock_guard<std::mutex> l(m_);
  return offsets_.size() - 1;
}
std::uint64_t StationFile::tags() const {
  std::lock_guard<std::mutex> l(m_);
  return tags_;
}

// ---- the station -----------------------------------------------------------------------------

namespace {

// Packed (wire version 2), a tag takes at most kMaxPackedTagBytes: any block this size fits a frame.
constexpr std::size_t kMaxTagsPerFrame = (kMaxPayload - 4) / kMaxPackedTagBytes;

struct Shared {
  std::mutex m;
  std::condition_variable cv;
  std::deque<Frame> settings;                // received, not yet applied
  std::vector<std::uint64_t> applied;        // per party: trials scheduled at its modulator
  std::vector<Clock::time_point> committed;  // per block: when it was in the file
  bool start = false;
  bool stop = false;
  bool acquisition_done = false;
  bool fault = false;
  std::string reason;
};

// settings_chosen_by: hardware on a simulated apparatus (docs/stations.md, "Hardware-chosen
// settings"): the station's own weak source drives its modulators, as a physical source wired to
// them would, and the tagger's setting echo reports what they applied. Per trial, one bit per
// party of settings_for, in that order (the bit is the setting: Protocols A and C draw one bit
// per party and trial, and the coordinator's ledger counts exactly that many observed bits). The
// whole run's settings are in place before the tagger starts: a wired source needs no
// look-ahead, and the simulation plays only trials whose settings it holds.
void choose_own_settings(const StationConfig& cfg, const StationDevices& dev, Shared& sh) {
  constexpr std::uint64_t kChunk = 1u << 16;
  const std::size_t np = cfg.settings_for.size();
  std::vector<std::vector<std::uint8_t>> chunk(np);
  std::uint64_t drawn = 0;
  for (std::uint64_t first = 0; first < cfg.own_setting_trials; first += kChunk) {
    const std::uint64_t n = std::min(kChunk, cfg.own_setting_trials - first);
    for (auto& c : chunk) c.resize(static_cast<std::size_t>(n));
    try {
      for (std::size_t i = 0; i < n; ++i)
        for (std::size_t k = 0; k < np; ++k, ++drawn) chunk[k][i] = dev.setting_source->next_bit() ? 1 : 0;
    } catch (const protocol::SourceExhausted& e) {
      throw hal::HardwareFault("the station's setting source ran out after " + std::to_string(drawn) + " bits (" +
                               std::to_string(np) + " per trial for " + std::to_string(cfg.own_setting_trials) +
                               " trials): " + e.what());
    }
    for (std::size_t k = 0; k < np; ++k) {
      const auto p = static_cast<std::size_t>(cfg.settings_for[k]);
      hal::Modulator* m = dev.modulators.at(p);
      m->schedule(first, chunk[k]);
      const auto until = Clock::now() + std::chrono::seconds(5);
      while (!m->confirm(first + n))
        if (Clock::now() > until)
          throw hal::HardwareFault("modulator of party " + std::to_string(p) + " did not confirm");
      std::lock_guard<std::mutex> l(sh.m);
      sh.applied[p] = first + n;
    }
  }
}

void acquire(const StationConfig& cfg, StationDevices dev, StationFile& file, Shared& sh, const LinkLog& log,
             const std::atomic<bool>* interrupt) {
  // A restarted station of a deterministic apparatus (simulator, replay) regenerates the
  // stream from its start: what its file already holds is skipped, so the stream continues
  // exactly where the file ends.
  std::uint64_t skip = file.tags();
  hal::TagBlock replay;  // the record's tags being compared with the regenerated ones
  std::size_t replay_at = 0;
  std::uint64_t replay_block = 0, replayed = 0;
  bool started = false, stopped = false;
  std::vector<std::uint8_t> frame;
  auto apply_settings = [&] {
    std::deque<Frame> todo;
    {
      std::lock_guard<std::mutex> l(sh.m);
      todo.swap(sh.settings);
    }
    for (auto& f : todo) {
      const auto p = static_cast<std::size_t>(f.party);
      if (p >= dev.modulators.size() || !dev.modulators[p]) continue;
      std::uint64_t have;
      {
        std::lock_guard<std::mutex> l(sh.m);
        have = sh.applied[p];
      }
      const std::uint64_t end = f.position + f.settings.size();
      if (end <= have) continue;  // resent after a reconnect: applied already
      if (f.position > have)
        throw hal::HardwareFault("settings of party " + std::to_string(p) + " jump from trial " + std::to_string(have) +
                                 " to " + std::to_string(f.position));
      const std::span<const std::uint8_t> fresh(f.settings.data() + (have - f.position), end - have);
      dev.modulators[p]->schedule(have, fresh);
      const auto until = Clock::now() + std::chrono::seconds(5);
      while (!dev.modulators[p]->confirm(end))
        if (Clock::now() > until)
          throw hal::HardwareFault("modulator of party " + std::to_string(p) + " did not confirm");
      std::lock_guard<std::mutex> l(sh.m);
      sh.applied[p] = end;
    }
  };
  try {
    for (;;) {
      apply_settings();
      bool want_start, want_stop;
      {
        std::lock_guard<std::mutex> l(sh.m);
        want_start = sh.start;
        want_stop = sh.stop || (interrupt && interrupt->load());
      }
      if (!started) {
        if (want_stop) break;
        if (!want_start) {
          std::unique_lock<std::mutex> l(sh.m);
          sh.cv.wait_for(l, std::chrono::milliseconds(5));
          continue;
        }
        if (dev.setting_source) choose_own_settings(cfg, dev, sh);
        dev.tagger->start();
        started = true;
      }
      if (want_stop && !stopped) {
        dev.tagger->stop();
        stopped = true;
      }
      const hal::TaggerEvent ev = dev.tagger->next(std::chrono::milliseconds(20));
      if (const auto* block = std::get_if<hal::TagBlock>(&ev)) {
        std::size_t from = 0;
        if (skip > 0) {
          from = static_cast<std::size_t>(std::min<std::uint64_t>(skip, block->size()));
          skip -= from;
          // What is skipped must be what the record holds: an apparatus that does not reproduce
          // its stream cannot continue it (a real tagger restarted mid-run), and mixing the two
          // would corrupt trials silently.
          for (std::size_t i = 0; i < from; ++i) {
            while (replay_at == replay.size()) {
              replay.clear();
              replay_at = 0;
              std::uint64_t seq = 0;
              decode_tags_into(file.read(replay_block++), seq, replay);
            }
            const hal::Tag& want = replay[replay_at++];
            const hal::Tag& got = (*block)[i];
            if (got.type != want.type || got.channel != want.channel ||
                got.time_ps + cfg.clock_offset_ps != want.time_ps || got.missed != want.missed)
              throw hal::HardwareFault("the restarted apparatus does not reproduce the stream its record holds (tag " +
                                       std::to_string(replayed) + " differs): this station cannot continue the run");
            ++replayed;
          }
        }
        for (std::size_t a = from; a < block->size(); a += kMaxTagsPerFrame) {
          const std::size_t n = std::min(kMaxTagsPerFrame, block->size() - a);
          std::span<const hal::Tag> tags(block->data() + a, n);
          std::vector<hal::Tag> shifted;
          if (cfg.clock_offset_ps != 0) {
            shifted.assign(tags.begin(), tags.end());
            for (auto& t : shifted) t.time_ps += cfg.clock_offset_ps;
            tags = shifted;
          }
          // Packed (docs/wire.md, version 2): 3–4 bytes a tag instead of 16, so the file, the
          // encryption and the socket carry a fraction of the bytes.
          encode_packed_tags_into(frame, file.blocks(), file.tags(), tags);
          file.append(frame, n);  // in the file before anything is sent
          std::lock_guard<std::mutex> l(sh.m);
          sh.committed.push_back(Clock::now());
        }
      } else if (const auto* end = std::get_if<hal::StreamEnd>(&ev)) {
        if (end->error) {
          std::lock_guard<std::mutex> l(sh.m);
          sh.fault = true;
          sh.reason = end->reason;
        }
        break;
      }
    }
  } catch (const std::exception& e) {
    if (log) log(std::string("acquisition failed: ") + e.what());
    std::lock_guard<std::mutex> l(sh.m);
    sh.fault = true;
    sh.reason = e.what();
  }
  std::lock_guard<std::mutex> l(sh.m);
  sh.acquisition_done = true;
}

}  // namespace

StationResult run_station(const StationConfig& cfg, StationDevices dev, LinkLog log,
                          const std::atomic<bool>* interrupt) {
  keep_streaming_buffers();
  StationFile file(cfg.file);
  if (file.truncated_bytes() > 0 && log)
    log("cut a torn tail of " + std::to_string(file.truncated_bytes()) + " bytes from " + cfg.file.string());
  if (file.blocks() > 0 && log)
    log(cfg.file.string() + " holds " + std::to_string(file.blocks()) + " blocks, " + std::to_string(file.tags()) +
        " tags already: the stream continues after them");
  Shared sh;
  sh.applied.assign(dev.modulators.size(), 0);
  sh.committed.assign(static_cast<std::size_t>(file.blocks()), Clock::now());
  StationLink link(cfg.coordinator, cfg.coordinator_key, cfg.key, log);
  double acquisition_cpu_s = 0;
  std::thread acq([&] {
    acquire(cfg, dev, file, sh, log, interrupt);
    acquisition_cpu_s = thread_cpu_s();
  });
  const double link_cpu_0 = thread_cpu_s();

  std::uint64_t control_out = 0;
  SequenceCheck control_in;
  bool welcomed = false;
  std::uint64_t send_block = 0;
  std::uint64_t coordinator_blocks = 0;  // what the coordinator says it holds
  // Flow control: blocks whose first tag is below this may be sent (welcome, credit).
  std::uint64_t credit = std::numeric_limits<std::uint64_t>::max();
  bool end_sent = false, stop_seen = false, gave_up = false;
  std::vector<std::uint64_t> acked(dev.modulators.size(), 0);
  const auto t0 = Clock::now();
  auto last_heard = t0, next_beat = t0, done_at = Clock::time_point::max();
  // A control frame the link will not take now (queue full under load) is not sent at all, so
  // its sequence number is used again: counting it would be a gap the coordinator refuses.
  auto send_control = [&](const json& j) {
    if (!link.send(encode_control(control_out, j.dump()))) return false;
    ++control_out;
    return true;
  };
  StationResult res;
  std::vector<std::uint8_t> in;
  std::vector<std::uint8_t> block_bytes;  // one block read back from the file, to send

  for (;;) {
    const auto now = Clock::now();
    if (interrupt && interrupt->load()) {
      std::lock_guard<std::mutex> l(sh.m);
      sh.stop = true;
    }
    // Hello until welcomed (first connection, or again after the coordinator was lost).
    if (!welcomed && now >= next_beat) {
      control_out = 0;
      std::vector<std::uint64_t> have;
      {
        std::lock_guard<std::mutex> l(sh.m);
        for (int p : cfg.settings_for)
          have.push_back(static_cast<std::size_t>(p) < sh.applied.size() ? sh.applied[static_cast<std::size_t>(p)] : 0);
      }
      // A station choosing its own settings takes none from the coordinator: it says so, and
      // the coordinator refuses to send them (docs/wire.md, `hello`).
      const bool own = dev.setting_source != nullptr;
      if (own) have.clear();
      (void)send_control({{"type", "hello"},
                          {"v", 1},
                          {"station", cfg.name},
                          {"settings_for", own ? std::vector<int>{} : cfg.settings_for},
                          {"chooses_settings", own ? cfg.settings_for : std::vector<int>{}},
                          {"have_settings", have},
                          {"blocks", file.blocks()},
                          {"tags", file.tags()}});
      next_beat = now + cfg.heartbeat;
    }
    if (link.receive(in, std::chrono::milliseconds(2))) {
      try {
        // A coordinator sends no tags: a tag frame is refused unread. Decoded, a packed frame of
        // 16 MiB could fill 128 MiB (docs/wire.md, "Bounds on what a peer can make us allocate").
        if (in.size() >= kHeaderBytes && carries_tags(static_cast<FrameKind>(in[5])))
          throw WireError(std::string("a coordinator sends no tag frames, this is one of kind ") +
                          to_string(static_cast<FrameKind>(in[5])));
        Frame f = decode(in);
        json j;
        if (f.kind == FrameKind::control) {
          j = json::parse(f.text);
          if (j.value("type", "") == "welcome") control_in.reset(0);
        }
        control_in.accept(f.sequence);
        last_heard = Clock::now();
        if (f.kind == FrameKind::settings && dev.setting_source) {
          if (log) log("refused settings from the coordinator: this station chooses its own (settings_source)");
        } else if (f.kind == FrameKind::settings) {
          std::lock_guard<std::mutex> l(sh.m);
          sh.settings.push_back(std::move(f));
          sh.cv.notify_all();
        } else if (f.kind == FrameKind::control) {
          const std::string type = j.value("type", "");
          if (type == "welcome" && welcomed) {
            // The answer to a hello repeated while the first answer was on its way: the stream
            // already continues from the first one, and blocks are in flight; rewinding to this
            // welcome's block would send them twice (each refused as out of sequence). The
            // coordinator took its settings state from that hello: acknowledge again.
            std::fill(acked.begin(), acked.end(), 0);
          } else if (type == "welcome") {
            welcomed = true;
            send_block = j.value("block", std::uint64_t{0});
            // A coordinator without flow control (an older one) gives no credit: no limit.
            credit = j.value("credit", std::numeric_limits<std::uint64_t>::max());
            coordinator_blocks = send_block;
            if (log) log("coordinator welcomed us; sending from block " + std::to_string(send_block));
            if (send_block > file.blocks() && log)
              log("the coordinator holds more blocks than this station's file: was the file replaced?");
            if (j.value("started", false)) {
              std::lock_guard<std::mutex> l(sh.m);
              sh.start = true;
            }
            std::fill(acked.begin(), acked.end(), 0);
          } else if (type == "start") {
            std::lock_guard<std::mutex> l(sh.m);
            sh.start = true;
            sh.cv.notify_all();
          } else if (type == "stop") {
            stop_seen = true;
            std::lock_guard<std::mutex> l(sh.m);
            sh.stop = true;
            sh.cv.notify_all();
          } else if (type == "resume") {
            send_block = j.value("block", send_block);
            if (log) log("coordinator asked to resend from block " + std::to_string(send_block));
          } else if (type == "credit") {
            credit = std::max(credit == std::numeric_limits<std::uint64_t>::max() ? 0 : credit,
                              j.value("tag", std::uint64_t{0}));
          } else if (type == "heartbeat") {
            coordinator_blocks = j.value("block", coordinator_blocks);
          }
        }
      } catch (const std::exception& e) {
        if (log) log(std::string("rejected a frame from the coordinator: ") + e.what());
      }
    }
    if (welcomed && Clock::now() - last_heard > 2 * cfg.heartbeat) {
      if (log) log("coordinator lost: nothing heard for more than two heartbeats; recording on, reconnecting");
      welcomed = false;
      end_sent = false;
    }
    if (!welcomed) {
      bool done;
      {
        std::lock_guard<std::mutex> l(sh.m);
        done = sh.acquisition_done;
      }
      // Nobody to deliver to: give up after the coordinator timeout once nothing more is coming.
      if ((done || stop_seen) && Clock::now() - last_heard > cfg.coordinator_timeout) break;
      // Acquiring with no coordinator for longer than the timeout (never answered, or gone since):
      // stop. Settings from it cannot arrive, so a station waiting for them would wait forever;
      // everything acquired is in the local file (dira analyze --stations rebuilds from it).
      if (!done && !gave_up && Clock::now() - last_heard > cfg.coordinator_timeout) {
        if (log)
          log(last_heard == t0 ? "no coordinator answered within the timeout"
                               : "the coordinator has been away for longer than the timeout: acquisition stopped; "
                                 "everything acquired is in " +
                                     cfg.file.string());
        gave_up = true;
        std::lock_guard<std::mutex> l(sh.m);
        sh.stop = true;
        // Never answered: no run took place, which is not a complete one (exit 4, not 0).
        if (last_heard == t0 && !sh.fault) {
          sh.fault = true;
          sh.reason = "no coordinator answered at " + cfg.coordinator + " within coordinator_timeout_ms (" +
                      std::to_string(cfg.coordinator_timeout.count()) + " ms)";
        }
      }
      continue;
    }
    // Heartbeat and acknowledgements.
    std::vector<std::uint64_t> applied;
    bool done, fault;
    std::string reason;
    std::size_t committed;
    {
      std::lock_guard<std::mutex> l(sh.m);
      applied = sh.applied;
      done = sh.acquisition_done;
      fault = sh.fault;
      reason = sh.reason;
      committed = sh.committed.size();
    }
    for (std::size_t p = 0; p < applied.size() && !dev.setting_source; ++p)
      if (applied[p] > acked[p] && send_control({{"type", "settings_ack"}, {"party", p}, {"end", applied[p]}}))
        acked[p] = applied[p];
    if (Clock::now() >= next_beat) {
      (void)send_control({{"type", "heartbeat"}, {"tags", file.tags()}, {"blocks", file.blocks()}});
      next_beat = Clock::now() + cfg.heartbeat;
    }
    // Stream the file: every block in order, from where the coordinator asked, as far as its
    // credit allows (docs/wire.md, "Flow control": what is not sent yet waits in the file).
    for (int budget = 0; budget < 64 && send_block < committed && file.first_tag(send_block) < credit; ++budget) {
      if (cfg.send_delay.count() > 0) {
        std::lock_guard<std::mutex> l(sh.m);
        if (Clock::now() < sh.committed[static_cast<std::size_t>(send_block)] + cfg.send_delay) break;
      }
      file.read_into(send_block, block_bytes);
      if (!link.send(block_bytes)) break;  // queue full: later
      ++send_block;
    }
    if (done && send_block == committed && !end_sent) {
      end_sent = send_control({{"type", "end"}, {"blocks", committed}, {"error", fault}, {"reason", reason}});
      if (end_sent) done_at = Clock::now();
    }
    // Finished once the coordinator holds every block, or it stopped us and everything is sent.
    if (end_sent && (coordinator_blocks >= committed || stop_seen)) {
      if (stop_seen) std::this_thread::sleep_for(cfg.heartbeat);  // let the last frames leave
      break;
    }
    if (end_sent && Clock::now() - done_at > cfg.coordinator_timeout) {
      if (log) log("the coordinator did not confirm the last blocks; they are in " + cfg.file.string());
      break;
    }
  }
  {
    std::lock_guard<std::mutex> l(sh.m);
    sh.stop = true;
    sh.cv.notify_all();
  }
  res.link_cpu_s = thread_cpu_s() - link_cpu_0;
  acq.join();
  res.acquisition_cpu_s = acquisition_cpu_s;
  res.tags = file.tags();
  res.blocks = file.blocks();
  res.exit_code = sh.fault ? 4 : 0;
  res.status = sh.fault ? "hardware fault: " + sh.reason : "complete";
  return res;
}

}  // namespace dira::station
