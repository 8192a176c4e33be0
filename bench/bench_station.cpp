// Stations on loopback (issue 14, bench/README.md "Stations"): tags per second per station with
// CurveZMQ encryption and the stations' local recording on, two stations into one coordinator
// that merges their streams by sync index. Everything runs in this process on 127.0.0.1: the
// stations' acquisition and link threads, the coordinator's I/O thread and the merge — on a
// 2-vCPU machine they share two cores, which is the figure to keep in mind.
#include "dira/station/coordinator.hpp"
#include "dira/station/link.hpp"
#include "dira/station/merge.hpp"
#include "dira/station/station.hpp"
#include "dira/station/wire.hpp"

#include <benchmark/benchmark.h>

#include <arpa/inet.h>
#include <malloc.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <ctime>

#include <filesystem>
#include <thread>

namespace {

using namespace dira;

// CPU time of the whole process (every thread: stations, links, hub, merge), in ns.
double process_cpu_ns() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return (static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) * 1e9 +
          static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) * 1e3);
}
using namespace std::chrono_literals;

/// The coordinator's side of a run: takes the stations' blocks, merges them by sync and tells the
/// hub what the merge consumed (its flow control), until every station ended. Returns the tags merged.
std::uint64_t merge_all(station::StationHub& hub, std::size_t stations) {
  station::SyncMerger merger(stations, 1, 256);
  std::vector<std::vector<std::vector<std::uint8_t>>> frames;
  std::vector<bool> ended;
  hal::TagBlock out;
  std::uint64_t merged = 0;
  while (!merger.finished()) {
    hub.take_frames(frames, ended, std::chrono::milliseconds(20));
    for (std::size_t s = 0; s < stations; ++s) {
      for (const auto& f : frames[s]) merger.push_frame(s, f);  // handed back at the next take_frames
      if (ended[s]) merger.end(s);
    }
    merger.pop(out);
    for (std::size_t s = 0; s < stations; ++s) hub.note_merge(s, merger.offset(s), merger.pending(s));
    merged += out.size();
    out.clear();
  }
  return merged;
}

/// A tagger that produces `total` tags as fast as it can: per 1 µs trial a sync (channel 1) and
/// one detection (channel 2 + trial mod 4), in blocks of 64 Ki tags — the shape of a busy
/// station with near-unit efficiency.
class SyntheticTagger final : public hal::TimeTagger {
 public:
  explicit SyntheticTagger(std::uint64_t total) : total_(total) {}
  std::string driver() const override { return "bench"; }
  std::string identity() const override { return "synthetic"; }
  const std::vector<hal::Capability>& capabilities() const override { return caps_; }
  void set(const std::string&, const hal::SettingValue&) override {}
  hal::SettingValue get(const std::string&) const override { return std::int64_t{0}; }
  void start() override {}
  void stop() override { total_ = std::min(total_, made_); }
  hal::TaggerEvent next(std::chrono::milliseconds) override {
    if (made_ >= total_) return hal::StreamEnd{};
    const std::uint64_t n = std::min<std::uint64_t>(65536, total_ - made_);
    // A fresh block each time, handed over (moved), as a driver hands over what it read.
    hal::TagBlock block(n);
    for (std::uint64_t i = 0; i < n; ++i) {
      const std::uint64_t k = made_ + i;
      auto& t = block[i];
      const std::int64_t trial = static_cast<std::int64_t>(k / 2);
      t.channel = (k & 1) ? 2 + static_cast<int>(trial & 3) : 1;
      t.time_ps = trial * 1'000'000 + ((k & 1) ? 10'000 : 0);
    }
    made_ += n;
    return block;
  }
  std::vector<int> channels() const override { return {1, 2, 3, 4, 5}; }

 private:
  std::vector<hal::Capability> caps_;
  std::uint64_t total_, made_ = 0;
};

void BM_StationLoopback(benchmark::State& state) {
  const std::size_t stations = static_cast<std::size_t>(state.range(0));
  const std::uint64_t tags = static_cast<std::uint64_t>(state.range(1));
  const auto dir = std::filesystem::temp_directory_path() / ("dira-bench-station-" + std::to_string(::getpid()));
  std::uint64_t merged_total = 0;
  double cpu_ns = 0;
  double load = 0;
  for (auto _ : state) {
    state.PauseTiming();
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    const auto ck = station::generate_key_pair();
    station::HubConfig hc;
    hc.listen = "tcp://127.0.0.1:*";
    hc.key = ck;
    std::vector<station::KeyPair> keys;
    for (std::size_t s = 0; s < stations; ++s) {
      keys.push_back(station::generate_key_pair());
      hc.stations.emplace_back("s" + std::to_string(s), keys.back().public_key);
    }
    station::StationHub hub(hc);
    std::vector<std::unique_ptr<SyntheticTagger>> taggers;
    std::vector<std::thread> threads;
    const double cpu0 = process_cpu_ns();
    state.ResumeTiming();
    for (std::size_t s = 0; s < stations; ++s) {
      taggers.push_back(std::make_unique<SyntheticTagger>(tags));
      station::StationConfig sc;
      sc.name = "s" + std::to_string(s);
      sc.coordinator = hub.endpoint();
      sc.coordinator_key = ck.public_key;
      sc.key = keys[s];
      sc.file = dir / (sc.name + ".tags");
      sc.coordinator_timeout = 10s;
      station::StationDevices dev;
      dev.tagger = taggers.back().get();
      threads.emplace_back([sc, dev] { station::run_station(sc, dev, nullptr); });
    }
    hub.wait_connected();
    hub.start();
    const std::uint64_t merged = merge_all(hub, stations);
    for (auto& t : threads) t.join();
    merged_total += merged;
    state.PauseTiming();
    cpu_ns += process_cpu_ns() - cpu0;
    double avg[1] = {0};
    if (getloadavg(avg, 1) == 1) load = std::max(load, avg[0]);
    std::filesystem::remove_all(dir);
    state.ResumeTiming();
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()) * static_cast<std::int64_t>(tags));
  state.counters["tags_per_s_per_station"] = benchmark::Counter(
      static_cast<double>(state.iterations()) * static_cast<double>(tags), benchmark::Counter::kIsRate);
  state.counters["merged_tags"] = static_cast<double>(merged_total) / static_cast<double>(state.iterations());
  // CPU (all threads of the process) per tag acquired, recorded, packed, encrypted, sent,
  // decrypted, checked and merged: what separate machines would share out between them.
  state.counters["cpu_ns_per_tag"] =
      cpu_ns / (static_cast<double>(state.iterations()) * static_cast<double>(tags) * static_cast<double>(stations));
  state.counters["loadavg_1m"] = load;  // the machine's load beside the wall-clock figure
}
// Stations × tags per station. Wall-clock time (several threads).
BENCHMARK(BM_StationLoopback)
    ->Args({1, 8 << 20})
    ->Args({2, 8 << 20})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->Iterations(2);

// ---- stations as processes: per-process and per-thread CPU per tag ----------------------------
//
// The same chain with each station a separate process (fork), as on separate machines, so each
// process's CPU per tag is measured on its own: what a machine per station, and a coordinator
// machine, would need. Per thread: the station's acquisition (tagger, pack, record) and link
// (read back, send) threads, ZeroMQ's I/O thread (CurveZMQ encryption, TCP: the rest of the
// station process); the coordinator's hub thread (checks, unpack), its merge thread (this one),
// and ZeroMQ's I/O thread (decryption, TCP: the rest).

int free_loopback_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

double thread_cpu_ns() {
  timespec ts{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e9 + static_cast<double>(ts.tv_nsec);
}

// What a station process reports to the benchmark through its pipe (ns of CPU).
struct StationCpu {
  double process = 0, acquisition = 0, link = 0;
  std::uint64_t tags = 0;
};

void BM_StationProcesses(benchmark::State& state) {
  const std::size_t stations = static_cast<std::size_t>(state.range(0));
  const std::uint64_t tags = static_cast<std::uint64_t>(state.range(1));
  const auto dir = std::filesystem::temp_directory_path() / ("dira-bench-stationp-" + std::to_string(::getpid()));
  StationCpu st_sum;
  double coord_cpu = 0, hub_cpu = 0, merge_cpu = 0, load = 0;
  std::uint64_t runs = 0;
  for (auto _ : state) {
    state.PauseTiming();
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    const auto ck = station::generate_key_pair();
    const std::string endpoint = "tcp://127.0.0.1:" + std::to_string(free_loopback_port());
    std::vector<station::KeyPair> keys;
    for (std::size_t s = 0; s < stations; ++s) keys.push_back(station::generate_key_pair());
    // The stations first, before this process starts any thread of this iteration: a child of a
    // multi-threaded process may only call async-signal-safe functions; these children start
    // from a single-threaded state and build everything themselves (ZeroMQ reconnects until the
    // coordinator below listens).
    std::vector<pid_t> pids;
    std::vector<int> pipes;
    // The heap the previous iteration freed goes back to the system first: pages still mapped
    // at fork are shared copy-on-write with the stations, and the coordinator's first write to
    // each one then copied it (measured: about 1 ns of the coordinator's CPU a tag in the second
    // iteration). Each iteration now starts as the first, and as a coordinator process does.
    malloc_trim(0);
    for (std::size_t s = 0; s < stations; ++s) {
      int fd[2];
      if (::pipe(fd) != 0) std::abort();
      const pid_t pid = ::fork();
      if (pid == 0) {
        ::close(fd[0]);
        SyntheticTagger tagger(tags);
        station::StationConfig sc;
        sc.name = "s" + std::to_string(s);
        sc.coordinator = endpoint;
        sc.coordinator_key = ck.public_key;
        sc.key = keys[s];
        sc.file = dir / (sc.name + ".tags");
        sc.coordinator_timeout = 20s;
        station::StationDevices dev;
        dev.tagger = &tagger;
        const auto r = station::run_station(sc, dev, nullptr);
        StationCpu c{process_cpu_ns(), r.acquisition_cpu_s * 1e9, r.link_cpu_s * 1e9, r.tags};
        if (::write(fd[1], &c, sizeof c) != static_cast<ssize_t>(sizeof c)) ::_exit(3);
        ::_exit(r.exit_code);
      }
      ::close(fd[1]);
      pids.push_back(pid);
      pipes.push_back(fd[0]);
    }
    const double cpu0 = process_cpu_ns();
    {
      station::HubConfig hc;
      hc.listen = endpoint;
      hc.key = ck;
      for (std::size_t s = 0; s < stations; ++s) hc.stations.emplace_back("s" + std::to_string(s), keys[s].public_key);
      station::StationHub hub(hc);
      hub.wait_connected();
      const double merge0 = thread_cpu_ns();
      state.ResumeTiming();
      hub.start();
      merge_all(hub, stations);
      state.PauseTiming();
      merge_cpu += thread_cpu_ns() - merge0;
      hub_cpu += hub.io_cpu_seconds() * 1e9;
      for (std::size_t s = 0; s < stations; ++s) {
        StationCpu c;
        if (::read(pipes[s], &c, sizeof c) != static_cast<ssize_t>(sizeof c)) state.SkipWithError("a station failed");
        int status = 0;
        ::waitpid(pids[s], &status, 0);
        ::close(pipes[s]);
        st_sum.process += c.process;
        st_sum.acquisition += c.acquisition;
        st_sum.link += c.link;
        st_sum.tags += c.tags;
      }
    }
    coord_cpu += process_cpu_ns() - cpu0;
    ++runs;
    double avg[1] = {0};
    if (getloadavg(avg, 1) == 1) load = std::max(load, avg[0]);
    std::filesystem::remove_all(dir);
    state.ResumeTiming();
  }
  const double all_tags = static_cast<double>(runs) * static_cast<double>(tags) * static_cast<double>(stations);
  state.counters["tags_per_s_per_station"] =
      benchmark::Counter(static_cast<double>(runs) * static_cast<double>(tags), benchmark::Counter::kIsRate);
  // Per tag a station acquired, in ns of CPU: each station process (its threads; ZeroMQ's I/O
  // thread is the rest), and the coordinator process (per tag of every station it received).
  state.counters["station_cpu_ns_per_tag"] = st_sum.process / all_tags;
  state.counters["station_acq_ns_per_tag"] = st_sum.acquisition / all_tags;
  state.counters["station_link_ns_per_tag"] = st_sum.link / all_tags;
  state.counters["station_zmq_ns_per_tag"] = (st_sum.process - st_sum.acquisition - st_sum.link) / all_tags;
  state.counters["coord_cpu_ns_per_tag"] = coord_cpu / all_tags;
  state.counters["coord_hub_ns_per_tag"] = hub_cpu / all_tags;
  state.counters["coord_merge_ns_per_tag"] = merge_cpu / all_tags;
  state.counters["coord_zmq_ns_per_tag"] = (coord_cpu - hub_cpu - merge_cpu) / all_tags;
  state.counters["loadavg_1m"] = load;
}
BENCHMARK(BM_StationProcesses)->Args({2, 16 << 20})->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(2);
// Sustained: 2²⁸ tags per station in one go (≈ 13 s at 20 M tags/s; each station's local record
// ≈ 1 GiB in the temporary directory), so that page-cache growth, credit and backlog settle
// long before the end. Alone: --benchmark_filter='StationProcesses/2/268435456'.
BENCHMARK(BM_StationProcesses)->Args({2, 1 << 28})->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(1);

// References measured in the same binary and run: what the same tags cost at their cheapest.
// A bare copy of the 16-byte tags (one read, one write per tag) and CurveZMQ alone: the packed
// frames of the same stream sent from a StationLink to a CoordinatorLink (encryption,
// decryption, TCP on loopback, ZeroMQ), with no packing, recording, checking or merging.
void BM_StationReferenceCopy(benchmark::State& state) {
  hal::TagBlock tags(65536), copy(65536);
  for (std::size_t k = 0; k < tags.size(); ++k) tags[k].time_ps = static_cast<std::int64_t>(k);
  for (auto _ : state) {
    std::memcpy(copy.data(), tags.data(), tags.size() * sizeof(hal::Tag));
    benchmark::DoNotOptimize(copy.data());
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()) * static_cast<std::int64_t>(tags.size()));
}
BENCHMARK(BM_StationReferenceCopy);

void BM_StationReferenceCurveLink(benchmark::State& state) {
  const std::uint64_t frames = static_cast<std::uint64_t>(state.range(0));
  hal::TagBlock tags(65536);
  for (std::size_t k = 0; k < tags.size(); ++k) {
    const auto trial = static_cast<std::int64_t>(k / 2);
    tags[k].channel = (k & 1) ? 2 + static_cast<int>(trial & 3) : 1;
    tags[k].time_ps = trial * 1'000'000 + ((k & 1) ? 10'000 : 0);
  }
  const auto frame = station::encode_packed_tags(0, 0, tags);
  double cpu = 0;
  for (auto _ : state) {
    state.PauseTiming();
    const auto ck = station::generate_key_pair();
    const auto sk = station::generate_key_pair();
    station::CoordinatorLink server("tcp://127.0.0.1:*", ck, {{"s", sk.public_key}}, nullptr);
    station::StationLink client(server.endpoint(), ck.public_key, sk, nullptr);
    const double cpu0 = process_cpu_ns();
    state.ResumeTiming();
    std::uint64_t sent = 0, got = 0;
    station::Delivery d;
    while (got < frames) {
      while (sent < frames && client.send(frame)) ++sent;
      while (server.receive(d, 1ms)) ++got;
    }
    state.PauseTiming();
    cpu += process_cpu_ns() - cpu0;
    state.ResumeTiming();
  }
  const double all = static_cast<double>(state.iterations()) * static_cast<double>(frames) * 65536.0;
  state.counters["tags_per_s"] = benchmark::Counter(all, benchmark::Counter::kIsRate);
  state.counters["cpu_ns_per_tag"] = cpu / all;
  state.counters["bytes_per_tag"] = static_cast<double>(frame.size()) / 65536.0;
}
BENCHMARK(BM_StationReferenceCurveLink)->Arg(256)->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(3);

// The pieces each tag passes through once per hop, on one core.
void BM_StationCrc32(benchmark::State& state) {
  std::vector<std::uint8_t> buf(1 << 20, 0x5a);
  for (auto _ : state) benchmark::DoNotOptimize(station::crc32(buf));
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * static_cast<std::int64_t>(buf.size()));
}
BENCHMARK(BM_StationCrc32);

// The checksum of wire version 3 (SSE 4.2's crc32 instruction where the processor has it).
void BM_StationCrc32c(benchmark::State& state) {
  std::vector<std::uint8_t> buf(1 << 20, 0x5a);
  for (auto _ : state) benchmark::DoNotOptimize(station::crc32c(buf));
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * static_cast<std::int64_t>(buf.size()));
}
BENCHMARK(BM_StationCrc32c);

void BM_StationEncodeDecodeTags(benchmark::State& state) {
  hal::TagBlock tags(65536);
  for (std::size_t i = 0; i < tags.size(); ++i) tags[i].time_ps = static_cast<std::int64_t>(i);
  std::vector<std::uint8_t> frame;
  hal::TagBlock out;
  std::uint64_t seq = 0;
  for (auto _ : state) {
    station::encode_tags_into(frame, 0, 0, tags);
    out.clear();
    benchmark::DoNotOptimize(station::decode_tags_into(frame, seq, out));
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()) * static_cast<std::int64_t>(tags.size()));
}
BENCHMARK(BM_StationEncodeDecodeTags);

// The same with packed tags (wire version 2), on the synthetic tagger's stream shape.
void BM_StationEncodeDecodePackedTags(benchmark::State& state) {
  hal::TagBlock tags(65536);
  for (std::size_t k = 0; k < tags.size(); ++k) {
    const auto trial = static_cast<std::int64_t>(k / 2);
    tags[k].channel = (k & 1) ? 2 + static_cast<int>(trial & 3) : 1;
    tags[k].time_ps = trial * 1'000'000 + ((k & 1) ? 10'000 : 0);
  }
  std::vector<std::uint8_t> frame;
  hal::TagBlock out;
  std::uint64_t seq = 0;
  for (auto _ : state) {
    station::encode_packed_tags_into(frame, 0, 0, tags);
    out.clear();
    benchmark::DoNotOptimize(station::decode_tags_into(frame, seq, out));
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()) * static_cast<std::int64_t>(tags.size()));
  state.counters["bytes_per_tag"] =
      static_cast<double>(frame.size() - station::kHeaderBytes) / static_cast<double>(tags.size());
}
BENCHMARK(BM_StationEncodeDecodePackedTags);

void BM_StationMerge(benchmark::State& state) {
  // Two stations' streams (sync + detection per trial), merged by sync index.
  const std::size_t n = 1 << 20;
  std::vector<hal::TagBlock> in(2, hal::TagBlock(n));
  for (std::size_t s = 0; s < 2; ++s)
    for (std::size_t k = 0; k < n; ++k) {
      const auto trial = static_cast<std::int64_t>(k / 2);
      in[s][k].channel = (k & 1) ? 2 : 1;
      in[s][k].time_ps = trial * 1'000'000 + ((k & 1) ? 10'000 : 0) + static_cast<std::int64_t>(s) * 1'000'000'000;
    }
  hal::TagBlock out;
  for (auto _ : state) {
    station::SyncMerger m(2, 1, 256);
    out.clear();
    for (std::size_t a = 0; a < n; a += 65536) {
      m.push(0, std::span(in[0]).subspan(a, 65536));
      m.push(1, std::span(in[1]).subspan(a, 65536));
      m.pop(out);
    }
    m.end(0);
    m.end(1);
    m.pop(out);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()) * static_cast<std::int64_t>(2 * n));
}
BENCHMARK(BM_StationMerge)->Unit(benchmark::kMillisecond);

// What the coordinator's merge thread does per tag since the hub hands it frames undecoded
// (StationHub::take_frames): two stations' packed frames of 64 Ki tags (the synthetic tagger's
// stream: a sync and a detection per 1 µs trial), each decoded straight into the merge
// (SyncMerger::push_frame), aligned by sync index and merged, on one core.
void BM_StationMergeFrames(benchmark::State& state) {
  const std::size_t n = 1 << 20, frame_tags = 65536;
  std::vector<std::vector<std::vector<std::uint8_t>>> frames(2);
  for (std::size_t s = 0; s < 2; ++s) {
    hal::TagBlock tags(n);
    for (std::size_t k = 0; k < n; ++k) {
      const auto trial = static_cast<std::int64_t>(k / 2);
      tags[k].channel = (k & 1) ? 2 + static_cast<int>(trial & 3) : 1;
      tags[k].time_ps = trial * 1'000'000 + ((k & 1) ? 10'000 : 0) + static_cast<std::int64_t>(s) * 1'000'000'000;
    }
    for (std::size_t a = 0; a < n; a += frame_tags)
      frames[s].push_back(station::encode_packed_tags(a / frame_tags, a, std::span(tags).subspan(a, frame_tags)));
  }
  hal::TagBlock out;
  for (auto _ : state) {
    station::SyncMerger m(2, 1, 256);
    for (std::size_t f = 0; f < frames[0].size(); ++f) {
      m.push_frame(0, frames[0][f]);
      m.push_frame(1, frames[1][f]);
      m.pop(out);
      out.clear();  // as the tagger hands each popped block on
    }
    m.end(0);
    m.end(1);
    m.pop(out);
    benchmark::DoNotOptimize(out.data());
    out.clear();
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()) * static_cast<std::int64_t>(2 * n));
}
BENCHMARK(BM_StationMergeFrames)->Unit(benchmark::kMillisecond);

}  // namespace
