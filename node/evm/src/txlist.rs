//! The compressed tx-list budget: Taiko proposes a block's transactions (anchor excluded) as
//! zlib(RLP(list)), and a block must fit its configured maximum.
//!
//! Compressing the whole list after every candidate would make building quadratic. The budget
//! keeps the concatenated RLP items and the size of the last exact compression; a candidate is
//! accepted without compressing while that size plus the raw bytes added since (plus deflate's
//! worst-case framing) fits. Only when that bound reaches the limit does it compress exactly and
//! take the result as the new base, a bounded number of times per block.

use alloy::{
    consensus::TxEnvelope,
    rlp::{Encodable, Header as RlpHeader},
};
use flate2::{Compression, write::ZlibEncoder};
use std::io::Write;

/// Exact compressions allowed per block once near the limit.
const MAX_EXACT_CHECKS: usize = 16;

/// Tracks a block's tx list against the compressed-size limit (used by the builder and by
/// the pool's preconfirmation selection).
#[derive(Debug)]
pub struct TxListBudget {
    max: usize,
    items: Vec<u8>,
    exact_checks: usize,
    /// Raw item bytes covered by the last exact compression, and its compressed size.
    base: (usize, usize),
}

/// zlib of the RLP list whose items are already encoded in `items`.
fn compress_items(items: &[u8]) -> Vec<u8> {
    compress_items_at(items, Compression::default())
}

fn compress_items_at(items: &[u8], level: Compression) -> Vec<u8> {
    let mut list = Vec::with_capacity(items.len() + 9);
    RlpHeader { list: true, payload_length: items.len() }.encode(&mut list);
    list.extend_from_slice(items);
    let mut enc = ZlibEncoder::new(Vec::with_capacity(list.len() / 2 + 64), level);
    enc.write_all(&list).expect("writing to a Vec cannot fail");
    enc.finish().expect("writing to a Vec cannot fail")
}

/// Checks that `txs` can be proposed within `max` compressed bytes, compressing only as much as
/// needed: not at all when even incompressible data would fit, then with zlib's fastest level,
/// then with the default level. Returns the smallest size found when it does not fit.
pub fn check_tx_list_size(txs: &[TxEnvelope], max: usize) -> Result<(), usize> {
    let mut items = Vec::with_capacity(txs.iter().map(|t| t.length()).sum());
    for tx in txs {
        tx.encode(&mut items);
    }
    let budget = TxListBudget::new(max);
    if budget.surely_fits(items.len()) {
        return Ok(());
    }
    let fast = compress_items_at(&items, Compression::fast()).len();
    if fast <= max {
        return Ok(());
    }
    let default = compress_items(&items).len();
    if default <= max { Ok(()) } else { Err(default.min(fast)) }
}

/// zlib(RLP(list)) of transactions, as proposed to L1.
pub fn compress_tx_list(txs: &[TxEnvelope]) -> Vec<u8> {
    let mut items = Vec::new();
    for tx in txs {
        tx.encode(&mut items);
    }
    compress_items(&items)
}

/// Why a proposed tx list cannot be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TxListError {
    /// Not zlib, or it inflates past the limit.
    #[error("tx list does not inflate within {0} bytes")]
    Inflate(usize),
    /// Not an RLP list of EIP-2718 transactions.
    #[error("tx list is not an RLP list of transactions: {0}")]
    Rlp(String),
}

/// The transactions of a proposed zlib(RLP(list)) tx list, inflating at most `max_inflated`
/// bytes (a proposal is untrusted input: a small list must not expand without bound).
pub fn decompress_tx_list(
    bytes: &[u8],
    max_inflated: usize,
) -> Result<Vec<TxEnvelope>, TxListError> {
    use alloy::rlp::Decodable;
    use std::io::Read;
    let mut out = Vec::new();
    flate2::read::ZlibDecoder::new(bytes)
        .take(max_inflated as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|_| TxListError::Inflate(max_inflated))?;
    if out.len() > max_inflated {
        return Err(TxListError::Inflate(max_inflated));
    }
    Vec::<TxEnvelope>::decode(&mut out.as_slice()).map_err(|e| TxListError::Rlp(e.to_string()))
}

impl TxListBudget {
    /// A budget of `max` compressed bytes.
    pub fn new(max: usize) -> Self {
        Self { max, items: Vec::new(), exact_checks: 0, base: (0, 0) }
    }

    /// Whether the worst case of compressing `raw` item bytes still fits.
    pub(crate) fn surely_fits(&self, raw: usize) -> bool {
        let (base_raw, base_compressed) = self.base;
        let added = raw.saturating_sub(base_raw);
        // RLP list header, zlib header and checksum, 5 bytes per 16 KiB stored block at worst.
        base_compressed + added + 9 + 6 + (added / 16_384 + 1) * 5 + 32 <= self.max
    }

    /// Adds `tx` if the list still fits; returns whether it did.
    pub fn try_add(&mut self, tx: &TxEnvelope) -> bool {
        let start = self.items.len();
        tx.encode(&mut self.items);
        if self.surely_fits(self.items.len()) {
            return true;
        }
        if self.exact_checks < MAX_EXACT_CHECKS {
            self.exact_checks += 1;
            let compressed = compress_items(&self.items).len();
            if compressed <= self.max {
                self.base = (self.items.len(), compressed);
                return true;
            }
        }
        self.items.truncate(start);
        false
    }

    /// Removes the last added `tx` (it failed to execute).
    pub fn remove_last(&mut self, tx: &TxEnvelope) {
        let len = tx.length();
        self.items.truncate(self.items.len().saturating_sub(len));
        if self.base.0 > self.items.len() {
            self.base = (0, 0);
        }
    }

    /// Whether another exact check is possible (building can stop early when not).
    pub fn exhausted(&self) -> bool {
        self.exact_checks >= MAX_EXACT_CHECKS && !self.surely_fits(self.items.len() + 100)
    }
}
