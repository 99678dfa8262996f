//! Which L1 block each L2 block anchors to.
//!
//! The preconfer anchors every block to a recent L1 block: `lag` blocks behind the L1 head it
//! last saw, so a shallow L1 reorg does not orphan the anchor, and never behind the parent's
//! anchor (the anchor contract refuses a step back). [`L1Anchor`] is refreshed from the L1 once
//! per slot; when the L1 cannot be reached the block re-uses its parent's anchor, so
//! preconfirmations go on through an L1 outage.

use alloy::{consensus::Transaction, primitives::B256};
use parking_lot::RwLock;
use taiko_evm::{AnchorInput, anchor::decode_anchor_calldata};
use taiko_l1::{L1Client, L1Error};
use taiko_store::Store;

/// The newest anchor candidate.
pub trait AnchorSource: Send + Sync + std::fmt::Debug {
    /// The L1 block to anchor to now, if one is known.
    fn candidate(&self) -> Option<AnchorInput>;
}

/// Always the same anchor (tests, and chains without an L1 to follow).
#[derive(Clone, Copy, Debug)]
pub struct FixedAnchor(pub AnchorInput);

impl AnchorSource for FixedAnchor {
    fn candidate(&self) -> Option<AnchorInput> {
        Some(self.0)
    }
}

/// The L1 head minus `lag`, refreshed with [`L1Anchor::refresh`].
#[derive(Debug)]
pub struct L1Anchor {
    lag: u64,
    current: RwLock<Option<AnchorInput>>,
}

impl L1Anchor {
    /// Anchors `lag` blocks behind the L1 head.
    pub fn new(lag: u64) -> Self {
        Self { lag, current: RwLock::new(None) }
    }

    /// Reads the L1 head and the block `lag` behind it.
    pub async fn refresh(&self, l1: &L1Client) -> Result<AnchorInput, L1Error> {
        let head = l1.latest().await?;
        let block = if self.lag == 0 {
            head
        } else {
            l1.block(head.number.saturating_sub(self.lag)).await?.unwrap_or(head)
        };
        let anchor = AnchorInput {
            l1_block_id: block.number,
            l1_block_hash: block.hash,
            l1_state_root: block.state_root,
        };
        *self.current.write() = Some(anchor);
        Ok(anchor)
    }
}

impl AnchorSource for L1Anchor {
    fn candidate(&self) -> Option<AnchorInput> {
        *self.current.read()
    }
}

/// The anchor of block `number` as its anchor transaction states it (genesis: none).
pub fn anchor_of(store: &Store, number: u64) -> Option<AnchorInput> {
    if number == 0 {
        return None;
    }
    let first = store.transaction_by_index(number, 0).ok()??;
    decode_anchor_calldata(first.input()).map(|(a, _)| a)
}

/// The anchor for a child of a parent anchored at `parent`: the candidate unless it would go
/// back, else the parent's.
pub fn choose(candidate: Option<AnchorInput>, parent: Option<AnchorInput>) -> AnchorInput {
    match (candidate, parent) {
        (Some(c), Some(p)) if c.l1_block_id < p.l1_block_id => p,
        (Some(c), _) => c,
        (None, Some(p)) => p,
        (None, None) => {
            AnchorInput { l1_block_id: 0, l1_block_hash: B256::ZERO, l1_state_root: B256::ZERO }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(id: u64) -> AnchorInput {
        AnchorInput {
            l1_block_id: id,
            l1_block_hash: B256::with_last_byte(id as u8),
            l1_state_root: B256::ZERO,
        }
    }

    #[test]
    fn never_steps_back_and_survives_an_l1_outage() {
        assert_eq!(choose(Some(a(10)), Some(a(9))), a(10));
        assert_eq!(choose(Some(a(8)), Some(a(9))), a(9), "an L1 reorg below the parent's anchor");
        assert_eq!(choose(None, Some(a(9))), a(9), "L1 unreachable: the parent's anchor");
        assert_eq!(choose(None, None).l1_block_id, 0);
    }
}
