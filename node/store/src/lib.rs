//! Persistent storage of the L2 chain: blocks, receipts, the transaction index, the flat state
//! (accounts, storage, code), per-block state reverts and the heads, in one [redb] file, with a
//! block log in front of it.
//!
//! # Design
//!
//! - **One sequential write per block.** [`Store::commit_block`] appends the whole block
//!   (header, body, senders, receipts and state changes) as one checksummed record to the block
//!   log; only then does the block become `latest`. A kill at any point leaves either the
//!   previous block or this one, never a mix: a torn record fails its checksum and is cut off
//!   when the store reopens. The record is synced to disk either before the block becomes
//!   `latest` or, by default, by the store's sync thread right after ([`CommitSync`]): a
//!   killed process loses nothing either way (the bytes are in the kernel), and a power loss
//!   at most the few blocks committed in the last milliseconds, which the node fetches again
//!   from its peers. This is reth's trade (its canonical chain runs ahead of its persistence),
//!   and it keeps the disk's flush — which on a shared machine can stall for tens of
//!   milliseconds behind other writers — off the path between a block arriving and it being
//!   `latest`. [`Store::wait_synced`] waits for the sync (the ExEx write-ahead log does,
//!   so that it never holds a block the store could lose).
//! - **Tables written behind the head.** The random writes into redb's B-trees (state values,
//!   revert records, bodies, receipts, the tx index) are what a block costs most to persist, and
//!   they grow with the size of the state. An applier thread writes them, batching whatever
//!   blocks are waiting into one redb transaction, and clears the log whenever every record in
//!   it is in the tables. Reopening replays the records the tables do not have yet. Until a
//!   block is applied it is served from memory: every read — state, headers, blocks, the tx
//!   index, heads — looks there first. [`StoreOptions::max_unapplied_blocks`] bounds how far
//!   the tables may fall behind; [`Store::flush`] waits for them. The applier starts a batch
//!   only once the chain has been quiet for [`StoreOptions::apply_after`] since the last commit
//!   (or [`APPLY_AT_ONCE`] blocks wait, or someone waits for the tables), so its B-tree work
//!   stays out of the gossip and imports that follow a commit.
//! - **Flat state for reads.** Execution and RPC read accounts and slots through a
//!   [`StateProvider`]: the not-yet-applied blocks' changes over a redb read snapshot, which
//!   implements revm's `DatabaseRef`. Readers never block the writer and always see one
//!   consistent block.
//! - **Incremental state root.** The Merkle-Patricia tries live in memory ([`StateTrie`]), built
//!   from the flat state when the store opens and checked against the head's state root. After
//!   that each block only re-hashes the paths it touched, so its cost grows with what it changes
//!   and not with the size of the state. Because the tries are derived, not stored, a crash can
//!   never leave them inconsistent with the tables.
//! - **Reverts for unwinding.** Every applied block stores the previous values of what it
//!   changed. [`Store::unwind_to`] first lets the applier catch up, then applies them
//!   newest-first to the tables and the tries, within the configured revert window, restoring
//!   the exact earlier state root.
//!
//! The engine is the only writer; it applies a block to the tries speculatively
//! ([`Store::apply_to_trie`]), compares the root, then commits or undoes.

#![warn(missing_docs, unreachable_pub)]

mod block_log;
mod changes;
pub mod codec;
mod mem;
mod primitives;
mod provider;
mod receipts;
mod state_root;
pub mod trie;

pub use changes::{Account, StateChanges, StorageChanges};
pub use mem::EncodedTxs;
pub use primitives::{Block, ExecutedBlock, SealedBlock};
pub use provider::StateProvider;
pub use state_root::{StateTrie, TrieUndo};

use alloy::{
    consensus::{Header, TxEnvelope},
    eips::BlockNumHash,
    primitives::{Address, B256, U256, keccak256},
    rlp::Decodable,
};
use block_log::BlockLog;
use mem::MemBlock;
use parking_lot::{Condvar, Mutex as PlMutex, RwLock};
use redb::{Database, Durability, ReadableTable, ReadableTableMetadata, TableDefinition};
use std::{
    collections::VecDeque,
    path::Path,
    sync::{Arc, Mutex, MutexGuard},
};
use taiko_chainspec::ChainSpec;
use tracing::{debug, error, info, trace, warn};

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
const META_SCHEMA: &str = "schema_version";

/// The layout of the tables this code reads and writes (2: receipts without blooms, block log).
const SCHEMA_VERSION: u64 = 2;

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
    /// The data directory was written by a version with another table layout.
    #[error(
        "store has schema version {found}, this version reads {expected}: remove the chain database and resync"
    )]
    SchemaMismatch {
        /// Version in the store.
        found: u64,
        /// Version this code reads.
        expected: u64,
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
    /// The block log could not be read or written.
    #[error("block log: {0}")]
    Log(std::io::Error),
    /// The applier cannot write committed blocks to the tables (they stay in the block log).
    #[error("writing committed blocks to the tables: {0}")]
    Applier(String),
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

/// How often the applier makes its table writes durable (one fsync covers every batch since the
/// last); the block log keeps the blocks until then.
const DURABLE_EVERY: std::time::Duration = std::time::Duration::from_millis(500);

/// Store options.
#[derive(Debug, Clone, Copy)]
pub struct StoreOptions {
    /// How many of the newest blocks keep their revert records (the deepest possible reorg).
    pub revert_window: u64,
    /// Most blocks that may be durable in the block log but not yet written to the tables;
    /// beyond it [`Store::commit_block`] waits until the applier has written them all (which
    /// bounds memory and lets the block log be emptied even under sustained load).
    pub max_unapplied_blocks: usize,
    /// How long the applier lets the chain be quiet after a commit before writing the waiting
    /// blocks to the tables (unless [`APPLY_AT_ONCE`] blocks wait, or someone waits for the
    /// tables). A commit is followed by work that other nodes' latency depends on — gossip,
    /// the next block's fragments, imports on nodes sharing the machine — and the table writes
    /// (tens of milliseconds of B-tree work per 2,000-transaction block) are not: the block is
    /// already durable in the block log and served from memory. Zero writes at once.
    pub apply_after: std::time::Duration,
    /// When a committed block's log record is synced to disk.
    pub commit_sync: CommitSync,
}

/// When [`Store::commit_block`] syncs the block's record in the block log to disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CommitSync {
    /// Before the block becomes `latest`: a commit that returned survives a power loss. The
    /// disk's flush (≈ 0.5–3 ms, with stalls of tens of milliseconds when other writers on the
    /// machine flush) is then part of every import's latency.
    BeforeLatest,
    /// On the store's sync thread, at once after the write: the block becomes `latest` as soon
    /// as its record is written (a killed process loses nothing; a power loss loses the
    /// blocks whose sync had not finished, a few milliseconds' worth, and the node reopens at
    /// the block before them — consistent, and fetched again from peers). A failed sync fails
    /// every later commit.
    #[default]
    Background,
}

/// Blocks waiting for the tables beyond which the applier writes without waiting for
/// [`StoreOptions::apply_after`]: a node importing back to back (catching up) writes in
/// batches of this size alongside its imports.
pub const APPLY_AT_ONCE: usize = 4;

impl Default for StoreOptions {
    fn default() -> Self {
        Self {
            revert_window: 1024,
            max_unapplied_blocks: 64,
            apply_after: std::time::Duration::from_millis(100),
            commit_sync: CommitSync::default(),
        }
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
    shared: Arc<Shared>,
    trie: Mutex<StateTrie>,
    applier: Option<std::thread::JoinHandle<()>>,
    syncer: Option<std::thread::JoinHandle<()>>,
}

/// What the store and its applier thread share.
#[derive(Debug)]
struct Shared {
    db: Database,
    spec: Arc<ChainSpec>,
    options: StoreOptions,
    /// Lock order: `log` before `mem`, `control` before `mem`; `mem` is never held while
    /// taking another.
    log: PlMutex<BlockLog>,
    mem: RwLock<Mem>,
    control: PlMutex<Control>,
    /// Signalled on every change of `mem` or `control`.
    changed: Condvar,
    /// Time the applier has spent writing to the tables, in nanoseconds.
    applier_nanos: std::sync::atomic::AtomicU64,
    /// The block log's sync thread's progress ([`CommitSync::Background`]).
    sync: PlMutex<LogSync>,
    /// Signalled on every change of `sync`.
    sync_changed: Condvar,
}

/// Records appended to the block log and synced, counted since the store opened.
#[derive(Debug, Default)]
struct LogSync {
    appended: u64,
    synced: u64,
    /// The sync that failed; every later commit fails with it.
    error: Option<String>,
    stop: bool,
}

impl LogSync {
    /// The error every commit and sync wait meets once a sync has failed.
    fn failed(&self) -> Option<StoreError> {
        let e = self.error.as_ref()?;
        Some(StoreError::Log(std::io::Error::other(format!("syncing the block log failed: {e}"))))
    }
}

/// The chain above the tables.
#[derive(Debug)]
struct Mem {
    /// Last block written to the tables.
    applied: u64,
    /// Blocks `applied + 1 ..= latest`, oldest first.
    blocks: VecDeque<Arc<MemBlock>>,
    heads: Heads,
    /// `safe`/`finalized` moved since the tables last recorded them.
    heads_dirty: bool,
    /// When the newest block was committed.
    last_commit: std::time::Instant,
}

impl Mem {
    fn block(&self, number: u64) -> Option<&Arc<MemBlock>> {
        let i = number.checked_sub(self.applied + 1)?;
        self.blocks.get(usize::try_from(i).ok()?)
    }
}

#[derive(Debug, Default)]
struct Control {
    stop: bool,
    /// Held by [`Store::pause_applier`] guards.
    paused: usize,
    /// The applier's last failure, cleared by its next success.
    error: Option<String>,
    /// Threads waiting for the applier ([`Shared::wait_for`]): it writes at once for them.
    waiters: usize,
}

fn slot_key(address: &Address, slot: &U256) -> [u8; 52] {
    let mut k = [0u8; 52];
    k[..20].copy_from_slice(address.as_slice());
    k[20..].copy_from_slice(&slot.to_be_bytes::<32>());
    k
}

/// The niceness of the applier thread: its table writes are background work (the block log
/// already made the block durable), so execution, RPC and gossip on the same cores go first.
/// It still runs whenever a core is idle, and backpressure bounds how far it may fall behind.
const APPLIER_NICE: i32 = 10;

/// Lowers the calling thread's scheduling priority to [`APPLIER_NICE`] (Linux: niceness is
/// per thread), for work that must not take a core from execution, RPC and gossip: the
/// applier's table writes, a finished build session's teardown. A failure only costs latency,
/// so it is logged, not returned.
pub fn background_priority() {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: gettid and setpriority take no pointers and only affect this thread.
        let r = unsafe {
            let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
            libc::setpriority(libc::PRIO_PROCESS, tid, APPLIER_NICE)
        };
        if r != 0 {
            tracing::debug!(target: "store", error = %std::io::Error::last_os_error(), "could not lower a thread's priority");
        }
    }
}

fn corrupt(what: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(what.to_string())
}

fn decode<T: Decodable>(bytes: &[u8], what: &str) -> Result<T, StoreError> {
    T::decode(&mut &bytes[..]).map_err(|e| corrupt(format!("{what}: {e}")))
}

fn read_u64(
    meta: &impl ReadableTable<&'static str, &'static [u8]>,
    key: &str,
) -> Result<u64, StoreError> {
    let v = meta.get(key)?.ok_or_else(|| corrupt(format!("missing head {key}")))?;
    Ok(u64::from_be_bytes(v.value().try_into().map_err(|_| corrupt("head"))?))
}

impl Store {
    /// Opens (or creates) the store at `path` for the chain `spec`; the block log lives beside
    /// it (`path` with `.blocklog` appended).
    ///
    /// A new store is initialised with the genesis state. An existing store is checked to belong
    /// to the same genesis, the block log's records the tables lack are applied, the tries are
    /// rebuilt from the flat state and their root is checked against the head's header.
    pub fn open(
        path: impl AsRef<Path>,
        spec: Arc<ChainSpec>,
        options: StoreOptions,
    ) -> Result<Self, StoreError> {
        let db = Database::create(path.as_ref())?;
        let mut log_path = path.as_ref().as_os_str().to_owned();
        log_path.push(".blocklog");
        let (log, records) = BlockLog::open(Path::new(&log_path)).map_err(StoreError::Log)?;
        let unknown = BlockNumHash::default();
        let shared = Arc::new(Shared {
            db,
            spec,
            options,
            log: PlMutex::new(log),
            mem: RwLock::new(Mem {
                applied: 0,
                blocks: VecDeque::new(),
                heads: Heads { latest: unknown, safe: unknown, finalized: unknown },
                heads_dirty: false,
                last_commit: std::time::Instant::now(),
            }),
            control: PlMutex::new(Control::default()),
            changed: Condvar::new(),
            applier_nanos: Default::default(),
            sync: PlMutex::new(LogSync::default()),
            sync_changed: Condvar::new(),
        });
        shared.init_genesis()?;
        let heads = shared.table_heads()?;
        {
            let mut mem = shared.mem.write();
            mem.applied = heads.latest.number;
            mem.heads = heads;
        }
        shared.replay(records)?;
        let mut store = Self {
            shared: shared.clone(),
            trie: Mutex::new(StateTrie::default()),
            applier: None,
            syncer: None,
        };
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
        if options.commit_sync == CommitSync::Background {
            let file = shared.log.lock().sync_handle().map_err(StoreError::Log)?;
            let syncer = shared.clone();
            store.syncer = Some(
                std::thread::Builder::new()
                    .name("store-log-sync".into())
                    .spawn(move || syncer.run_syncer(file))
                    .map_err(StoreError::Log)?,
            );
        }
        let applier = std::thread::Builder::new()
            .name("store-applier".into())
            .spawn(move || {
                background_priority();
                shared.run_applier()
            })
            .map_err(StoreError::Log)?;
        info!(target: "store", head = latest.number, root = %computed, commit_sync = ?options.commit_sync, "store opened");
        store.applier = Some(applier);
        Ok(store)
    }

    /// The chain spec this store was opened with.
    pub fn chain_spec(&self) -> &Arc<ChainSpec> {
        &self.shared.spec
    }

    fn trie(&self) -> MutexGuard<'_, StateTrie> {
        self.trie.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Rebuilds the in-memory tries from the flat state (every block applied).
    fn rebuild_trie(&self) -> Result<(), StoreError> {
        let r = self.shared.db.begin_read()?;
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
        self.snapshot(None)
    }

    /// A read snapshot of the state after canonical block `number`, which must be within the
    /// revert window ([`StoreError::StateUnavailable`] otherwise).
    pub fn state_at(&self, number: u64) -> Result<StateProvider, StoreError> {
        self.snapshot(Some(number))
    }

    fn snapshot(&self, at: Option<u64>) -> Result<StateProvider, StoreError> {
        // The read transaction is begun while the chain above the tables cannot shrink, so it
        // covers at least every block the copied list lacks.
        let mem = self.shared.mem.read();
        let txn = self.shared.db.begin_read()?;
        let blocks: Vec<Arc<MemBlock>> = mem.blocks.iter().cloned().collect();
        let latest = mem.heads.latest.number;
        drop(mem);
        StateProvider::new(txn, at, latest, self.shared.options.revert_window, blocks)
    }

    /// The heads.
    pub fn heads(&self) -> Result<Heads, StoreError> {
        Ok(self.shared.mem.read().heads)
    }

    /// The header of the `latest` block.
    pub fn latest_header(&self) -> Result<Header, StoreError> {
        let latest = self.heads()?.latest;
        self.header_by_number(latest.number)?.ok_or_else(|| corrupt("missing latest header"))
    }

    /// Moves the `safe` and `finalized` heads (both must be canonical, `finalized ≤ safe`).
    /// The tables record them with the applier's next write.
    pub fn set_safe_finalized(&self, safe: u64, finalized: u64) -> Result<(), StoreError> {
        let hash = |n: u64| -> Result<BlockNumHash, StoreError> {
            let h =
                self.canonical_hash(n)?.ok_or_else(|| corrupt(format!("no hash for head {n}")))?;
            Ok(BlockNumHash::new(n, h))
        };
        let (safe, finalized) = (hash(safe)?, hash(finalized)?);
        {
            let mut mem = self.shared.mem.write();
            mem.heads.safe = safe;
            mem.heads.finalized = finalized;
            mem.heads_dirty = true;
        }
        self.shared.notify();
        Ok(())
    }

    /// A canonical header by number.
    pub fn header_by_number(&self, number: u64) -> Result<Option<Header>, StoreError> {
        if let Some(b) = self.shared.mem.read().block(number) {
            return Ok(Some(b.executed.block.header().clone()));
        }
        let r = self.shared.db.begin_read()?;
        let t = r.open_table(HEADERS)?;
        t.get(number)?.map(|v| decode(v.value(), "header")).transpose()
    }

    /// The canonical hash at `number`.
    pub fn canonical_hash(&self, number: u64) -> Result<Option<B256>, StoreError> {
        if let Some(b) = self.shared.mem.read().block(number) {
            return Ok(Some(b.hash()));
        }
        let r = self.shared.db.begin_read()?;
        let t = r.open_table(CANONICAL)?;
        Ok(t.get(number)?.map(|v| B256::from_slice(v.value())))
    }

    /// The number of a canonical block by hash.
    pub fn block_number(&self, hash: B256) -> Result<Option<u64>, StoreError> {
        if let Some(b) = self.shared.mem.read().blocks.iter().find(|b| b.hash() == hash) {
            return Ok(Some(b.number()));
        }
        let r = self.shared.db.begin_read()?;
        let t = r.open_table(HASH_TO_NUMBER)?;
        Ok(t.get(hash.as_slice())?.map(|v| v.value()))
    }

    /// A canonical block with its senders and receipts.
    pub fn block_by_number(&self, number: u64) -> Result<Option<ExecutedBlock>, StoreError> {
        if let Some(b) = self.shared.mem.read().block(number) {
            return Ok(Some(ExecutedBlock::clone(&b.executed)));
        }
        let r = self.shared.db.begin_read()?;
        let Some(header) = r.open_table(HEADERS)?.get(number)? else { return Ok(None) };
        let header: Header = decode(header.value(), "header")?;
        let body = r.open_table(BODIES)?.get(number)?.ok_or_else(|| corrupt("missing body"))?;
        let txs: Vec<TxEnvelope> = decode(body.value(), "body")?;
        let rc = r.open_table(RECEIPTS)?.get(number)?.ok_or_else(|| corrupt("missing receipts"))?;
        let receipts = receipts::decode(rc.value())?;
        let s = r.open_table(SENDERS)?.get(number)?.ok_or_else(|| corrupt("missing senders"))?;
        let senders = s.value().chunks_exact(20).map(Address::from_slice).collect();
        Ok(Some(ExecutedBlock { block: SealedBlock::from_parts(header, txs), senders, receipts }))
    }

    /// The transaction at `index` in canonical block `number`, without reading (or cloning)
    /// the rest of the block: a preconfer reads its parent's anchor this way at every tick.
    pub fn transaction_by_index(
        &self,
        number: u64,
        index: usize,
    ) -> Result<Option<TxEnvelope>, StoreError> {
        if let Some(b) = self.shared.mem.read().block(number) {
            return Ok(b.executed.block.transactions().get(index).cloned());
        }
        let r = self.shared.db.begin_read()?;
        let Some(body) = r.open_table(BODIES)?.get(number)? else { return Ok(None) };
        let body = body.value();
        let mut list = body;
        let header = alloy::rlp::Header::decode(&mut list).map_err(|_| corrupt("body"))?;
        if !header.list || header.payload_length != list.len() {
            return Err(corrupt("body"));
        }
        for _ in 0..index {
            let mut item = list;
            let h = alloy::rlp::Header::decode(&mut item).map_err(|_| corrupt("body"))?;
            if h.payload_length > item.len() {
                return Err(corrupt("body"));
            }
            list = &item[h.payload_length..];
            if list.is_empty() {
                return Ok(None);
            }
        }
        if list.is_empty() {
            return Ok(None);
        }
        let tx = <TxEnvelope as alloy::rlp::Decodable>::decode(&mut list)
            .map_err(|_| corrupt("body"))?;
        Ok(Some(tx))
    }

    /// Where a transaction sits in the canonical chain.
    pub fn transaction_location(&self, hash: B256) -> Result<Option<TxLocation>, StoreError> {
        for b in self.shared.mem.read().blocks.iter().rev() {
            if let Some(index) = b.tx_position(&hash) {
                return Ok(Some(TxLocation { block_number: b.number(), index }));
            }
        }
        let r = self.shared.db.begin_read()?;
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

    /// Makes a block that extends `latest` persistent (one append to the block log, synced as
    /// [`StoreOptions::commit_sync`] says) and makes it `latest`; the applier writes it to the
    /// tables afterwards. The tries must already hold its changes (see
    /// [`Self::apply_to_trie`]).
    ///
    /// When [`StoreOptions::max_unapplied_blocks`] blocks are already waiting for the applier,
    /// waits first until it has written them all.
    pub fn commit_block(
        &self,
        executed: &ExecutedBlock,
        changes: &StateChanges,
    ) -> Result<(), StoreError> {
        self.commit_shared(Arc::new(executed.clone()), changes.clone(), None)
    }

    /// [`Self::commit_block`] of a block the caller shares (the engine hands the same block to
    /// the ExEx notification) and of its changes, which the store keeps: nothing is copied.
    /// `encoded` are the transactions' encodings when the builder kept them (a build session
    /// does), so they are not encoded again here.
    pub fn commit_shared(
        &self,
        executed: Arc<ExecutedBlock>,
        changes: StateChanges,
        encoded: Option<EncodedTxs>,
    ) -> Result<(), StoreError> {
        let block = &executed.block;
        let number = block.number();
        let head = self.heads()?.latest;
        if number != head.number + 1 || block.header().parent_hash != head.hash {
            return Err(StoreError::NotChildOfHead { number, hash: block.hash(), head });
        }
        if self.unapplied_blocks() >= self.shared.options.max_unapplied_blocks {
            // Let the applier drain completely, so that the log is emptied even under load.
            self.shared.wait_for(|mem| mem.blocks.is_empty())?;
        }
        if let Some(e) = self.shared.sync.lock().failed() {
            return Err(e);
        }
        let started = std::time::Instant::now();
        let mem_block = Arc::new(MemBlock::new(executed.clone(), changes, encoded));
        let record = mem_block.record();
        let encoded = started.elapsed();
        let background = self.shared.options.commit_sync == CommitSync::Background;
        {
            let mut log = self.shared.log.lock();
            log.append(&record, !background).map_err(StoreError::Log)?;
            let mut mem = self.shared.mem.write();
            mem.blocks.push_back(mem_block);
            mem.heads.latest = block.num_hash();
            mem.last_commit = std::time::Instant::now();
            drop(mem);
            let mut sync = self.shared.sync.lock();
            sync.appended += 1;
            if !background {
                sync.synced = sync.appended;
            }
        }
        self.shared.sync_changed.notify_all();
        self.shared.notify();
        debug!(target: "store", number, hash = %block.hash(), txs = block.transactions().len(), bytes = record.len(), encode_ms = encoded.as_secs_f64() * 1e3, ms = started.elapsed().as_secs_f64() * 1e3, "committed block");
        Ok(())
    }

    /// Waits until every block committed so far is synced to disk in the block log (at once
    /// with [`CommitSync::BeforeLatest`]). Fails if a sync failed.
    pub fn wait_synced(&self) -> Result<(), StoreError> {
        let mut sync = self.shared.sync.lock();
        let target = sync.appended;
        loop {
            if let Some(e) = sync.failed() {
                return Err(e);
            }
            if sync.synced >= target {
                return Ok(());
            }
            if sync.stop {
                return Err(StoreError::Applier("the store is closing".into()));
            }
            self.shared.sync_changed.wait(&mut sync);
        }
    }

    /// Waits until every committed block is written to the tables, durably, and empties the
    /// block log. Fails with the applier's error if it cannot write them.
    pub fn flush(&self) -> Result<(), StoreError> {
        self.shared.wait_for(|mem| mem.blocks.is_empty() && !mem.heads_dirty)?;
        self.shared.sync_and_clear()
    }

    /// Total time the applier thread has spent writing blocks to the tables.
    pub fn applier_busy(&self) -> std::time::Duration {
        std::time::Duration::from_nanos(
            self.shared.applier_nanos.load(std::sync::atomic::Ordering::Relaxed),
        )
    }

    /// Stops the applier from writing to the tables until the guard is dropped, so that
    /// committed blocks stay in memory (and in the block log). For tests of the read paths and
    /// of replay; [`Self::flush`] and commits beyond [`StoreOptions::max_unapplied_blocks`] wait
    /// while it is held.
    pub fn pause_applier(&self) -> ApplierPause<'_> {
        self.shared.control.lock().paused += 1;
        ApplierPause { store: self }
    }

    /// Committed blocks not yet written to the tables.
    pub fn unapplied_blocks(&self) -> usize {
        self.shared.mem.read().blocks.len()
    }

    /// Unwinds the canonical chain to `target` (which stays), restoring the state as it was
    /// after `target`, and returns the removed blocks, oldest first. One atomic write, after
    /// the applier has caught up.
    pub fn unwind_to(&self, target: u64) -> Result<Vec<ExecutedBlock>, StoreError> {
        let latest = self.heads()?.latest.number;
        if target >= latest {
            return Ok(vec![]);
        }
        let oldest = latest.saturating_sub(self.shared.options.revert_window);
        if target < oldest {
            return Err(StoreError::UnwindBeyondWindow { target, oldest });
        }
        self.flush()?;
        // Every record is applied durably; none may be replayed over the shorter chain.
        self.shared.log.lock().clear().map_err(StoreError::Log)?;
        let mut removed = Vec::with_capacity((latest - target) as usize);
        for n in target + 1..=latest {
            removed.push(self.block_by_number(n)?.ok_or_else(|| corrupt("missing block"))?);
        }
        let expected = self.header_by_number(target)?.ok_or_else(|| corrupt("missing header"))?;
        // Readers must not pair the old heads with the unwound tables.
        let mut mem = self.shared.mem.write();
        let result = self.unwind_inner(target, latest, &removed, expected.state_root);
        if result.is_err() {
            // The tries may hold part of the unwind; the tables do not. Rebuild from them.
            self.rebuild_trie()?;
        }
        result?;
        let heads = self.shared.table_heads()?;
        mem.applied = heads.latest.number;
        mem.heads = heads;
        drop(mem);
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
        let mut w = self.shared.db.begin_write()?;
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
                if read_u64(&meta, head)? > target {
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

/// Keeps the applier paused while alive (see [`Store::pause_applier`]).
#[derive(Debug)]
#[must_use = "the applier resumes when the guard is dropped"]
pub struct ApplierPause<'a> {
    store: &'a Store,
}

impl Drop for ApplierPause<'_> {
    fn drop(&mut self) {
        self.store.shared.control.lock().paused -= 1;
        self.store.shared.changed.notify_all();
    }
}

impl Drop for Store {
    /// Lets the applier write every committed block, then stops it.
    fn drop(&mut self) {
        self.shared.control.lock().stop = true;
        self.shared.changed.notify_all();
        if let Some(applier) = self.applier.take() {
            let _ = applier.join();
        }
        self.shared.sync.lock().stop = true;
        self.shared.sync_changed.notify_all();
        if let Some(syncer) = self.syncer.take() {
            let _ = syncer.join();
        }
    }
}

impl Shared {
    fn init_genesis(&self) -> Result<(), StoreError> {
        let expected = self.spec.genesis_hash();
        {
            let r = self.db.begin_read()?;
            if let Ok(meta) = r.open_table(META)
                && let Some(g) = meta.get(META_GENESIS)?
            {
                let stored = B256::from_slice(g.value());
                if stored != expected {
                    return Err(StoreError::GenesisMismatch { stored, expected });
                }
                let found = meta
                    .get(META_SCHEMA)?
                    .and_then(|v| v.value().try_into().ok().map(u64::from_be_bytes))
                    .unwrap_or(1);
                if found != SCHEMA_VERSION {
                    return Err(StoreError::SchemaMismatch { found, expected: SCHEMA_VERSION });
                }
                return Ok(());
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
            w.open_table(RECEIPTS)?.insert(0, receipts::encode(&[]).as_slice())?;
            w.open_table(SENDERS)?.insert(0, [].as_slice())?;
            let mut meta = w.open_table(META)?;
            meta.insert(META_GENESIS, hash.as_slice())?;
            meta.insert(META_SCHEMA, SCHEMA_VERSION.to_be_bytes().as_slice())?;
            for head in [META_LATEST, META_SAFE, META_FINALIZED] {
                meta.insert(head, 0u64.to_be_bytes().as_slice())?;
            }
        }
        w.commit()?;
        info!(target: "store", genesis = %self.spec.genesis_hash(), "initialised store with genesis");
        Ok(())
    }

    /// The heads as the tables record them.
    fn table_heads(&self) -> Result<Heads, StoreError> {
        let r = self.db.begin_read()?;
        let meta = r.open_table(META)?;
        let canonical = r.open_table(CANONICAL)?;
        let head = |key: &str| -> Result<BlockNumHash, StoreError> {
            let n = read_u64(&meta, key)?;
            let h = canonical.get(n)?.ok_or_else(|| corrupt(format!("no hash for head {n}")))?;
            Ok(BlockNumHash::new(n, B256::from_slice(h.value())))
        };
        Ok(Heads {
            latest: head(META_LATEST)?,
            safe: head(META_SAFE)?,
            finalized: head(META_FINALIZED)?,
        })
    }

    /// Applies the block log's records that extend the tables' head, then empties the log.
    fn replay(&self, records: Vec<Vec<u8>>) -> Result<(), StoreError> {
        let mut head = self.mem.read().heads.latest;
        let mut blocks = Vec::new();
        for record in &records {
            let block = MemBlock::from_record(record)?;
            if block.number() <= head.number {
                continue; // applied before the crash, the log not yet cleared
            }
            if block.number() != head.number + 1
                || block.executed.block.header().parent_hash != head.hash
            {
                warn!(target: "store", number = block.number(), head = head.number, "block log record does not extend the chain; ignoring it and the rest");
                break;
            }
            head = BlockNumHash::new(block.number(), block.hash());
            blocks.push(Arc::new(block));
        }
        if !blocks.is_empty() {
            let heads = self.mem.read().heads;
            self.apply(&blocks, heads, true)?;
            let mut mem = self.mem.write();
            mem.applied = head.number;
            mem.heads.latest = head;
            info!(target: "store", blocks = blocks.len(), head = head.number, "replayed the block log");
        }
        self.log.lock().clear().map_err(StoreError::Log)
    }

    /// The block log's sync thread ([`CommitSync::Background`]): syncs the log whenever
    /// records were appended since its last sync (one sync covers every record written before
    /// it), until the store is dropped and everything is synced. It runs at normal priority:
    /// it mostly waits for the disk, and the shorter its queue, the less a power loss takes.
    fn run_syncer(&self, file: std::fs::File) {
        loop {
            let target = {
                let mut sync = self.sync.lock();
                while sync.synced >= sync.appended && !sync.stop {
                    self.sync_changed.wait(&mut sync);
                }
                if sync.synced >= sync.appended {
                    return;
                }
                sync.appended
            };
            let started = std::time::Instant::now();
            let result = file.sync_data();
            let mut sync = self.sync.lock();
            match result {
                Ok(()) => {
                    trace!(target: "store::sync", records = target - sync.synced, ms = started.elapsed().as_secs_f64() * 1e3, "block log synced");
                    sync.synced = target;
                }
                Err(e) => {
                    error!(target: "store::sync", error = %e, "syncing the block log failed; no further block can be committed");
                    sync.error = Some(e.to_string());
                    drop(sync);
                    self.sync_changed.notify_all();
                    return;
                }
            }
            drop(sync);
            self.sync_changed.notify_all();
        }
    }

    /// Wakes every waiter. The `control` lock is taken first, so that a waiter that has just
    /// checked its condition under it is already waiting and gets the wake-up.
    fn notify(&self) {
        let _control = self.control.lock();
        self.changed.notify_all();
    }

    /// Waits until `ready` holds for the chain above the tables, or the applier fails.
    fn wait_for(&self, ready: impl Fn(&Mem) -> bool) -> Result<(), StoreError> {
        let mut control = self.control.lock();
        if ready(&self.mem.read()) {
            return Ok(());
        }
        // the applier skips its quiet period while anyone waits
        control.waiters += 1;
        self.changed.notify_all();
        let result = loop {
            if ready(&self.mem.read()) {
                break Ok(());
            }
            if let Some(e) = &control.error {
                break Err(StoreError::Applier(e.clone()));
            }
            if control.stop {
                break Err(StoreError::Applier("the store is closing".into()));
            }
            self.changed.wait(&mut control);
        };
        control.waiters -= 1;
        result
    }

    /// The applier thread: writes waiting blocks (and moved heads) to the tables, in batches,
    /// until the store is dropped and nothing is left.
    fn run_applier(&self) {
        let mut last_durable = std::time::Instant::now();
        // Whether a non-durable commit is not yet followed by a durable one.
        let mut unsynced = false;
        loop {
            // Read under `control`: a pause taken before a commit keeps that block out, and a
            // commit's wake-up (sent under `control`) cannot fall between the read and the wait.
            let mut control = self.control.lock();
            if control.paused > 0 && !control.stop {
                self.changed.wait(&mut control);
                continue;
            }
            let (batch, heads, dirty, quiet) = {
                let mem = self.mem.read();
                let batch = mem.blocks.iter().cloned().collect::<Vec<_>>();
                (batch, mem.heads, mem.heads_dirty, mem.last_commit.elapsed())
            };
            if !batch.is_empty()
                && batch.len() < APPLY_AT_ONCE
                && quiet < self.options.apply_after
                && !control.stop
                && control.waiters == 0
            {
                // a commit meanwhile wakes us early, and the wait starts over
                self.changed.wait_for(&mut control, self.options.apply_after - quiet);
                continue;
            }
            if batch.is_empty() && !dirty {
                if unsynced && (control.stop || last_durable.elapsed() >= DURABLE_EVERY) {
                    drop(control);
                    match self.sync_and_clear() {
                        Ok(()) => {
                            unsynced = false;
                            last_durable = std::time::Instant::now();
                        }
                        Err(e) => warn!(target: "store", error = %e, "could not sync the tables"),
                    }
                    continue;
                }
                if control.stop {
                    return;
                }
                if unsynced {
                    let left = DURABLE_EVERY.saturating_sub(last_durable.elapsed());
                    self.changed.wait_for(&mut control, left);
                } else {
                    self.changed.wait(&mut control);
                }
                continue;
            }
            drop(control);
            let started = std::time::Instant::now();
            let durable = last_durable.elapsed() >= DURABLE_EVERY;
            if let Err(e) = self.apply(&batch, heads, durable) {
                error!(target: "store", error = %e, blocks = batch.len(), "writing blocks to the tables failed; retrying");
                let mut control = self.control.lock();
                control.error = Some(e.to_string());
                self.changed.notify_all();
                if control.stop {
                    return;
                }
                self.changed.wait_for(&mut control, std::time::Duration::from_secs(1));
                continue;
            }
            if durable {
                last_durable = std::time::Instant::now();
            }
            unsynced = !durable;
            {
                let mut log = self.log.lock();
                let mut mem = self.mem.write();
                if let Some(last) = batch.last() {
                    while mem.blocks.front().is_some_and(|b| b.number() <= last.number()) {
                        mem.blocks.pop_front();
                    }
                    mem.applied = last.number();
                }
                if mem.heads.safe == heads.safe && mem.heads.finalized == heads.finalized {
                    mem.heads_dirty = false;
                }
                let caught_up = mem.blocks.is_empty();
                drop(mem);
                if caught_up && durable {
                    self.clear_log(&mut log);
                }
            }
            self.applier_nanos.fetch_add(
                started.elapsed().as_nanos() as u64,
                std::sync::atomic::Ordering::Relaxed,
            );
            self.control.lock().error = None;
            self.changed.notify_all();
            debug!(target: "store", blocks = batch.len(), ms = started.elapsed().as_secs_f64() * 1e3, "applied blocks to the tables");
        }
    }

    fn clear_log(&self, log: &mut BlockLog) {
        if let Err(e) = log.clear() {
            // Harmless: applied records are skipped when replayed.
            warn!(target: "store", error = %e, "could not clear the block log");
        }
    }

    /// Makes every earlier non-durable commit durable, then empties the block log unless a
    /// block was committed meanwhile.
    fn sync_and_clear(&self) -> Result<(), StoreError> {
        let mut w = self.db.begin_write()?;
        w.set_durability(Durability::Immediate);
        w.commit()?;
        let mut log = self.log.lock();
        if self.mem.read().blocks.is_empty() {
            self.clear_log(&mut log);
        }
        Ok(())
    }

    /// Writes `blocks` (consecutive, extending the tables' head) and the heads in one
    /// transaction; a durable one syncs it (and every earlier one) to disk. The block log keeps
    /// every block until a durable commit holds it, so a non-durable one lost in a crash is
    /// replayed.
    fn apply(
        &self,
        blocks: &[Arc<MemBlock>],
        heads: Heads,
        durable: bool,
    ) -> Result<(), StoreError> {
        let mut w = self.db.begin_write()?;
        w.set_durability(if durable { Durability::Immediate } else { Durability::None });
        {
            let mut reverts = w.open_table(REVERTS)?;
            let mut headers = w.open_table(HEADERS)?;
            let mut canonical = w.open_table(CANONICAL)?;
            let mut by_hash = w.open_table(HASH_TO_NUMBER)?;
            let mut bodies = w.open_table(BODIES)?;
            let mut senders = w.open_table(SENDERS)?;
            let mut receipts = w.open_table(RECEIPTS)?;
            let mut index = w.open_table(TX_INDEX)?;
            let mut meta = w.open_table(META)?;
            let mut latest = read_u64(&meta, META_LATEST)?;
            for b in blocks {
                let number = b.number();
                if number != latest + 1 {
                    return Err(corrupt(format!("block {number} applied on top of {latest}")));
                }
                let revert = write_state(&w, &b.changes)?;
                reverts.insert(number, revert.encode().as_slice())?;
                if number > self.options.revert_window {
                    reverts.remove(number - self.options.revert_window)?;
                }
                let hash = b.hash();
                headers.insert(number, b.header_rlp.as_slice())?;
                canonical.insert(number, hash.as_slice())?;
                by_hash.insert(hash.as_slice(), number)?;
                bodies.insert(number, b.body_rlp.as_slice())?;
                senders.insert(number, b.senders.as_slice())?;
                receipts.insert(number, b.receipts.as_slice())?;
                // Sorted keys touch each B-tree page once.
                let mut entries: Vec<([u8; 32], [u8; 12])> = b
                    .executed
                    .block
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
                for (hash, loc) in &entries {
                    index.insert(hash.as_slice(), loc.as_slice())?;
                }
                latest = number;
            }
            meta.insert(META_LATEST, latest.to_be_bytes().as_slice())?;
            meta.insert(META_SAFE, heads.safe.number.min(latest).to_be_bytes().as_slice())?;
            meta.insert(
                META_FINALIZED,
                heads.finalized.number.min(latest).to_be_bytes().as_slice(),
            )?;
        }
        let t = std::time::Instant::now();
        w.commit()?;
        debug!(target: "store::applier", blocks = blocks.len(), durable, commit_ms = t.elapsed().as_secs_f64() * 1e3, "tables committed");
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
