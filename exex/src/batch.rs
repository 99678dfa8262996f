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
//! The tx list travels in calldata or in blobs ([`Batch::into_blobs`], [`crate::blob`]):
//! [`DataChoice::choose`] compares what each costs at the L1's current base fee and blob base
//! fee — calldata at EIP-7623's price (4 gas per token, at least 10 per token for data-heavy
//! transactions; a token is a zero byte, four for a non-zero byte) against whole blobs.
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
    /// Whether the tx list travels in blobs (`params.blobParams`) rather than calldata.
    pub in_blobs: bool,
}

impl Batch {
    /// The batch with its tx list in blobs, and the sidecar that carries them.
    pub fn into_blobs(
        mut self,
    ) -> Result<(Self, alloy::eips::eip4844::BlobTransactionSidecar), crate::blob::BlobError> {
        let sidecar = crate::blob::sidecar(&self.tx_list)?;
        self.params.blobParams = LibBatch::BlobParams {
            firstBlobIndex: 0,
            numBlobs: sidecar.blobs.len() as u8,
            byteOffset: 0,
            byteSize: self.tx_list.len() as u32,
        };
        self.in_blobs = true;
        Ok((self, sidecar))
    }
}

/// Where a batch's tx list goes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DataChoice {
    /// Whichever is cheaper at the current fees.
    #[default]
    Auto,
    /// Always calldata.
    Calldata,
    /// Always blobs.
    Blobs,
}

/// Gas a proposal spends besides its tx list (an estimate, used only to weigh EIP-7623's floor).
const PROPOSAL_EXECUTION_GAS: u128 = 150_000;

impl DataChoice {
    /// What a tx list of `tx_list` costs on L1 in calldata and in blobs (wei), at `base_fee`
    /// and `blob_base_fee`.
    pub fn costs(tx_list: &[u8], base_fee: u128, blob_base_fee: u128) -> (u128, u128) {
        let zeros = tx_list.iter().filter(|b| **b == 0).count() as u128;
        let tokens = zeros + 4 * (tx_list.len() as u128 - zeros);
        let exec = PROPOSAL_EXECUTION_GAS;
        let calldata_gas = (4 * tokens + exec).max(10 * tokens) - exec;
        let blobs = tx_list.len().div_ceil(crate::blob::BLOB_CAPACITY).max(1) as u128;
        let blob_gas = blobs * alloy::eips::eip4844::DATA_GAS_PER_BLOB as u128;
        (calldata_gas * base_fee, blob_gas * blob_base_fee)
    }

    /// Whether `tx_list` goes in blobs at these fees.
    pub fn choose(self, tx_list: &[u8], base_fee: u128, blob_base_fee: u128) -> bool {
        match self {
            Self::Calldata => false,
            Self::Blobs => true,
            Self::Auto => {
                let (calldata, blobs) = Self::costs(tx_list, base_fee, blob_base_fee);
                blobs < calldata
                    && tx_list.len() <= crate::blob::MAX_BLOBS * crate::blob::BLOB_CAPACITY
            }
        }
    }
}

impl std::str::FromStr for DataChoice {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "auto" => Ok(Self::Auto),
            "calldata" => Ok(Self::Calldata),
            "blobs" => Ok(Self::Blobs),
            other => Err(format!("{other:?}: expected auto, calldata or blobs")),
        }
    }
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
        in_blobs: false,
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
        txList: if batch.in_blobs { Default::default() } else { batch.tx_list.clone().into() },
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
    fn data_goes_where_it_is_cheaper() {
        let list = vec![0xabu8; 10_000]; // 40,000 tokens: the floor applies
        let (calldata, blobs) = DataChoice::costs(&list, 10, 1);
        assert_eq!(calldata, (400_000 - 150_000) * 10);
        assert_eq!(blobs, 131_072);
        assert!(DataChoice::Auto.choose(&list, 10, 1));
        // blob gas dear: calldata
        assert!(!DataChoice::Auto.choose(&list, 10, 1_000));
        // a small list stays in calldata at equal fees: a blob costs 131,072 gas at least
        assert!(!DataChoice::Auto.choose(&[1u8; 100], 10, 10));
        assert!(DataChoice::Blobs.choose(&[1u8; 100], 10, 10));
        assert!(!DataChoice::Calldata.choose(&list, 10, 1));
        assert_eq!("blobs".parse(), Ok(DataChoice::Blobs));
        assert!("blob".parse::<DataChoice>().is_err());
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
