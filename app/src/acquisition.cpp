#include "acquisition.hpp"

#include "dira/hal/simulated_apparatus.hpp"

#include <algorithm>
#include <array>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <exception>
#include <mutex>
#include <thread>
#include <variant>

#include <time.h>

namespace dira::app {

const char* to_string(RunStatus s) {
  switch (s) {
    case RunStatus::complete:
      return "complete";
    case RunStatus::time_limit:
      return "time-limit";
    case RunStatus::interrupted:
      return "interrupted";
    case RunStatus::hardware_fault:
      return "hardware-fault";
    case RunStatus::storage_full:
      return "storage-full";
    case RunStatus::storage_error:
      return "storage-error";
    case RunStatus::source_exhausted:
      return "source-exhausted";
  }
  return "?";
}

namespace {

double thread_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

/// Bounded single-producer single-consumer queue of blocks, with a free list so block
/// buffers are reused (no allocation per block once warm).
class BlockQueue {
 public:
  explicit BlockQueue(std::size_t capacity) : capacity_(capacity) {}
  AcquiredBlock take_free() {
    std::lock_guard lk(m_);
    if (free_.empty()) return {};
    AcquiredBlock b = std::move(free_.back());
    free_.pop_back();
    b.tags.clear();  // b.trials keeps its old rows: TrialAssembler::pop_replacing writes over them
    return b;
  }
  void give_back(AcquiredBlock&& b) {
    std::lock_guard lk(m_);
    free_.push_back(std::move(b));
  }
  /// Waits while full unless `abandon` becomes true (the consumer stopped taking).
  void push(AcquiredBlock&& b) {
    std::unique_lock lk(m_);
    not_full_.wait(lk, [&] { return q_.size() < capacity_ || abandoned_; });
    if (abandoned_) return;
    q_.push_back(std::move(b));
    not_empty_.notify_one();
  }
  void finish() {
    std::lock_guard lk(m_);
    done_ = true;
    not_empty_.notify_one();
  }
  void abandon() {
    std::lock_guard lk(m_);
    abandoned_ = true;
    not_full_.notify_one();
  }
  /// A block, or nothing after `timeout`; `done` is set when the producer finished and the queue is empty.
  std::optional<AcquiredBlock> pop(std::chrono::milliseconds timeout, bool& done) {
    std::unique_lock lk(m_);
    not_empty_.wait_for(lk, timeout, [&] { return !q_.empty() || done_; });
    done = q_.empty() && done_;
    if (q_.empty()) return std::nullopt;
    AcquiredBlock b = std::move(q_.front());
    q_.pop_front();
    not_full_.notify_one();
    return b;
  }

 private:
  std::mutex m_;
  std::condition_variable not_full_, not_empty_;
  std::deque<AcquiredBlock> q_;
  std::vector<AcquiredBlock> free_;
  std::size_t capacity_;
  bool done_ = false, abandoned_ = false;
};

}  // namespace

AcquisitionResult acquire(hal::TimeTagger& tagger, int station, hal::TrialAssembler& assembler,
                          hal::SettingScheduler* scheduler, const protocol::BitLedger& ledger,
                          const AcquisitionControl& ctl,
                          const std::function<std::optional<RunStatus>(const AcquiredBlock&)>& consume,
                          const std::function<void(bool)>& idle) {
  BlockQueue queue(8);
  std::atomic<int> stop_request{-1};  // a RunStatus the consumer asks to stop with
  AcquisitionResult produced;
  std::exception_ptr failure;
  const auto t0 = std::chrono::steady_clock::now();
  // Clicks per detector slot, counted per tag: a compact table (slot + 1, 0 for "no slot"; one
  // entry past the 4096 channels for every channel outside them) and counters in a local array,
  // so the loop has no branch per tag and no read-modify-write of the block's vector.
  constexpr std::size_t kChannels = 4096, kMaxLocalSlots = 255;
  const bool count_clicks = ctl.slot_of_channel != nullptr;
  const bool local_clicks = count_clicks && ctl.slots <= kMaxLocalSlots;
  std::vector<std::uint8_t> click_slot;  // channel → slot + 1 (0: not a detector)
  if (local_clicks) {
    click_slot.assign(kChannels + 1, 0);
    for (std::size_t c = 0; c < kChannels && c < ctl.slot_of_channel->size(); ++c)
      if (const int s = (*ctl.slot_of_channel)[c]; s >= 0 && static_cast<std::size_t>(s) < ctl.slots)
        click_slot[c] = static_cast<std::uint8_t>(s + 1);
  }

  // A gated apparatus (the simulator: it generates a trial only once its modulators hold the
  // setting) cannot record ahead of delivery, so its settings can be drawn on the scheduler's
  // own thread, top-ups ahead (SettingScheduler::draw_on_thread): the weak-source bits and
  // the setting rule leave the acquisition thread. The ledger is then read only where no draw
  // runs: the copy each block carries is taken in the scheduler's `settled` callback, on the
  // draw thread between two top-ups.
  // (Segment delivery draws a whole segment only once the last one is assembled: no thread.)
  const bool draw_thread = scheduler && scheduler->mode() == hal::SettingDelivery::streaming &&
                           dynamic_cast<const hal::SimulatedApparatus*>(&tagger) != nullptr;
  // The ledger as of the last top-up drawn: copied on the draw thread, read here.
  std::mutex ledger_m;
  std::vector<protocol::LedgerEntry> ledger_settled;
  const double consumer_cpu_at_start = thread_cpu_seconds();
  AcquisitionTimes times;

  std::thread producer([&] {
    bool stopping = false;
    bool beyond = false;  // the apparatus delivered trials past the plan: the rest is not the run's
    std::uint64_t trials = 0;
    auto stop_with = [&](RunStatus s) {
      produced.status = s;
      stopping = true;
      tagger.stop();
    };
    try {
      // The tagger records nothing before the settings of its first trials are confirmed
      // delivered (streaming look-ahead, or the first armed segment).
      if (scheduler) scheduler->prime();
      if (draw_thread) {
        ledger_settled = ledger.entries();
        // Each top-up delivered `depth` advance() calls after it was asked for, so that the draw
        // thread need not run in lockstep with this one (three busy threads on two cores: in
        // lockstep, whichever waits idles its core). Depth 4 against 1, measured on a nearly
        // idle machine (bench/README.md, 2026-11-30): acquisition 13.1–16.9 against 11.3–13.6 M
        // trials/s; on a loaded machine (commit 7c36c2a) neither was faster. The same trials are
        // drawn in the same order by the same rule (SettingScheduler::draw_on_thread).
        const std::size_t depth = 4;
        scheduler->draw_on_thread(
            [&] {
              std::lock_guard lk(ledger_m);
              ledger_settled = ledger.entries();
            },
            depth);
      }
      const auto started = std::chrono::steady_clock::now();
      struct Stopwatch {  // also when the stream ends in a fault
        std::chrono::steady_clock::time_point started;
        AcquisitionTimes& times;
        ~Stopwatch() {
          times.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
        }
      } stopwatch{started, times};
      tagger.start();
      for (;;) {
        if (!stopping) {
          if (const int s = stop_request.load(); s >= 0)
            stop_with(static_cast<RunStatus>(s));
          else if (ctl.interrupt && ctl.interrupt->load())
            stop_with(RunStatus::interrupted);
          else if (ctl.duration_s > 0 &&
                   std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() >= ctl.duration_s)
            stop_with(RunStatus::time_limit);
          else if (ctl.pause && ctl.pause->load()) {
            // Paused: nothing is taken from the tagger (the simulator generates on demand, so it waits).
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
            continue;
          }
        }
        AcquiredBlock block = queue.take_free();
        block.clicks.assign(ctl.slots, 0);
        const hal::TaggerEvent ev = tagger.next(std::chrono::milliseconds(100));
        bool ended = false;
        if (const auto* tags = std::get_if<hal::TagBlock>(&ev)) {
          if (local_clicks) {
            // Four sets of counters taken in turn: consecutive tags on one slot (a sync and the
            // echoes, all slot 0) would otherwise wait on each other's increment.
            // n[·][0] counts tags on no detector. A block holds far fewer than 2³² tags.
            std::array<std::array<std::uint32_t, kMaxLocalSlots + 1>, 4> n{};
            const std::uint8_t* slot = click_slot.data();
            const hal::Tag* tag = tags->data();
            const std::size_t count = tags->size();
            const auto slot_of = [slot](const hal::Tag& t) {
              const auto c = static_cast<std::uint32_t>(t.channel);  // negative → huge
              return slot[c < kChannels ? c : kChannels];
            };
            std::size_t i = 0;
            for (; i + 4 <= count; i += 4) {
              ++n[0][slot_of(tag[i])];
              ++n[1][slot_of(tag[i + 1])];
              ++n[2][slot_of(tag[i + 2])];
              ++n[3][slot_of(tag[i + 3])];
            }
            for (; i < count; ++i) ++n[0][slot_of(tag[i])];
            for (std::size_t s = 0; s < ctl.slots; ++s)
              block.clicks[s] = std::uint64_t{n[0][s + 1]} + n[1][s + 1] + n[2][s + 1] + n[3][s + 1];
          } else if (count_clicks) {
            for (const auto& tag : *tags)
              if (tag.channel >= 0 && tag.channel < 4096)
                if (const int s = (*ctl.slot_of_channel)[static_cast<std::size_t>(tag.channel)]; s >= 0)
                  ++block.clicks[static_cast<std::size_t>(s)];
          }
          if (ctl.raw_tags) block.tags.assign(tags->begin(), tags->end());
          if (!beyond) try {
              assembler.push(station, *tags);
            } catch (const hal::TrialBeyondPlan&) {
              beyond = true;  // the trials up to the plan are in the assembler's output
            }
        } else if (const auto* end = std::get_if<hal::StreamEnd>(&ev)) {
          ended = true;
          if (end->error) {
            produced.status = RunStatus::hardware_fault;
            produced.fault = end->reason;
          }
          if (!beyond) try {
              assembler.end(station);
            } catch (const hal::TrialBeyondPlan&) {
              beyond = true;
            }
        }
        assembler.pop_replacing(block.trials);  // the old rows' storage is reused, not zeroed
        if (trials + block.trials.size() > ctl.planned)
          block.trials.resize(static_cast<std::size_t>(ctl.planned - trials));
        trials += block.trials.size();
        if (ctl.label && !block.trials.empty()) ctl.label(block.trials);
        block.assembly = assembler.counters();
        // Updated on this thread (the draw thread's one write follows stop_drawing, below).
        if (scheduler) block.scheduler = scheduler->counters();
        // Else the consumer owns the ledger (observed bits).
        if (scheduler) {
          if (draw_thread) {
            std::lock_guard lk(ledger_m);
            block.ledger = ledger_settled;
          } else {
            block.ledger = ledger.entries();
          }
        }
        // Handed on before the scheduler's checks: a fault found there keeps these trials.
        if (!block.trials.empty() || !block.tags.empty()) queue.push(std::move(block));
        // Every processed trial is emitted or dropped (fair-sampling mode): both are done with.
        if (scheduler)
          scheduler->advance(assembler.counters().trials + assembler.counters().dropped_fair_sampling,
                             assembler.recorded_trials());
        if ((trials >= ctl.planned || beyond) && !stopping) {  // a replay or a free-running tagger has more
          stopping = true;
          tagger.stop();
        }
        if (ended) break;
      }
      // The last top-up is delivered (as it would have been without the thread), and nothing
      // draws any more: the session reads the ledger next.
      if (draw_thread) scheduler->settle();
    } catch (const hal::HardwareFault& e) {
      produced.status = RunStatus::hardware_fault;
      produced.fault = e.what();
      try {
        tagger.stop();
      } catch (...) {
      }
    } catch (const protocol::SourceExhausted& e) {
      // Not a device failure: the weak source has no more bits. The run stops cleanly and is
      // incomplete (issue 13); everything acquired is kept.
      produced.status = RunStatus::source_exhausted;
      produced.fault = std::string("weak source exhausted: ") + e.what();
      try {
        tagger.stop();
      } catch (...) {
      }
    } catch (...) {
      failure = std::current_exception();
      try {
        tagger.stop();
      } catch (...) {
      }
    }
    if (draw_thread) {
      scheduler->stop_drawing();  // after a fault too: the ledger is read next
      times.draws_cpu_s = scheduler->counters().draw_thread_cpu_s;
      times.waited_for_draws_s = scheduler->counters().waited_for_draws_s;
    }
    times.acquisition_cpu_s = thread_cpu_seconds();
    queue.finish();
  });

  AcquisitionResult result;
  std::optional<RunStatus> consumer_stop;
  try {
    for (;;) {
      bool done = false;
      auto block = queue.pop(std::chrono::milliseconds(20), done);
      if (block) {
        // Every block is handed on, also after a stop was asked for (the consumer decides
        // what it can still record).
        if (auto s = consume(*block); s && !consumer_stop) {
          consumer_stop = s;
          stop_request.store(static_cast<int>(*s));
        }
        queue.give_back(std::move(*block));
      } else if (done) {
        break;
      } else {
        idle(ctl.pause && ctl.pause->load());
      }
    }
  } catch (...) {
    stop_request.store(static_cast<int>(RunStatus::storage_error));
    queue.abandon();
    producer.join();
    throw;
  }
  producer.join();
  times.recording_cpu_s = thread_cpu_seconds() - consumer_cpu_at_start;
  result.times = times;
  if (failure) std::rethrow_exception(failure);
  // A hardware fault (or an exhausted source) seen first stands; otherwise the consumer's reason to stop.
  if (produced.status == RunStatus::hardware_fault || produced.status == RunStatus::source_exhausted) {
    result.status = produced.status;
    result.fault = produced.fault;
  } else if (consumer_stop) {
    result.status = *consumer_stop;
  } else {
    result.status = produced.status;
  }
  return result;
}

}  // namespace dira::app
