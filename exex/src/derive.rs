//! L2 blocks from an L1 batch: what every node builds when L1 is the only source.
//!
//! A batch carries one compressed tx list for all its blocks; each block takes the next
//! `numTransactions` of it, its timestamp from the batch's last timestamp minus the later time
//! shifts, its anchor from `anchorBlockId` (the inbox recorded that block's hash), and the batch's
//! coinbase. The anchor transaction is not in the list: every node re-derives it.

use alloy::{
    consensus::TxEnvelope,
    primitives::{Address, B256},
};
use taiko_contracts::inbox::LibBatch::BatchInfo;

/// Largest inflated tx list accepted from L1 (a batch is untrusted input).
pub const MAX_INFLATED_TX_LIST: usize = 16 * 1024 * 1024;

/// Why a batch cannot be derived.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DeriveError {
    /// The blobs holding the tx list are missing or wrong.
    #[error(transparent)]
    Blobs(#[from] crate::blob::BlobError),
    /// The tx list cannot be read.
    #[error(transparent)]
    TxList(#[from] taiko_evm::TxListError),
    /// The blocks claim more transactions than the list has.
    #[error("batch {batch}: blocks claim {claimed} transactions, the list has {have}")]
    Count {
        /// The batch.
        batch: u64,
        /// Sum of `numTransactions`.
        claimed: usize,
        /// Transactions in the list.
        have: usize,
    },
}

/// One derived block, before execution.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DerivedBlock {
    /// Its number.
    pub number: u64,
    /// Its timestamp.
    pub timestamp: u64,
    /// The anchored L1 block.
    pub anchor_block_id: u64,
    /// That block's hash, as the inbox recorded it.
    pub anchor_block_hash: B256,
    /// Its fee recipient.
    pub coinbase: Address,
    /// Its user transactions, in order.
    pub transactions: Vec<TxEnvelope>,
}

/// Splits a batch into its blocks; `tx_list` is its compressed tx list, from calldata or from
/// its blobs ([`crate::blob::tx_list_from_sidecars`]).
pub fn derive_blocks(info: &BatchInfo, tx_list: &[u8]) -> Result<Vec<DerivedBlock>, DeriveError> {
    let txs = taiko_evm::decompress_tx_list(tx_list, MAX_INFLATED_TX_LIST)?;
    let claimed: usize = info.blocks.iter().map(|b| b.numTransactions as usize).sum();
    if claimed > txs.len() {
        return Err(DeriveError::Count { batch: info.batchId, claimed, have: txs.len() });
    }
    let mut rest = txs.into_iter();
    let n = info.blocks.len();
    let mut out = Vec::with_capacity(n);
    for (i, b) in info.blocks.iter().enumerate() {
        let later: u64 = info.blocks[i + 1..].iter().map(|x| x.timeShift as u64).sum();
        out.push(DerivedBlock {
            number: info.firstBlockId + i as u64,
            timestamp: info.lastBlockTimestamp - later,
            anchor_block_id: b.anchorBlockId,
            anchor_block_hash: info.anchorBlockHashes.get(i).copied().unwrap_or_default(),
            coinbase: info.coinbase,
            transactions: rest.by_ref().take(b.numTransactions as usize).collect(),
        });
    }
    Ok(out)
}
