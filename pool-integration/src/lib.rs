//! The node's in-process transaction pool, shaped like reth's `TransactionPool`, and the
//! preconfirmation selection that feeds the sequencer straight from it.
//!
//! # Design
//!
//! Every transaction is validated twice over ([`validate`]): *stateless* checks on the
//! transaction alone (type, chain id, size, gas against the block limit, tip ≤ fee cap, minimum
//! tip, init-code size, intrinsic gas, a sender that is not the golden-touch account) and
//! *stateful* checks against the sender's account at `latest` (nonce not used, funds for
//! `gas · fee cap + value`, no code other than an EIP-7702 delegation). Senders arrive already
//! recovered ([`Recovered`]): recovery happens once, where a transaction enters the node.
//!
//! The pool keeps each sender's transactions by nonce and assigns each one a [`SubPool`]:
//!
//! - **pending**: the nonces from the account nonce on without a gap, each funded after the
//!   ones before it, each with a fee cap at or above the base fee;
//! - **basefee**: the first transaction whose fee cap is below the base fee, and the ones after;
//! - **queued**: after a nonce gap or when the balance runs out.
//!
//! A sender's assignment is recomputed whenever its transactions, its account or the base fee
//! change, so a filled gap promotes the queued nonces, a base-fee rise parks and a fall
//! unparks. Same sender and nonce replaces only with fee cap and tip both ≥ 10% higher.
//! Limits (per sender, count and bytes per sub-pool) evict the last nonce of the cheapest sender,
//! external before local, so eviction never opens a gap.
//!
//! [`Pool::best_transactions_with_attributes`] yields pending transactions by effective tip at a
//! given base fee, each sender in nonce order; [`BestTransactions::mark_invalid`] drops the rest
//! of a sender. [`Pool::select_for_preconf`] takes the best transactions for the next block within
//! a gas budget, a compressed tx-list budget and a minimum tip — the in-process equivalent of
//! taiko-geth's `taikoAuth_txPoolContentWithMinTip`.
//!
//! Canonical changes come from the engine's ExEx notifications ([`Pool::on_notification`]):
//! mined transactions are pruned (their senders' later nonces stay), transactions of reverted
//! blocks that the new chain does not contain are re-injected, and the touched senders and the
//! base fee are refreshed. Local pending transactions survive restarts ([`Pool::save_local`],
//! [`Pool::load_local`]).

#![warn(missing_docs, unreachable_pub)]

mod best;
mod error;
mod inner;
pub mod validate;

pub use best::{BestTransactions, BestTransactionsAttributes};
pub use error::{AddOutcome, PoolError, QueuedReason};
pub use inner::{SubPool, SubPoolSize};
pub use validate::{AccountReader, PooledTransaction, SenderAccount, TransactionOrigin};

use alloy::{
    consensus::{
        TxEnvelope,
        transaction::{Recovered, SignerRecoverable},
    },
    eips::{Decodable2718, Encodable2718},
    primitives::{Address, B256},
};
use inner::Inner;
use parking_lot::RwLock;
use std::{collections::HashSet, path::Path, sync::Arc};
use taiko_node_exex::ExExNotification;
use tokio::sync::broadcast;
use tracing::{debug, info, warn};

/// Pool limits and rules.
#[derive(Debug, Clone)]
pub struct PoolConfig {
    /// Chain id transactions must carry.
    pub chain_id: u64,
    /// Block gas limit (no transaction may exceed it).
    pub block_gas_limit: u64,
    /// Largest encoded transaction.
    pub max_tx_size: usize,
    /// Lowest tip accepted.
    pub min_tip: u128,
    /// Replacement fee bump, percent.
    pub price_bump_percent: u8,
    /// Most transactions per sender.
    pub max_txs_per_sender: usize,
    /// Most transactions per sub-pool.
    pub max_count_per_subpool: usize,
    /// Most bytes per sub-pool.
    pub max_bytes_per_subpool: usize,
}

impl PoolConfig {
    /// reth's defaults for a chain: 16 per sender, 10,000 txs and 20 MB per sub-pool, 10% bump,
    /// 128 KiB per transaction, no minimum tip.
    pub fn for_chain(spec: &taiko_chainspec::ChainSpec) -> Self {
        Self {
            chain_id: spec.chain_id,
            block_gas_limit: spec.block_gas_limit(),
            max_tx_size: 128 * 1024,
            min_tip: 0,
            price_bump_percent: 10,
            max_txs_per_sender: 16,
            max_count_per_subpool: 10_000,
            max_bytes_per_subpool: 20 * 1024 * 1024,
        }
    }
}

/// Counts of the sub-pools.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolSize {
    /// Pending.
    pub pending: SubPoolSize,
    /// Parked below the base fee.
    pub basefee: SubPoolSize,
    /// Queued.
    pub queued: SubPoolSize,
}

/// The transaction pool. Cheap to clone; all clones share one pool.
pub struct Pool<R> {
    inner: Arc<RwLock<Inner>>,
    reader: Arc<R>,
    pending_tx: broadcast::Sender<B256>,
}

impl<R> Clone for Pool<R> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            reader: self.reader.clone(),
            pending_tx: self.pending_tx.clone(),
        }
    }
}

impl<R> std::fmt::Debug for Pool<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pool").field("size", &self.inner.read().sizes).finish()
    }
}

impl<R: AccountReader> Pool<R> {
    /// A pool reading sender accounts through `reader`, with the next block's `base_fee`.
    pub fn new(config: PoolConfig, reader: Arc<R>, base_fee: u64) -> Self {
        let (pending_tx, _) = broadcast::channel(16_384);
        Self { inner: Arc::new(RwLock::new(Inner::new(config, base_fee))), reader, pending_tx }
    }

    /// The configuration.
    pub fn config(&self) -> PoolConfig {
        self.inner.read().cfg.clone()
    }

    /// Validates and adds one transaction.
    pub fn add_transaction(
        &self,
        origin: TransactionOrigin,
        tx: Recovered<TxEnvelope>,
    ) -> Result<AddOutcome, PoolError> {
        let size = validate::stateless(&self.inner.read().cfg, &tx)?;
        let account = self.reader.sender_account(&tx.signer()).map_err(PoolError::State)?;
        let cost = validate::tx_cost(tx.inner());
        validate::stateful(&account, &tx, cost)?;
        let hash = *tx.tx_hash();
        let pooled = PooledTransaction { tx, hash, size, cost, origin, id: 0 };
        let (outcome, promoted) = self.inner.write().insert(pooled, account)?;
        for h in promoted {
            let _ = self.pending_tx.send(h);
        }
        debug!(target: "pool", %hash, ?outcome, "added");
        Ok(outcome)
    }

    /// Adds several transactions; one result each, in order.
    pub fn add_transactions(
        &self,
        origin: TransactionOrigin,
        txs: impl IntoIterator<Item = Recovered<TxEnvelope>>,
    ) -> Vec<Result<AddOutcome, PoolError>> {
        txs.into_iter().map(|tx| self.add_transaction(origin, tx)).collect()
    }

    /// Decodes raw EIP-2718 bytes, recovers the sender and adds the transaction
    /// (`eth_sendRawTransaction`).
    pub fn add_raw(&self, origin: TransactionOrigin, raw: &[u8]) -> Result<AddOutcome, PoolError> {
        let size = raw.len();
        let max = self.inner.read().cfg.max_tx_size;
        if size > max {
            return Err(PoolError::OversizedData { size, max });
        }
        let tx =
            TxEnvelope::decode_2718(&mut &raw[..]).map_err(|e| PoolError::Decode(e.to_string()))?;
        let sender = tx.recover_signer().map_err(|_| PoolError::InvalidSignature)?;
        self.add_transaction(origin, Recovered::new_unchecked(tx, sender))
    }

    /// A pooled transaction by hash.
    pub fn get(&self, hash: &B256) -> Option<Arc<PooledTransaction>> {
        self.inner.read().get(hash).map(|e| e.tx.clone())
    }

    /// The recovered senders of `hashes`, in order, under one read lock; `None` for a
    /// transaction the pool does not hold. Import uses it to skip recovering signatures the
    /// pool already recovered.
    pub fn senders_of<'a>(
        &self,
        hashes: impl IntoIterator<Item = &'a B256>,
    ) -> Vec<Option<Address>> {
        let inner = self.inner.read();
        hashes.into_iter().map(|h| inner.get(h).map(|e| e.tx.sender())).collect()
    }

    /// The sub-pool of a pooled transaction.
    pub fn sub_pool(&self, hash: &B256) -> Option<SubPool> {
        self.inner.read().get(hash).map(|e| e.sub)
    }

    /// Whether the pool holds `hash`.
    pub fn contains(&self, hash: &B256) -> bool {
        self.inner.read().by_hash.contains_key(hash)
    }

    /// Sizes of the sub-pools.
    pub fn size(&self) -> PoolSize {
        let inner = self.inner.read();
        PoolSize {
            pending: inner.size(SubPool::Pending),
            basefee: inner.size(SubPool::BaseFee),
            queued: inner.size(SubPool::Queued),
        }
    }

    /// The base fee the sub-pools are sorted against.
    pub fn base_fee(&self) -> u64 {
        self.inner.read().base_fee
    }

    /// All transactions of one sub-pool, by sender then nonce (`txpool_content`).
    pub fn transactions_in(&self, sub: SubPool) -> Vec<Arc<PooledTransaction>> {
        let inner = self.inner.read();
        let mut out: Vec<_> = inner
            .senders
            .values()
            .flat_map(|s| s.txs.values().filter(|e| e.sub == sub).map(|e| e.tx.clone()))
            .collect();
        out.sort_by_key(|t| (t.sender(), t.nonce()));
        out
    }

    /// All pending transactions.
    pub fn pending_transactions(&self) -> Vec<Arc<PooledTransaction>> {
        self.transactions_in(SubPool::Pending)
    }

    /// The next nonce `sender` would use counting its pending transactions.
    pub fn pending_nonce(&self, sender: &Address) -> Option<u64> {
        let inner = self.inner.read();
        let s = inner.senders.get(sender)?;
        let mut next = s.account.nonce;
        for (n, e) in &s.txs {
            if *n != next || e.sub != SubPool::Pending {
                break;
            }
            next += 1;
        }
        Some(next)
    }

    /// Best pending transactions at the pool's base fee.
    pub fn best_transactions(&self) -> BestTransactions {
        let basefee = self.base_fee();
        self.best_transactions_with_attributes(BestTransactionsAttributes { basefee })
    }

    /// Best pending transactions for a block with the given base fee.
    pub fn best_transactions_with_attributes(
        &self,
        attrs: BestTransactionsAttributes,
    ) -> BestTransactions {
        BestTransactions::new(self.inner.clone(), attrs)
    }

    /// New pending transaction hashes (also those promoted from queued).
    pub fn new_pending_transactions_listener(&self) -> broadcast::Receiver<B256> {
        self.pending_tx.subscribe()
    }

    /// Discards transactions (invalid ones): their senders' later nonces wait for the gap.
    pub fn remove_transactions(&self, hashes: &[B256]) -> Vec<Arc<PooledTransaction>> {
        let mut inner = self.inner.write();
        let mut removed = Vec::new();
        let mut senders = HashSet::new();
        for h in hashes {
            if let Some(tx) = inner.remove_by_hash(h) {
                senders.insert(tx.sender());
                removed.push(tx);
            }
        }
        for s in senders {
            inner.recompute(&s);
        }
        inner.enforce_limits();
        removed
    }

    /// Removes mined transactions; their senders' later nonces stay and (with the account
    /// refreshed) remain pending.
    pub fn prune_transactions(&self, hashes: &[B256]) -> Vec<Arc<PooledTransaction>> {
        let mut inner = self.inner.write();
        hashes.iter().filter_map(|h| inner.remove_by_hash(h)).collect()
    }

    /// Applies a canonical change: mined transactions out, reverted ones back in, the touched
    /// senders' accounts re-read, and the sub-pools re-sorted for the new base fee.
    pub fn on_canonical_state_change(&self, update: CanonicalStateUpdate) {
        let mut senders: HashSet<Address> = update.senders.iter().copied().collect();
        self.prune_transactions(&update.mined);
        for tx in update.reinjected {
            senders.insert(tx.signer());
            if let Err(e) = self.add_transaction(TransactionOrigin::External, tx) {
                debug!(target: "pool", error = %e, "re-injected transaction dropped");
            }
        }
        let accounts: Vec<(Address, SenderAccount)> = {
            let pooled: Vec<Address> = {
                let inner = self.inner.read();
                senders.into_iter().filter(|s| inner.senders.contains_key(s)).collect()
            };
            let read = self.reader.sender_accounts(&pooled);
            pooled.into_iter().zip(read).filter_map(|(s, a)| a.ok().map(|a| (s, a))).collect()
        };
        let mut inner = self.inner.write();
        let base_fee_changed = inner.base_fee != update.base_fee;
        inner.base_fee = update.base_fee;
        let mut promoted = Vec::new();
        for (s, account) in &accounts {
            if let Some(sender) = inner.senders.get_mut(s) {
                sender.account = *account;
            }
        }
        let to_recompute: Vec<Address> = if base_fee_changed {
            inner.senders.keys().copied().collect()
        } else {
            accounts.iter().map(|(s, _)| *s).collect()
        };
        for s in to_recompute {
            promoted.extend(inner.recompute(&s));
        }
        inner.enforce_limits();
        promoted.retain(|h| inner.by_hash.contains_key(h));
        drop(inner);
        for h in promoted {
            let _ = self.pending_tx.send(h);
        }
    }

    /// Turns an ExEx notification into a canonical update: mined = the new chain's
    /// transactions, re-injected = the old chain's transactions missing from the new one, base
    /// fee = the new tip's.
    pub fn on_notification(&self, n: &ExExNotification) {
        let mut update = CanonicalStateUpdate::default();
        // After a plain revert there is no new tip: the base fee stays.
        let tip_base_fee =
            n.committed_chain().and_then(|c| c.tip().block.header().base_fee_per_gas);
        if let Some(new) = n.committed_chain() {
            for b in new.blocks() {
                for (tx, sender) in b.block.transactions().iter().zip(&b.senders) {
                    update.mined.push(*tx.tx_hash());
                    update.senders.push(*sender);
                }
            }
        }
        if let Some(old) = n.reverted_chain() {
            let in_new: HashSet<B256> = update.mined.iter().copied().collect();
            for b in old.blocks() {
                // Skip the anchor (golden touch): it never enters the pool.
                for (tx, sender) in b.block.transactions().iter().zip(&b.senders).skip(1) {
                    update.senders.push(*sender);
                    if !in_new.contains(tx.tx_hash()) {
                        update.reinjected.push(Recovered::new_unchecked(tx.clone(), *sender));
                    }
                }
            }
        }
        update.base_fee = tip_base_fee.unwrap_or_else(|| self.base_fee());
        self.on_canonical_state_change(update);
    }

    /// Takes the best transactions for the next block: fee cap ≥ `base_fee`, tip ≥ `min_tip`,
    /// within `gas_budget` and a compressed tx-list size of `max_tx_list_bytes`, each sender's
    /// nonces in order.
    pub fn select_for_preconf(
        &self,
        base_fee: u64,
        gas_budget: u64,
        max_tx_list_bytes: usize,
        min_tip: u128,
    ) -> Vec<Recovered<TxEnvelope>> {
        let mut best = self
            .best_transactions_with_attributes(BestTransactionsAttributes { basefee: base_fee });
        let mut budget = taiko_evm::TxListBudget::new(max_tx_list_bytes);
        let mut gas_left = gas_budget;
        let mut out = Vec::new();
        while let Some(tx) = best.next_pooled() {
            let fits_gas = tx.gas_limit() <= gas_left;
            let tip_ok = tx.effective_tip(base_fee).is_some_and(|t| t >= min_tip);
            if !fits_gas || !tip_ok || !budget.try_add(tx.tx.inner()) {
                // Later nonces of this sender cannot go in without this one.
                best.mark_invalid(&tx);
                if gas_left < 21_000 || budget.exhausted() {
                    break;
                }
                continue;
            }
            gas_left -= tx.gas_limit();
            out.push(tx.tx.clone());
        }
        out
    }

    /// Writes the local pending and queued transactions to `path` (on clean shutdown).
    pub fn save_local(&self, path: &Path) -> std::io::Result<usize> {
        let inner = self.inner.read();
        let mut out = Vec::new();
        let mut n = 0;
        for s in inner.senders.values() {
            for e in s.txs.values().filter(|e| e.tx.origin == TransactionOrigin::Local) {
                let enc = e.tx.tx.inner().encoded_2718();
                out.extend_from_slice(&(enc.len() as u32).to_be_bytes());
                out.extend_from_slice(&enc);
                n += 1;
            }
        }
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, out)?;
        std::fs::rename(&tmp, path)?;
        info!(target: "pool", count = n, path = %path.display(), "saved local transactions");
        Ok(n)
    }

    /// Reloads and revalidates transactions saved by [`Self::save_local`]; returns how many
    /// were accepted. A missing file is not an error.
    pub fn load_local(&self, path: &Path) -> std::io::Result<usize> {
        let bytes = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
            Err(e) => return Err(e),
        };
        let mut rest = &bytes[..];
        let mut accepted = 0;
        while rest.len() >= 4 {
            let len = u32::from_be_bytes(rest[..4].try_into().expect("4 bytes")) as usize;
            if rest.len() < 4 + len {
                warn!(target: "pool", "truncated local transactions file");
                break;
            }
            match self.add_raw(TransactionOrigin::Local, &rest[4..4 + len]) {
                Ok(_) => accepted += 1,
                Err(e) => debug!(target: "pool", error = %e, "saved transaction no longer valid"),
            }
            rest = &rest[4 + len..];
        }
        info!(target: "pool", accepted, path = %path.display(), "reloaded local transactions");
        Ok(accepted)
    }

    /// Checks the internal invariants (for tests).
    #[cfg(any(test, debug_assertions))]
    pub fn check_invariants(&self) -> Result<(), String> {
        self.inner.read().check_invariants()
    }
}

/// A canonical-chain change as the pool sees it.
#[derive(Debug, Clone, Default)]
pub struct CanonicalStateUpdate {
    /// Base fee of the next block.
    pub base_fee: u64,
    /// Hashes of transactions now in the canonical chain.
    pub mined: Vec<B256>,
    /// Senders whose accounts may have changed.
    pub senders: Vec<Address>,
    /// Transactions of reverted blocks that the new chain does not contain.
    pub reinjected: Vec<Recovered<TxEnvelope>>,
}
