//! L2 ticks: the moments the current preconfer releases a block.
//!
//! A [`TickSchedule`] places ticks either every `block_time_ms` from the beacon genesis (Taiko
//! mainnet uses 2 s), or at fixed offsets inside each L1 slot — the seed discusses `0/3/6/9 s`
//! against `3/6/9/12−x s`, the latter leaving the last block of a slot just before the next L1
//! proposer's deadline. A [`Clock`] says what time it is: [`SystemClock`] in production,
//! [`ManualClock`] in tests, where time moves only when the test says so.

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{SystemTime, UNIX_EPOCH},
};

use taiko_beacon::clock::SlotClock;

/// Milliseconds since the Unix epoch.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// The current time in milliseconds.
    fn now_ms(&self) -> u64;

    /// The current time in microseconds (by default, the milliseconds').
    fn now_us(&self) -> u64 {
        self.now_ms().saturating_mul(1000)
    }
}

/// The system clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> u64 {
        SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
    }

    fn now_us(&self) -> u64 {
        SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_micros() as u64).unwrap_or(0)
    }
}

/// A clock that moves only when told to.
#[derive(Clone, Debug, Default)]
pub struct ManualClock(Arc<AtomicU64>);

impl ManualClock {
    /// A clock showing `ms`.
    pub fn new(ms: u64) -> Self {
        Self(Arc::new(AtomicU64::new(ms)))
    }

    /// Sets the time.
    pub fn set_ms(&self, ms: u64) {
        self.0.store(ms, Ordering::SeqCst);
    }

    /// Moves the time forward.
    pub fn advance_ms(&self, ms: u64) {
        self.0.fetch_add(ms, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }
}

/// Where L2 blocks are released.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TickSchedule {
    /// Every `block_time_ms` from the beacon genesis.
    Uniform {
        /// Milliseconds between blocks (250 ms to 3 s; 2 s by default).
        block_time_ms: u64,
    },
    /// At these offsets (milliseconds, increasing, within the slot) in every L1 slot.
    WithinSlot {
        /// Offsets from the slot's start.
        offsets_ms: Vec<u64>,
    },
}

/// Why a schedule is refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ScheduleError {
    /// The block time is outside 250 ms – 3 s.
    #[error("block time {0} ms is outside 250..=3000 ms")]
    BlockTime(u64),
    /// Offsets are empty, not increasing, or not inside the slot.
    #[error("release offsets must be increasing and within the {slot_ms} ms slot")]
    Offsets {
        /// The slot length.
        slot_ms: u64,
    },
}

impl Default for TickSchedule {
    fn default() -> Self {
        Self::Uniform { block_time_ms: 2_000 }
    }
}

impl TickSchedule {
    /// Checks the schedule against the slot length.
    pub fn validate(&self, slots: &SlotClock) -> Result<(), ScheduleError> {
        let slot_ms = slots.slot_secs * 1000;
        match self {
            Self::Uniform { block_time_ms } => {
                if !(250..=3_000).contains(block_time_ms) {
                    return Err(ScheduleError::BlockTime(*block_time_ms));
                }
            }
            Self::WithinSlot { offsets_ms } => {
                let increasing = offsets_ms.windows(2).all(|w| w[0] < w[1]);
                if offsets_ms.is_empty() || !increasing || offsets_ms.iter().any(|o| *o > slot_ms) {
                    return Err(ScheduleError::Offsets { slot_ms });
                }
            }
        }
        Ok(())
    }

    /// The first tick strictly after `now_ms`.
    pub fn next_tick_ms(&self, slots: &SlotClock, now_ms: u64) -> u64 {
        let genesis_ms = slots.genesis * 1000;
        if now_ms < genesis_ms {
            return match self {
                Self::Uniform { .. } => genesis_ms,
                Self::WithinSlot { offsets_ms } => genesis_ms + offsets_ms[0],
            };
        }
        match self {
            Self::Uniform { block_time_ms } => {
                let n = (now_ms - genesis_ms) / block_time_ms + 1;
                genesis_ms + n * block_time_ms
            }
            Self::WithinSlot { offsets_ms } => {
                let slot_ms = slots.slot_secs * 1000;
                let slot = (now_ms - genesis_ms) / slot_ms;
                for s in [slot, slot + 1] {
                    let start = genesis_ms + s * slot_ms;
                    if let Some(o) = offsets_ms.iter().find(|o| start + **o > now_ms) {
                        return start + o;
                    }
                }
                unreachable!("the next slot's first offset is after now")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SLOTS: SlotClock = SlotClock { genesis: 1_000, slot_secs: 12, slots_per_epoch: 32 };

    #[test]
    fn uniform_ticks() {
        let s = TickSchedule::default();
        assert_eq!(s.next_tick_ms(&SLOTS, 0), 1_000_000, "genesis first");
        assert_eq!(s.next_tick_ms(&SLOTS, 1_000_000), 1_002_000);
        assert_eq!(s.next_tick_ms(&SLOTS, 1_003_999), 1_004_000);
        assert!(s.validate(&SLOTS).is_ok());
        assert_eq!(
            TickSchedule::Uniform { block_time_ms: 100 }.validate(&SLOTS),
            Err(ScheduleError::BlockTime(100))
        );
    }

    #[test]
    fn ticks_within_slots() {
        // 3/6/9/11.5 s: the last block just before the next slot
        let s = TickSchedule::WithinSlot { offsets_ms: vec![3_000, 6_000, 9_000, 11_500] };
        assert!(s.validate(&SLOTS).is_ok());
        assert_eq!(s.next_tick_ms(&SLOTS, 1_000_000), 1_003_000);
        assert_eq!(s.next_tick_ms(&SLOTS, 1_009_000), 1_011_500);
        assert_eq!(s.next_tick_ms(&SLOTS, 1_011_500), 1_015_000, "into the next slot");
        let bad = TickSchedule::WithinSlot { offsets_ms: vec![6_000, 3_000] };
        assert_eq!(bad.validate(&SLOTS), Err(ScheduleError::Offsets { slot_ms: 12_000 }));
    }

    #[test]
    fn manual_clock_moves_only_when_told() {
        let c = ManualClock::new(5);
        assert_eq!(c.now_ms(), 5);
        c.advance_ms(10);
        assert_eq!(c.now_ms(), 15);
    }
}
