#include "dira/app/run_file.hpp"

#include <fcntl.h>
#include <hdf5.h>
#include <sys/stat.h>
#include <unistd.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstring>
#include <limits>

namespace dira::app {

namespace {

// On-disk row types (fixed layout, independent of the in-memory structs).
struct TrialRow {
  std::uint64_t index;
  std::uint8_t u[protocol::kMaxParties];
  std::uint8_t x[protocol::kMaxParties];
  std::uint32_t flags;
  std::uint32_t device;
  std::int64_t time_ps;
};
// A protocol::Trial lies in memory exactly as a TrialRow (no padding), so blocks of trials are
// written and checksummed where they lie, without a converted copy on the recording thread.
static_assert(sizeof(protocol::Trial) == sizeof(TrialRow) &&
              offsetof(protocol::Trial, index) == offsetof(TrialRow, index) &&
              offsetof(protocol::Trial, u) == offsetof(TrialRow, u) &&
              offsetof(protocol::Trial, x) == offsetof(TrialRow, x) &&
              offsetof(protocol::Trial, flags) == offsetof(TrialRow, flags) &&
              offsetof(protocol::Trial, device) == offsetof(TrialRow, device) &&
              offsetof(protocol::Trial, time_ps) == offsetof(TrialRow, time_ps) && sizeof(protocol::Trial::u) == 4 &&
              sizeof(protocol::Trial::x) == 4);
struct TagRow {  // hal::Tag with the station in its spare byte
  std::uint8_t type;
  std::uint8_t station;
  std::uint16_t missed;
  std::int32_t channel;
  std::int64_t time_ps;
};
static_assert(sizeof(TagRow) == 16);
static_assert(sizeof(TrialRow) == 32, "TrialRow has no padding: its bytes are checksummed");
struct LedgerRow {
  std::uint8_t purpose;
  std::uint64_t first_bit, bit_count, first_item, last_item;
};
/// Trial rows per checksum row at most.
constexpr std::uint64_t kChecksumBlock = 1 << 16;
/// One row of /trial_checksums: the checksum of the trial rows [first_row, first_row + rows),
/// written with them (one per append_trials call).
struct ChecksumRow {
  std::uint64_t first_row, rows, checksum;
};

/// A checksum of trial rows, fed row by row (the reader verifies while streaming). Not
/// cryptographic: it detects rows never written (zeros) or damaged since, and rows moved
/// (seeded with the first row's number). HDF5's Fletcher-32 filter would do the same but costs
/// ≈ 80 ns per row (measured: 8.9–10.5 M rows/s of one core against 20–73 M without), most of
/// the recording thread at 7.7 M trials/s; this is one multiply per 8 bytes.
class TrialChecksum {
 public:
  explicit TrialChecksum(std::uint64_t first_row) { mix(first_row); }
  /// A row's 32 bytes as they lie in memory (a TrialRow, or a protocol::Trial laid out alike).
  template <class Row>
  void add(const Row& r) {
    static_assert(sizeof(Row) == 32);
    std::uint64_t w[4];
    std::memcpy(w, &r, sizeof w);
    for (const std::uint64_t x : w) mix(x);
    ++rows_;
  }
  std::uint64_t value() const {
    TrialChecksum c = *this;
    c.mix(rows_);
    return c.h_;
  }

 private:
  void mix(std::uint64_t x) {
    h_ = (h_ ^ x) * 0x9E3779B97F4A7C15ull;
    h_ ^= h_ >> 29;
  }
  std::uint64_t h_ = 0x243F6A8885A308D3ull;
  std::uint64_t rows_ = 0;
};

/// Checksums of `n` ≤ kChecksumLanes consecutive blocks (ks[j] covers ks[j].rows rows from
/// `rows`, block after block): the same values as TrialChecksum block by block, with the
/// blocks' chains interleaved so the multiplies overlap (≈ 4× faster on one core).
constexpr std::size_t kChecksumLanes = 4;
template <class Row>
void block_checksums(const Row* rows, const ChecksumRow* ks, std::size_t n, std::uint64_t* out) {
  const Row* start[kChecksumLanes] = {};
  std::size_t common = SIZE_MAX;
  for (std::size_t j = 0; j < n; ++j) {
    start[j] = j == 0 ? rows : start[j - 1] + ks[j - 1].rows;
    common = std::min(common, static_cast<std::size_t>(ks[j].rows));
  }
  TrialChecksum sum[kChecksumLanes] = {
      TrialChecksum(n > 0 ? ks[0].first_row : 0), TrialChecksum(n > 1 ? ks[1].first_row : 0),
      TrialChecksum(n > 2 ? ks[2].first_row : 0), TrialChecksum(n > 3 ? ks[3].first_row : 0)};
  std::size_t from = 0;
  if (n == kChecksumLanes) {
    for (std::size_t r = 0; r < common; ++r) {
      sum[0].add(start[0][r]);
      sum[1].add(start[1][r]);
      sum[2].add(start[2][r]);
      sum[3].add(start[3][r]);
    }
    from = common;
  }
  for (std::size_t j = 0; j < n; ++j) {
    for (std::size_t r = from; r < ks[j].rows; ++r) sum[j].add(start[j][r]);
    out[j] = sum[j].value();
  }
}

hid_t trial_type() {
  const hid_t t = H5Tcreate(H5T_COMPOUND, sizeof(TrialRow));
  const hsize_t dims[1] = {protocol::kMaxParties};
  const hid_t arr = H5Tarray_create2(H5T_NATIVE_UINT8, 1, dims);
  H5Tinsert(t, "index", HOFFSET(TrialRow, index), H5T_NATIVE_UINT64);
  H5Tinsert(t, "settings", HOFFSET(TrialRow, u), arr);
  H5Tinsert(t, "outcomes", HOFFSET(TrialRow, x), arr);
  H5Tinsert(t, "flags", HOFFSET(TrialRow, flags), H5T_NATIVE_UINT32);
  H5Tinsert(t, "device", HOFFSET(TrialRow, device), H5T_NATIVE_UINT32);
  H5Tinsert(t, "time_ps", HOFFSET(TrialRow, time_ps), H5T_NATIVE_INT64);
  H5Tclose(arr);
  return t;
}
/// Before the library's first use: errors become exceptions, not stderr noise; and no
/// library clean-up at exit — after a failed close (disk full) HDF5's own exit handler
/// crashes on the half-closed file (HDF5 1.10.8), while dira always closes what it opens.
void init_hdf5() {
  static const bool once = [] {
    H5dont_atexit();
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
    return true;
  }();
  (void)once;
}

hid_t tag_type() {
  const hid_t t = H5Tcreate(H5T_COMPOUND, sizeof(TagRow));
  H5Tinsert(t, "type", HOFFSET(TagRow, type), H5T_NATIVE_UINT8);  // hal::TagType
  H5Tinsert(t, "station", HOFFSET(TagRow, station), H5T_NATIVE_UINT8);
  H5Tinsert(t, "missed", HOFFSET(TagRow, missed), H5T_NATIVE_UINT16);
  H5Tinsert(t, "channel", HOFFSET(TagRow, channel), H5T_NATIVE_INT32);
  H5Tinsert(t, "time_ps", HOFFSET(TagRow, time_ps), H5T_NATIVE_INT64);
  return t;
}
hid_t ledger_type() {
  const hid_t t = H5Tcreate(H5T_COMPOUND, sizeof(LedgerRow));
  H5Tinsert(t, "purpose", HOFFSET(LedgerRow, purpose), H5T_NATIVE_UINT8);
  H5Tinsert(t, "first_bit", HOFFSET(LedgerRow, first_bit), H5T_NATIVE_UINT64);
  H5Tinsert(t, "bit_count", HOFFSET(LedgerRow, bit_count), H5T_NATIVE_UINT64);
  H5Tinsert(t, "first_item", HOFFSET(LedgerRow, first_item), H5T_NATIVE_UINT64);
  H5Tinsert(t, "last_item", HOFFSET(LedgerRow, last_item), H5T_NATIVE_UINT64);
  return t;
}
hid_t checksum_type() {
  const hid_t t = H5Tcreate(H5T_COMPOUND, sizeof(ChecksumRow));
  H5Tinsert(t, "first_row", HOFFSET(ChecksumRow, first_row), H5T_NATIVE_UINT64);
  H5Tinsert(t, "rows", HOFFSET(ChecksumRow, rows), H5T_NATIVE_UINT64);
  H5Tinsert(t, "checksum", HOFFSET(ChecksumRow, checksum), H5T_NATIVE_UINT64);
  return t;
}
hid_t stats_type() {
  const hid_t t = H5Tcreate(H5T_COMPOUND, sizeof(StatisticsRow));
  H5Tinsert(t, "elapsed_s", HOFFSET(StatisticsRow, elapsed_s), H5T_NATIVE_DOUBLE);
  H5Tinsert(t, "trials", HOFFSET(StatisticsRow, trials), H5T_NATIVE_UINT64);
  H5Tinsert(t, "bell", HOFFSET(StatisticsRow, bell), H5T_NATIVE_DOUBLE);
  H5Tinsert(t, "bell_half_width", HOFFSET(StatisticsRow, bell_half_width), H5T_NATIVE_DOUBLE);
  H5Tinsert(t, "ustar", HOFFSET(StatisticsRow, ustar), H5T_NATIVE_DOUBLE);
  H5Tinsert(t, "ustar_half_width", HOFFSET(StatisticsRow, ustar_half_width), H5T_NATIVE_DOUBLE);
  return t;
}

hid_t make_dataset(hid_t file, const char* name, hid_t type, hsize_t chunk, bool uncached = false) {
  const hsize_t dims[1] = {0}, maxdims[1] = {H5S_UNLIMITED}, chunks[1] = {chunk};
  const hid_t space = H5Screate_simple(1, dims, maxdims);
  const hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
  H5Pset_chunk(dcpl, 1, chunks);
  const hid_t dapl = H5Pcreate(H5P_DATASET_ACCESS);
  if (uncached) H5Pset_chunk_cache(dapl, 0, 0, 1.0);
  const hid_t d = H5Dcreate2(file, name, type, space, H5P_DEFAULT, dcpl, dapl);
  H5Pclose(dapl);
  H5Pclose(dcpl);
  H5Sclose(space);
  if (d < 0) throw RunFileError(std::string("cannot create dataset ") + name);
  return d;
}

void append(hid_t dset, hid_t type, const void* data, hsize_t n, hsize_t& size, const char* what) {
  if (n == 0) return;
  const hsize_t newsize[1] = {size + n};
  if (H5Dset_extent(dset, newsize) < 0) throw RunFileError(std::string("cannot extend ") + what + " (disk full?)");
  const hid_t fspace = H5Dget_space(dset);
  const hsize_t start[1] = {size}, count[1] = {n};
  H5Sselect_hyperslab(fspace, H5S_SELECT_SET, start, nullptr, count, nullptr);
  const hid_t mspace = H5Screate_simple(1, count, nullptr);
  const herr_t rc = H5Dwrite(dset, type, mspace, fspace, H5P_DEFAULT, data);
  H5Sclose(mspace);
  H5Sclose(fspace);
  if (rc < 0) throw RunFileError(std::string("cannot write ") + what + " (disk full?)");
  size += n;
}

void write_string_attribute(hid_t obj, const char* name, const std::string& value) {
  const hid_t type = H5Tcopy(H5T_C_S1);
  H5Tset_size(type, std::max<std::size_t>(value.size(), 1));
  H5Tset_cset(type, H5T_CSET_UTF8);
  const hid_t space = H5Screate(H5S_SCALAR);
  const hid_t a = H5Acreate2(obj, name, type, space, H5P_DEFAULT, H5P_DEFAULT);
  std::string padded = value.empty() ? std::string(1, '\0') : value;
  H5Awrite(a, type, padded.data());
  H5Aclose(a);
  H5Sclose(space);
  H5Tclose(type);
}

std::string read_string_attribute(hid_t obj, const char* name) {
  if (H5Aexists(obj, name) <= 0) return {};
  const hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
  const hid_t type = H5Aget_type(a);
  const std::size_t n = H5Tget_size(type);
  std::string s(n, '\0');
  H5Aread(a, type, s.data());
  H5Tclose(type);
  H5Aclose(a);
  while (!s.empty() && s.back() == '\0') s.pop_back();
  return s;
}
}  // namespace

struct RunFileWriter::Impl {
  hid_t file = -1, trials = -1, ledger = -1, stats = -1, report = -1, tags = -1, sums = -1;
  hid_t ttype = -1, ltype = -1, stype = -1, gtype = -1, ctype = -1;
  hsize_t n_trials = 0, n_ledger = 0, n_stats = 0, n_report = 0, n_tags = 0, n_sums = 0;
  std::filesystem::path path;
  std::string report_text;  ///< also written as the root's string attribute "report_json" at close
  std::vector<TagRow> tag_buffer;
  std::vector<ChecksumRow> check_buffer;
  void close_all() {
    for (hid_t* d : {&trials, &ledger, &stats, &report, &tags, &sums})
      if (*d >= 0) H5Dclose(*d), *d = -1;
    for (hid_t* t : {&ttype, &ltype, &stype, &gtype, &ctype})
      if (*t >= 0) H5Tclose(*t), *t = -1;
    if (file >= 0) H5Fclose(file), file = -1;
  }
};

RunFileWriter::RunFileWriter(const std::filesystem::path& path, const std::string& config_yaml,
                             const std::string& metadata_json, bool raw_tags)
    : impl_(std::make_unique<Impl>()) {
  init_hdf5();
  impl_->path = path;
  // The file holds every device output (the extractor's first input): readable by its owner
  // only. HDF5 creates files with mode 0666 less the process umask, and changing the umask would
  // change it for every thread of the process (a GUI's too). So HDF5 creates it (H5F_ACC_EXCL:
  // O_CREAT|O_EXCL, never where a file or a symlink already is) and its mode is set to 0600 on
  // HDF5's own descriptor at once, before anything but the superblock is in it. (In a run
  // directory, 0700, nobody else can open it in between.)
  // Not made empty first and truncated by HDF5 (H5F_ACC_TRUNC): ext4 flushes a file truncated to
  // zero when it is closed (auto_da_alloc), which made the analysis pass after a 4·10⁷-trial run
  // twice as long (bench/README.md, 2026-11-30).
  const hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
  H5Pset_libver_bounds(fapl, H5F_LIBVER_LATEST, H5F_LIBVER_LATEST);  // required for SWMR
  impl_->file = H5Fcreate(path.c_str(), H5F_ACC_EXCL, H5P_DEFAULT, fapl);
  H5Pclose(fapl);
  if (impl_->file < 0) {
    std::error_code ec;
    const bool there = std::filesystem::symlink_status(path, ec).type() != std::filesystem::file_type::not_found;
    throw RunFileError("cannot create " + path.string() +
                       (there ? ": a file or symlink is already there" : " (directory not writable?)"));
  }
  int* fd = nullptr;
  const bool private_mode = H5Fget_vfd_handle(impl_->file, H5P_DEFAULT, reinterpret_cast<void**>(&fd)) >= 0 && fd &&
                            ::fchmod(*fd, 0600) == 0;
  if (!private_mode) {
    H5Fclose(impl_->file);
    ::unlink(path.c_str());
    throw RunFileError("cannot create " + path.string() + " with mode 0600: " + std::strerror(errno));
  }
  write_string_attribute(impl_->file, "config_yaml", config_yaml);
  write_string_attribute(impl_->file, "metadata_json", metadata_json);
  write_string_attribute(impl_->file, "layout", "dira run file v2 (docs/run-file.md)");
  impl_->ttype = trial_type();
  impl_->ltype = ledger_type();
  impl_->stype = stats_type();
  impl_->ctype = checksum_type();
  impl_->trials = make_dataset(impl_->file, "trials", impl_->ttype, 65536);
  // Small chunks (16 rows, 384 bytes): each is written and placed as it fills, so a file cut
  // short keeps the checksums of the trials before the cut.
  impl_->sums = make_dataset(impl_->file, "trial_checksums", impl_->ctype, 16, true);
  write_string_attribute(impl_->sums, "description",
                         "one row per block of /trials rows written together: first_row (0-based), rows, and a "
                         "64-bit checksum of those rows' 32 bytes each, seeded with first_row (not cryptographic: "
                         "it detects rows never written or damaged since; docs/run-file.md)");
  impl_->ledger = make_dataset(impl_->file, "ledger", impl_->ltype, 1024);
  impl_->stats = make_dataset(impl_->file, "statistics", impl_->stype, 1024);
  impl_->report = make_dataset(impl_->file, "report_json", H5T_NATIVE_UINT8, 4096);
  // Every dataset describes itself (issue 13): an h5dump or h5py user needs no other document.
  write_string_attribute(
      impl_->trials, "description",
      "one row per trial, in order. index: trial number (0-based). settings[p], outcomes[p]: party p's setting "
      "and outcome, 0-based labels (docs/labels.md: the seeds' label 1 is 0 here); parties beyond the scenario's "
      "are 0. flags (bit mask, none removes a trial from the statistics): bit 0 = some party saw no click "
      "(outcome 0 by the fixed rule), bit 1 = some party saw several clicks (outcome by the fixed rule), bit 2 = "
      "Protocol A setting outside U0 ∪ U1. device: Protocol A's logical device (0-based), else 0. time_ps: the "
      "trial's sync time in picoseconds since the stream start (0 if unknown)");
  write_string_attribute(impl_->trials, "units", "time_ps: ps; all other fields: counts or labels");
  write_string_attribute(impl_->ledger, "description",
                         "weak-source bits by purpose, in stream order. purpose: 0 = setting, 1 = box choice, 2 = "
                         "extractor, 3 = observed setting (hardware-chosen). first_bit, bit_count: position "
                         "(0-based) and length in the source's bit stream. first_item, last_item: the trials (or "
                         "boxes) those bits served, 0-based");
  write_string_attribute(
      impl_->stats, "description",
      "live statistics, one row per flush (every 0.5 s while acquiring). elapsed_s: seconds since the start. "
      "trials: trials recorded. bell, bell_half_width: the Bell statistic (Protocol B: L_n; A: "
      "E[Z_k], the expectation of the decision statistic if the boxes were chosen now (1/k) "
      "sum_j violations_j/n_j; C: mean log2 of the PEF) and its confidence "
      "half-width. ustar, ustar_half_width: Protocol B's u* frequency S_n (seed 001 eq. 44)");
  write_string_attribute(impl_->stats, "units", "elapsed_s: s; trials: count; the rest: dimensionless");
  write_string_attribute(impl_->report, "description",
                         "the run's final report as UTF-8 JSON, written once at the end: report.json's content, "
                         "without its indentation; the file's root attribute report_json holds the same text as a "
                         "string once the run has closed the file");
  if (raw_tags) {
    impl_->gtype = tag_type();
    impl_->tags = make_dataset(impl_->file, "tags", impl_->gtype, 65536);
    write_string_attribute(impl_->tags, "description",
                           "every time tag as the tagger delivered it. type: 0 detection, 1 device error, 2 overflow "
                           "begins, 3 overflow ends, 4 missed events (count in `missed`), 5 time mark. station: the "
                           "station (0-based). channel: the tagger's channel number. time_ps: ps since the stream "
                           "start");
    write_string_attribute(impl_->tags, "units", "time_ps: ps");
  }
  if (H5Fstart_swmr_write(impl_->file) < 0) {
    impl_->close_all();
    throw RunFileError("cannot switch " + path.string() + " to SWMR writing");
  }
}

RunFileWriter::~RunFileWriter() {
  try {
    close();
  } catch (...) {
  }
}

void RunFileWriter::append_trials(std::span<const protocol::Trial> trials) {
  if (trials.empty()) return;
  const std::span<const protocol::Trial> b = trials;  // the rows, as they lie (TrialRow's layout)
  // One checksum row per ≤ kChecksumBlock rows (so a reader holds at most that many unverified),
  // written with the rows and made durable by the same flush: a crash keeps both or neither
  // (rows past the last checksum row are reported as unverified).
  std::vector<ChecksumRow>& checks = impl_->check_buffer;
  checks.clear();
  for (std::size_t at = 0; at < b.size(); at += kChecksumBlock) {
    const std::size_t n = std::min<std::size_t>(kChecksumBlock, b.size() - at);
    TrialChecksum block(impl_->n_trials + at);
    for (std::size_t i = 0; i < n; ++i) block.add(b[at + i]);
    checks.push_back({impl_->n_trials + at, n, block.value()});
  }
  append(impl_->trials, impl_->ttype, b.data(), b.size(), impl_->n_trials, "trials");
  append(impl_->sums, impl_->ctype, checks.data(), checks.size(), impl_->n_sums, "trial checksums");
}

void RunFileWriter::append_tags(int station, std::span<const hal::Tag> tags) {
  if (impl_->tags < 0) throw std::logic_error("run file: raw tags were not enabled");
  auto& b = impl_->tag_buffer;
  b.resize(tags.size());
  for (std::size_t i = 0; i < tags.size(); ++i)
    b[i] = TagRow{static_cast<std::uint8_t>(tags[i].type), static_cast<std::uint8_t>(station), tags[i].missed,
                  tags[i].channel, tags[i].time_ps};
  append(impl_->tags, impl_->gtype, b.data(), b.size(), impl_->n_tags, "tags");
}

void RunFileWriter::append_ledger(std::span<const protocol::LedgerEntry> entries) {
  std::vector<LedgerRow> rows;
  for (const auto& e : entries)
    rows.push_back({static_cast<std::uint8_t>(e.purpose), e.first_bit, e.bit_count, e.first_item, e.last_item});
  append(impl_->ledger, impl_->ltype, rows.data(), rows.size(), impl_->n_ledger, "ledger");
}

void RunFileWriter::write_ledger_from(std::uint64_t row, std::span<const protocol::LedgerEntry> entries) {
  if (row > impl_->n_ledger) throw std::logic_error("run file: ledger rows must be contiguous");
  impl_->n_ledger = row;  // rows ≥ row are rewritten: the open entry grows between flushes
  append_ledger(entries);
}

void RunFileWriter::append_statistics(const StatisticsRow& row) {
  append(impl_->stats, impl_->stype, &row, 1, impl_->n_stats, "statistics");
}

void RunFileWriter::append_report(const std::string& json) {
  append(impl_->report, H5T_NATIVE_UINT8, json.data(), json.size(), impl_->n_report, "report");
  impl_->report_text += json;
}

void RunFileWriter::flush() {
  if (impl_->file >= 0 && H5Fflush(impl_->file, H5F_SCOPE_GLOBAL) < 0) throw RunFileError("flush failed (disk full?)");
}

void RunFileWriter::close() {
  if (!impl_ || impl_->file < 0) return;
  // Closed even when the flush fails (disk full): HDF5 shares one open file per process, so a
  // reader opened later in this process would otherwise see the writer's unflushed caches —
  // rows that never reach the disk (tests/faults/disk_fill.sh) — instead of the file as it is.
  try {
    flush();
  } catch (const RunFileError&) {
    impl_->close_all();
    throw;
  }
  impl_->close_all();
  if (impl_->report_text.empty()) return;
  // The report also as an HDF5 string (issue 13: h5py's f.attrs["report_json"] is a str). A SWMR
  // writer may not create attributes, so this is done once the file is closed: reopened for one
  // attribute and closed again. Best effort: the same text is in /report_json (and the same JSON,
  // indented, in report.json).
  const hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
  H5Pset_libver_bounds(fapl, H5F_LIBVER_LATEST, H5F_LIBVER_LATEST);  // dense storage: reports > 64 kB
  const hid_t f = H5Fopen(impl_->path.c_str(), H5F_ACC_RDWR, fapl);
  H5Pclose(fapl);
  if (f >= 0) {
    write_string_attribute(f, "report_json", impl_->report_text);
    H5Fclose(f);
  }
}

bool RunFileWriter::is_open() const {
  return impl_ && impl_->file >= 0;
}

std::uint64_t RunFileWriter::trials_written() const {
  return impl_->n_trials;
}

namespace {

/// The deepest message on HDF5's error stack (the cause, e.g. "truncated file: eof = …"), or
/// empty. dira turns HDF5's automatic printing off (init_hdf5), so this is how a reader learns why.
std::string hdf5_cause() {
  std::string cause;
  H5Ewalk2(
      H5E_DEFAULT, H5E_WALK_DOWNWARD,
      [](unsigned, const H5E_error2_t* e, void* out) -> herr_t {
        if (e && e->desc && *e->desc) *static_cast<std::string*>(out) = e->desc;
        return 0;
      },
      &cause);
  return cause;
}

/// How many times a SWMR reader reads a piece of metadata whose checksum fails before giving up.
/// HDF5 1.10 retries up to 100 times with a sleep that doubles from 1 ns, so a damaged file
/// hangs the reader "forever" (2^100 ns); 12 attempts wait 4 µs in all, enough for a
/// checksum read in the middle of a live writer's flush to succeed on a later attempt.
constexpr unsigned kSwmrReadAttempts = 12;

/// Opens a run file for reading. A closed file (or one whose SWMR flag the watchdog cleared)
/// opens without SWMR: no metadata retries, and HDF5 checks the file's length against its
/// superblock (a file cut short is refused). Only a file a live writer (this process, or one
/// that died before the watchdog acted) still holds in SWMR mode is opened for SWMR reading,
/// with the retries bounded.
hid_t open_run_file(const std::filesystem::path& path) {
  init_hdf5();
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec))
    throw RunFileError(path.string() +
                       (std::filesystem::exists(path, ec) ? " is not a regular file" : " does not exist"));
  hid_t file = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  if (file >= 0) return file;
  const std::string plain_cause = hdf5_cause();
  const hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
  H5Pset_metadata_read_attempts(fapl, kSwmrReadAttempts);
  file = H5Fopen(path.c_str(), H5F_ACC_RDONLY | H5F_ACC_SWMR_READ, fapl);
  H5Pclose(fapl);
  if (file < 0) {
    const std::string swmr_cause = hdf5_cause();
    std::string cause = plain_cause.empty() ? swmr_cause : plain_cause;
    if (!plain_cause.empty() && !swmr_cause.empty() && swmr_cause != plain_cause)
      cause += "\"; as a SWMR reader: \"" + swmr_cause;
    throw RunFileError("cannot open " + path.string() + " as an HDF5 run file (damaged, truncated or not HDF5)" +
                       (cause.empty() ? std::string() : ": HDF5 says \"" + cause + "\""));
  }
  return file;
}

/// Reads dataset `name` in blocks of 65 536 rows, each into the storage place(rows) gives
/// (room for that many rows of the memory type `type`), then each_block(that storage, rows,
/// first_row); memory stays flat however long the run. Returns the dataset's row count (0 when
/// it does not exist). A block HDF5 cannot read (a chunk whose checksum fails, or whose address
/// lies past the end of a truncated file) goes to on_error(first_row, rows, cause) and reading
/// stops there.
template <class Place, class EachBlock, class OnError>
hsize_t read_blocks_into(hid_t file, const char* name, hid_t type, Place&& place, EachBlock&& each_block,
                         OnError&& on_error) {
  if (H5Lexists(file, name, H5P_DEFAULT) <= 0) return 0;
  const hid_t d = H5Dopen2(file, name, H5P_DEFAULT);
  if (d < 0) {
    on_error(0, 0, hdf5_cause());
    return 0;
  }
  H5Drefresh(d);
  const hid_t space = H5Dget_space(d);
  hsize_t n = 0;
  H5Sget_simple_extent_dims(space, &n, nullptr);
  const hsize_t block = 1 << 16;
  for (hsize_t at = 0; at < n; at += block) {
    const hsize_t count[1] = {std::min(block, n - at)}, start[1] = {at};
    H5Sselect_hyperslab(space, H5S_SELECT_SET, start, nullptr, count, nullptr);
    const hid_t mspace = H5Screate_simple(1, count, nullptr);
    auto* into = place(static_cast<std::size_t>(count[0]));
    const herr_t rc = H5Dread(d, type, mspace, space, H5P_DEFAULT, into);
    H5Sclose(mspace);
    if (rc < 0) {
      on_error(at, n - at, hdf5_cause());
      break;
    }
    if (!each_block(into, static_cast<std::size_t>(count[0]), at)) break;
  }
  H5Sclose(space);
  H5Dclose(d);
  return n;
}

/// read_blocks_into with one buffer of `row` bytes per row: each_block(bytes, rows, first_row).
template <class EachBlock, class OnError>
hsize_t read_blocks(hid_t file, const char* name, hid_t type, std::size_t row, EachBlock&& each_block,
                    OnError&& on_error) {
  std::vector<std::uint8_t> buf;
  return read_blocks_into(
      file, name, type,
      [&](std::size_t rows) {
        buf.resize(rows * row);
        return buf.data();
      },
      [&](const std::uint8_t* p, std::size_t rows, hsize_t first) { return each_block(p, rows, first); }, on_error);
}

/// Rows of dataset `name` (0 when it does not exist or cannot be opened).
hsize_t dataset_rows(hid_t file, const char* name) {
  if (H5Lexists(file, name, H5P_DEFAULT) <= 0) return 0;
  const hid_t d = H5Dopen2(file, name, H5P_DEFAULT);
  if (d < 0) return 0;
  const hid_t space = H5Dget_space(d);
  hsize_t n = 0;
  H5Sget_simple_extent_dims(space, &n, nullptr);
  H5Sclose(space);
  H5Dclose(d);
  return n;
}

}  // namespace

RunFileContents read_run_file(const std::filesystem::path& path,
                              const std::function<void(std::span<const protocol::Trial>)>& sink) {
  RunFileContents c;
  const hid_t file = open_run_file(path);
  c.config_yaml = read_string_attribute(file, "config_yaml");
  c.metadata_json = read_string_attribute(file, "metadata_json");
  const hid_t tt = trial_type(), lt = ledger_type(), st = stats_type();
  // Trials are handed on only up to the first row that is unreadable, fails its block's
  // checksum (/trial_checksums), or is out of order: trial indices strictly increase
  // (hal::TrialAssembler numbers trials by their sync), so a row of zeros after the first, or a
  // row from elsewhere, breaks the order even in files from before the checksums. Every row from
  // there on counts as damaged; the caller decides over the intact rows before it only.
  bool have_last = false;
  std::uint64_t last_index = 0;
  std::int64_t last_time = 0;
  auto damaged_from = [&](hsize_t row, const std::string& why) {
    c.damaged_rows = c.rows - row;
    c.damage = "run.h5 rows " + std::to_string(row) + "–" + std::to_string(c.rows - 1) + " (" +
               std::to_string(c.rows - row) + " trials) are missing or damaged: " + why;
  };
  {
    // Without /trials nothing can be decided: say why instead of deciding over zero trials.
    const htri_t has = H5Lexists(file, "trials", H5P_DEFAULT);
    const hid_t d = has > 0 ? H5Dopen2(file, "trials", H5P_DEFAULT) : -1;
    if (d < 0) {
      const std::string cause = hdf5_cause();
      H5Tclose(tt);
      H5Tclose(lt);
      H5Tclose(st);
      H5Fclose(file);
      throw RunFileError(path.string() +
                         (has == 0 ? " has no /trials dataset (not a dira run file)"
                                   : ": /trials cannot be opened (the file is damaged)") +
                         (cause.empty() ? std::string() : ": HDF5 says \"" + cause + "\""));
    }
    H5Dclose(d);
  }
  c.rows = dataset_rows(file, "trials");
  auto note = [&](const char* what) {
    return [&c, what](hsize_t row, hsize_t, const std::string& cause) {
      if (!c.damage_other.empty()) c.damage_other += "; ";
      c.damage_other += std::string(what) + " from row " + std::to_string(row) + " unreadable" +
                        (cause.empty() ? std::string() : " (\"" + cause + "\")");
    };
  };
  read_blocks(
      file, "ledger", lt, sizeof(LedgerRow),
      [&](const std::uint8_t* p, std::size_t n, hsize_t) {
        const auto* rows = reinterpret_cast<const LedgerRow*>(p);
        for (std::size_t i = 0; i < n; ++i)
          c.ledger.push_back({static_cast<protocol::BitPurpose>(rows[i].purpose), rows[i].first_bit, rows[i].bit_count,
                              rows[i].first_item, rows[i].last_item});
        return true;
      },
      note("ledger"));
  // Trials are decided over only where the ledger accounts for their settings' weak-source bits
  // (drawn, or observed from the hardware): the ledger is written at each flush, the trial rows at
  // each append, so after a write that failed (disk full) or a kill, rows past the ledger's last
  // flush can reach the file without it (issue 12, tests/faults/disk_fill.sh). Such rows are not
  // decided over, like damaged ones: their settings' provenance is not in the record.
  // Only for files that say so (metadata ledger_covers_trials: dira run's files since this rule);
  // other writers (tests, older files) record trials without a ledger.
  const auto metadata = nlohmann::json::parse(c.metadata_json, nullptr, false);
  const bool ledger_covers_trials = metadata.is_object() && metadata.contains("ledger_covers_trials") &&
                                    metadata["ledger_covers_trials"].is_boolean() &&
                                    metadata["ledger_covers_trials"].get<bool>();
  std::uint64_t covered_end = ledger_covers_trials ? 0 : std::numeric_limits<std::uint64_t>::max();
  if (ledger_covers_trials)
    for (const auto& e : c.ledger)
      if (e.purpose == protocol::BitPurpose::setting || e.purpose == protocol::BitPurpose::observed_setting)
        covered_end = std::max(covered_end, e.last_item + 1);
  // The checksums: a few bytes per thousand trials (one row per append of ≤ 65 536 trials).
  // The checksum rows are read through a window of 4 096 as the trials advance: memory flat
  // however long the run (one row per append of a few thousand trials).
  struct ChecksumCursor {
    hid_t d = -1, type = -1;
    hsize_t total = 0, window_first = 0;
    std::vector<ChecksumRow> window;
    std::string cause;  ///< why rows from some point cannot be read (empty: none)
    std::size_t size() const { return static_cast<std::size_t>(total); }
    const ChecksumRow* at(std::size_t i) {
      if (i >= total) return nullptr;
      if (i < window_first || i >= window_first + window.size()) {
        const hsize_t count[1] = {std::min<hsize_t>(4096, total - i)}, start[1] = {i};
        window.resize(static_cast<std::size_t>(count[0]));
        const hid_t space = H5Dget_space(d);
        H5Sselect_hyperslab(space, H5S_SELECT_SET, start, nullptr, count, nullptr);
        const hid_t mspace = H5Screate_simple(1, count, nullptr);
        const herr_t rc = H5Dread(d, type, mspace, space, H5P_DEFAULT, window.data());
        H5Sclose(mspace);
        H5Sclose(space);
        if (rc < 0) {
          const std::string why = hdf5_cause();
          cause = "their checksums (from checksum row " + std::to_string(i) + ") cannot be read" +
                  (why.empty() ? std::string() : " (\"" + why + "\")");
          total = i;  // none from here
          window.clear();
          return nullptr;
        }
        window_first = i;
      }
      return &window[static_cast<std::size_t>(i - window_first)];
    }
    ~ChecksumCursor() {
      if (d >= 0) H5Dclose(d);
      if (type >= 0) H5Tclose(type);
    }
  } sums;
  const bool checked = H5Lexists(file, "trial_checksums", H5P_DEFAULT) > 0;
  if (checked) {
    sums.type = checksum_type();
    sums.d = H5Dopen2(file, "trial_checksums", H5P_DEFAULT);
    if (sums.d >= 0) {
      H5Drefresh(sums.d);
      sums.total = dataset_rows(file, "trial_checksums");
    } else {
      sums.cause = "their checksums cannot be opened (\"" + hdf5_cause() + "\")";
    }
  }
  bool stop = false;
  // Hands verified rows on as they lie (index order checked); false at a break of the order.
  // The rows are read straight into protocol::Trial storage (TrialRow's layout, asserted above),
  // so what the sink sees is the verified rows themselves, not a converted copy.
  auto hand_on = [&](const protocol::Trial* rows, std::size_t n, hsize_t first) {
    std::size_t good = 0;
    for (; good < n; ++good) {
      if (have_last && rows[good].index <= last_index) {
        damaged_from(first + good, "trial index " + std::to_string(rows[good].index) + " at row " +
                                       std::to_string(first + good) + " does not follow index " +
                                       std::to_string(last_index) + " (rows never written read back as zeros)");
        stop = true;
        break;
      }
      // Sync times never go back either: a row cut in the middle (its index written, its time
      // not) shows here.
      if (have_last && rows[good].time_ps < last_time) {
        damaged_from(first + good, "the time of trial " + std::to_string(rows[good].index) + " at row " +
                                       std::to_string(first + good) + " goes back (" +
                                       std::to_string(rows[good].time_ps) + " ps after " + std::to_string(last_time) +
                                       " ps): the row is cut or damaged");
        stop = true;
        break;
      }
      if (rows[good].index >= covered_end) {
        damaged_from(first + good, "trial " + std::to_string(rows[good].index) + " at row " +
                                       std::to_string(first + good) +
                                       " and those after it are not covered by the ledger (its setting bits end at "
                                       "trial " +
                                       (covered_end ? std::to_string(covered_end - 1) : std::string("none")) +
                                       "): written after the ledger's last flush (a write failed or the run was "
                                       "killed), so their settings' provenance is not in the record");
        stop = true;
        break;
      }
      have_last = true;
      last_index = rows[good].index;
      last_time = rows[good].time_ps;
    }
    c.trials += good;
    if (sink && good) sink(std::span<const protocol::Trial>(rows, good));
    return !stop;
  };
  // Rows read but not yet verified (at most one checksum block, ≤ 65 536 rows, plus one read).
  std::vector<protocol::Trial> pending;
  std::vector<protocol::Trial> unchecked;  // a block read to be checked by its order only
  hsize_t pending_first = 0;               // row number of pending[0]; every row before it is handed on
  std::size_t next_sum = 0;
  // Rows past the checksums' coverage (their checksum rows lost: HDF5 places the small
  // checksum chunks of a file killed mid-run near its end, so a cut takes them first) are
  // checked by their order only, and counted as such.
  bool order_only = false;
  hsize_t order_only_from = 0;
  std::string order_only_why;
  auto to_order_only = [&](const std::string& why) {
    order_only = true;
    order_only_from = pending_first;
    order_only_why = why;
    const bool ok = pending.empty() || hand_on(pending.data(), pending.size(), pending_first);
    pending_first += pending.size();
    pending.clear();
    return ok;
  };
  auto verify_pending = [&] {
    std::size_t done = 0;
    while (!stop && next_sum < sums.size()) {
      // The next blocks read whole (up to four), in order: each block's checksum is a serial
      // chain (a multiply per 8 bytes), so four are computed together; then they are checked
      // and handed on one by one, exactly as if computed one at a time.
      ChecksumRow ks[kChecksumLanes];
      std::size_t nk = 0, ahead = done;
      while (nk < kChecksumLanes && next_sum + nk < sums.size()) {
        const ChecksumRow* kp = sums.at(next_sum + nk);
        if (!kp) break;  // unreadable from here (sums.size() is now next_sum + nk)
        const ChecksumRow& k = *kp;
        if (k.first_row != pending_first + ahead || k.rows == 0 || k.rows > kChecksumBlock)
          break;                                     // checksums end here
        if (ahead + k.rows > pending.size()) break;  // the block is not read whole yet
        ks[nk++] = k;
        ahead += static_cast<std::size_t>(k.rows);
      }
      if (nk == 0) break;
      std::uint64_t values[kChecksumLanes];
      block_checksums(pending.data() + done, ks, nk, values);
      for (std::size_t j = 0; j < nk && !stop; ++j) {
        const ChecksumRow& k = ks[j];
        const hsize_t at = pending_first + done;
        if (values[j] != k.checksum) {
          damaged_from(at, "rows " + std::to_string(at) + "–" + std::to_string(at + k.rows - 1) +
                               " fail their checksum (damaged, or never written: a file cut short)");
          stop = true;
          break;
        }
        if (!hand_on(pending.data() + done, static_cast<std::size_t>(k.rows), at)) break;
        done += static_cast<std::size_t>(k.rows);
        ++next_sum;
      }
    }
    pending.erase(pending.begin(), pending.begin() + static_cast<std::ptrdiff_t>(done));
    pending_first += done;
    if (stop) return false;
    if (const ChecksumRow* kp = sums.at(next_sum)) {
      const ChecksumRow& k = *kp;
      if (k.first_row == pending_first && k.rows > 0 && k.rows <= kChecksumBlock) return true;  // wait for rows
      return to_order_only("checksum row " + std::to_string(next_sum) + " is unusable (first row " +
                           std::to_string(k.first_row) + ", " + std::to_string(k.rows) +
                           " rows): the checksums are lost or damaged from there");
    }
    if (!pending.empty())
      return to_order_only(sums.cause.empty() ? "no checksum covers them (written without one)" : sums.cause);
    return true;
  };
  bool into_pending = false;  // where the block being read goes
  read_blocks_into(
      file, "trials", tt,
      [&](std::size_t n) {  // rows to verify are read behind those pending, the others apart
        into_pending = checked && !order_only;
        if (!into_pending) {
          unchecked.resize(n);
          return unchecked.data();
        }
        pending.resize(pending.size() + n);
        return pending.data() + (pending.size() - n);
      },
      [&](const protocol::Trial* rows, std::size_t n, hsize_t first) {
        return into_pending ? verify_pending() : hand_on(rows, n, first);
      },
      [&](hsize_t row, hsize_t, const std::string& cause) {
        damaged_from(checked && !order_only ? pending_first : row,
                     "HDF5 cannot read them" + (cause.empty() ? std::string() : " (\"" + cause + "\")"));
        stop = true;
      });
  if (checked && !stop && !order_only && pending_first < c.rows)
    damaged_from(pending_first, "they were not read whole");
  if (order_only && c.trials > order_only_from) {
    c.unverified_rows = c.trials - order_only_from;
    c.unverified = "run.h5 rows " + std::to_string(order_only_from) + "–" + std::to_string(c.trials - 1) +
                   " were checked by their trial order only: " + order_only_why;
  }
  read_blocks(
      file, "statistics", st, sizeof(StatisticsRow),
      [&](const std::uint8_t* p, std::size_t n, hsize_t) {
        const auto* rows = reinterpret_cast<const StatisticsRow*>(p);
        c.statistics.insert(c.statistics.end(), rows, rows + n);
        return true;
      },
      note("statistics"));
  read_blocks(
      file, "report_json", H5T_NATIVE_UINT8, 1,
      [&](const std::uint8_t* p, std::size_t n, hsize_t) {
        c.report.append(reinterpret_cast<const char*>(p), n);
        return true;
      },
      note("report_json"));
  c.tags = dataset_rows(file, "tags");
  H5Tclose(tt);
  H5Tclose(lt);
  H5Tclose(st);
  H5Fclose(file);
  return c;
}

std::uint64_t read_run_file_tags(const std::filesystem::path& path,
                                 const std::function<void(std::span<const RecordedTag>)>& sink) {
  const hid_t file = open_run_file(path);
  if (H5Lexists(file, "tags", H5P_DEFAULT) <= 0) {
    H5Fclose(file);
    throw RunFileError(path.string() + " holds no raw tags (the run had outputs.raw_tags: false)");
  }
  const hid_t type = tag_type();
  std::vector<RecordedTag> out;
  std::string damage;
  const hsize_t n = read_blocks(
      file, "tags", type, sizeof(TagRow),
      [&](const std::uint8_t* p, std::size_t count, hsize_t) {
        const auto* rows = reinterpret_cast<const TagRow*>(p);
        out.resize(count);
        for (std::size_t i = 0; i < count; ++i)
          out[i] = RecordedTag{rows[i].station, hal::Tag{static_cast<hal::TagType>(rows[i].type), 0, rows[i].missed,
                                                         rows[i].channel, rows[i].time_ps}};
        if (sink) sink(out);
        return true;
      },
      [&](hsize_t row, hsize_t rows, const std::string& cause) {
        damage = path.string() + ": tags " + std::to_string(row) + "–" + std::to_string(row + rows - 1) +
                 " are missing or damaged" + (cause.empty() ? std::string() : " (HDF5: \"" + cause + "\")");
      });
  H5Tclose(type);
  H5Fclose(file);
  if (!damage.empty()) throw RunFileError(damage);
  return n;
}

}  // namespace dira::app
