//! The best-transactions iterator: pending transactions in effective-tip order, each sender's
//! nonces in order.

use crate::{
    inner::{Inner, SubPool},
    validate::PooledTransaction,
};
use alloy::{
    consensus::{TxEnvelope, transaction::Recovered},
    primitives::Address,
};
use parking_lot::RwLock;
use std::{
    cmp::Ordering,
    collections::{BinaryHeap, HashSet},
    sync::Arc,
};

/// Attributes of the block the transactions are for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BestTransactionsAttributes {
    /// The block's base fee: transactions with a lower fee cap are left out.
    pub basefee: u64,
}

struct Candidate {
    tip: u128,
    tx: Arc<PooledTransaction>,
}

impl PartialEq for Candidate {
    fn eq(&self, o: &Self) -> bool {
        self.cmp(o) == Ordering::Equal
    }
}
impl Eq for Candidate {}
impl PartialOrd for Candidate {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Candidate {
    /// Higher tip first; equal tips: earlier arrival first.
    fn cmp(&self, o: &Self) -> Ordering {
        self.tip.cmp(&o.tip).then_with(|| o.tx.id.cmp(&self.tx.id))
    }
}

/// Iterator over the best pending transactions. It reads the pool lazily (one sender's next
/// nonce at a time), so creating it costs one entry per sender, not one per transaction.
pub struct BestTransactions {
    pool: Arc<RwLock<Inner>>,
    basefee: u64,
    heap: BinaryHeap<Candidate>,
    invalid: HashSet<Address>,
}

impl std::fmt::Debug for BestTransactions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BestTransactions")
            .field("basefee", &self.basefee)
            .field("queued", &self.heap.len())
            .finish()
    }
}

impl BestTransactions {
    pub(crate) fn new(pool: Arc<RwLock<Inner>>, attrs: BestTransactionsAttributes) -> Self {
        let heap = {
            let inner = pool.read();
            inner
                .senders
                .values()
                .filter_map(|s| {
                    let e = s.txs.get(&s.account.nonce)?;
                    (e.sub == SubPool::Pending).then_some(&e.tx)
                })
                .filter_map(|tx| {
                    tx.effective_tip(attrs.basefee).map(|tip| Candidate { tip, tx: tx.clone() })
                })
                .collect()
        };
        Self { pool, basefee: attrs.basefee, heap, invalid: HashSet::new() }
    }

    /// Skips `tx`'s sender from now on (its later nonces cannot run without it).
    pub fn mark_invalid(&mut self, tx: &PooledTransaction) {
        self.invalid.insert(tx.sender());
    }

    /// The next pooled transaction.
    pub fn next_pooled(&mut self) -> Option<Arc<PooledTransaction>> {
        self.next_pooled_from(&|_| None)
    }

    /// The next pooled transaction, each sender's taken from `next_nonce(sender)` on, when
    /// that names one: the sender's lower nonces are jumped over, not visited.
    pub fn next_pooled_from(
        &mut self,
        next_nonce: &dyn Fn(&Address) -> Option<u64>,
    ) -> Option<Arc<PooledTransaction>> {
        while let Some(Candidate { tx, .. }) = self.heap.pop() {
            if self.invalid.contains(&tx.sender()) {
                continue;
            }
            if let Some(from) = next_nonce(&tx.sender())
                && tx.nonce() < from
            {
                let at = {
                    let inner = self.pool.read();
                    inner
                        .senders
                        .get(&tx.sender())
                        .and_then(|s| s.txs.get(&from))
                        .and_then(|e| (e.sub == SubPool::Pending).then(|| e.tx.clone()))
                };
                if let Some(n) = at
                    && let Some(tip) = n.effective_tip(self.basefee)
                {
                    self.heap.push(Candidate { tip, tx: n });
                }
                continue;
            }
            // Queue the sender's next nonce, if it is still pending and payable.
            let next = {
                let inner = self.pool.read();
                inner
                    .senders
                    .get(&tx.sender())
                    .and_then(|s| s.txs.get(&(tx.nonce() + 1)))
                    .and_then(|e| (e.sub == SubPool::Pending).then(|| e.tx.clone()))
            };
            if let Some(n) = next
                && let Some(tip) = n.effective_tip(self.basefee)
            {
                self.heap.push(Candidate { tip, tx: n });
            }
            return Some(tx);
        }
        None
    }
}

impl Iterator for BestTransactions {
    type Item = Arc<PooledTransaction>;
    fn next(&mut self) -> Option<Self::Item> {
        self.next_pooled()
    }
}

impl taiko_evm::TxSource for BestTransactions {
    fn next_tx(&mut self) -> Option<Recovered<TxEnvelope>> {
        self.next_pooled().map(|t| t.tx.clone())
    }

    fn mark_invalid(&mut self, tx: &Recovered<TxEnvelope>) {
        self.invalid.insert(tx.signer());
    }

    fn next_tx_unless(
        &mut self,
        skip: &dyn Fn(&alloy::primitives::B256) -> bool,
    ) -> Option<Recovered<TxEnvelope>> {
        self.next_tx_from(skip, &|_| None)
    }

    fn next_tx_from(
        &mut self,
        skip: &dyn Fn(&alloy::primitives::B256) -> bool,
        next_nonce: &dyn Fn(&Address) -> Option<u64>,
    ) -> Option<Recovered<TxEnvelope>> {
        loop {
            let t = self.next_pooled_from(next_nonce)?;
            if !skip(&t.hash) {
                return Some(t.tx.clone());
            }
        }
    }
}
