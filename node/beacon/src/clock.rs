//! Slot arithmetic: genesis time, slot length, epoch length.

use serde::{Deserialize, Serialize};

/// Genesis time, slot length and epoch length.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlotClock {
    /// Timestamp of slot 0.
    pub genesis: u64,
    /// Seconds per slot.
    pub slot_secs: u64,
    /// Slots per epoch.
    pub slots_per_epoch: u64,
}

impl SlotClock {
    /// The timestamp of `slot`.
    pub fn slot_time(&self, slot: u64) -> u64 {
        self.genesis + slot * self.slot_secs
    }

    /// The slot containing `timestamp` (0 before genesis).
    pub fn slot_at(&self, timestamp: u64) -> u64 {
        timestamp.saturating_sub(self.genesis) / self.slot_secs
    }

    /// The epoch of `slot`.
    pub fn epoch_of(&self, slot: u64) -> u64 {
        slot / self.slots_per_epoch
    }

    /// The first slot of `epoch`.
    pub fn first_slot(&self, epoch: u64) -> u64 {
        epoch * self.slots_per_epoch
    }

    /// Seconds per epoch.
    pub fn epoch_secs(&self) -> u64 {
        self.slot_secs * self.slots_per_epoch
    }

    /// The timestamp of the first slot of `epoch`.
    pub fn epoch_start(&self, epoch: u64) -> u64 {
        self.slot_time(self.first_slot(epoch))
    }

    /// The epoch containing `timestamp` (0 before genesis).
    pub fn epoch_at(&self, timestamp: u64) -> u64 {
        self.epoch_of(self.slot_at(timestamp))
    }
}
