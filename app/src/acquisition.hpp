#pragma once
/// @file acquisition.hpp
/// The acquisition loop: settings ahead of the trials (SettingScheduler), tags from the tagger,
/// trials from TrialAssembler — on a thread of its own — handed in blocks through a bounded
/// queue to the caller's thread, which records and tests them. Two cores are used: tag
/// generation or reading and assembly on one thread; run.h5 and the protocol on the caller's;
/// with the simulator (gated by its modulators) the weak-source bits and the setting rule on
/// the SettingScheduler's own thread (draw_on_thread), else on the acquisition thread.
/// Back-pressure: the acquisition thread waits when the queue is full, so memory stays bounded
/// whatever the recorder's speed.

#include "dira/hal/device.hpp"
#include "dira/hal/setting_scheduler.hpp"
#include "dira/hal/trial_assembly.hpp"
#include "dira/protocol/sv_source.hpp"
#include "dira/protocol/trial.hpp"

#include <atomic>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace dira::app {

/// How acquisition ended (report.json "status" is derived from it and the verdict).
enum class RunStatus {
  complete,
  time_limit,
  interrupted,
  hardware_fault,
  storage_full,
  storage_error,
  source_exhausted
};
const char* to_string(RunStatus s);

/// One block handed from the acquisition thread to the recording thread.
struct AcquiredBlock {
  std::vector<protocol::Trial> trials;        ///< in index order, never past the planned count
  std::vector<hal::Tag> tags;                 ///< the raw tags of this block (only with raw-tag recording)
  std::vector<std::uint64_t> clicks;          ///< detector clicks in this block, per detector slot
  hal::AssemblyCounters assembly;             ///< the assembler's counters as of this block
  hal::SchedulerCounters scheduler;           ///< the scheduler's counters as of this block (none: zero)
  std::vector<protocol::LedgerEntry> ledger;  ///< the ledger as of this block (it is tiny: merged runs)
};

struct AcquisitionControl {
  std::uint64_t planned = 0;  ///< trials of the run
  double duration_s = 0;      ///< 0: no limit
  const std::atomic<bool>* interrupt = nullptr;
  const std::atomic<bool>* pause = nullptr;
  bool raw_tags = false;
  const std::vector<int>* slot_of_channel = nullptr;  ///< channel → detector slot (−1: none); 4096 entries
  std::size_t slots = 0;
  /// Applied to each block of assembled trials before it is handed on (e.g. Protocol A's
  /// logical device of each trial when the settings come from the hardware).
  std::function<void(std::span<protocol::Trial>)> label;
};

/// What acquisition cost, stage by stage (dira-bench reports it; nothing in the run depends on
/// it). CPU times are each thread's own (CLOCK_THREAD_CPUTIME_ID), so they stay meaningful on a
/// shared machine where wall time counts other processes.
struct AcquisitionTimes {
  double wall_s = 0;              ///< from the tagger's start to the end of its stream
  double acquisition_cpu_s = 0;   ///< the acquisition thread: tagger (the simulator), assembly, scheduler
  double draws_cpu_s = 0;         ///< the SettingScheduler's draw thread (weak-source bits, setting rule), if any
  double waited_for_draws_s = 0;  ///< wall time the acquisition thread waited for the draw thread
  double recording_cpu_s = 0;     ///< the calling thread meanwhile: run.h5, live protocol, statistics
};

struct AcquisitionResult {
  RunStatus status = RunStatus::complete;
  std::string fault;
  AcquisitionTimes times;
};

/// Runs the acquisition: primes the scheduler (settings of the first trials confirmed
/// delivered before the tagger starts), starts the tagger, and hands blocks to `consume` on the
/// calling thread until the stream ends. `consume` sees every block and returns a status to
/// stop with (storage full or failed: the first one given stands) or nothing; `idle` is called at least every 20 ms
/// while no block arrives (with `paused` true while paused). A HardwareFault (a device, a setting delivered late, an
/// echo mismatch) ends acquisition with status hardware_fault; every block before it is
/// handed on. Other exceptions from the acquisition thread are rethrown here.
/// `scheduler` null: the settings are not dira's to deliver (hardware-chosen settings, read
/// from the echo by trial assembly).
AcquisitionResult acquire(hal::TimeTagger& tagger, int station, hal::TrialAssembler& assembler,
                          hal::SettingScheduler* scheduler, const protocol::BitLedger& ledger,
                          const AcquisitionControl& control,
                          const std::function<std::optional<RunStatus>(const AcquiredBlock&)>& consume,
                          const std::function<void(bool paused)>& idle);

}  // namespace dira::app
