// TTTR records → hal::Tag, and the inverse for the writer (docs/ptu.md §2, §3). Bit layouts and
// overflow periods from PicoQuant's doc/apx_tttrrecords.html and the PTU demos (ptudemo.cc
// ProcessPHT2/PHT3/HHT2/HHT3); this is an independent implementation.
#include "dira/drivers/picoquant/ptu.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <fstream>
#include <limits>
#include <stdexcept>

namespace dira::drivers::picoquant {

namespace {

__extension__ typedef unsigned __int128 u128;  // 64×64-bit products of the fixed-point times

// Record families: the same bit layout, overflow period and special-record rules.
enum Family : int { kPicoHarpT2 = 0, kPicoHarpT3 = 1, kHydraHarpT2 = 2, kHydraHarpT3 = 3 };

// Overflow periods in raw units (apx_tttrrecords.html).
constexpr std::uint64_t kPicoHarpT2Wrap = 210698240;  // time tags; one per overflow record
constexpr std::uint64_t kPicoHarpT3Wrap = 65536;      // sync counts (16-bit nsync); one per record
constexpr std::uint64_t kHydraV1T2Wrap = 33552000;    // HydraHarp V1 T2; one per record
constexpr std::uint64_t kHydraT2Wrap = 33554432;      // 2^25: V2, TimeHarp 260, generic T2; count in the record
constexpr std::uint64_t kHydraT3Wrap = 1024;          // 2^10 sync counts, every HydraHarp-layout T3

int family_of(RecordType t) {
  if (t == RecordType::picoharp_t2) return kPicoHarpT2;
  if (t == RecordType::picoharp_t3) return kPicoHarpT3;
  return is_t2(t) ? kHydraHarpT2 : kHydraHarpT3;
}

bool is_v1(RecordType t) {
  return t == RecordType::hydraharp_v1_t2 || t == RecordType::hydraharp_v1_t3;
}

/// Largest raw count a record adds to the overflow base (its time or nsync field).
std::uint64_t field_max(int family) {
  switch (family) {
    case kPicoHarpT2:
      return (std::uint64_t{1} << 28) - 1;
    case kPicoHarpT3:
      return 0xFFFF;
    case kHydraHarpT2:
      return (std::uint64_t{1} << 25) - 1;
    default:
      return 0x3FF;
  }
}

/// Where times stop fitting: 2^63 ps (about 106.75 days of file time).
constexpr const char* kTimeRangeNote = "past 2^63 ps (about 106.75 days), the largest time dira represents";

hal::Tag make_tag(int channel, std::int64_t time_ps) {
  hal::Tag t;
  t.channel = channel;
  t.time_ps = time_ps;
  return t;
}

}  // namespace

RecordDecoder::RecordDecoder(const PtuHeader& h)
    : RecordDecoder(h.record_type, h.global_resolution_s, h.resolution_s) {}

RecordDecoder::RecordDecoder(RecordType type, double global_resolution_s, double resolution_s)
    : type_(type), family_(family_of(type)), v1_(is_v1(type)) {
  if (!is_known_record_type(static_cast<std::uint32_t>(type))) throw std::invalid_argument("unknown PTU record type");
  const bool t3 = !is_t2(type);
  if (!(global_resolution_s > 0) || !std::isfinite(global_resolution_s))
    throw std::invalid_argument("PTU decoder: the global resolution must be positive");
  if (t3 && (!(resolution_s > 0) || !std::isfinite(resolution_s)))
    throw std::invalid_argument("PTU decoder: T3 records need a positive resolution");
  // Times are computed in fixed point, ps · 2^shift_ with as many fraction bits as fit 63 bits,
  // so that integer resolutions are exact and a non-integer sync period (1/76.2 MHz) drifts by
  // less than 0.01 ps over 10^12 syncs (a double would drift by ~1 ps).
  const double g_ps = global_resolution_s * 1e12;
  const double r_ps = t3 ? resolution_s * 1e12 : 0.0;
  shift_ = 62;
  while (shift_ > 1 && std::ldexp(g_ps, shift_) >= std::ldexp(1.0, 63)) --shift_;
  if (std::ldexp(g_ps, shift_) >= std::ldexp(1.0, 63))
    throw std::invalid_argument("PTU decoder: resolution too coarse (2^62 ps or more)");
  global_fp_ = static_cast<std::uint64_t>(std::llround(std::ldexp(g_ps, shift_)));
  // dtime (< 2^15) · resolution stays within 64 bits: a plain multiply on the hot path.
  dtime_shift_ = 46;
  while (dtime_shift_ > 1 && std::ldexp(r_ps, dtime_shift_ + 15) >= std::ldexp(1.0, 63)) --dtime_shift_;
  if (std::ldexp(r_ps, dtime_shift_ + 15) >= std::ldexp(1.0, 63))
    throw std::invalid_argument("PTU decoder: dtime resolution too coarse");
  dtime_fp_ = static_cast<std::uint64_t>(std::llround(std::ldexp(r_ps, dtime_shift_)));
  if (global_fp_ == 0) throw std::invalid_argument("PTU decoder: global resolution below 2^-62 ps");
  // Times must stay below 2^63 ps: past it they would wrap to negative values (issue 12: a file of
  // maximum-count overflow records gave a negative time; in T3 the sync + dtime sum overflowed).
  // The hot loop does not check each record; instead the overflow base is bounded (checked only
  // on overflow records, which are rare) so that base + the largest field + the largest dtime
  // always fits. max_units: the largest count u with to_ps(u) <= INT64_MAX - max dtime, i.e.
  // u * global_fp_ + half < (limit + 1) << shift_.
  const std::uint64_t max_dtime_ps = t3 ? static_cast<std::uint64_t>(dtime_ps(0x7FFF)) : 0;
  const u128 limit_ps = static_cast<u128>(std::numeric_limits<std::int64_t>::max()) - max_dtime_ps;
  const u128 bound = ((limit_ps + 1) << shift_) - (static_cast<u128>(1) << (shift_ - 1)) - 1;
  // Capped at 2^63 - 1: raw counts stay int64-comparable (T3's last sync), and base + one
  // overflow record's periods (< 2^50 counts) never wraps a uint64.
  const u128 max_units =
      std::min<u128>(bound / global_fp_, static_cast<u128>(std::numeric_limits<std::int64_t>::max()));
  const std::uint64_t field = field_max(family_);
  if (max_units < field)
    throw std::invalid_argument("PTU decoder: global resolution " + std::to_string(global_resolution_s) +
                                " s is too coarse: a single record's time could pass 2^63 ps");
  max_base_ = static_cast<std::uint64_t>(max_units) - field;
}

std::int64_t RecordDecoder::global_time_ps(std::uint64_t units) const {
  const u128 x = static_cast<u128>(units) * global_fp_ + (static_cast<u128>(1) << (shift_ - 1));
  return static_cast<std::int64_t>(static_cast<std::uint64_t>(x >> shift_));
}

std::int64_t RecordDecoder::dtime_ps(std::uint32_t dtime) const {
  const std::uint64_t x = (dtime & 0x7FFFu) * dtime_fp_ + (std::uint64_t{1} << (dtime_shift_ - 1));
  return static_cast<std::int64_t>(x >> dtime_shift_);
}

void RecordDecoder::decode(std::span<const std::uint32_t> records, hal::TagBlock& out, std::uint64_t offset) {
  switch (family_) {
    case kPicoHarpT2:
      run<kPicoHarpT2>(records, out, offset);
      break;
    case kPicoHarpT3:
      run<kPicoHarpT3>(records, out, offset);
      break;
    case kHydraHarpT2:
      run<kHydraHarpT2>(records, out, offset);
      break;
    default:
      run<kHydraHarpT3>(records, out, offset);
      break;
  }
}

template <int Family>
void RecordDecoder::run(std::span<const std::uint32_t> records, hal::TagBlock& out, std::uint64_t offset) {
  constexpr bool t3 = Family == kPicoHarpT3 || Family == kHydraHarpT3;
  // Tags are written through a raw pointer into a scratch buffer that holds the worst case of
  // a chunk (a sync and 12 marker bits per record), then appended to `out` chunk by chunk: the
  // scratch stays in L1 and `out` is written once (no zero-filling resize).
  constexpr std::size_t kChunk = 512, kMaxTagsPerRecord = 13;
  const std::size_t n = records.size();
  if (scratch_.size() < kChunk * kMaxTagsPerRecord) scratch_.resize(kChunk * kMaxTagsPerRecord);
  hal::Tag* const s0 = scratch_.data();
  hal::Tag* p = s0;
  // Geometric growth: callers that append many small decodes to one block stay linear.
  if (const std::size_t need = out.size() + (t3 ? 2 : 1) * n; out.capacity() < need)
    out.reserve(std::max(need, 2 * out.capacity()));
  const auto flush = [&] {
    out.insert(out.end(), s0, p);
    p = s0;
  };

  std::uint64_t base = overflow_base_;
  const std::uint64_t max_base = max_base_;  // base <= max_base keeps every time below 2^63 ps
  static const std::string out_of_range = std::string("overflow record takes the time ") + kTimeRangeNote;
  std::int64_t last_sync = last_sync_;
  std::uint64_t photons = 0, syncs = 0, marker_records = 0, marker_tags = 0, ofl_records = 0, ofl_periods = 0;
  const u128 half = static_cast<u128>(1) << (shift_ - 1);
  const std::uint64_t gfp = global_fp_, dfp = dtime_fp_;
  const int shift = shift_, dshift = dtime_shift_;
  const std::uint64_t dhalf = std::uint64_t{1} << (dtime_shift_ - 1);
  const auto to_ps = [&](std::uint64_t units) {
    return static_cast<std::int64_t>(static_cast<std::uint64_t>((static_cast<u128>(units) * gfp + half) >> shift));
  };
  const auto dt_ps = [&](std::uint32_t d) {  // d < 2^15: the product fits 64 bits
    return static_cast<std::int64_t>((d * dfp + dhalf) >> dshift);
  };
  const auto emit_sync = [&](std::uint64_t nsync, std::int64_t sync_ps) {
    // T3: the sync itself is not recorded; its count is. One sync tag per count that carries
    // an event, in increasing order (a marker that arrives late does not re-emit an older sync).
    if (static_cast<std::int64_t>(nsync) > last_sync) {
      *p++ = make_tag(kSyncChannel, sync_ps);
      last_sync = static_cast<std::int64_t>(nsync);
      ++syncs;
    }
  };
  const auto emit_markers = [&](std::uint32_t bits, std::int64_t time_ps) {
    ++marker_records;
    for (std::uint32_t b = bits; b != 0; b &= b - 1) {
      *p++ = make_tag(kMarkerChannelBase + std::countr_zero(b) + 1, time_ps);
      ++marker_tags;
    }
  };
  const auto save = [&](std::size_t done) {
    overflow_base_ = base;
    last_sync_ = last_sync;
    counts_.records += done;
    counts_.photons += photons;
    counts_.syncs += syncs;
    counts_.marker_records += marker_records;
    counts_.marker_tags += marker_tags;
    counts_.overflow_records += ofl_records;
    counts_.overflow_periods += ofl_periods;
    flush();
  };
  const auto fail = [&](std::size_t i, const std::string& what) {
    save(i);
    throw PtuFormatError(offset + 4 * i, "record #" + std::to_string(counts_.records) + " (0-based, " +
                                             record_type_name(type_) + "): " + what);
  };

  for (std::size_t chunk = 0; chunk < n; chunk += kChunk) {
    if (chunk > 0) flush();
    const std::size_t chunk_end = std::min(n, chunk + kChunk);
    for (std::size_t i = chunk; i < chunk_end; ++i) {
      const std::uint32_t w = records[i];
      if constexpr (Family == kPicoHarpT2) {
        // MSB→LSB: channel 4 | time 28. Channel 15: special; time's low 4 bits = markers, 0 = overflow.
        const std::uint32_t ch = w >> 28;
        const std::uint32_t t = w & 0x0FFFFFFFu;
        if (ch != 15) [[likely]] {
          *p++ = make_tag(static_cast<int>(ch), to_ps(base + t));
          syncs += ch == 0;  // the PicoHarp's input 0 is the sync in T2 (channel 0 in dira)
          photons += ch != 0;
        } else if ((t & 0xFu) == 0) {
          if (base + kPicoHarpT2Wrap > max_base) fail(i, out_of_range);
          base += kPicoHarpT2Wrap;
          ++ofl_records, ++ofl_periods;
        } else {
          // The marker bits occupy the time's low 4 bits: they are not time, so they are cleared.
          emit_markers(t & 0xFu, to_ps(base + (t & ~0xFu)));
        }
      } else if constexpr (Family == kPicoHarpT3) {
        // MSB→LSB: channel 4 | dtime 12 | nsync 16. Channel 15: special; dtime = markers, 0 = overflow.
        const std::uint32_t ch = w >> 28;
        const std::uint32_t dtime = (w >> 16) & 0xFFFu;
        const std::uint64_t nsync = base + (w & 0xFFFFu);
        if (ch - 1 < 14) [[likely]] {  // 1..14: a detection (the PicoHarp has channels 1..4)
          const std::int64_t sync_ps = to_ps(nsync);
          emit_sync(nsync, sync_ps);
          *p++ = make_tag(static_cast<int>(ch), sync_ps + dt_ps(dtime));
          ++photons;
        } else if (ch == 15) {
          if (dtime == 0) {
            if (base + kPicoHarpT3Wrap > max_base) fail(i, out_of_range);
            base += kPicoHarpT3Wrap;
            ++ofl_records, ++ofl_periods;
          } else {
            const std::int64_t sync_ps = to_ps(nsync);
            emit_sync(nsync, sync_ps);
            emit_markers(dtime, sync_ps);
          }
        } else {
          fail(i, "channel 0, which PicoHarp T3 records never use");
        }
      } else if constexpr (Family == kHydraHarpT2) {
        // MSB→LSB: special 1 | channel 6 | timetag 25.
        const std::uint32_t ch = (w >> 25) & 0x3Fu;
        const std::uint32_t t = w & 0x1FFFFFFu;
        if ((w >> 31) == 0) [[likely]] {
          *p++ = make_tag(static_cast<int>(ch) + 1, to_ps(base + t));  // field 0..63 → channel 1..64
          ++photons;
        } else if (ch == 63) {
          // V1: always one period. Later types: the count is in the time-tag field, 0 meaning 1.
          const std::uint64_t k = v1_ ? 1 : (t == 0 ? 1 : t);
          if (base + k * (v1_ ? kHydraV1T2Wrap : kHydraT2Wrap) > max_base) fail(i, out_of_range);
          base += k * (v1_ ? kHydraV1T2Wrap : kHydraT2Wrap);
          ++ofl_records, ofl_periods += k;
        } else if (ch == 0) {
          *p++ = make_tag(kSyncChannel, to_ps(base + t));
          ++syncs;
        } else if (ch <= 15) {
          emit_markers(ch, to_ps(base + t));
        } else {
          fail(i, "special record with reserved channel code " + std::to_string(ch));
        }
      } else {
        // MSB→LSB: special 1 | channel 6 | dtime 15 | nsync 10.
        const std::uint32_t ch = (w >> 25) & 0x3Fu;
        const std::uint32_t dtime = (w >> 10) & 0x7FFFu;
        const std::uint32_t ns = w & 0x3FFu;
        if ((w >> 31) == 0) [[likely]] {
          const std::uint64_t nsync = base + ns;
          const std::int64_t sync_ps = to_ps(nsync);
          emit_sync(nsync, sync_ps);
          *p++ = make_tag(static_cast<int>(ch) + 1, sync_ps + dt_ps(dtime));
          ++photons;
        } else if (ch == 63) {
          // V1: always one period. Later types: the count is in nsync, 0 meaning 1.
          const std::uint64_t k = (v1_ || ns == 0) ? 1 : ns;
          if (base + k * kHydraT3Wrap > max_base) fail(i, out_of_range);
          base += k * kHydraT3Wrap;
          ++ofl_records, ofl_periods += k;
        } else if (ch >= 1 && ch <= 15) {
          const std::uint64_t nsync = base + ns;
          const std::int64_t sync_ps = to_ps(nsync);
          emit_sync(nsync, sync_ps);
          emit_markers(ch, sync_ps);
        } else {
          fail(i, "special record with reserved channel code " + std::to_string(ch));
        }
      }
    }
  }
  save(n);
}

// ---- encoder (the writer's half) ---------------------------------------------------------

std::vector<std::uint32_t> encode_records(RecordType type, std::span<const PtuEvent> events) {
  if (!is_known_record_type(static_cast<std::uint32_t>(type))) throw std::invalid_argument("unknown PTU record type");
  const int family = family_of(type);
  const bool v1 = is_v1(type);
  const bool t3 = !is_t2(type);
  std::uint64_t wrap = 0, max_count = 1;
  switch (family) {
    case kPicoHarpT2:
      wrap = kPicoHarpT2Wrap;
      break;
    case kPicoHarpT3:
      wrap = kPicoHarpT3Wrap;
      break;
    case kHydraHarpT2:
      wrap = v1 ? kHydraV1T2Wrap : kHydraT2Wrap;
      max_count = v1 ? 1 : (1u << 25) - 1;
      break;
    default:
      wrap = kHydraT3Wrap;
      max_count = v1 ? 1 : (1u << 10) - 1;
      break;
  }
  std::vector<std::uint32_t> out;
  out.reserve(events.size());
  std::uint64_t period = 0;  // overflow periods written so far
  std::uint64_t last_time = 0;
  for (std::size_t i = 0; i < events.size(); ++i) {
    const PtuEvent& e = events[i];
    const auto bad = [&](const std::string& what) {
      return std::invalid_argument("PTU writer: event " + std::to_string(i) + " (" + record_type_name(type) +
                                   "): " + what);
    };
    if (e.time < last_time) throw bad("time goes backwards");
    last_time = e.time;
    const std::uint64_t target = e.time / wrap;
    const auto low = static_cast<std::uint32_t>(e.time % wrap);
    while (period < target) {
      const std::uint64_t k = std::min(max_count, target - period);
      switch (family) {
        case kPicoHarpT2:
          out.push_back(0xF0000000u);
          break;
        case kPicoHarpT3:
          out.push_back(0xF0000000u);
          break;
        default:
          out.push_back(0x80000000u | (63u << 25) | (max_count == 1 ? 0u : static_cast<std::uint32_t>(k)));
          break;
      }
      period += k;
    }
    const std::uint32_t dtime = e.dtime;
    if (!t3 && dtime != 0) throw bad("dtime in a T2 record");
    switch (e.kind) {
      case PtuEvent::Kind::sync:
        if (t3) throw bad("T3 records do not carry syncs (the sync count is in every record)");
        out.push_back(family == kPicoHarpT2 ? low : (0x80000000u | low));
        break;
      case PtuEvent::Kind::photon:
        if (family == kPicoHarpT2 || family == kPicoHarpT3) {
          if (e.channel < 1 || e.channel > 14) throw bad("PicoHarp detector channel must be 1..14");
          if (family == kPicoHarpT3 && dtime > 0xFFF) throw bad("PicoHarp dtime must be < 4096");
          const auto ch = static_cast<std::uint32_t>(e.channel);
          out.push_back(family == kPicoHarpT2 ? (ch << 28 | low) : (ch << 28 | dtime << 16 | low));
        } else {
          if (e.channel < 1 || e.channel > 64) throw bad("detector channel must be 1..64");
          if (t3 && dtime > 0x7FFF) throw bad("dtime must be < 32768");
          const auto field = static_cast<std::uint32_t>(e.channel - 1);
          out.push_back(t3 ? (field << 25 | dtime << 10 | low) : (field << 25 | low));
        }
        break;
      case PtuEvent::Kind::marker: {
        const std::uint32_t max_bits = family == kPicoHarpT3 ? 0xFFF : 0xF;
        if (e.channel < 1 || static_cast<std::uint32_t>(e.channel) > max_bits)
          throw bad("marker bits must be 1.." + std::to_string(max_bits));
        const auto bits = static_cast<std::uint32_t>(e.channel);
        if (family == kPicoHarpT2) {
          out.push_back(0xF0000000u | (low & ~0xFu) | bits);  // low 4 time bits carry the markers
        } else if (family == kPicoHarpT3) {
          out.push_back(0xF0000000u | bits << 16 | low);
        } else {
          out.push_back(0x80000000u | bits << 25 | low);
        }
        break;
      }
    }
  }
  return out;
}

void write_ptu_file(const std::string& path, const PtuFileSpec& spec, std::span<const PtuEvent> events) {
  std::ofstream out(path, std::ios::binary);
  if (!out) throw std::runtime_error("cannot write " + path);
  write_ptu(out, spec, events);
  out.flush();
  if (!out) throw std::runtime_error("error writing " + path);
}

}  // namespace dira::drivers::picoquant
