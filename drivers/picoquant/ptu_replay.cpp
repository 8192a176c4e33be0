// PTU replay: the streaming reader, the summary behind `dira ptu-info`, and the "ptu"
// time-tagger driver (docs/ptu.md §4, §5).
#include "dira/drivers/picoquant/ptu_replay.hpp"

#include "ptu_bytes.hpp"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <thread>

namespace dira::drivers::picoquant {

namespace {

std::unique_ptr<std::istream> open_file(const std::string& path) {
  // Say what the path is rather than "truncated header" (issue 13, "Bad input").
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec))
    throw std::runtime_error(path + ": is a directory, not a PTU file (" + std::strerror(EISDIR) + ")");
  if (std::filesystem::is_regular_file(path, ec) && std::filesystem::file_size(path, ec) == 0 && !ec)
    throw std::runtime_error(path + ": is empty: expected a PicoQuant PTU (TTTR) file");
  auto in = std::make_unique<std::ifstream>(path, std::ios::binary);
  if (!*in) throw std::runtime_error("cannot open " + path + ": " + std::strerror(errno));
  return in;
}

}  // namespace

// ---- PtuFileReader ------------------------------------------------------------------------

PtuFileReader::PtuFileReader(const std::string& path) : PtuFileReader(open_file(path), path) {}

PtuFileReader::PtuFileReader(std::unique_ptr<std::istream> in, std::string name)
    : in_(std::move(in)), name_(std::move(name)), header_(read_header(*in_)), decoder_(header_) {}

bool PtuFileReader::read(hal::TagBlock& out, std::size_t max_records) {
  const std::uint64_t done = decoder_.counts().records;
  const std::uint64_t remaining = header_.number_of_records - done;
  if (remaining == 0) return false;
  const auto k = static_cast<std::size_t>(std::min<std::uint64_t>(std::max<std::size_t>(max_records, 1), remaining));
  bytes_.resize(4 * k);
  in_->read(bytes_.data(), static_cast<std::streamsize>(bytes_.size()));
  const auto got = static_cast<std::size_t>(in_->gcount());
  const std::size_t whole = got / 4;
  words_.resize(whole);
  detail::load_le32_array(words_.data(), reinterpret_cast<const unsigned char*>(bytes_.data()), whole);
  const std::uint64_t offset = header_.data_offset + 4 * done;
  decoder_.decode(std::span<const std::uint32_t>(words_.data(), whole), out, offset);
  if (got < 4 * k) {
    const std::uint64_t end = offset + got;
    throw PtuFormatError(
        end, "truncated record stream: the header announces " + std::to_string(header_.number_of_records) +
                 " records (bytes " + std::to_string(header_.data_offset) + " to " +
                 std::to_string(header_.data_offset + 4 * header_.number_of_records) + "), the file ends at byte " +
                 std::to_string(end) + (got % 4 ? " inside" : " before") + " record #" + std::to_string(done + whole) +
                 " (0-based)");
  }
  return true;
}

// ---- summary --------------------------------------------------------------------------------

PtuSummary summarize(PtuFileReader& reader, std::size_t block_records) {
  PtuSummary s;
  s.header = reader.header();
  // Channels are small (sync 0, detectors ≤ 64, markers 1001..1012): a flat table.
  std::vector<std::uint64_t> per_channel(kMarkerChannelBase + 64, 0);
  std::int64_t lo = std::numeric_limits<std::int64_t>::max(), hi = std::numeric_limits<std::int64_t>::min();
  hal::TagBlock block;
  for (;;) {
    block.clear();
    if (!reader.read(block, block_records)) break;
    for (const hal::Tag& t : block) {
      ++per_channel[static_cast<std::size_t>(t.channel)];
      lo = std::min(lo, t.time_ps);
      hi = std::max(hi, t.time_ps);
    }
  }
  for (std::size_t c = 0; c < per_channel.size(); ++c)
    if (per_channel[c]) s.tags_per_channel[static_cast<int>(c)] = per_channel[c];
  s.counts = reader.counts();
  if (lo <= hi) s.first_time_ps = lo, s.last_time_ps = hi;
  return s;
}

PtuSummary summarize_file(const std::string& path, std::size_t block_records) {
  PtuFileReader reader(path);
  return summarize(reader, block_records);
}

// ---- PtuReplay -------------------------------------------------------------------------------

const std::vector<hal::Capability>& ptu_capabilities() {
  static const std::vector<hal::Capability> caps{
      hal::text_setting("file", "", "PicoQuant .ptu file to replay (T2 or T3 records)"),
      hal::real_setting("pace", "x real time", 0.0, std::nullopt, 0.0,
                        "0: as fast as possible; r > 0: tags at r times the file's own rate (1 = as recorded)"),
      hal::integer_setting("block_records", "records", 1, 1 << 24, 65536, "records read and decoded per block"),
      // From the file's header: reported, never set.
      hal::read_only(hal::text_setting("record_type", "", "record type from the header")),
      hal::read_only(
          hal::integer_setting("records", "records", std::nullopt, std::nullopt, 0, "TTResult_NumberOfRecords")),
      hal::read_only(hal::real_setting("global_resolution_ps", "ps", std::nullopt, std::nullopt, 0.0,
                                       "MeasDesc_GlobalResolution: T2 time-tag unit, T3 sync period")),
      hal::read_only(hal::real_setting("resolution_ps", "ps", std::nullopt, std::nullopt, 0.0,
                                       "MeasDesc_Resolution: T3 dtime unit")),
  };
  return caps;
}

PtuReplay::PtuReplay(const std::map<std::string, hal::SettingValue>& settings) {
  // block_records and pace first, so that `file` (which reads the header) comes last.
  for (const auto& [key, value] : settings)
    if (key != "file") set(key, value);
  if (auto it = settings.find("file"); it != settings.end()) set("file", it->second);
}

std::string PtuReplay::identity() const {
  if (!header_) return "ptu (no file)";
  return file_ + " (" + record_type_name(header_->record_type) + ", " + std::to_string(header_->number_of_records) +
         " records)";
}

const std::vector<hal::Capability>& PtuReplay::capabilities() const {
  return ptu_capabilities();
}

void PtuReplay::set(const std::string& key, const hal::SettingValue& value) {
  const auto& caps = ptu_capabilities();
  const auto it = std::find_if(caps.begin(), caps.end(), [&](const hal::Capability& c) { return c.key == key; });
  if (it == caps.end()) throw std::invalid_argument("ptu: unknown setting '" + key + "'");
  if (!it->can_set) throw std::invalid_argument("ptu: '" + key + "' is read-only (it comes from the file's header)");
  if (auto msg = hal::check_value(*it, value); !msg.empty()) throw std::invalid_argument("ptu: " + key + ": " + msg);
  if (key == "file") {
    if (state_ == State::started || state_ == State::streaming)
      throw std::logic_error("ptu: stop() before changing the file");
    const auto& path = std::get<std::string>(value);
    PtuFileReader reader(path);  // reads the header now: a bad file is reported at configuration time
    header_ = reader.header();
    file_ = path;
  } else if (key == "pace") {
    pace_ = std::holds_alternative<double>(value) ? std::get<double>(value)
                                                  : static_cast<double>(std::get<std::int64_t>(value));
    if (!std::isfinite(pace_)) throw std::invalid_argument("ptu: pace must be finite");
  } else if (key == "block_records") {
    block_records_ = std::get<std::int64_t>(value);
  }
}

hal::SettingValue PtuReplay::get(const std::string& key) const {
  if (key == "file") return file_;
  if (key == "pace") return pace_;
  if (key == "block_records") return block_records_;
  if (key == "record_type") return std::string(header_ ? record_type_name(header_->record_type) : "");
  if (key == "records") return static_cast<std::int64_t>(header_ ? header_->number_of_records : 0);
  if (key == "global_resolution_ps") return header_ ? header_->global_resolution_s * 1e12 : 0.0;
  if (key == "resolution_ps") return header_ ? header_->resolution_s * 1e12 : 0.0;
  throw std::invalid_argument("ptu: unknown setting '" + key + "'");
}

void PtuReplay::start() {
  if (file_.empty()) throw std::logic_error("ptu: no file set");
  reader_ = std::make_unique<PtuFileReader>(file_);
  header_ = reader_->header();
  pending_.clear();
  pending_pos_ = 0;
  error_.reset();
  eof_ = false;
  stopped_ = false;
  state_ = State::started;
  t0_ = std::chrono::steady_clock::now();
}

void PtuReplay::stop() {
  if (state_ == State::started || state_ == State::streaming) stopped_ = true;
}

std::vector<int> PtuReplay::channels() const {
  if (!header_) return {};
  int detectors = 64;  // generic (MultiHarp): 6-bit channel field
  switch (header_->record_type) {
    case RecordType::picoharp_t2:
    case RecordType::picoharp_t3:
      detectors = 4;
      break;
    case RecordType::hydraharp_v1_t2:
    case RecordType::hydraharp_v1_t3:
    case RecordType::hydraharp_v2_t2:
    case RecordType::hydraharp_v2_t3:
      detectors = 8;
      break;
    case RecordType::timeharp260n_t2:
    case RecordType::timeharp260n_t3:
    case RecordType::timeharp260p_t2:
    case RecordType::timeharp260p_t3:
      detectors = 2;
      break;
    default:
      break;
  }
  std::vector<int> ch{kSyncChannel};
  for (int c = 1; c <= detectors; ++c) ch.push_back(c);
  for (int m = 1; m <= 4; ++m) ch.push_back(kMarkerChannelBase + m);
  return ch;
}

void PtuReplay::refill() {
  pending_.clear();
  pending_pos_ = 0;
  const auto block = static_cast<std::size_t>(block_records_);
  try {
    // Blocks made only of overflow records produce no tags: read on until some come.
    while (pending_.empty() && !eof_)
      if (!reader_->read(pending_, block)) eof_ = true;
  } catch (const PtuFormatError& e) {
    error_ = e.what();  // the tags decoded before the bad record are delivered first
    eof_ = true;
  }
}

hal::TaggerEvent PtuReplay::next(std::chrono::milliseconds timeout) {
  if (state_ == State::idle) throw std::logic_error("ptu: start() before next()");
  if (state_ == State::ended) return hal::TagBlock{};
  if (state_ == State::started) {
    state_ = State::streaming;
    const bool t2 = is_t2(header_->record_type);
    const double res_ps = (t2 ? header_->global_resolution_s : header_->resolution_s) * 1e12;
    hal::StreamStart s;
    s.resolution_ps = std::max<std::int64_t>(1, std::llround(res_ps));
    s.source = "ptu:" + file_ + " (" + record_type_name(header_->record_type) + ")";
    return s;
  }
  const auto end = [&](bool error, std::string reason) -> hal::TaggerEvent {
    state_ = State::ended;
    reader_.reset();
    pending_ = {};
    return hal::StreamEnd{error, std::move(reason)};
  };
  if (stopped_) {
    stopped_ = false;
    return end(false, "stopped");
  }
  if (pending_pos_ >= pending_.size()) {
    if (eof_) {
      if (error_) return end(true, *error_);
      return end(false, "end of file: " + std::to_string(reader_->records_read()) + " records");
    }
    refill();
    if (pending_.empty()) return next(timeout);  // end of file or error right away
  }
  if (pace_ <= 0) {
    hal::TagBlock out;
    if (pending_pos_ == 0) {
      out.swap(pending_);
    } else {
      out.assign(pending_.begin() + static_cast<std::ptrdiff_t>(pending_pos_), pending_.end());
      pending_.clear();
    }
    pending_pos_ = 0;
    return out;
  }
  // Paced: a tag at t ps is due at t0 + t / pace. Deliver what is due; otherwise wait for the
  // next tag, at most `timeout`, and return an empty block if it is still not due.
  const auto deliverable = [&] {
    const double elapsed_ps = std::chrono::duration<double, std::pico>(std::chrono::steady_clock::now() - t0_).count();
    const double allowed = elapsed_ps * pace_;
    std::size_t k = pending_pos_;
    while (k < pending_.size() && static_cast<double>(pending_[k].time_ps) <= allowed) ++k;
    return k;
  };
  std::size_t k = deliverable();
  if (k == pending_pos_) {
    const double due_ps = static_cast<double>(pending_[pending_pos_].time_ps) / pace_;
    const auto due = t0_ + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                               std::chrono::duration<double, std::pico>(due_ps));
    std::this_thread::sleep_until(std::min(due, std::chrono::steady_clock::now() + timeout));
    k = deliverable();
  }
  hal::TagBlock out(pending_.begin() + static_cast<std::ptrdiff_t>(pending_pos_),
                    pending_.begin() + static_cast<std::ptrdiff_t>(k));
  pending_pos_ = k;
  return out;
}

}  // namespace dira::drivers::picoquant

namespace dira::drivers {

void register_picoquant(hal::DriverRegistry& registry) {
  hal::DriverInfo d;
  d.name = "ptu";
  d.kind = hal::DeviceKind::time_tagger;
  d.description =
      "PicoQuant PTU file replay (T2/T3 records of PicoHarp 300, HydraHarp, TimeHarp 260, MultiHarp), full speed or "
      "paced";
  d.capabilities = picoquant::ptu_capabilities();
  d.create = [](const std::map<std::string, hal::SettingValue>& s) -> std::unique_ptr<hal::Device> {
    return std::make_unique<picoquant::PtuReplay>(s);
  };
  d.scan = [] { return std::vector<hal::FoundDevice>{}; };  // files are not on a bus
  registry.add(std::move(d));
}

}  // namespace dira::drivers
