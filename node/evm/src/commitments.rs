//! A block's transactions root, receipts root and logs bloom, kept current while the block
//! grows.
//!
//! A block built in rounds ([`crate::BuildSession`]) would otherwise encode and hash every
//! transaction and receipt at the seal, on the latency path. These are ordered tries (keys
//! `rlp(index)`), so each round only adds leaves: [`BlockCommitments::extend`] inserts the
//! round's transactions and receipts into cached tries ([`taiko_store::trie::Trie`], which
//! re-hashes only the paths that changed) and [`BlockCommitments::roots`] hashes them. At the
//! seal, only the last round's leaves and their paths are left to hash.

use alloy::{
    consensus::{ReceiptEnvelope, TxEnvelope, TxReceipt},
    eips::Encodable2718,
    primitives::{B256, Bloom},
};
use taiko_store::{EncodedTxs, trie::Trie};

/// The roots a block's header commits to, precomputed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Precomputed {
    /// The transactions root.
    pub(crate) transactions_root: Option<B256>,
    /// The receipts root and the logs bloom.
    pub(crate) receipts: Option<(B256, Bloom)>,
}

/// Transactions and receipts tries of a growing block.
#[derive(Debug, Default)]
pub(crate) struct BlockCommitments {
    txs: Trie,
    receipts: Trie,
    bloom: Bloom,
    /// The transactions' encodings as the store keeps the body.
    encoded: EncodedTxs,
    /// Entries inserted so far.
    len: usize,
}

impl BlockCommitments {
    /// Inserts the entries past the ones already held: the block's transactions and their
    /// receipts, so far (as many of each).
    pub(crate) fn extend(&mut self, txs: &[TxEnvelope], receipts: &[ReceiptEnvelope]) {
        debug_assert_eq!(txs.len(), receipts.len());
        for (i, (tx, receipt)) in txs.iter().zip(receipts).enumerate().skip(self.len) {
            let key = alloy::rlp::encode(i);
            self.txs.set_bytes(&key, Some(tx.encoded_2718()));
            self.encoded.push(tx);
            self.receipts.set_bytes(&key, Some(receipt.encoded_2718()));
            self.bloom |= receipt.bloom();
        }
        self.len = self.len.max(txs.len().min(receipts.len()));
    }

    /// The transactions' encodings, in the store's body form (taken: the seal hands them to the
    /// commit).
    pub(crate) fn take_encoded(&mut self) -> EncodedTxs {
        std::mem::take(&mut self.encoded)
    }

    /// The roots of what was inserted, hashing only what changed since the last call.
    pub(crate) fn roots(&mut self) -> Precomputed {
        Precomputed {
            transactions_root: Some(self.txs.root()),
            receipts: Some((self.receipts.root(), self.bloom)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy::{
        consensus::{
            Receipt, ReceiptWithBloom, TxLegacy,
            proofs::{calculate_receipt_root, calculate_transaction_root},
        },
        primitives::{Address, Log, Signature, TxKind, U256},
    };

    fn entry(i: u64) -> (TxEnvelope, ReceiptEnvelope) {
        let tx = TxLegacy {
            nonce: i,
            gas_limit: 21_000,
            to: TxKind::Call(Address::with_last_byte(i as u8)),
            value: U256::from(i),
            ..Default::default()
        };
        let tx = TxEnvelope::Legacy(alloy::consensus::Signed::new_unhashed(
            tx,
            Signature::new(U256::from(i + 1), U256::from(i + 2), false),
        ));
        let logs = (0..i % 3)
            .map(|k| Log::new_unchecked(Address::with_last_byte(k as u8), vec![], vec![].into()))
            .collect();
        let receipt = Receipt {
            status: (!i.is_multiple_of(4)).into(),
            cumulative_gas_used: 21_000 * i,
            logs,
        };
        (tx, ReceiptEnvelope::Eip1559(ReceiptWithBloom::from(receipt)))
    }

    #[test]
    fn roots_grown_in_rounds_equal_the_roots_of_the_whole_block() {
        let (txs, receipts): (Vec<_>, Vec<_>) = (0..400).map(entry).unzip();
        let mut c = BlockCommitments::default();
        for end in [1, 2, 50, 127, 128, 129, 300, 400] {
            c.extend(&txs[..end], &receipts[..end]);
            let bloom = receipts[..end].iter().fold(Bloom::ZERO, |acc, r| acc | r.bloom());
            assert_eq!(
                c.roots(),
                Precomputed {
                    transactions_root: Some(calculate_transaction_root(&txs[..end])),
                    receipts: Some((calculate_receipt_root(&receipts[..end]), bloom)),
                },
                "{end} entries"
            );
        }
        // entries already held are not inserted twice
        c.extend(&txs, &receipts);
        assert_eq!(c.roots().transactions_root, Some(calculate_transaction_root(&txs)));
    }
}
