// The `station_records` tagger (coordinator.hpp; docs/stations.md, "Rebuilding a run from the
// stations' records"): the stations' local records merged by sync index exactly as the
// coordinator merges their live streams (the same SyncMerger, the same channel stride), so a
// session run on it records the trials the coordinator would have recorded. Used by
// `dira analyze --stations` after a coordinator crash.
#include "dira/station/coordinator.hpp"
#include "dira/station/merge.hpp"
#include "dira/station/wire.hpp"

#include <fstream>
#include <iostream>
#include <optional>
#include <sstream>

namespace dira::station {

namespace {

using hal::Capability;
using hal::SettingValue;
using Settings = std::map<std::string, SettingValue>;

std::vector<Capability> records_caps() {
  Capability files;
  files.key = "files";
  files.type = Capability::Type::text;
  files.default_value = std::string();
  files.description = "the stations' records (dira station's `record:`), comma-separated, in station order";
  Capability sync;
  sync.key = "sync_channel";
  sync.type = Capability::Type::integer;
  sync.min = 0;
  sync.max = 4095;
  sync.default_value = std::int64_t{1};
  sync.description = "the stations' trial-clock channel (the same at every station)";
  Capability stride;
  stride.key = "channel_stride";
  stride.type = Capability::Type::integer;
  stride.min = 1;
  stride.max = 1024;
  stride.default_value = std::int64_t{256};
  stride.description = "station s's channel c is s * stride + c in the merged stream";
  return {files, sync, stride};
}

std::string trim(std::string s) {
  const auto b = s.find_first_not_of(" \t");
  const auto e = s.find_last_not_of(" \t");
  return b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
}

/// One station's record, read frame by frame, verified as the coordinator verifies a live
/// stream: checksum (decode), block number and tag position contiguous from 0. The record's
/// end is its last complete, valid frame (a torn tail is what a crash mid-write leaves; the
/// station cuts it the same way when it reopens the file).
class RecordReader {
 public:
  explicit RecordReader(std::string path) : path_(std::move(path)), in_(path_, std::ios::binary) {
    if (!in_) throw std::invalid_argument("station_records: cannot read " + path_);
  }
  /// Appends the next block's tags to `out`; false at the record's end.
  bool next(hal::TagBlock& out) {
    if (done_) return false;
    std::vector<std::uint8_t> frame(kHeaderBytes);
    if (!in_.read(reinterpret_cast<char*>(frame.data()), static_cast<std::streamsize>(kHeaderBytes)))
      return finish(in_.gcount() == 0 ? "" : "a torn header");
    std::uint32_t length = 0;
    for (int i = 0; i < 4; ++i)
      length |= static_cast<std::uint32_t>(frame[24 + static_cast<std::size_t>(i)]) << (8 * i);
    if (length > kMaxPayload) return finish("a frame header claiming " + std::to_string(length) + " bytes");
    frame.resize(kHeaderBytes + length);
    if (!in_.read(reinterpret_cast<char*>(frame.data() + kHeaderBytes), static_cast<std::streamsize>(length)))
      return finish("a torn frame");
    std::uint64_t seq = 0;
    const std::size_t before = out.size();
    try {
      const std::uint64_t position = decode_tags_into(frame, seq, out);
      if (seq != blocks_ || position != tags_)
        throw hal::HardwareFault("station_records: " + path_ + ": block " + std::to_string(seq) + " at tag " +
                                 std::to_string(position) + " where block " + std::to_string(blocks_) + " at tag " +
                                 std::to_string(tags_) + " belongs: not one station's stream");
    } catch (const WireError& e) {
      out.resize(before);
      return finish(std::string("a frame that fails its check (") + e.what() + ")");
    }
    ++blocks_;
    tags_ += out.size() - before;
    return true;
  }
  std::uint64_t blocks() const { return blocks_; }
  std::uint64_t tags() const { return tags_; }
  const std::string& path() const { return path_; }
  const std::string& end_note() const { return note_; }

 private:
  bool finish(const std::string& why) {
    done_ = true;
    if (!why.empty()) note_ = "ends after block " + std::to_string(blocks_) + " with " + why + "; the rest is not used";
    return false;
  }
  std::string path_;
  std::ifstream in_;
  std::uint64_t blocks_ = 0, tags_ = 0;
  bool done_ = false;
  std::string note_;
};

class RecordsTagger final : public hal::TimeTagger {
 public:
  explicit RecordsTagger(const Settings& s) : caps_(records_caps()), settings_(s) {
    std::stringstream list(get<std::string>("files"));
    for (std::string item; std::getline(list, item, ',');)
      if (!(item = trim(item)).empty()) readers_.push_back(std::make_unique<RecordReader>(item));
    if (readers_.empty()) throw std::invalid_argument("files: no station record given");
    merger_.emplace(readers_.size(), static_cast<int>(get<std::int64_t>("sync_channel")),
                    static_cast<int>(get<std::int64_t>("channel_stride")));
    ended_.assign(readers_.size(), false);
  }
  std::string driver() const override { return "station_records"; }
  std::string identity() const override {
    std::ostringstream os;
    os << "station records:";
    for (std::size_t s = 0; s < readers_.size(); ++s) {
      os << (s ? "," : "") << " " << readers_[s]->path() << " (" << readers_[s]->blocks() << " blocks, "
         << readers_[s]->tags() << " tags";
      if (!readers_[s]->end_note().empty()) os << "; " << readers_[s]->end_note();
      os << ")";
    }
    return os.str();
  }
  const std::vector<Capability>& capabilities() const override { return caps_; }
  void set(const std::string& key, const SettingValue&) override {
    throw std::invalid_argument(key + " is fixed when the records are opened");
  }
  SettingValue get(const std::string& key) const override {
    if (auto it = settings_.find(key); it != settings_.end()) return it->second;
    for (const auto& c : caps_)
      if (c.key == key) return c.default_value;
    throw std::invalid_argument("station_records: no setting " + key);
  }
  void start() override {}
  void stop() override { stopped_ = true; }
  hal::TaggerEvent next(std::chrono::milliseconds) override {
    if (!announced_) {
      announced_ = true;
      return hal::StreamStart{1, identity()};
    }
    if (stopped_) return hal::StreamEnd{};
    hal::TagBlock out;
    // One block of every station at a time keeps what the merge holds back to about one
    // block per station.
    while (out.empty()) {
      if (merger_->finished()) return hal::StreamEnd{};
      for (std::size_t s = 0; s < readers_.size(); ++s) {
        if (ended_[s]) continue;
        incoming_.clear();
        if (readers_[s]->next(incoming_)) {
          merger_->push(s, incoming_);
        } else {
          ended_[s] = true;
          merger_->end(s);
          if (!readers_[s]->end_note().empty())
            std::cerr << "dira: station_records: " << readers_[s]->path() << " " << readers_[s]->end_note() << "\n";
        }
      }
      merger_->pop(out);
    }
    return out;
  }
  std::vector<int> channels() const override { return {}; }

 private:
  template <class T>
  T get(const std::string& key) const {
    return std::get<T>(get(key));
  }
  std::vector<Capability> caps_;
  Settings settings_;
  std::vector<std::unique_ptr<RecordReader>> readers_;
  std::optional<SyncMerger> merger_;
  std::vector<bool> ended_;
  hal::TagBlock incoming_;
  bool announced_ = false;
  bool stopped_ = false;
};

}  // namespace

void register_station_records_driver(hal::DriverRegistry& registry) {
  hal::DriverInfo t;
  t.name = "station_records";
  t.kind = hal::DeviceKind::time_tagger;
  t.description =
      "the stations' local records merged by sync index as the coordinator merges them live: rebuilds a run after "
      "a coordinator crash (dira analyze --stations; docs/stations.md)";
  t.capabilities = records_caps();
  t.create = [](const Settings& s) -> std::unique_ptr<hal::Device> { return std::make_unique<RecordsTagger>(s); };
  registry.add(std::move(t));
}

}  // namespace dira::station
