#include "dira/hal/setting_scheduler.hpp"

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <exception>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>

#include <time.h>

namespace dira::hal {

/// The thread that draws top-ups while the acquisition thread works (draw_on_thread).
/// Requests [from, to) are contiguous and drawn in order into the ring, which nobody reads
/// there until collect() has seen `drawn_to` pass them (the mutex orders the writes before
/// the reads).
struct SettingScheduler::DrawThread {
  std::mutex m;
  std::condition_variable cv;
  std::deque<std::pair<std::uint64_t, std::uint64_t>> requests;  // asked for, not drawn yet
  std::uint64_t drawn_to = 0;                                    // every request ending at or before this is drawn
  bool quit = false;
  std::exception_ptr error;  // what a request threw (nothing after it is drawn)
  std::function<void()> settled;
  std::size_t depth = 1;
  // Requests not yet delivered, by end and the advance() call that asked for them (the
  // caller's own).
  std::deque<std::pair<std::uint64_t, std::uint64_t>> undelivered;
  std::uint64_t calls = 0;  // advance() calls since draw_on_thread
  std::thread thread;
};

namespace {
SettingRangeDraw range_of(SettingDraw draw) {
  if (!draw) return {};
  return [draw = std::move(draw)](std::uint64_t first, std::span<protocol::Trial> out) {
    for (std::size_t k = 0; k < out.size(); ++k) draw(first + k, out[k]);
  };
}
}  // namespace

SettingScheduler::SettingScheduler(SettingDraw draw, std::vector<PartyModulator> modulators, SchedulerConfig config)
    : SettingScheduler(range_of(std::move(draw)), std::move(modulators), config) {}

SettingScheduler::SettingScheduler(SettingRangeDraw draw, std::vector<PartyModulator> modulators,
                                   SchedulerConfig config)
    : draw_(std::move(draw)), modulators_(std::move(modulators)), config_(config) {
  if (!draw_) throw std::invalid_argument("setting scheduler: no draw function");
  if (!modulators_.empty()) {
    mode_ = modulators_.front().device->delivery();
    for (const auto& m : modulators_) {
      if (!m.device || m.party < 0 || m.party >= protocol::kMaxParties)
        throw std::invalid_argument("setting scheduler: a modulator without a device or party");
      if (m.device->delivery() != mode_)
        throw std::invalid_argument("setting scheduler: modulator of party " + std::to_string(m.party) + " (" +
                                    m.device->driver() + ") takes " + to_string(m.device->delivery()) +
                                    " delivery, another takes " + to_string(mode_) + ": all must use one mode");
    }
  }
  if (mode_ == SettingDelivery::segment) {
    std::uint64_t capacity = UINT64_MAX;
    for (const auto& m : modulators_) capacity = std::min(capacity, m.device->segment_capacity());
    if (capacity == 0) throw std::invalid_argument("setting scheduler: a segment-mode modulator declares no capacity");
    // A segment is held in memory until assembled: cap it (4 M trials, 128 MB) whatever the device holds.
    segment_ = std::min<std::uint64_t>(config_.segment_trials ? std::min(config_.segment_trials, capacity) : capacity,
                                       std::uint64_t{1} << 22);
  }
  if (config_.batch == 0) config_.batch = 1;
  // The ring holds what is delivered and not yet assembled, plus what trial assembly may
  // still look up behind the last assembled trial (none: it asks in increasing order).
  const std::uint64_t hold = mode_ == SettingDelivery::segment ? segment_ : config_.lookahead + config_.batch;
  std::size_t cap = 1024;
  while (cap < hold + 1) cap *= 2;
  ring_.resize(cap);
  mask_ = cap - 1;
}

void SettingScheduler::fault_not_delivered(std::uint64_t i) const {
  if (i >= config_.planned) throw TrialBeyondPlan{i};
  if (i < base_)
    throw std::logic_error("setting scheduler: trial " + std::to_string(i) + " was asked for after it was assembled");
  if (mode_ == SettingDelivery::segment)
    throw HardwareFault("trial " + std::to_string(i) + " was recorded past the armed segment, which ends at trial " +
                        std::to_string(delivered_) + ": the apparatus played more trials than were uploaded (" +
                        std::to_string(segment_) + " per segment)");
  throw HardwareFault("trial " + std::to_string(i) +
                      " was recorded before its settings were delivered (delivered: " + std::to_string(delivered_) +
                      " trials): the modulators fell behind the apparatus; raise the scheduler's look-ahead");
}

void SettingScheduler::confirm(std::uint64_t end) {
  const auto deadline = std::chrono::steady_clock::now() + config_.confirm_timeout;
  for (const auto& m : modulators_) {
    auto backoff = std::chrono::microseconds(50);
    while (!m.device->confirm(end)) {
      if (std::chrono::steady_clock::now() > deadline)
        throw HardwareFault("modulator of party " + std::to_string(m.party) + " (" + m.device->identity() +
                            ") did not confirm the settings of trials up to " + std::to_string(end) + " within " +
                            std::to_string(config_.confirm_timeout.count()) + " ms");
      std::this_thread::sleep_for(backoff);
      backoff = std::min(backoff * 2, std::chrono::microseconds(20000));
    }
  }
}

SettingScheduler::~SettingScheduler() {
  stop_drawing();
}

void SettingScheduler::draw_range(std::uint64_t first, std::uint64_t end) {
  while (first < end) {  // one call per stretch of the ring up to its wrap
    const std::size_t at = static_cast<std::size_t>(first) & mask_;
    const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(end - first, ring_.size() - at));
    const std::span<protocol::Trial> trials(ring_.data() + at, n);
    std::fill(trials.begin(), trials.end(), protocol::Trial{});
    draw_(first, trials);
    for (std::size_t k = 0; k < n; ++k) trials[k].index = first + k;
    first += n;
  }
}

void SettingScheduler::deliver(std::uint64_t end) {
  end = std::min(end, config_.planned);
  if (end <= delivered_) return;
  if (end > requested_) {  // what a stopped draw thread drew is delivered, never drawn again
    draw_range(requested_, end);
    requested_ = end;
  }
  counters_.drawn = requested_;
  upload(end);
}

void SettingScheduler::upload(std::uint64_t end) {
  const std::uint64_t first = delivered_;
  if (!modulators_.empty()) {
    party_settings_.resize(static_cast<std::size_t>(end - first));
    for (const auto& m : modulators_) {
      for (std::uint64_t i = first; i < end; ++i)
        party_settings_[static_cast<std::size_t>(i - first)] =
            ring_[static_cast<std::size_t>(i) & mask_].u[static_cast<std::size_t>(m.party)];
      m.device->schedule(first, party_settings_);
      ++counters_.uploads;
    }
    confirm(end);
  }
  delivered_ = end;
  counters_.delivered = end;
}

void SettingScheduler::draw_on_thread(std::function<void()> settled, std::size_t depth) {
  if (mode_ != SettingDelivery::streaming || drawer_) return;
  drawer_ = std::make_unique<DrawThread>();
  drawer_->settled = std::move(settled);
  drawer_->depth = std::max<std::size_t>(depth, 1);
  drawer_->drawn_to = requested_;
  // With top-ups collected `depth` calls late, the draw thread writes up to `depth` top-ups past
  // what the modulators have been given; the ring must hold all of them, or a slot is drawn over
  // before its upload reads it (seen under ASan in the depth-3 test). dira run uses depth 4
  // (app/src/acquisition.cpp).
  if (drawer_->depth > 1) {
    std::size_t cap = ring_.size();
    while (cap < (config_.lookahead + config_.batch) * (drawer_->depth + 1)) cap *= 2;
    if (cap > ring_.size()) {
      std::vector<protocol::Trial> grown(cap);
      const std::uint64_t kept = std::min<std::uint64_t>(requested_, ring_.size());
      for (std::uint64_t i = requested_ - kept; i < requested_; ++i)
        grown[static_cast<std::size_t>(i) & (cap - 1)] = ring_[static_cast<std::size_t>(i) & mask_];
      ring_.swap(grown);
      mask_ = cap - 1;
    }
  }
  DrawThread* d = drawer_.get();
  d->thread = std::thread([this, d] {
    std::unique_lock lk(d->m);
    for (;;) {
      // Asked to quit, it still draws every request made: the bits drawn when a run stops
      // depend on the advance() calls only.
      d->cv.wait(lk, [d] { return !d->requests.empty() || d->quit; });
      if (d->requests.empty()) {  // quit, nothing asked for
        // The stage's cost, for benchmarks and the run's timings (read after the join).
        timespec ts{};
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
        counters_.draw_thread_cpu_s = static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
        return;
      }
      const auto [from, to] = d->requests.front();
      lk.unlock();
      std::exception_ptr error;
      try {
        draw_range(from, to);
        if (d->settled) d->settled();  // no draw under way: its state may be read
      } catch (...) {
        error = std::current_exception();
      }
      lk.lock();
      d->requests.pop_front();
      if (error) {
        d->error = error;
        d->requests.clear();  // as without the thread: nothing is drawn after a failed draw
      } else {
        d->drawn_to = to;
      }
      d->cv.notify_all();
    }
  });
}

void SettingScheduler::collect(std::uint64_t asked_before) {
  DrawThread& d = *drawer_;
  while (!d.undelivered.empty() && d.undelivered.front().second < asked_before) {
    const std::uint64_t end = d.undelivered.front().first;
    std::exception_ptr error;
    {
      std::unique_lock lk(d.m);
      if (d.drawn_to < end && !d.error) {
        const auto from = std::chrono::steady_clock::now();
        d.cv.wait(lk, [&d, end] { return d.drawn_to >= end || d.error; });
        counters_.waited_for_draws_s += std::chrono::duration<double>(std::chrono::steady_clock::now() - from).count();
      }
      if (d.drawn_to < end) error = std::exchange(d.error, nullptr);
    }
    if (error) std::rethrow_exception(error);  // as deliver() would have thrown
    d.undelivered.pop_front();
    counters_.drawn = end;
    upload(end);  // one upload per top-up, as without the thread
  }
}

void SettingScheduler::settle() {
  if (drawer_) collect(UINT64_MAX);
}

void SettingScheduler::stop_drawing() noexcept {
  if (!drawer_) return;
  {
    std::lock_guard lk(drawer_->m);
    drawer_->quit = true;
  }
  drawer_->cv.notify_all();
  if (drawer_->thread.joinable()) drawer_->thread.join();  // finishes the request under way first
  drawer_.reset();
}

void SettingScheduler::prime() {
  if (mode_ == SettingDelivery::segment) {
    deliver(segment_);
    for (const auto& m : modulators_) m.device->arm();
    if (delivered_ > 0) ++counters_.segments;
    return;
  }
  deliver(config_.lookahead);
}

void SettingScheduler::advance(std::uint64_t assembled, std::uint64_t recorded) {
  // Past the plan the trials are not the run's (a replay or a free-running tagger has more).
  if (recorded > delivered_ && !complete()) fault_not_delivered(delivered_);
  base_ = std::max(base_, assembled);
  if (mode_ == SettingDelivery::segment) {
    if (assembled < delivered_ || complete()) return;
    deliver(delivered_ + segment_);
    for (const auto& m : modulators_) m.device->arm();
    ++counters_.segments;
    return;
  }
  if (drawer_) {
    // The top-ups asked for `depth` or more calls ago are delivered now (by calls, not by
    // requests: once the plan is drawn, no request follows, and the last ones still arrive);
    // the next one is asked for by the rule below, with requested_ where delivered_ would
    // stand without the thread, so the same trials are drawn at the same advance() either way.
    const std::uint64_t call = drawer_->calls++;
    if (call + 1 >= drawer_->depth) collect(call + 1 - drawer_->depth);
    if (requested_ < assembled + config_.lookahead && requested_ < config_.planned) {
      const std::uint64_t end =
          std::min(std::max(assembled + config_.lookahead, requested_ + config_.batch), config_.planned);
      {
        std::lock_guard lk(drawer_->m);
        drawer_->requests.emplace_back(requested_, end);
      }
      drawer_->cv.notify_all();
      drawer_->undelivered.emplace_back(end, call);
      requested_ = end;
    }
    return;
  }
  // Top up in whole batches, so a modulator is not sent a handful of settings at a time.
  if (delivered_ < assembled + config_.lookahead && !complete())
    deliver(std::max(assembled + config_.lookahead, delivered_ + config_.batch));
}

}  // namespace dira::hal
