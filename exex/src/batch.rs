//! From preconfirmed blocks to an L1 proposal: the batch the inbox derives the same blocks from.
//!
//! [`build_batch`] turns a run of consecutive blocks this preconfer signed into
//! `BatchParams` and the calldata tx list: one zlib-compressed RLP list of all the blocks' user
//! transactions (anchors excluded — every node re-derives them), each block described by its
//! transaction count, its time shift from the previous block, its anchor block and its
//! `txListHash` — the very hash its preconfirmation signed. The inbox recomputes the block
//! digest chain from these, so the batch lands exactly when its digest equals the digest of the
//! last block as the preconfirmations chained it ([`Batch::digest`]).
//!
//! [`proposal_call`] wraps a batch for `PreconfTaskManager.proposeBatch` with the caller's
//! lookahead index and, when the next epoch's lookahead is not posted yet, the entries to post.

use alloy::{
    consensus::TxEnvelope,
    primitives::{Address, B256},
};
use taiko_contracts::{LibBatch, PreconfTaskManager, wire};

use crate::{
    lookahead::LookaheadParam,
    message::{Block, tx_list_hash},
};

/// Why blocks cannot form one batch.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BatchError {
    /// No blocks.
    #[error("empty batch")]
    Empty,
    /// Block numbers are not consecutive.
    #[error("block {got} does not follow block {after}")]
    NotConsecutive {
        /// The previous block.
        after: u64,
        /// The block found.
        got: u64,
    },
    /// Blocks of one batch share one coinbase.
    #[error("block {0} has another coinbase")]
    MixedCoinbase(u64),
    /// A timestamp goes back, or jumps more than 255 s (a time shift is a `uint8`).
    #[error("block {0}: time shift out of range")]
    TimeShift(u64),
    /// More than 65,535 transactions in one block.
    #[error("block {0}: too many transactions")]
    TooManyTransactions(u64),
    /// A block without its anchor transaction.
    #[error("block {0} has no anchor transaction")]
    NoAnchor(u64),
}

/// A batch ready to propose.
#[derive(Clone, Debug)]
pub struct Batch {
    /// The parameters, in the task manager's ABI types.
    pub params: LibBatch::BatchParams,
    /// The compressed tx list (calldata).
    pub tx_list: Vec<u8>,
    /// First L2 block.
    pub first: u64,
    /// Last L2 block.
    pub last: u64,
    /// Digest of the last block, as the inbox will compute it.
    pub digest: B256,
}

/// Builds the batch of `blocks` (consecutive, one coinbase), each anchored to the L1 block in
/// `anchors`, proposed by `proposer`, on top of a chain whose last block has `parent_digest`.
pub fn build_batch(
    blocks: &[Block],
    anchors: &[u64],
    proposer: Address,
    parent_digest: B256,
) -> Result<Batch, BatchError> {
    let first = blocks.first().ok_or(BatchError::Empty)?;
    let coinbase = first.header.beneficiary;
    let mut params = Vec::with_capacity(blocks.len());
    let mut txs: Vec<TxEnvelope> = Vec::new();
    let mut digest = parent_digest;
    let mut prev: Option<&Block> = None;
    for (b, &anchor) in blocks.iter().zip(anchors) {
        let n = b.header.number;
        if let Some(p) = prev
            && n != p.header.number + 1
        {
            return Err(BatchError::NotConsecutive { after: p.header.number, got: n });
        }
        if b.header.beneficiary != coinbase {
            return Err(BatchError::MixedCoinbase(n));
        }
        let shift = match prev {
            None => 0,
            Some(p) => b
                .header
                .timestamp
                .checked_sub(p.header.timestamp)
                .and_then(|s| u8::try_from(s).ok())
                .ok_or(BatchError::TimeShift(n))?,
        };
        let user = b.body.transactions.get(1..).ok_or(BatchError::NoAnchor(n))?;
        let count = u16::try_from(user.len()).map_err(|_| BatchError::TooManyTransactions(n))?;
        let hash = tx_list_hash(b);
        digest = wire::block_digest(digest, n, hash, b.header.timestamp, anchor, coinbase);
        params.push(LibBatch::BlockParams {
            numTransactions: count,
            timeShift: shift,
            anchorBlockId: anchor,
            txListHash: hash,
        });
        txs.extend_from_slice(user);
        prev = Some(b);
    }
    let last = prev.expect("at least one block");
    Ok(Batch {
        params: LibBatch::BatchParams {
            proposer,
            coinbase,
            parentMetaHash: B256::ZERO,
            lastBlockTimestamp: last.header.timestamp,
            blobParams: LibBatch::BlobParams::default(),
            blocks: params,
        },
        tx_list: taiko_evm::compress_tx_list(&txs),
        first: first.header.number,
        last: last.header.number,
        digest,
    })
}

/// The `proposeBatch` call for `batch`: `lookahead_index` is the caller's entry (see
/// `lookahead::owner_at`), `next_lookahead` the next epoch's entries when it is not posted yet
/// (empty otherwise, or to post a fallback epoch).
pub fn proposal_call(
    batch: &Batch,
    lookahead_index: usize,
    next_lookahead: &[LookaheadParam],
) -> PreconfTaskManager::proposeBatchCall {
    PreconfTaskManager::proposeBatchCall {
        params: batch.params.clone(),
        txList: batch.tx_list.clone().into(),
        lookaheadIndex: alloy::primitives::U256::from(lookahead_index),
        nextLookahead: next_lookahead.iter().map(to_param).collect(),
    }
}

/// A lookahead entry in the task manager's ABI type.
pub fn to_param(p: &LookaheadParam) -> PreconfTaskManager::LookaheadParam {
    PreconfTaskManager::LookaheadParam {
        slotTimestamp: p.slot_timestamp,
        preconfer: p.preconfer,
        validatorKeyHash: p.validator_key_hash,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy::consensus::{BlockBody, Header};

    fn block(number: u64, timestamp: u64, coinbase: Address, txs: usize) -> Block {
        let tx = TxEnvelope::Legacy(alloy::consensus::Signed::new_unchecked(
            alloy::consensus::TxLegacy::default(),
            alloy::primitives::Signature::test_signature(),
            B256::ZERO,
        ));
        Block {
            header: Header { number, timestamp, beneficiary: coinbase, ..Default::default() },
            body: BlockBody { transactions: vec![tx; txs + 1], ommers: vec![], withdrawals: None },
        }
    }

    #[test]
    fn shifts_counts_and_digest_chain() {
        let c = Address::repeat_byte(0xc0);
        let blocks = [block(5, 100, c, 2), block(6, 100, c, 0), block(7, 103, c, 1)];
        let b = build_batch(&blocks, &[9, 9, 10], Address::repeat_byte(1), B256::repeat_byte(4))
            .unwrap();
        let shifts: Vec<u8> = b.params.blocks.iter().map(|p| p.timeShift).collect();
        let counts: Vec<u16> = b.params.blocks.iter().map(|p| p.numTransactions).collect();
        assert_eq!((shifts, counts), (vec![0, 0, 3], vec![2, 0, 1]));
        assert_eq!((b.first, b.last, b.params.lastBlockTimestamp), (5, 7, 103));
        let mut d = B256::repeat_byte(4);
        for (blk, a) in blocks.iter().zip([9, 9, 10]) {
            d = wire::block_digest(
                d,
                blk.header.number,
                tx_list_hash(blk),
                blk.header.timestamp,
                a,
                c,
            );
        }
        assert_eq!(b.digest, d);
    }

    #[test]
    fn refuses_what_the_inbox_would() {
        let c = Address::repeat_byte(0xc0);
        let p = Address::ZERO;
        assert_eq!(build_batch(&[], &[], p, B256::ZERO).unwrap_err(), BatchError::Empty);
        let gap = [block(1, 1, c, 0), block(3, 2, c, 0)];
        assert_eq!(
            build_batch(&gap, &[0, 0], p, B256::ZERO).unwrap_err(),
            BatchError::NotConsecutive { after: 1, got: 3 }
        );
        let mixed = [block(1, 1, c, 0), block(2, 2, Address::ZERO, 0)];
        assert_eq!(
            build_batch(&mixed, &[0, 0], p, B256::ZERO).unwrap_err(),
            BatchError::MixedCoinbase(2)
        );
        let jump = [block(1, 1, c, 0), block(2, 300, c, 0)];
        assert_eq!(
            build_batch(&jump, &[0, 0], p, B256::ZERO).unwrap_err(),
            BatchError::TimeShift(2)
        );
    }
}
