//! Slot arithmetic of the devnet's beacon chain (shared with the node: [`taiko_beacon::clock`]).

pub use taiko_beacon::clock::SlotClock;
