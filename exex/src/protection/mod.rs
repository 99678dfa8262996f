//! Slashing protection: never sign two different preconfirmations at one L2 height.
//!
//! The database (redb, one file) maps `(signer, L2 chain id, height)` to the record of the
//! commitment signed there: its EIP-712 signing digest, and for audit its parent digest and
//! tx-list hash. [`ProtectionDb::authorize`] runs before every signature:
//!
//! - no record at that height → the record is written and **made durable (fdatasync)**, then
//!   signing may proceed;
//! - the same digest → signing may proceed (re-signing the same commitment is harmless, e.g.
//!   after a crash between signing and publishing);
//! - a different digest → refused with [`ProtectionError::Conflict`].
//!
//! A crash anywhere leaves either no record (nothing was signed) or the record (whatever was
//! signed, if anything, is that commitment), so a restarted node can never produce a second,
//! different signature at a height. The interchange file ([`Interchange`]) moves the records
//! between machines; importing never removes or replaces a record, so a height recorded on
//! either side stays blocked for any other commitment.
//!
//! A new record is made durable in a journal beside the database first (`journal`: one write
//! and one `fdatasync` into a file whose blocks are allocated up front, instead of a redb commit
//! on the path between sealing a block and publishing it), and a thread of the database copies
//! it into redb once the journal has rested for 100 ms (so the copy stays out of the
//! milliseconds after a signature, when the block is published and imported). Until then it
//! is *pending*: every question — authorize, record, payload — looks at the pending records
//! first, and export, import and pruning wait until there are none. Opening the database
//! copies what the journal holds into redb before anything else. A record that does not fit in
//! the journal is committed to redb directly.

mod journal;

use std::{
    collections::BTreeMap,
    path::Path,
    sync::Arc,
    time::{Duration, Instant},
};

use alloy::primitives::{Address, B256};
use parking_lot::{Condvar, Mutex, MutexGuard};
use redb::{Database, Durability, ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};

/// `(signer, l2 chain id, height)` → `digest ‖ parent digest ‖ tx-list hash`.
const SIGNED: TableDefinition<'static, ([u8; 20], u64, u64), [u8; 96]> =
    TableDefinition::new("signed_preconfirmations");

/// `(signer, l2 chain id, height)` → the unsigned message (commitment and block) signed there,
/// written in the same transaction as the record so a restarted node can finish publishing it.
const PAYLOADS: TableDefinition<'static, ([u8; 20], u64, u64), &'static [u8]> =
    TableDefinition::new("signed_payloads");

/// The interchange format name.
pub const INTERCHANGE_FORMAT: &str = "taiko-preconf-slashing-protection";
/// The interchange format version.
pub const INTERCHANGE_VERSION: &str = "1";

/// What was signed at a height.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedRecord {
    /// The EIP-712 signing digest of the commitment.
    pub signing_root: B256,
    /// The commitment's parent digest.
    pub parent_digest: B256,
    /// The commitment's tx-list hash.
    pub tx_list_hash: B256,
}

impl SignedRecord {
    fn to_bytes(self) -> [u8; 96] {
        let mut b = [0u8; 96];
        b[..32].copy_from_slice(self.signing_root.as_slice());
        b[32..64].copy_from_slice(self.parent_digest.as_slice());
        b[64..].copy_from_slice(self.tx_list_hash.as_slice());
        b
    }

    fn from_bytes(b: &[u8; 96]) -> Self {
        Self {
            signing_root: B256::from_slice(&b[..32]),
            parent_digest: B256::from_slice(&b[32..64]),
            tx_list_hash: B256::from_slice(&b[64..]),
        }
    }
}

/// The answer to "may I sign this?".
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Authorized {
    /// First signature at this height; the record is now durable.
    New,
    /// The same commitment was signed before.
    AlreadySigned,
}

/// Why signing is refused or the database failed.
#[derive(Debug, thiserror::Error)]
pub enum ProtectionError {
    /// A different commitment was already signed at this height.
    #[error(
        "refusing to sign at height {height} of chain {chain_id}: {recorded} was signed there, not {requested}"
    )]
    Conflict {
        /// The L2 chain.
        chain_id: u64,
        /// The height.
        height: u64,
        /// The digest on record.
        recorded: B256,
        /// The digest asked for.
        requested: B256,
    },
    /// The database failed; nothing may be signed.
    #[error("slashing-protection database: {0}")]
    Db(String),
    /// The interchange file is not ours or not readable.
    #[error("interchange file: {0}")]
    Interchange(String),
}

fn db_err(e: impl std::fmt::Display) -> ProtectionError {
    ProtectionError::Db(e.to_string())
}

/// The interchange file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Interchange {
    /// Format and version.
    pub metadata: InterchangeMetadata,
    /// Records per signer and chain.
    pub data: Vec<InterchangeSigner>,
}

/// Interchange metadata.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InterchangeMetadata {
    /// Always [`INTERCHANGE_FORMAT`].
    pub interchange_format: String,
    /// Always [`INTERCHANGE_VERSION`].
    pub interchange_format_version: String,
}

/// The records of one signer on one chain.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InterchangeSigner {
    /// The signer.
    pub signer: Address,
    /// The L2 chain id (decimal string).
    #[serde(with = "taiko_beacon::api::quoted")]
    pub l2_chain_id: u64,
    /// What it signed.
    pub signed_blocks: Vec<InterchangeBlock>,
}

/// One signed height.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InterchangeBlock {
    /// The height (decimal string).
    #[serde(with = "taiko_beacon::api::quoted")]
    pub height: u64,
    /// The record.
    #[serde(flatten)]
    pub record: SignedRecord,
}

/// What an import did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ImportReport {
    /// Records added.
    pub imported: usize,
    /// Records already present and identical.
    pub unchanged: usize,
    /// Records that differ from ours; ours are kept (the height stays blocked either way).
    pub conflicts: usize,
}

type Key = ([u8; 20], u64, u64);

/// A record made durable in the journal and not yet in redb.
#[derive(Debug, Clone)]
struct Pending {
    record: SignedRecord,
    payload: Option<Arc<Vec<u8>>>,
}

/// What the database and its flusher thread share.
#[derive(Debug)]
struct Inner {
    db: Database,
    hot: Mutex<Hot>,
    /// Signalled whenever `hot` changes.
    changed: Condvar,
}

#[derive(Debug)]
struct Hot {
    /// `None` after a journal write failed to start over: records then go to redb directly.
    journal: Option<journal::Journal>,
    pending: BTreeMap<Key, Pending>,
    /// When the newest pending record was journaled.
    last_append: Option<Instant>,
    /// Callers waiting for the pending records to be copied.
    waiters: usize,
    stop: bool,
}

/// How long the flusher lets the journal rest after a record before it copies the records into
/// redb: the copy (a redb commit of the block's payload) then falls after the moments that
/// follow a signature — the publication, and the imports on every node of the same machine —
/// instead of among them. Anyone waiting for the copy (export, import, pruning) ends the wait.
const FLUSH_AFTER: Duration = Duration::from_millis(100);

/// The slashing-protection database.
#[derive(Debug)]
pub struct ProtectionDb {
    inner: Arc<Inner>,
    flusher: Option<std::thread::JoinHandle<()>>,
}

impl ProtectionDb {
    /// Opens (or creates) the database file and its journal (the same path with the extension
    /// `journal`), copying into the database any record the journal holds that it lacks.
    pub fn open(path: &Path) -> Result<Self, ProtectionError> {
        Self::open_inner(path, true)
    }

    fn open_inner(path: &Path, flush: bool) -> Result<Self, ProtectionError> {
        let db = Database::create(path).map_err(db_err)?;
        let w = db.begin_write().map_err(db_err)?;
        w.open_table(SIGNED).map_err(db_err)?;
        w.open_table(PAYLOADS).map_err(db_err)?;
        w.commit().map_err(db_err)?;
        let journal_path = path.with_extension("journal");
        let (mut journal, entries) =
            journal::Journal::open(&journal_path, journal::JOURNAL_BYTES).map_err(db_err)?;
        if !entries.is_empty() {
            let pending: Vec<_> = entries
                .into_iter()
                .map(|e| {
                    let key = (e.signer, e.chain_id, e.height);
                    let record = SignedRecord::from_bytes(&e.record);
                    (key, Pending { record, payload: e.payload.map(Arc::new) })
                })
                .collect();
            let replayed = pending.len();
            write_pending(&db, &pending)?;
            tracing::info!(target: "preconf::protection", replayed, "copied the journal's records into the database");
        }
        journal.start_over(journal::JOURNAL_BYTES).map_err(db_err)?;
        let inner = Arc::new(Inner {
            db,
            hot: Mutex::new(Hot {
                journal: Some(journal),
                pending: BTreeMap::new(),
                last_append: None,
                waiters: 0,
                stop: false,
            }),
            changed: Condvar::new(),
        });
        let flusher = if flush {
            let inner = inner.clone();
            Some(
                std::thread::Builder::new()
                    .name("protection-flush".into())
                    .spawn(move || inner.run_flusher())
                    .map_err(db_err)?,
            )
        } else {
            None
        };
        Ok(Self { inner, flusher })
    }

    /// Waits until no record is pending (all are in redb) and returns the lock that keeps it so.
    fn flushed(&self) -> Result<MutexGuard<'_, Hot>, ProtectionError> {
        let mut hot = self.inner.hot.lock();
        if hot.pending.is_empty() {
            return Ok(hot);
        }
        if self.flusher.is_none() {
            return Err(ProtectionError::Db("records are pending and nothing flushes".into()));
        }
        // the flusher skips its rest while anyone waits
        hot.waiters += 1;
        self.inner.changed.notify_all();
        while !hot.pending.is_empty() {
            self.inner.changed.wait(&mut hot);
        }
        hot.waiters -= 1;
        Ok(hot)
    }

    /// The record at a height, if any.
    pub fn record(
        &self,
        signer: Address,
        chain_id: u64,
        height: u64,
    ) -> Result<Option<SignedRecord>, ProtectionError> {
        let key = (signer.0.0, chain_id, height);
        if let Some(p) = self.inner.hot.lock().pending.get(&key) {
            return Ok(Some(p.record));
        }
        self.stored_record(key)
    }

    fn stored_record(&self, key: Key) -> Result<Option<SignedRecord>, ProtectionError> {
        let r = self.inner.db.begin_read().map_err(db_err)?;
        let t = r.open_table(SIGNED).map_err(db_err)?;
        Ok(t.get(key).map_err(db_err)?.map(|v| SignedRecord::from_bytes(&v.value())))
    }

    /// Decides whether `signer` may sign `record` at `height`, recording it durably first if it
    /// is the first signature there.
    pub fn authorize(
        &self,
        signer: Address,
        chain_id: u64,
        height: u64,
        record: SignedRecord,
    ) -> Result<Authorized, ProtectionError> {
        self.authorize_inner(signer, chain_id, height, record, None)
    }

    /// As [`Self::authorize`], also keeping `payload` (the unsigned message) with a new record.
    pub fn authorize_with_payload(
        &self,
        signer: Address,
        chain_id: u64,
        height: u64,
        record: SignedRecord,
        payload: &[u8],
    ) -> Result<Authorized, ProtectionError> {
        self.authorize_inner(signer, chain_id, height, record, Some(payload))
    }

    /// The unsigned message kept with the record at a height, if any.
    pub fn payload(
        &self,
        signer: Address,
        chain_id: u64,
        height: u64,
    ) -> Result<Option<Vec<u8>>, ProtectionError> {
        let key = (signer.0.0, chain_id, height);
        if let Some(p) = self.inner.hot.lock().pending.get(&key) {
            return Ok(p.payload.as_ref().map(|p| p.to_vec()));
        }
        let r = self.inner.db.begin_read().map_err(db_err)?;
        let t = r.open_table(PAYLOADS).map_err(db_err)?;
        Ok(t.get(key).map_err(db_err)?.map(|v| v.value().to_vec()))
    }

    fn authorize_inner(
        &self,
        signer: Address,
        chain_id: u64,
        height: u64,
        record: SignedRecord,
        payload: Option<&[u8]>,
    ) -> Result<Authorized, ProtectionError> {
        // one decision at a time: the lock is held from the check to the durable write
        let mut hot = self.inner.hot.lock();
        let key = (signer.0.0, chain_id, height);
        let existing = match hot.pending.get(&key) {
            Some(p) => Some(p.record),
            None => self.stored_record(key)?,
        };
        if let Some(existing) = existing {
            return if existing.signing_root == record.signing_root {
                Ok(Authorized::AlreadySigned)
            } else {
                tracing::error!(target: "preconf::protection", %signer, chain_id, height, recorded = %existing.signing_root, requested = %record.signing_root, "refused a second commitment at a signed height");
                Err(ProtectionError::Conflict {
                    chain_id,
                    height,
                    recorded: existing.signing_root,
                    requested: record.signing_root,
                })
            };
        }
        if let Some(journal) = hot.journal.as_mut() {
            let entry = journal::Entry {
                signer: key.0,
                chain_id,
                height,
                record: record.to_bytes(),
                payload,
            };
            // a failed write signs nothing; whatever part of it reached the disk only blocks
            // this height for other commitments, which is the safe side
            if journal.append(&entry).map_err(db_err)? {
                let payload = payload.map(|p| Arc::new(p.to_vec()));
                hot.pending.insert(key, Pending { record, payload });
                hot.last_append = Some(Instant::now());
                drop(hot);
                self.inner.changed.notify_all();
                return Ok(Authorized::New);
            }
        }
        // too large for the journal (or no journal): a durable commit of its own
        let pending = [(key, Pending { record, payload: payload.map(|p| Arc::new(p.to_vec())) })];
        write_pending(&self.inner.db, &pending)?;
        Ok(Authorized::New)
    }

    /// Drops the unsigned messages kept with `signer`'s records at heights up to `height` on
    /// `chain_id` (the records themselves stay: they are what refuses a second commitment).
    /// A message is kept only so that a restart can publish and propose what was signed; once
    /// its block is final on L1 it is not needed, and keeping every one would grow the file by
    /// every block's transactions forever. Returns how many were dropped.
    pub fn prune_payloads_through(
        &self,
        signer: Address,
        chain_id: u64,
        height: u64,
    ) -> Result<usize, ProtectionError> {
        let _hot = self.flushed()?;
        let w = self.inner.db.begin_write().map_err(db_err)?;
        let dropped = {
            let mut t = w.open_table(PAYLOADS).map_err(db_err)?;
            let range = (signer.0.0, chain_id, 0)..=(signer.0.0, chain_id, height);
            let mut dropped = 0;
            t.retain_in(range, |_, _| {
                dropped += 1;
                false
            })
            .map_err(db_err)?;
            dropped
        };
        w.commit().map_err(db_err)?;
        Ok(dropped)
    }

    /// Every record, as an interchange file.
    pub fn export(&self) -> Result<Interchange, ProtectionError> {
        let _hot = self.flushed()?;
        let r = self.inner.db.begin_read().map_err(db_err)?;
        let t = r.open_table(SIGNED).map_err(db_err)?;
        let mut data: Vec<InterchangeSigner> = Vec::new();
        for row in t.iter().map_err(db_err)? {
            let (k, v) = row.map_err(db_err)?;
            let (signer, chain, height) = k.value();
            let signer = Address::from(signer);
            let block = InterchangeBlock { height, record: SignedRecord::from_bytes(&v.value()) };
            match data.iter_mut().find(|d| d.signer == signer && d.l2_chain_id == chain) {
                Some(d) => d.signed_blocks.push(block),
                None => data.push(InterchangeSigner {
                    signer,
                    l2_chain_id: chain,
                    signed_blocks: vec![block],
                }),
            }
        }
        Ok(Interchange {
            metadata: InterchangeMetadata {
                interchange_format: INTERCHANGE_FORMAT.into(),
                interchange_format_version: INTERCHANGE_VERSION.into(),
            },
            data,
        })
    }

    /// Merges an interchange file: adds what is missing, never replaces a record.
    pub fn import(&self, file: &Interchange) -> Result<ImportReport, ProtectionError> {
        if file.metadata.interchange_format != INTERCHANGE_FORMAT
            || file.metadata.interchange_format_version != INTERCHANGE_VERSION
        {
            return Err(ProtectionError::Interchange(format!(
                "format {} v{}, expected {INTERCHANGE_FORMAT} v{INTERCHANGE_VERSION}",
                file.metadata.interchange_format, file.metadata.interchange_format_version
            )));
        }
        let mut report = ImportReport::default();
        let _hot = self.flushed()?;
        let mut w = self.inner.db.begin_write().map_err(db_err)?;
        w.set_durability(Durability::Immediate);
        {
            let mut t = w.open_table(SIGNED).map_err(db_err)?;
            for s in &file.data {
                for b in &s.signed_blocks {
                    let key = (s.signer.0.0, s.l2_chain_id, b.height);
                    let existing =
                        t.get(key).map_err(db_err)?.map(|v| SignedRecord::from_bytes(&v.value()));
                    match existing {
                        None => {
                            t.insert(key, b.record.to_bytes()).map_err(db_err)?;
                            report.imported += 1;
                        }
                        Some(e) if e.signing_root == b.record.signing_root => report.unchanged += 1,
                        Some(_) => report.conflicts += 1,
                    }
                }
            }
        }
        w.commit().map_err(db_err)?;
        Ok(report)
    }
}

/// Writes records (and their payloads) that redb may lack, in one durable commit. A record
/// redb already holds is left as it is (the same one, replayed from the journal again).
fn write_pending(db: &Database, pending: &[(Key, Pending)]) -> Result<(), ProtectionError> {
    let mut w = db.begin_write().map_err(db_err)?;
    w.set_durability(Durability::Immediate);
    {
        let mut signed = w.open_table(SIGNED).map_err(db_err)?;
        let mut payloads = w.open_table(PAYLOADS).map_err(db_err)?;
        for (key, p) in pending {
            let existing =
                signed.get(*key).map_err(db_err)?.map(|v| SignedRecord::from_bytes(&v.value()));
            match existing {
                Some(e) if e.signing_root != p.record.signing_root => {
                    // cannot happen (a journaled record was checked against redb first); keep
                    // redb's: the height stays blocked either way
                    tracing::error!(target: "preconf::protection", height = key.2, kept = %e.signing_root, journaled = %p.record.signing_root, "the journal and the database disagree at a height");
                    continue;
                }
                Some(_) => {}
                None => {
                    signed.insert(*key, p.record.to_bytes()).map_err(db_err)?;
                }
            }
            if let Some(payload) = &p.payload {
                payloads.insert(*key, payload.as_slice()).map_err(db_err)?;
            }
        }
    }
    w.commit().map_err(db_err)
}

impl Inner {
    /// The flusher: copies pending records into redb (durably, in batches) and starts the
    /// journal over whenever nothing is pending; on drop, flushes what is left and ends. A
    /// failed copy is retried (the records stay durable in the journal meanwhile).
    fn run_flusher(&self) {
        // the copy is not on anyone's path; the journal already made the records durable
        taiko_store::background_priority();
        loop {
            let batch: Vec<(Key, Pending)> = {
                let mut hot = self.hot.lock();
                while hot.pending.is_empty() && !hot.stop {
                    self.changed.wait(&mut hot);
                }
                if hot.pending.is_empty() {
                    return;
                }
                let rested = hot.last_append.map_or(FLUSH_AFTER, |t| t.elapsed());
                if rested < FLUSH_AFTER && hot.waiters == 0 && !hot.stop {
                    // an append or a waiter wakes us early, and the rest is measured again
                    self.changed.wait_for(&mut hot, FLUSH_AFTER - rested);
                    continue;
                }
                hot.pending.iter().map(|(k, p)| (*k, p.clone())).collect()
            };
            let started = Instant::now();
            if let Err(error) = write_pending(&self.db, &batch) {
                tracing::error!(target: "preconf::protection", %error, records = batch.len(), "copying journaled records into the database failed; retrying");
                let mut hot = self.hot.lock();
                if !hot.stop {
                    self.changed.wait_for(&mut hot, Duration::from_secs(1));
                }
                continue;
            }
            let mut hot = self.hot.lock();
            for (key, _) in &batch {
                hot.pending.remove(key);
            }
            if hot.pending.is_empty()
                && let Some(journal) = hot.journal.as_mut()
                && let Err(error) = journal.start_over(journal::JOURNAL_BYTES)
            {
                // its records are in redb; new ones go there directly from now on
                tracing::error!(target: "preconf::protection", %error, "the journal could not start over; writing records to the database directly");
                hot.journal = None;
            }
            drop(hot);
            self.changed.notify_all();
            tracing::trace!(target: "preconf::protection", records = batch.len(), ms = started.elapsed().as_secs_f64() * 1e3, "journaled records copied into the database");
        }
    }
}

impl Drop for ProtectionDb {
    /// Lets the flusher copy every pending record into redb, then stops it.
    fn drop(&mut self) {
        self.inner.hot.lock().stop = true;
        self.inner.changed.notify_all();
        if let Some(flusher) = self.flusher.take() {
            let _ = flusher.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(n: u8) -> SignedRecord {
        SignedRecord {
            signing_root: B256::repeat_byte(n),
            parent_digest: B256::repeat_byte(0xa0),
            tx_list_hash: B256::repeat_byte(0xb0),
        }
    }

    const ME: Address = Address::repeat_byte(0x11);

    #[test]
    fn pruning_payloads_keeps_the_records_that_refuse_equivocation() {
        let dir = tempfile::tempdir().unwrap();
        let db = ProtectionDb::open(&dir.path().join("protection.redb")).unwrap();
        let other = Address::repeat_byte(0x22);
        for h in 1..=5u64 {
            db.authorize_with_payload(ME, 1, h, rec(h as u8), &[h as u8; 100]).unwrap();
            db.authorize_with_payload(ME, 2, h, rec(h as u8), &[h as u8; 100]).unwrap();
            db.authorize_with_payload(other, 1, h, rec(h as u8), &[h as u8; 100]).unwrap();
        }
        assert_eq!(db.prune_payloads_through(ME, 1, 3).unwrap(), 3);
        for h in 1..=3 {
            assert_eq!(db.payload(ME, 1, h).unwrap(), None, "pruned at {h}");
            assert!(db.record(ME, 1, h).unwrap().is_some(), "the record stays at {h}");
            assert!(
                matches!(
                    db.authorize(ME, 1, h, rec(0x77)),
                    Err(ProtectionError::Conflict { height, .. }) if height == h
                ),
                "a second commitment at {h} is still refused"
            );
            assert_eq!(db.authorize(ME, 1, h, rec(h as u8)).unwrap(), Authorized::AlreadySigned);
        }
        for h in 4..=5 {
            assert_eq!(db.payload(ME, 1, h).unwrap(), Some(vec![h as u8; 100]));
        }
        // another chain and another signer are untouched
        for h in 1..=5 {
            assert!(db.payload(ME, 2, h).unwrap().is_some());
            assert!(db.payload(other, 1, h).unwrap().is_some());
        }
        assert_eq!(db.prune_payloads_through(ME, 1, 3).unwrap(), 0, "idempotent");
    }

    /// A crash after the journal made a record durable and before the flusher copied it into
    /// redb: reopening copies it in, and the height stays blocked for any other commitment.
    #[test]
    fn a_journaled_record_survives_a_crash_before_the_copy() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("protection.redb");
        {
            let db = ProtectionDb::open_inner(&path, false).unwrap(); // no flusher: the crash
            assert_eq!(
                db.authorize_with_payload(ME, 1, 7, rec(1), &[9u8; 5000]).unwrap(),
                Authorized::New
            );
            // pending, and answered from the pending set
            assert_eq!(db.record(ME, 1, 7).unwrap(), Some(rec(1)));
            assert_eq!(db.payload(ME, 1, 7).unwrap(), Some(vec![9u8; 5000]));
            assert!(matches!(
                db.authorize(ME, 1, 7, rec(2)),
                Err(ProtectionError::Conflict { .. })
            ));
            assert_eq!(db.authorize(ME, 1, 7, rec(1)).unwrap(), Authorized::AlreadySigned);
            assert_eq!(db.stored_record((ME.0.0, 1, 7)).unwrap(), None, "not in redb yet");
        }
        let db = ProtectionDb::open(&path).unwrap();
        assert_eq!(db.stored_record((ME.0.0, 1, 7)).unwrap(), Some(rec(1)), "copied at open");
        assert_eq!(db.payload(ME, 1, 7).unwrap(), Some(vec![9u8; 5000]));
        assert!(matches!(db.authorize(ME, 1, 7, rec(2)), Err(ProtectionError::Conflict { .. })));
        // new records flow through the journal and the flusher into redb
        assert_eq!(
            db.authorize_with_payload(ME, 1, 8, rec(3), &[1, 2, 3]).unwrap(),
            Authorized::New
        );
        let file = db.export().unwrap(); // waits for the flusher
        assert_eq!(file.data[0].signed_blocks.len(), 2);
        assert_eq!(db.stored_record((ME.0.0, 1, 8)).unwrap(), Some(rec(3)));
        drop(db);
        let db = ProtectionDb::open(&path).unwrap();
        assert_eq!(db.payload(ME, 1, 8).unwrap(), Some(vec![1, 2, 3]));
    }

    /// A record too large for the journal is committed to redb directly.
    #[test]
    fn a_record_larger_than_the_journal_goes_to_the_database_directly() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("protection.redb");
        let big = vec![5u8; journal::JOURNAL_BYTES as usize + 1];
        let db = ProtectionDb::open_inner(&path, false).unwrap();
        assert_eq!(db.authorize_with_payload(ME, 1, 1, rec(1), &big).unwrap(), Authorized::New);
        assert_eq!(db.stored_record((ME.0.0, 1, 1)).unwrap(), Some(rec(1)), "in redb at once");
        assert!(db.inner.hot.lock().pending.is_empty());
        assert!(matches!(db.authorize(ME, 1, 1, rec(2)), Err(ProtectionError::Conflict { .. })));
        drop(db);
        assert_eq!(ProtectionDb::open(&path).unwrap().payload(ME, 1, 1).unwrap(), Some(big));
    }

    #[test]
    fn refuses_a_second_commitment_at_a_height_across_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("protection.redb");
        {
            let db = ProtectionDb::open(&path).unwrap();
            assert_eq!(db.authorize(ME, 1, 10, rec(1)).unwrap(), Authorized::New);
            assert_eq!(db.authorize(ME, 1, 10, rec(1)).unwrap(), Authorized::AlreadySigned);
            assert!(matches!(
                db.authorize(ME, 1, 10, rec(2)),
                Err(ProtectionError::Conflict { height: 10, .. })
            ));
            // other heights, chains and signers are independent
            assert_eq!(db.authorize(ME, 1, 11, rec(2)).unwrap(), Authorized::New);
            assert_eq!(db.authorize(ME, 2, 10, rec(2)).unwrap(), Authorized::New);
            assert_eq!(db.authorize(Address::ZERO, 1, 10, rec(2)).unwrap(), Authorized::New);
        }
        // a restart (the process died after recording) keeps the height blocked
        let db = ProtectionDb::open(&path).unwrap();
        assert!(matches!(db.authorize(ME, 1, 10, rec(3)), Err(ProtectionError::Conflict { .. })));
        assert_eq!(db.authorize(ME, 1, 10, rec(1)).unwrap(), Authorized::AlreadySigned);
        assert_eq!(db.record(ME, 1, 10).unwrap(), Some(rec(1)));
    }

    #[test]
    fn interchange_round_trip_and_merge() {
        let dir = tempfile::tempdir().unwrap();
        let a = ProtectionDb::open(&dir.path().join("a.redb")).unwrap();
        a.authorize(ME, 167010, 1, rec(1)).unwrap();
        a.authorize(ME, 167010, 2, rec(2)).unwrap();
        let file = a.export().unwrap();
        let json = serde_json::to_string_pretty(&file).unwrap();
        assert!(json.contains("\"height\": \"2\""), "decimal strings: {json}");
        let back: Interchange = serde_json::from_str(&json).unwrap();
        assert_eq!(back, file);

        let b = ProtectionDb::open(&dir.path().join("b.redb")).unwrap();
        b.authorize(ME, 167010, 2, rec(9)).unwrap(); // b signed something else at 2
        let report = b.import(&back).unwrap();
        assert_eq!(report, ImportReport { imported: 1, unchanged: 0, conflicts: 1 });
        // height 1 now blocked on b for anything but rec(1); height 2 keeps b's record
        assert!(b.authorize(ME, 167010, 1, rec(5)).is_err());
        assert_eq!(b.record(ME, 167010, 2).unwrap(), Some(rec(9)));
        assert_eq!(
            b.import(&back).unwrap(),
            ImportReport { imported: 0, unchanged: 1, conflicts: 1 }
        );

        let mut wrong = back.clone();
        wrong.metadata.interchange_format_version = "0".into();
        assert!(matches!(b.import(&wrong), Err(ProtectionError::Interchange(_))));
    }
}
