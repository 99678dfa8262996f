//! Who may preconfirm when: beacon proposer duties × the registry, exactly as
//! `PreconfTaskManager` will accept it.
//!
//! For an epoch, each slot whose beacon proposer maps (in the registry, at that slot's time) onto
//! a preconfer becomes an entry; entry *i* owns `(entry[i-1].timestamp, entry[i].timestamp]`, the
//! first entry's window starting after the previous epoch's last entry. An epoch without any
//! gets one fallback entry at its last slot, owned by `seed % active` over the preconfers active
//! at the epoch's start, `seed` being the EIP-4788 root of the previous epoch's first slot. After
//! an epoch's last entry, the next epoch's first entry owns the time. A test on the devnet checks
//! these answers against the contract for every slot of several epochs.

use alloy::primitives::{Address, B256, U256};
use taiko_beacon::clock::SlotClock;

/// One slot's beacon proposer, resolved against the registry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SlotProposer {
    /// The slot.
    pub slot: u64,
    /// The registry key hash of the proposer's BLS key.
    pub validator_key_hash: B256,
    /// The preconfer that key maps onto at the slot's time, if any.
    pub preconfer: Option<Address>,
}

/// A lookahead entry to post: `(slot timestamp, preconfer, validator key hash)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LookaheadParam {
    /// The slot's timestamp.
    pub slot_timestamp: u64,
    /// The preconfer.
    pub preconfer: Address,
    /// The proposer's key hash.
    pub validator_key_hash: B256,
}

/// A window as the contract stores it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    /// End of the window (a slot timestamp), inclusive.
    pub timestamp: u64,
    /// Start of the window, exclusive.
    pub prev_timestamp: u64,
    /// Its owner.
    pub preconfer: Address,
    /// Whether it is an epoch's fallback.
    pub is_fallback: bool,
}

/// The entries to post for an epoch, from its resolved proposers (in slot order).
pub fn lookahead_params(clock: &SlotClock, proposers: &[SlotProposer]) -> Vec<LookaheadParam> {
    proposers
        .iter()
        .filter_map(|p| {
            p.preconfer.map(|preconfer| LookaheadParam {
                slot_timestamp: clock.slot_time(p.slot),
                preconfer,
                validator_key_hash: p.validator_key_hash,
            })
        })
        .collect()
}

/// The fallback preconfer: the 256-bit big-endian `seed` modulo the number of active
/// preconfers, indexing the active set in registry order.
pub fn fallback_preconfer(seed: B256, active: &[Address]) -> Option<Address> {
    if active.is_empty() {
        return None;
    }
    let i = U256::from_be_bytes(seed.0) % U256::from(active.len());
    Some(active[i.to::<usize>()])
}

/// The windows of `epoch` for `params` (or the fallback when empty), given the previous epoch's
/// last window end (`None` when it was never posted).
pub fn windows(
    clock: &SlotClock,
    epoch: u64,
    params: &[LookaheadParam],
    prev_last: Option<u64>,
    fallback: Option<Address>,
) -> Vec<Window> {
    let first = clock.epoch_start(epoch);
    let last = first + clock.epoch_secs() - clock.slot_secs;
    let mut prev = prev_last.unwrap_or(first - 1);
    if params.is_empty() {
        return fallback
            .map(|preconfer| {
                vec![Window { timestamp: last, prev_timestamp: prev, preconfer, is_fallback: true }]
            })
            .unwrap_or_default();
    }
    params
        .iter()
        .map(|p| {
            let w = Window {
                timestamp: p.slot_timestamp,
                prev_timestamp: prev,
                preconfer: p.preconfer,
                is_fallback: false,
            };
            prev = p.slot_timestamp;
            w
        })
        .collect()
}

/// The owner of `timestamp` and the index to pass to `proposeBatch` — the contract's
/// `preconferAt` — given the windows of the timestamp's epoch and of the next one.
pub fn owner_at(timestamp: u64, current: &[Window], next: &[Window]) -> Option<(Address, usize)> {
    if let Some((i, w)) = current.iter().enumerate().find(|(_, w)| timestamp <= w.timestamp) {
        return Some((w.preconfer, i));
    }
    if current.is_empty() {
        return None;
    }
    next.first().map(|w| (w.preconfer, current.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const CLOCK: SlotClock = SlotClock { genesis: 1_000, slot_secs: 2, slots_per_epoch: 4 };
    const A: Address = Address::repeat_byte(0xa);
    const B: Address = Address::repeat_byte(0xb);

    fn p(slot: u64, who: Option<Address>) -> SlotProposer {
        SlotProposer { slot, validator_key_hash: B256::repeat_byte(slot as u8), preconfer: who }
    }

    #[test]
    fn unregistered_slots_fall_to_the_next_registered_proposer() {
        // epoch 1 = slots 4..8 at 1008, 1010, 1012, 1014
        let params =
            lookahead_params(&CLOCK, &[p(4, None), p(5, Some(A)), p(6, None), p(7, Some(B))]);
        assert_eq!(params.len(), 2);
        let w = windows(&CLOCK, 1, &params, None, None);
        assert_eq!(
            w[0],
            Window { timestamp: 1010, prev_timestamp: 1007, preconfer: A, is_fallback: false }
        );
        assert_eq!(w[1].prev_timestamp, 1010);
        assert_eq!(owner_at(1008, &w, &[]), Some((A, 0)), "slot 4 has no registered proposer: A's");
        assert_eq!(owner_at(1011, &w, &[]), Some((B, 1)));
        assert_eq!(owner_at(1015, &w, &[]), None, "past the last entry without a next epoch");
        let next = windows(&CLOCK, 2, &[], Some(1014), Some(A));
        assert_eq!(
            next[0],
            Window { timestamp: 1022, prev_timestamp: 1014, preconfer: A, is_fallback: true }
        );
        assert_eq!(owner_at(1015, &w, &next), Some((A, 2)), "the next epoch's first entry");
    }

    #[test]
    fn fallback_is_seed_modulo_active() {
        let mut seed = [0u8; 32];
        seed[31] = 3;
        assert_eq!(fallback_preconfer(B256::from(seed), &[A, B]), Some(B));
        seed[31] = 4;
        assert_eq!(fallback_preconfer(B256::from(seed), &[A, B]), Some(A));
        assert_eq!(fallback_preconfer(B256::from(seed), &[]), None);
    }
}
