//! Persistent storage of the L2 chain: blocks, receipts, the transaction index, the flat state
//! (accounts, storage, code), per-block state reverts and the heads, in one [redb] file.
//!
//! # Design
//!
//! - **One atomic write per block.** [`Store::commit_block`] writes the header, body, senders,
//!   receipts, tx-index entries, the new account/storage/code values, the block's revert record
//!   and the new `latest` head in a single redb write transaction, committed durably. A kill at
//!   any point leaves either the previous block or this one, never a mix.
//! - **Flat state for reads.** Execution and RPC read accounts and slots from their tables
//!   through a [`StateProvider`], a redb read snapshot that implements revm's `DatabaseRef`.
//!   Readers never block the writer and always see one consistent block.
//! - **Incremental state root.** The Merkle-Patricia tries live in memory ([`StateTrie`]), built
//!   from the flat state when the store opens and checked against the head's state root. After
//!   that each block only re-hashes the paths it touched, so its cost grows with what it changes
//!   and not with the size of the state. Because the tries are derived, not stored, a crash can
//!   never leave them inconsistent with the tables.
//! - **Reverts for unwinding.** Every block stores the previous values of what it changed.
//!   [`Store::unwind_to`] applies them newest-first to the tables and the tries, within the
//!   configured revert window, restoring the exact earlier state root.
//!
//! The engine is the only writer; it applies a block to the tries speculatively
//! ([`Store::apply_to_trie`]), compares the root, then commits or undoes.

#![warn(missing_docs, unreachable_pub)]

mod changes;
mod primitives;
mod provider;
mod state_root;
pub mod trie;

pub use changes::{Account, StateChanges, StorageChanges};
pub use primitives::{Block, ExecutedBlock, SealedBlock};
pub use provider::StateProvider;
pub use state_root::{StateTrie, TrieUndo};

use alloy::{
    consensus::{Header, ReceiptEnvelope, TxEnvelope},
    eips::BlockNumHash,
    primitives::{Address, B256, U256, keccak256},
    rlp::{Decodable, Encodable},
};
use redb::{Database, Durability, ReadableTable, ReadableTableMetadata, TableDefinition};
use std::{
    path::Path,
    sync::{Arc, Mutex, MutexGuard},
};
use taiko_chainspec::ChainSpec;
use tracing::{debug, info};

const HEADERS: TableDefinition<u64, &[u8]> = TableDefinition::new("headers");
const CANONICAL: TableDefinition<u64, &[u8]> = TableDefinition::new("canonical_hashes");
const BODIES: TableDefinition<u64, &[u8]> = TableDefinition::new("bodies");
const SENDERS: TableDefinition<u64, &[u8]> = TableDefinition::new("senders");
const RECEIPTS: TableDefinition<u64, &[u8]> = TableDefinition::new("receipts");
const HASH_TO_NUMBER: TableDefinition<&[u8], u64> = TableDefinition::new("hash_to_number");
const TX_INDEX: TableDefinition<&[u8], &[u8]> = TableDefinition::new("tx_index");
const ACCOUNTS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("accounts");
const STORAGE: TableDefinition<&[u8], &[u8]> = TableDefinition::new("storage");
const CODE: TableDefinition<&[u8], &[u8]> = TableDefinition::new("code");
const REVERTS: TableDefinition<u64, &[u8]> = TableDefinition::new("reverts");
const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");

const META_LATEST: &str = "latest";
const META_SAFE: &str = "safe";
const META_FINALIZED: &str = "finalized";
const META_GENESIS: &str = "genesis_hash";

/// Errors of the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database failed.
    #[error("database: {0}")]
    Db(Box<redb::Error>),
    /// Stored bytes did not decode.
    #[error("corrupted record: {0}")]
    Corrupt(String),
    /// The data directory belongs to another chain.
    #[error("store was created for genesis {stored}, but the chain spec's genesis is {expected}")]
    GenesisMismatch {
        /// Genesis hash in the store.
        stored: B256,
        /// Genesis hash of the chain spec.
        expected: B256,
    },
    /// A committed block does not extend the current head.
    #[error("block {number} ({hash}) does not extend the head {head:?}")]
    NotChildOfHead {
        /// Number of the block.
        number: u64,
        /// Hash of the block.
        hash: B256,
        /// The current head.
        head: BlockNumHash,
    },
    /// The requested unwind goes past the revert window.
    #[error("cannot unwind to block {target}: reverts are kept back to block {oldest}")]
    UnwindBeyondWindow {
        /// Requested target.
        target: u64,
        /// Oldest block that can still be unwound to.
        oldest: u64,
    },
    /// The tries do not match a header's state root (corruption).
    #[error("state root mismatch at block {number}: header {expected}, computed {computed}")]
    StateRootMismatch {
        /// Block number.
        number: u64,
        /// Root in the header.
        expected: B256,
        /// Root computed from the flat state.
        computed: B256,
    },
    /// State at a block that is in the future or older than the revert window.
    #[error(
        "state at block {number} is not available: latest is {latest}, state is kept back to block {oldest}"
    )]
    StateUnavailable {
        /// Requested block.
        number: u64,
        /// The latest block.
        latest: u64,
        /// The oldest block whose state can be served.
        oldest: u64,
    },
    /// An account leaf in the trie did not decode.
    #[error(transparent)]
    Trie(#[from] state_root::CorruptLeaf),
}

impl revm::database_interface::DBErrorMarker for StoreError {}

macro_rules! db_err {
    ($($t:ty),*) => {$(
        impl From<$t> for StoreError {
            fn from(e: $t) -> Self {
                StoreError::Db(Box::new(e.into()))
            }
        }
    )*};
}
db_err!(
    redb::DatabaseError,
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError
);

/// Store options.
#[derive(Debug, Clone, Copy)]
pub struct StoreOptions {
    /// How many of the newest blocks keep their revert records (the deepest possible reorg).
    pub revert_window: u64,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self { revert_window: 1024 }
    }
}

/// The three heads of the chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Heads {
    /// The preconfirmed tip.
    pub latest: BlockNumHash,
    /// The newest block proposed on L1.
    pub safe: BlockNumHash,
    /// The newest block final on L1.
    pub finalized: BlockNumHash,
}

/// Where a transaction is in the chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TxLocation {
    /// Block number.
    pub block_number: u64,
    /// Index within the block.
    pub index: u32,
}

/// The chain store. Cheap to share behind an [`Arc`]; the engine is its only writer.
#[derive(Debug)]
pub struct Store {
    db: Database,
    spec: Arc<ChainSpec>,
    trie: Mutex<StateTrie>,
    options: StoreOptions,
}

fn slot_key(address: &Address, slot: &U256) -> [u8; 52] {
    let mut k = [0u8; 52];
    k[..20].copy_from_slice(address.as_slice());
    k[20..].copy_from_slice(&slot.to_be_bytes::<32>());
    k
}

fn corrupt(what: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(what.to_string())
}

fn decode<T: Decodable>(bytes: &[u8], what: &str) -> Result<T, StoreError> {
    T::decode(&mut &bytes[..]).map_err(|e| corrupt(format!("{what}: {e}")))
}

impl Store {
    /// Opens (or creates) the store at `path` for the chain `spec`.
    ///
    /// A new store is initialised with the genesis state. An existing store is checked to belong
    /// to the same genesis, its tries are rebuilt from the flat state and their root is checked
    /// against the head's header.
    pub fn open(
        path: impl AsRef<Path>,
        spec: Arc<ChainSpec>,
        options: StoreOptions,
    ) -> Result<Self, StoreError> {
        let db = Database::create(path.as_ref())?;
        let store = Self { db, spec, trie: Mutex::new(StateTrie::default()), options };
        store.init_genesis()?;
        store.rebuild_trie()?;
        let latest = store.latest_header()?;
        let computed = store.trie().root();
        if computed != latest.state_root {
            return Err(StoreError::StateRootMismatch {
                number: latest.number,
                expected: latest.state_root,
                computed,
            });
        }
        info!(target: "store", head = latest.number, root = %computed, "store opened");
        Ok(store)
    }

    /// The chain spec this store was opened with.
    pub fn chain_spec(&self) -> &Arc<ChainSpec> {
        &self.spec
    }

    fn trie(&self) -> MutexGuard<'_, StateTrie> {
        self.trie.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn init_genesis(&self) -> Result<(), StoreError> {
        let expected = self.spec.genesis_hash();
        {
            let r = self.db.begin_read()?;
            if let Ok(meta) = r.open_table(META)
                && let Some(g) = meta.get(META_GENESIS)?
            {
                let stored = B256::from_slice(g.value());
                return if stored == expected {
                    Ok(())
                } else {
                    Err(StoreError::GenesisMismatch { stored, expected })
                };
            }
        }
        let mut w = self.db.begin_write()?;
        w.set_durability(Durability::Immediate);
        {
            // Create every table so that readers never meet a missing one.
            w.open_table(HEADERS)?;
            w.open_table(BODIES)?;
            w.open_table(SENDERS)?;
            w.open_table(RECEIPTS)?;
            w.open_table(TX_INDEX)?;
            w.open_table(REVERTS)?;
            let mut accounts = w.open_table(ACCOUNTS)?;
            let mut storage = w.open_table(STORAGE)?;
            let mut code = w.open_table(CODE)?;
            for (addr, acc) in &self.spec.genesis.alloc {
                let code_hash = match &acc.code {
                    Some(c) if !c.is_empty() => {
                        let h = keccak256(c);
                        code.insert(h.as_slice(), c.as_ref())?;
                        h
                    }
                    _ => alloy::primitives::KECCAK256_EMPTY,
                };
                let a = Account { nonce: acc.nonce.unwrap_or(0), balance: acc.balance, code_hash };
                accounts.insert(addr.as_slice(), a.encode().as_slice())?;
                for (slot, value) in acc.storage.iter().flatten() {
                    if !value.is_zero() {
                        let k = slot_key(addr, &U256::from_be_bytes(slot.0));
                        storage.insert(k.as_slice(), value.as_slice())?;
                    }
                }
            }
            let header = self.spec.genesis_header();
            let hash = self.spec.genesis_hash();
            w.open_table(HEADERS)?.insert(0, alloy::rlp::encode(header).as_slice())?;
            w.open_table(CANONICAL)?.insert(0, hash.as_slice())?;
            w.open_table(HASH_TO_NUMBER)?.insert(hash.as_slice(), 0)?;
            let empty: Vec<TxEnvelope> = vec![];
            w.open_table(BODIES)?.insert(0, alloy::rlp::encode(&empty).as_slice())?;
            let empty_receipts: Vec<ReceiptEnvelope> = vec![];
            w.open_table(RECEIPTS)?.insert(0, alloy::rlp::encode(&empty_receipts).as_slice())?;
            w.open_table(SENDERS)?.insert(0, [].as_slice())?;
            let mut meta = w.open_table(META)?;
            meta.insert(META_GENESIS, hash.as_slice())?;
            for head in [META_LATEST, META_SAFE, META_FINALIZED] {
                meta.insert(head, 0u64.to_be_bytes().as_slice())?;
            }
        }
        w.commit()?;
        info!(target: "store", genesis = %self.spec.genesis_hash(), "initialised store with genesis");
        Ok(())
    }

    /// Rebuilds the in-memory tries from the flat state.
    fn rebuild_trie(&self) -> Result<(), StoreError> {
        let r = self.db.begin_read()?;
        let accounts = r.open_table(ACCOUNTS)?;
        let storage = r.open_table(STORAGE)?;
        let mut accs = Vec::with_capacity(accounts.len()? as usize);
        for entry in accounts.iter()? {
            let (k, v) = entry?;
            let acc = Account::decode(v.value()).ok_or_else(|| corrupt("account record"))?;
            accs.push((Address::from_slice(k.value()), acc));
        }
        let mut slots = Vec::with_capacity(storage.len()? as usize);
        for entry in storage.iter()? {
            let (k, v) = entry?;
            let k = k.value();
            slots.push((
                Address::from_slice(&k[..20]),
                U256::from_be_slice(&k[20..]),
                U256::from_be_slice(v.value()),
            ));
        }
        let started = std::time::Instant::now();
        let mut trie = StateTrie::from_state(accs, slots);
        let root = trie.root();
        debug!(target: "store", %root, elapsed = ?started.elapsed(), "rebuilt state trie");
        *self.trie() = trie;
        Ok(())
    }

    /// A read snapshot of the state at the current `latest` block.
    pub fn state(&self) -> Result<StateProvider, StoreError> {
        StateProvider::new(self.db.begin_read()?, None)
    }

    /// A read snapshot of the state after canonical block `number`, which must be within the
    /// revert window ([`StoreError::StateUnavailable`] otherwise).
    pub fn state_at(&self, number: u64) -> Result<StateProvider, StoreError> {
        StateProvider::new(self.db.begin_read()?, Some(number))
    }

    /// The heads.
    pub fn heads(&self) -> Result<Heads, StoreError> {
        let r = self.db.begin_read()?;
        let meta = r.open_table(META)?;
        let canonical = r.open_table(CANONICAL)?;
        let head = |key: &str| -> Result<BlockNumHash, StoreError> {
            let n = meta.get(key)?.ok_or_else(|| corrupt(format!("missing head {key}")))?;
            let n = u64::from_be_bytes(n.value().try_into().map_err(|_| corrupt("head"))?);
            let h = canonical.get(n)?.ok_or_else(|| corrupt(format!("no hash for head {n}")))?;
            Ok(BlockNumHash::new(n, B256::from_slice(h.value())))
        };
        Ok(Heads {
            latest: head(META_LATEST)?,
            safe: head(META_SAFE)?,
            finalized: head(META_FINALIZED)?,
        })
    }

    /// The header of the `latest` block.
    pub fn latest_header(&self) -> Result<Header, StoreError> {
        let latest = self.heads()?.latest;
        self.header_by_number(latest.number)?.ok_or_else(|| corrupt("missing latest header"))
    }

    /// Moves the `safe` and `finalized` heads (both must be canonical, `finalized ≤ safe`).
    pub fn set_safe_finalized(&self, safe: u64, finalized: u64) -> Result<(), StoreError> {
        let mut w = self.db.begin_write()?;
        w.set_durability(Durability::Immediate);
        {
            let mut meta = w.open_table(META)?;
            meta.insert(META_SAFE, safe.to_be_bytes().as_slice())?;
            meta.insert(META_FINALIZED, finalized.to_be_bytes().as_slice())?;
        }
        w.commit()?;
        Ok(())
    }

    /// A canonical header by number.
    pub fn header_by_number(&self, number: u64) -> Result<Option<Header>, StoreError> {
        let r = self.db.begin_read()?;
        let t = r.open_table(HEADERS)?;
        t.get(number)?.map(|v| decode(v.value(), "header")).transpose()
    }

    /// The canonical hash at `number`.
    pub fn canonical_hash(&self, number: u64) -> Result<Option<B256>, StoreError> {
        let r = self.db.begin_read()?;
        let t = r.open_table(CANONICAL)?;
        Ok(t.get(number)?.map(|v| B256::from_slice(v.value())))
    }

    /// The number of a canonical block by hash.
    pub fn block_number(&self, hash: B256) -> Result<Option<u64>, StoreError> {
        let r = self.db.begin_read()?;
        let t = r.open_table(HASH_TO_NUMBER)?;
        Ok(t.get(hash.as_slice())?.map(|v| v.value()))
    }

    /// A canonical block with its senders and receipts.
    pub fn block_by_number(&self, number: u64) -> Result<Option<ExecutedBlock>, StoreError> {
        let r = self.db.begin_read()?;
        let Some(header) = r.open_table(HEADERS)?.get(number)? else { return Ok(None) };
        let header: Header = decode(header.value(), "header")?;
        let body = r.open_table(BODIES)?.get(number)?.ok_or_else(|| corrupt("missing body"))?;
        let txs: Vec<TxEnvelope> = decode(body.value(), "body")?;
        let rc = r.open_table(RECEIPTS)?.get(number)?.ok_or_else(|| corrupt("missing receipts"))?;
        let receipts: Vec<ReceiptEnvelope> = decode(rc.value(), "receipts")?;
        let s = r.open_table(SENDERS)?.get(number)?.ok_or_else(|| corrupt("missing senders"))?;
        let senders = s.value().chunks_exact(20).map(Address::from_slice).collect();
        Ok(Some(ExecutedBlock { block: SealedBlock::from_parts(header, txs), senders, receipts }))
    }

    /// Where a transaction sits in the canonical chain.
    pub fn transaction_location(&self, hash: B256) -> Result<Option<TxLocation>, StoreError> {
        let r = self.db.begin_read()?;
        let t = r.open_table(TX_INDEX)?;
        let Some(v) = t.get(hash.as_slice())? else { return Ok(None) };
        let v = v.value();
        if v.len() != 12 {
            return Err(corrupt("tx index entry"));
        }
        Ok(Some(TxLocation {
            block_number: u64::from_be_bytes(v[..8].try_into().expect("8 bytes")),
            index: u32::from_be_bytes(v[8..].try_into().expect("4 bytes")),
        }))
    }

    /// Applies a block's changes to the tries and returns the new state root with the record
    /// that undoes them. Call [`Self::commit_block`] or [`Self::undo_trie`] next.
    pub fn apply_to_trie(&self, changes: &StateChanges) -> Result<(B256, TrieUndo), StoreError> {
        Ok(self.trie().apply(changes)?)
    }

    /// Undoes [`Self::apply_to_trie`].
    pub fn undo_trie(&self, undo: TrieUndo) {
        self.trie().undo(undo);
    }

    /// The state root of the tries as they are now.
    pub fn trie_root(&self) -> B256 {
        self.trie().root()
    }

    /// Persists a block that extends `latest`, with its state changes, in one atomic write, and
    /// makes it `latest`. The tries must already hold its changes (see [`Self::apply_to_trie`]).
    pub fn commit_block(
        &self,
        executed: &ExecutedBlock,
        changes: &StateChanges,
    ) -> Result<(), StoreError> {
        let block = &executed.block;
        let number = block.number();
        let head = self.heads()?.latest;
        if number != head.number + 1 || block.header().parent_hash != head.hash {
            return Err(StoreError::NotChildOfHead { number, hash: block.hash(), head });
        }
        let mut w = self.db.begin_write()?;
        w.set_durability(Durability::Immediate);
        {
            let revert = write_state(&w, changes)?;
            w.open_table(REVERTS)?.insert(number, revert.encode().as_slice())?;
            if number > self.options.revert_window {
                w.open_table(REVERTS)?.remove(number - self.options.revert_window)?;
            }
            let hash = block.hash();
            w.open_table(HEADERS)?.insert(number, alloy::rlp::encode(block.header()).as_slice())?;
            w.open_table(CANONICAL)?.insert(number, hash.as_slice())?;
            w.open_table(HASH_TO_NUMBER)?.insert(hash.as_slice(), number)?;
            let mut body = Vec::with_capacity(
                block.transactions().iter().map(|t| t.length()).sum::<usize>() + 8,
            );
            block.transactions().to_vec().encode(&mut body);
            w.open_table(BODIES)?.insert(number, body.as_slice())?;
            let senders: Vec<u8> = executed.senders.iter().flat_map(|s| s.0.0).collect();
            w.open_table(SENDERS)?.insert(number, senders.as_slice())?;
            w.open_table(RECEIPTS)?
                .insert(number, alloy::rlp::encode(&executed.receipts).as_slice())?;
            // Sorted keys touch each B-tree page once.
            let mut entries: Vec<([u8; 32], [u8; 12])> = block
                .transactions()
                .iter()
                .enumerate()
                .map(|(i, tx)| {
                    let mut loc = [0u8; 12];
                    loc[..8].copy_from_slice(&number.to_be_bytes());
                    loc[8..].copy_from_slice(&(i as u32).to_be_bytes());
                    (tx.tx_hash().0, loc)
                })
                .collect();
            entries.sort_unstable_by_key(|e| e.0);
            let mut index = w.open_table(TX_INDEX)?;
            for (hash, loc) in &entries {
                index.insert(hash.as_slice(), loc.as_slice())?;
            }
            w.open_table(META)?.insert(META_LATEST, number.to_be_bytes().as_slice())?;
        }
        w.commit()?;
        debug!(target: "store", number, hash = %block.hash(), txs = block.transactions().len(), "committed block");
        Ok(())
    }

    /// Unwinds the canonical chain to `target` (which stays), restoring the state as it was
    /// after `target`, and returns the removed blocks, oldest first. One atomic write.
    pub fn unwind_to(&self, target: u64) -> Result<Vec<ExecutedBlock>, StoreError> {
        let latest = self.heads()?.latest.number;
        if target >= latest {
            return Ok(vec![]);
        }
        let oldest = latest.saturating_sub(self.options.revert_window);
        if target < oldest {
            return Err(StoreError::UnwindBeyondWindow { target, oldest });
        }
        let mut removed = Vec::with_capacity((latest - target) as usize);
        for n in target + 1..=latest {
            removed.push(self.block_by_number(n)?.ok_or_else(|| corrupt("missing block"))?);
        }
        let expected = self.header_by_number(target)?.ok_or_else(|| corrupt("missing header"))?;
        let result = self.unwind_inner(target, latest, &removed, expected.state_root);
        if result.is_err() {
            // The tries may hold part of the unwind; the tables do not. Rebuild from them.
            self.rebuild_trie()?;
        }
        result?;
        info!(target: "store", from = latest, to = target, "unwound chain");
        Ok(removed)
    }

    fn unwind_inner(
        &self,
        target: u64,
        latest: u64,
        removed: &[ExecutedBlock],
        expected_root: B256,
    ) -> Result<(), StoreError> {
        let mut w = self.db.begin_write()?;
        w.set_durability(Durability::Immediate);
        {
            for n in (target + 1..=latest).rev() {
                let revert = {
                    let t = w.open_table(REVERTS)?;
                    let v =
                        t.get(n)?.ok_or(StoreError::UnwindBeyondWindow { target, oldest: n })?;
                    StateChanges::decode(v.value()).ok_or_else(|| corrupt("revert record"))?
                };
                write_state(&w, &revert)?;
                let (_, undo) = self.trie().apply(&revert)?;
                drop(undo);
                w.open_table(REVERTS)?.remove(n)?;
            }
            let mut index = w.open_table(TX_INDEX)?;
            let mut by_hash = w.open_table(HASH_TO_NUMBER)?;
            for b in removed {
                let n = b.block.number();
                for tx in b.block.transactions() {
                    index.remove(tx.tx_hash().as_slice())?;
                }
                by_hash.remove(b.block.hash().as_slice())?;
                w.open_table(HEADERS)?.remove(n)?;
                w.open_table(CANONICAL)?.remove(n)?;
                w.open_table(BODIES)?.remove(n)?;
                w.open_table(SENDERS)?.remove(n)?;
                w.open_table(RECEIPTS)?.remove(n)?;
            }
            let mut meta = w.open_table(META)?;
            meta.insert(META_LATEST, target.to_be_bytes().as_slice())?;
            for head in [META_SAFE, META_FINALIZED] {
                let cur = meta
                    .get(head)?
                    .map(|v| u64::from_be_bytes(v.value().try_into().unwrap_or_default()))
                    .unwrap_or(0);
                if cur > target {
                    meta.insert(head, target.to_be_bytes().as_slice())?;
                }
            }
        }
        let computed = self.trie().root();
        if computed != expected_root {
            return Err(StoreError::StateRootMismatch {
                number: target,
                expected: expected_root,
                computed,
            });
        }
        w.commit()?;
        Ok(())
    }
}

/// Writes new state values and returns the revert record (previous values).
fn write_state(
    w: &redb::WriteTransaction,
    changes: &StateChanges,
) -> Result<StateChanges, StoreError> {
    let mut accounts = w.open_table(ACCOUNTS)?;
    let mut storage = w.open_table(STORAGE)?;
    let mut code = w.open_table(CODE)?;
    let mut revert = StateChanges::default();
    for (addr, acc) in &changes.accounts {
        let old = match acc {
            Some(a) => accounts.insert(addr.as_slice(), a.encode().as_slice())?,
            None => accounts.remove(addr.as_slice())?,
        };
        let old = old
            .map(|v| Account::decode(v.value()).ok_or_else(|| corrupt("account record")))
            .transpose()?;
        revert.accounts.push((*addr, old));
    }
    for (addr, st) in &changes.storage {
        let mut old_slots = Vec::with_capacity(st.slots.len());
        let mut seen = std::collections::HashSet::new();
        if st.wiped {
            let mut lo = [0u8; 52];
            lo[..20].copy_from_slice(addr.as_slice());
            let mut hi = [0xffu8; 52];
            hi[..20].copy_from_slice(addr.as_slice());
            let existing: Vec<(Vec<u8>, U256)> = storage
                .range(lo.as_slice()..=hi.as_slice())?
                .map(|e| e.map(|(k, v)| (k.value().to_vec(), U256::from_be_slice(v.value()))))
                .collect::<Result<_, _>>()?;
            for (k, v) in existing {
                storage.remove(k.as_slice())?;
                let slot = U256::from_be_slice(&k[20..]);
                seen.insert(slot);
                old_slots.push((slot, v));
            }
        }
        for (slot, value) in &st.slots {
            let k = slot_key(addr, slot);
            let old = if value.is_zero() {
                storage.remove(k.as_slice())?
            } else {
                storage.insert(k.as_slice(), value.to_be_bytes::<32>().as_slice())?
            };
            let old = old.map(|v| U256::from_be_slice(v.value())).unwrap_or_default();
            if seen.insert(*slot) {
                old_slots.push((*slot, old));
            }
        }
        revert.storage.push((*addr, StorageChanges { wiped: false, slots: old_slots }));
    }
    for (hash, bytes) in &changes.contracts {
        code.insert(hash.as_slice(), bytes.as_ref())?;
    }
    revert.accounts.reverse();
    Ok(revert)
}
