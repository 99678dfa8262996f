//! The lookahead the node runs on, kept fresh from the L1.
//!
//! [`LookaheadSchedule`] holds the windows of recent epochs and answers "who owns this
//! timestamp, until when" ([`WindowSchedule`]) without any I/O, so a tick or a gossip validation
//! never waits on the L1. [`L1Lookahead::refresh`], called once per slot (and at start), fills it
//! for the current and the next epoch:
//!
//! - an epoch whose lookahead is **posted** in `PreconfTaskManager` is taken as stored — that is
//!   what proposals are checked against;
//! - an epoch not posted yet is **computed** as the contract will accept it: the beacon API's
//!   proposer duties, each proposer's key resolved in the registry at its slot's time, and the
//!   fallback (EIP-4788 seed modulo the active preconfers) when no proposer is registered. A
//!   computed epoch is replaced by the posted one as soon as it appears.
//!
//! Every node runs the same computation over the same L1 state, so preconfers and followers
//! agree on the owner of every tick; `exex/tests/lookahead_agreement.rs` checks the computation
//! against the contract for every second of several epochs.

use std::collections::BTreeMap;

use alloy::{
    eips::eip4788::BEACON_ROOTS_ADDRESS,
    primitives::{Address, B256, U256},
};
use parking_lot::RwLock;
use taiko_beacon::clock::SlotClock;
use taiko_contracts::{PreconfRegistry, PreconfTaskManager, wire};
use taiko_l1::{BeaconClient, L1Client, L1Error};

use crate::{
    lookahead::{SlotProposer, Window, fallback_preconfer, lookahead_params, owner_at, windows},
    service::WindowSchedule,
};

/// Epochs kept behind the current one (catch-up validation of slightly older blocks).
const KEEP_EPOCHS: u64 = 4;

/// Epochs before the current one loaded at start.
const BACKFILL_EPOCHS: u64 = 2;

/// One epoch's windows and where they came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EpochWindows {
    /// The windows, in order.
    pub windows: Vec<Window>,
    /// Whether they are the ones posted on L1 (else computed ahead of posting).
    pub posted: bool,
}

/// Windows by epoch; the node's answer to "who preconfirms now".
#[derive(Debug)]
pub struct LookaheadSchedule {
    clock: SlotClock,
    epochs: RwLock<BTreeMap<u64, EpochWindows>>,
}

impl LookaheadSchedule {
    /// An empty schedule over `clock`.
    pub fn new(clock: SlotClock) -> Self {
        Self { clock, epochs: RwLock::new(BTreeMap::new()) }
    }

    /// The slot arithmetic.
    pub fn clock(&self) -> SlotClock {
        self.clock
    }

    /// Sets `epoch`'s windows, dropping epochs more than [`KEEP_EPOCHS`] before it.
    pub fn set(&self, epoch: u64, windows: EpochWindows) {
        let mut epochs = self.epochs.write();
        epochs.insert(epoch, windows);
        while let Some((&first, _)) = epochs.first_key_value() {
            if first + KEEP_EPOCHS >= epoch {
                break;
            }
            epochs.remove(&first);
        }
    }

    /// `epoch`'s windows, if known.
    pub fn epoch(&self, epoch: u64) -> Option<EpochWindows> {
        self.epochs.read().get(&epoch).cloned()
    }

    /// The epoch containing `timestamp`.
    pub fn epoch_at(&self, timestamp: u64) -> u64 {
        self.clock.epoch_of(self.clock.slot_at(timestamp))
    }
}

impl WindowSchedule for LookaheadSchedule {
    fn window_at(&self, timestamp: u64) -> Option<(Address, u64)> {
        if timestamp < self.clock.genesis {
            return None;
        }
        let e = self.epoch_at(timestamp);
        let epochs = self.epochs.read();
        let current = &epochs.get(&e)?.windows;
        let next = epochs.get(&(e + 1)).map(|w| w.windows.as_slice()).unwrap_or_default();
        let (owner, index) = owner_at(timestamp, current, next)?;
        let end = current.get(index).or_else(|| next.first())?.timestamp;
        Some((owner, end))
    }
}

/// Where the lookahead comes from: the L1 contracts and the beacon API.
#[derive(Clone, Debug)]
pub struct L1Lookahead {
    /// The L1 execution client.
    pub l1: L1Client,
    /// The beacon API client.
    pub beacon: BeaconClient,
    /// `PreconfRegistry`.
    pub registry: Address,
    /// `PreconfTaskManager`.
    pub task_manager: Address,
}

impl L1Lookahead {
    /// Refreshes `schedule` for the epoch containing `now` and the next one.
    pub async fn refresh(&self, schedule: &LookaheadSchedule, now: u64) -> Result<(), L1Error> {
        let current = schedule.epoch_at(now);
        // a node starting late also needs the last epochs, to validate blocks it catches up on
        for epoch in current.saturating_sub(BACKFILL_EPOCHS)..=current + 1 {
            let known = schedule.epoch(epoch);
            if known.as_ref().is_some_and(|w| w.posted || epoch < current) {
                continue;
            }
            let posted = self.posted(epoch).await?;
            let windows = if posted.is_empty() {
                EpochWindows { windows: self.compute(schedule, epoch).await?, posted: false }
            } else {
                EpochWindows { windows: posted, posted: true }
            };
            if known.as_ref() != Some(&windows) {
                tracing::debug!(target: "preconf::lookahead", epoch, posted = windows.posted, windows = ?windows.windows, "lookahead");
                schedule.set(epoch, windows);
            }
        }
        Ok(())
    }

    /// `epoch`'s lookahead as stored in the task manager (empty if not posted).
    pub async fn posted(&self, epoch: u64) -> Result<Vec<Window>, L1Error> {
        let entries = self
            .l1
            .call(self.task_manager, PreconfTaskManager::lookaheadCall { epoch: U256::from(epoch) })
            .await?;
        Ok(entries
            .into_iter()
            .map(|e| Window {
                timestamp: e.timestamp.to::<u64>(),
                prev_timestamp: e.prevTimestamp.to::<u64>(),
                preconfer: e.preconfer,
                is_fallback: e.isFallback,
            })
            .collect())
    }

    /// The proposers of `epoch`'s slots, resolved in the registry at each slot's time.
    pub async fn proposers(
        &self,
        clock: &SlotClock,
        epoch: u64,
    ) -> Result<Vec<SlotProposer>, L1Error> {
        let duties = self.beacon.proposer_duties(epoch).await?;
        let mut out = Vec::with_capacity(duties.data.len());
        for d in duties.data {
            let pubkey: [u8; 48] = alloy::hex::decode(&d.pubkey)
                .ok()
                .and_then(|b| b.try_into().ok())
                .ok_or_else(|| L1Error::Beacon {
                    path: format!("/eth/v1/validator/duties/proposer/{epoch}"),
                    message: format!("bad pubkey {}", d.pubkey),
                })?;
            let key_hash = wire::validator_key_hash(&pubkey);
            let preconfer =
                self.l1.preconfer_of(self.registry, key_hash, clock.slot_time(d.slot)).await?;
            out.push(SlotProposer { slot: d.slot, validator_key_hash: key_hash, preconfer });
        }
        out.sort_by_key(|p| p.slot);
        Ok(out)
    }

    /// The fallback preconfer the contract would pick for `epoch` if posted now.
    pub async fn fallback(
        &self,
        clock: &SlotClock,
        epoch: u64,
    ) -> Result<Option<Address>, L1Error> {
        let active = self
            .l1
            .call(
                self.registry,
                PreconfRegistry::activePreconfersCall {
                    timestamp: U256::from(clock.epoch_start(epoch)),
                },
            )
            .await?;
        let mut seed = self.l1.latest().await?.hash;
        if epoch > 0 {
            let prev = clock.epoch_start(epoch - 1);
            for i in 1..=clock.slots_per_epoch {
                let ts = U256::from(prev + i * clock.slot_secs);
                if let Ok(root) =
                    self.l1.call_raw(BEACON_ROOTS_ADDRESS, ts.to_be_bytes::<32>().to_vec()).await
                    && root.len() == 32
                {
                    seed = B256::from_slice(&root);
                    break;
                }
            }
        }
        Ok(fallback_preconfer(seed, &active))
    }

    /// `epoch`'s windows as the contract will store them when posted now.
    pub async fn compute(
        &self,
        schedule: &LookaheadSchedule,
        epoch: u64,
    ) -> Result<Vec<Window>, L1Error> {
        let clock = schedule.clock();
        let params = lookahead_params(&clock, &self.proposers(&clock, epoch).await?);
        let fallback = if params.is_empty() { self.fallback(&clock, epoch).await? } else { None };
        let prev_last = epoch
            .checked_sub(1)
            .and_then(|e| schedule.epoch(e))
            .and_then(|w| w.windows.last().map(|w| w.timestamp));
        Ok(windows(&clock, epoch, &params, prev_last, fallback))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CLOCK: SlotClock = SlotClock { genesis: 1_000, slot_secs: 2, slots_per_epoch: 4 };
    const A: Address = Address::repeat_byte(0xa);
    const B: Address = Address::repeat_byte(0xb);

    fn w(timestamp: u64, prev_timestamp: u64, preconfer: Address) -> Window {
        Window { timestamp, prev_timestamp, preconfer, is_fallback: false }
    }

    #[test]
    fn owner_and_window_end_across_epochs() {
        let s = LookaheadSchedule::new(CLOCK);
        // epoch 0 = 1000..1008: A until 1002, B until 1006; epoch 1: A until 1010
        s.set(0, EpochWindows { windows: vec![w(1002, 999, A), w(1006, 1002, B)], posted: true });
        assert_eq!(s.window_at(999), None, "before genesis");
        assert_eq!(s.window_at(1000), Some((A, 1002)));
        assert_eq!(s.window_at(1003), Some((B, 1006)));
        assert_eq!(s.window_at(1007), None, "after the last entry, the next epoch is unknown");
        s.set(1, EpochWindows { windows: vec![w(1010, 1006, A)], posted: false });
        assert_eq!(s.window_at(1007), Some((A, 1010)), "the next epoch's first window");
        assert_eq!(s.window_at(1009), Some((A, 1010)));
        assert_eq!(s.window_at(1011), None);
    }

    #[test]
    fn old_epochs_are_dropped() {
        let s = LookaheadSchedule::new(CLOCK);
        for e in 0..10 {
            s.set(e, EpochWindows { windows: vec![], posted: false });
        }
        assert!(s.epoch(4).is_none());
        assert!(s.epoch(5).is_some());
    }
}
