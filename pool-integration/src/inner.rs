//! The pool's state: transactions by sender and nonce, their sub-pool, and size accounting.

use crate::{
    AddOutcome, PoolConfig, PoolError, QueuedReason,
    validate::{PooledTransaction, SenderAccount, TransactionOrigin},
};
use alloy::primitives::{
    Address, B256,
    map::{AddressHashMap, B256HashMap},
};
use std::{collections::BTreeMap, sync::Arc};

/// The sub-pool a transaction is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SubPool {
    /// Executable in the next block.
    Pending,
    /// Contiguous and funded, but the fee cap is below the base fee.
    BaseFee,
    /// Waiting for an earlier nonce or for funds.
    Queued,
}

impl SubPool {
    fn index(self) -> usize {
        match self {
            Self::Pending => 0,
            Self::BaseFee => 1,
            Self::Queued => 2,
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Entry {
    pub(crate) tx: Arc<PooledTransaction>,
    pub(crate) sub: SubPool,
    pub(crate) reason: Option<QueuedReason>,
}

#[derive(Debug, Default)]
pub(crate) struct Sender {
    pub(crate) account: SenderAccount,
    pub(crate) txs: BTreeMap<u64, Entry>,
}

/// Count and bytes of one sub-pool.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SubPoolSize {
    /// Transactions.
    pub count: usize,
    /// Encoded bytes.
    pub bytes: usize,
}

#[derive(Debug)]
pub(crate) struct Inner {
    pub(crate) cfg: PoolConfig,
    pub(crate) base_fee: u64,
    next_id: u64,
    pub(crate) by_hash: B256HashMap<(Address, u64)>,
    pub(crate) senders: AddressHashMap<Sender>,
    pub(crate) sizes: [SubPoolSize; 3],
}

/// Transactions whose sub-pool changed to pending by an operation (for listeners).
pub(crate) type Promoted = Vec<B256>;

impl Inner {
    pub(crate) fn new(cfg: PoolConfig, base_fee: u64) -> Self {
        Self {
            cfg,
            base_fee,
            next_id: 0,
            by_hash: Default::default(),
            senders: Default::default(),
            sizes: Default::default(),
        }
    }

    pub(crate) fn size(&self, sub: SubPool) -> SubPoolSize {
        self.sizes[sub.index()]
    }

    pub(crate) fn get(&self, hash: &B256) -> Option<&Entry> {
        let (sender, nonce) = self.by_hash.get(hash)?;
        self.senders.get(sender)?.txs.get(nonce)
    }

    /// Inserts a validated transaction (stateful checks done by the caller with `account`).
    pub(crate) fn insert(
        &mut self,
        mut tx: PooledTransaction,
        account: SenderAccount,
    ) -> Result<(AddOutcome, Promoted), PoolError> {
        if self.by_hash.contains_key(&tx.hash) {
            return Err(PoolError::AlreadyKnown);
        }
        let sender_addr = tx.sender();
        let nonce = tx.nonce();
        let bump = self.cfg.price_bump_percent as u128;
        let max_per_sender = self.cfg.max_txs_per_sender;
        let sender = self.senders.entry(sender_addr).or_default();
        sender.account = account;
        let mut replaced = None;
        if let Some(old) = sender.txs.get(&nonce) {
            let (of, ot) = (old.tx.max_fee(), old.tx.max_tip());
            if tx.max_fee() * 100 < of * (100 + bump) || tx.max_tip() * 100 < ot * (100 + bump) {
                return Err(PoolError::ReplacementUnderpriced);
            }
            replaced = Some(old.tx.hash);
        } else if sender.txs.len() >= max_per_sender {
            return Err(PoolError::SenderLimit(sender_addr));
        }
        tx.id = self.next_id;
        self.next_id += 1;
        let hash = tx.hash;
        if let Some(old) = replaced {
            self.remove_by_hash(&old);
        }
        let sender = self.senders.entry(sender_addr).or_default();
        sender.account = account;
        sender.txs.insert(nonce, Entry { tx: Arc::new(tx), sub: SubPool::Queued, reason: None });
        self.sizes[SubPool::Queued.index()].count += 1;
        self.sizes[SubPool::Queued.index()].bytes += sender.txs[&nonce].tx.size;
        self.by_hash.insert(hash, (sender_addr, nonce));
        let mut promoted = self.recompute(&sender_addr);
        self.enforce_limits();
        let Some(entry) = self.get(&hash) else {
            promoted.retain(|h| *h != hash);
            return Err(PoolError::PoolFull);
        };
        let outcome = match entry.sub {
            SubPool::Pending => AddOutcome::Pending { hash, replaced },
            SubPool::BaseFee => {
                AddOutcome::Queued { hash, reason: QueuedReason::FeeCapBelowBaseFee, replaced }
            }
            SubPool::Queued => AddOutcome::Queued {
                hash,
                reason: entry.reason.unwrap_or(QueuedReason::NonceGap),
                replaced,
            },
        };
        Ok((outcome, promoted))
    }

    /// Removes one transaction (its sender's later nonces are re-evaluated: they wait).
    pub(crate) fn remove_by_hash(&mut self, hash: &B256) -> Option<Arc<PooledTransaction>> {
        let (sender_addr, nonce) = self.by_hash.remove(hash)?;
        let sender = self.senders.get_mut(&sender_addr)?;
        let entry = sender.txs.remove(&nonce)?;
        let s = &mut self.sizes[entry.sub.index()];
        s.count -= 1;
        s.bytes -= entry.tx.size;
        if sender.txs.is_empty() {
            self.senders.remove(&sender_addr);
        }
        Some(entry.tx)
    }

    /// Re-evaluates a sender's transactions against its account and the base fee: drops
    /// those below the account nonce and assigns each remaining one its sub-pool. Returns the
    /// hashes that became pending.
    pub(crate) fn recompute(&mut self, sender_addr: &Address) -> Promoted {
        let mut promoted = Vec::new();
        let Some(sender) = self.senders.get_mut(sender_addr) else { return promoted };
        let account = sender.account;
        // Stale: nonces already used on chain.
        let stale: Vec<u64> = sender.txs.range(..account.nonce).map(|(n, _)| *n).collect();
        for n in stale {
            let e = sender.txs.remove(&n).expect("listed");
            let s = &mut self.sizes[e.sub.index()];
            s.count -= 1;
            s.bytes -= e.tx.size;
            self.by_hash.remove(&e.tx.hash);
        }
        let mut expected = account.nonce;
        let mut spent = alloy::primitives::U256::ZERO;
        let mut blocked: Option<(SubPool, Option<QueuedReason>)> = None;
        for (nonce, entry) in sender.txs.iter_mut() {
            let (sub, reason) = if let Some(b) = blocked {
                b
            } else if *nonce != expected {
                (SubPool::Queued, Some(QueuedReason::NonceGap))
            } else {
                spent += entry.tx.cost;
                if spent > account.balance {
                    (SubPool::Queued, Some(QueuedReason::InsufficientBalance))
                } else if entry.tx.effective_tip(self.base_fee).is_none() {
                    (SubPool::BaseFee, Some(QueuedReason::FeeCapBelowBaseFee))
                } else {
                    (SubPool::Pending, None)
                }
            };
            if sub != SubPool::Pending && blocked.is_none() {
                blocked = Some((sub, reason));
            }
            expected = nonce + 1;
            if entry.sub != sub {
                let old = &mut self.sizes[entry.sub.index()];
                old.count -= 1;
                old.bytes -= entry.tx.size;
                let new = &mut self.sizes[sub.index()];
                new.count += 1;
                new.bytes += entry.tx.size;
                if sub == SubPool::Pending {
                    promoted.push(entry.tx.hash);
                }
                entry.sub = sub;
            }
            entry.reason = reason;
        }
        if sender.txs.is_empty() {
            self.senders.remove(sender_addr);
        }
        promoted
    }

    /// Evicts transactions while a sub-pool is over its count or byte limit. The victim is the
    /// last nonce of some sender where possible (no gap is created), external before local, then
    /// the lowest fee cap; when no sender ends in that sub-pool, the cheapest transaction in it
    /// goes together with its sender's later nonces.
    pub(crate) fn enforce_limits(&mut self) {
        for sub in [SubPool::Queued, SubPool::BaseFee, SubPool::Pending] {
            while {
                let s = self.size(sub);
                s.count > self.cfg.max_count_per_subpool || s.bytes > self.cfg.max_bytes_per_subpool
            } {
                let rank = |e: &Entry| {
                    (
                        e.tx.origin == TransactionOrigin::Local,
                        e.tx.max_fee(),
                        std::cmp::Reverse(e.tx.id),
                    )
                };
                let tail = self
                    .senders
                    .values()
                    .filter_map(|s| s.txs.values().next_back())
                    .filter(|e| e.sub == sub)
                    .min_by_key(|e| rank(e))
                    .map(|e| vec![e.tx.hash]);
                let victims = tail.or_else(|| {
                    let worst = self
                        .senders
                        .values()
                        .flat_map(|s| s.txs.values())
                        .filter(|e| e.sub == sub)
                        .min_by_key(|e| rank(e))?;
                    let sender = &self.senders[&worst.tx.sender()];
                    Some(sender.txs.range(worst.tx.nonce()..).map(|(_, e)| e.tx.hash).collect())
                });
                let Some(victims) = victims else { break };
                for h in victims {
                    tracing::debug!(target: "pool", hash = %h, ?sub, "evicted");
                    self.remove_by_hash(&h);
                }
            }
        }
    }

    /// Checks the pool's invariants (tests and debug builds).
    #[cfg(any(test, debug_assertions))]
    pub(crate) fn check_invariants(&self) -> Result<(), String> {
        let mut sizes = [SubPoolSize::default(); 3];
        for (addr, sender) in &self.senders {
            if sender.txs.is_empty() {
                return Err(format!("empty sender {addr}"));
            }
            let mut expect_pending = true;
            let mut expected = sender.account.nonce;
            for (nonce, e) in &sender.txs {
                if *nonce < sender.account.nonce {
                    return Err(format!("stale nonce {nonce} for {addr}"));
                }
                if e.tx.nonce() != *nonce || e.tx.sender() != *addr {
                    return Err("entry keyed wrongly".into());
                }
                if self.by_hash.get(&e.tx.hash) != Some(&(*addr, *nonce)) {
                    return Err("hash index out of step".into());
                }
                if e.sub == SubPool::Pending {
                    if !expect_pending || *nonce != expected {
                        return Err(format!(
                            "pending after a gap or a parked tx for {addr} at {nonce}"
                        ));
                    }
                } else {
                    expect_pending = false;
                }
                expected = nonce + 1;
                let s = &mut sizes[e.sub.index()];
                s.count += 1;
                s.bytes += e.tx.size;
            }
            if sender.txs.len() > self.cfg.max_txs_per_sender {
                return Err(format!("sender {addr} over its limit"));
            }
        }
        if sizes != self.sizes {
            return Err(format!("size accounting {:?} != {:?}", self.sizes, sizes));
        }
        if self.by_hash.len() != sizes.iter().map(|s| s.count).sum::<usize>() {
            return Err("hash index has extra entries".into());
        }
        for s in &self.sizes {
            if s.count > self.cfg.max_count_per_subpool || s.bytes > self.cfg.max_bytes_per_subpool
            {
                return Err("sub-pool over its limit".into());
            }
        }
        Ok(())
    }
}
