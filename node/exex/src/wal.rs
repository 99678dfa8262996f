//! The ExEx write-ahead log: notifications by increasing id, and each ExEx's progress.
//!
//! An entry is binary: a kind byte, the committed tip's number (big-endian `u64`, zero for a
//! revert), then the chains, each a `u32` count of blocks in [`ExecutedBlock::encode`]'s form,
//! length-prefixed. The tip lets [`Wal::done_through`] find finished entries without decoding
//! any block. Appends are durable; progress records are not (the next append makes them
//! durable): losing one in a crash only replays notifications the ExEx may see twice anyway.

use crate::{Chain, ExExNotification};
use alloy::{eips::BlockNumHash, primitives::B256};
use redb::{Database, Durability, ReadableTable, TableDefinition};
use std::{path::Path, sync::Arc};
use taiko_store::{
    ExecutedBlock, StoreError,
    codec::{put_part, take, take_part, take_u32},
};

const ENTRIES: TableDefinition<u64, &[u8]> = TableDefinition::new("notifications_v2");

const COMMITTED: u8 = 0;
const REORGED: u8 = 1;
const REVERTED: u8 = 2;

fn put_chain(out: &mut Vec<u8>, chain: &Chain) {
    out.extend_from_slice(&(chain.blocks().len() as u32).to_le_bytes());
    for b in chain.blocks() {
        put_part(out, &b.encode());
    }
}

fn encode(n: &ExExNotification) -> Vec<u8> {
    let (kind, chains): (u8, Vec<&Chain>) = match n {
        ExExNotification::ChainCommitted { new } => (COMMITTED, vec![new]),
        ExExNotification::ChainReorged { old, new } => (REORGED, vec![old, new]),
        ExExNotification::ChainReverted { old } => (REVERTED, vec![old]),
    };
    let tip = n.committed_chain().map(|c| c.tip().block.number()).unwrap_or(0);
    let mut out = Vec::with_capacity(64 * 1024);
    out.push(kind);
    out.extend_from_slice(&tip.to_be_bytes());
    for c in chains {
        put_chain(&mut out, c);
    }
    out
}

/// The log meets the store's errors only when decoding its blocks and framing.
impl From<StoreError> for WalError {
    fn from(e: StoreError) -> Self {
        WalError::Corrupt(e.to_string())
    }
}

fn take_chain(b: &mut &[u8]) -> Result<Arc<Chain>, WalError> {
    let count = take_u32(b)?;
    if count == 0 {
        return Err(WalError::Corrupt("empty chain".into()));
    }
    let mut blocks = Vec::with_capacity(count.min(1024));
    for _ in 0..count {
        let block = ExecutedBlock::decode(take_part(b)?)?;
        if let Some(prev) = blocks.last().map(|p: &ExecutedBlock| p.block.hash())
            && block.block.header().parent_hash != prev
        {
            return Err(WalError::Corrupt("chain blocks do not link".into()));
        }
        blocks.push(block);
    }
    Ok(Arc::new(Chain::new(blocks)))
}

fn decode(mut b: &[u8]) -> Result<ExExNotification, WalError> {
    let b = &mut b;
    let kind = take(b, 9)?[0];
    let n = match kind {
        COMMITTED => ExExNotification::ChainCommitted { new: take_chain(b)? },
        REORGED => ExExNotification::ChainReorged { old: take_chain(b)?, new: take_chain(b)? },
        REVERTED => ExExNotification::ChainReverted { old: take_chain(b)? },
        k => return Err(WalError::Corrupt(format!("unknown entry kind {k}"))),
    };
    if !b.is_empty() {
        return Err(WalError::Corrupt("trailing bytes".into()));
    }
    Ok(n)
}

/// The committed tip an entry's header names (`None` for a revert).
fn committed_tip(bytes: &[u8]) -> Result<Option<u64>, WalError> {
    if bytes.len() < 9 {
        return Err(WalError::Corrupt("entry cut short".into()));
    }
    Ok((bytes[0] != REVERTED).then(|| u64::from_be_bytes(bytes[1..9].try_into().expect("8"))))
}
const PROGRESS: TableDefinition<&str, &[u8]> = TableDefinition::new("progress");

/// Errors of the log.
#[derive(Debug, thiserror::Error)]
pub enum WalError {
    /// The database failed.
    #[error("database: {0}")]
    Db(Box<redb::Error>),
    /// An entry did not decode.
    #[error("corrupted entry: {0}")]
    Corrupt(String),
}

macro_rules! db_err {
    ($($t:ty),*) => {$(
        impl From<$t> for WalError {
            fn from(e: $t) -> Self { WalError::Db(Box::new(e.into())) }
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

/// The write-ahead log of ExEx notifications.
#[derive(Debug)]
pub struct Wal {
    db: Database,
}

impl Wal {
    /// Opens (or creates) the log at `path`.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, WalError> {
        let db = Database::create(path.as_ref())?;
        let w = db.begin_write()?;
        w.open_table(ENTRIES)?;
        w.open_table(PROGRESS)?;
        w.commit()?;
        Ok(Self { db })
    }

    /// Durably appends a notification; returns its id (ids start at 1).
    pub fn append(&self, n: &ExExNotification) -> Result<u64, WalError> {
        let bytes = encode(n);
        let mut w = self.db.begin_write()?;
        w.set_durability(Durability::Immediate);
        let id = {
            let mut t = w.open_table(ENTRIES)?;
            let next = t.last()?.map(|(k, _)| k.value() + 1);
            let next = match next {
                Some(n) => n,
                None => self.progress_floor(&w)? + 1,
            };
            t.insert(next, bytes.as_slice())?;
            next
        };
        w.commit()?;
        Ok(id)
    }

    /// When the log is empty, ids continue after the highest id any ExEx finished.
    fn progress_floor(&self, w: &redb::WriteTransaction) -> Result<u64, WalError> {
        let t = w.open_table(PROGRESS)?;
        let mut max = 0;
        for e in t.iter()? {
            let (_, v) = e?;
            max = max.max(u64::from_be_bytes(v.value()[..8].try_into().unwrap_or_default()));
        }
        Ok(max)
    }

    /// Logged notifications with id above `done`, in order.
    pub fn entries_after(&self, done: u64) -> Result<Vec<(u64, ExExNotification)>, WalError> {
        let r = self.db.begin_read()?;
        let t = r.open_table(ENTRIES)?;
        let mut out = Vec::new();
        for e in t.range(done + 1..)? {
            let (k, v) = e?;
            out.push((k.value(), decode(v.value())?));
        }
        Ok(out)
    }

    /// The highest id whose notification is finished once an ExEx reached `height`: every
    /// leading entry whose committed tip is at or below it (reverts count as done with what
    /// follows them).
    pub fn done_through(&self, height: BlockNumHash) -> Result<u64, WalError> {
        let r = self.db.begin_read()?;
        let t = r.open_table(ENTRIES)?;
        let mut done = 0;
        for e in t.iter()? {
            let (k, v) = e?;
            match committed_tip(v.value())? {
                Some(tip) if tip > height.number => break,
                _ => done = k.value(),
            }
        }
        Ok(done)
    }

    /// An ExEx's progress: the highest id it finished and its finished height.
    pub fn progress(&self, exex: &str) -> Result<(u64, Option<BlockNumHash>), WalError> {
        let r = self.db.begin_read()?;
        let t = r.open_table(PROGRESS)?;
        let Some(v) = t.get(exex)? else { return Ok((0, None)) };
        let v = v.value();
        if v.len() != 48 {
            return Err(WalError::Corrupt("progress record".into()));
        }
        let done = u64::from_be_bytes(v[..8].try_into().expect("8 bytes"));
        let number = u64::from_be_bytes(v[8..16].try_into().expect("8 bytes"));
        Ok((done, Some(BlockNumHash::new(number, B256::from_slice(&v[16..])))))
    }

    /// Records an ExEx's progress and removes the entries with id ≤ `prune_through` (every
    /// ExEx finished them), in one transaction that the next durable append makes durable.
    pub fn set_progress(
        &self,
        exex: &str,
        done: u64,
        height: BlockNumHash,
        prune_through: u64,
    ) -> Result<(), WalError> {
        let mut v = Vec::with_capacity(48);
        v.extend_from_slice(&done.to_be_bytes());
        v.extend_from_slice(&height.number.to_be_bytes());
        v.extend_from_slice(height.hash.as_slice());
        let mut w = self.db.begin_write()?;
        w.set_durability(Durability::None);
        w.open_table(PROGRESS)?.insert(exex, v.as_slice())?;
        if prune_through > 0 {
            w.open_table(ENTRIES)?.retain_in(..=prune_through, |_, _| false)?;
        }
        w.commit()?;
        Ok(())
    }

    /// Number of logged entries.
    pub fn len(&self) -> Result<u64, WalError> {
        use redb::ReadableTableMetadata;
        let r = self.db.begin_read()?;
        Ok(r.open_table(ENTRIES)?.len()?)
    }

    /// Whether the log is empty.
    pub fn is_empty(&self) -> Result<bool, WalError> {
        Ok(self.len()? == 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy::consensus::Header;
    use taiko_store::SealedBlock;

    fn chain(from: u64, n: u64) -> Arc<Chain> {
        let mut parent = B256::repeat_byte(7);
        let blocks = (from..from + n)
            .map(|number| {
                let block = SealedBlock::from_parts(
                    Header { number, parent_hash: parent, ..Default::default() },
                    vec![],
                );
                parent = block.hash();
                ExecutedBlock { block, senders: vec![], receipts: vec![] }
            })
            .collect();
        Arc::new(Chain::new(blocks))
    }

    #[test]
    fn entries_round_trip_and_damage_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        let wal = Wal::open(dir.path().join("wal.redb")).unwrap();
        let sent = [
            ExExNotification::ChainCommitted { new: chain(1, 2) },
            ExExNotification::ChainReorged { old: chain(2, 1), new: chain(2, 3) },
            ExExNotification::ChainReverted { old: chain(4, 1) },
        ];
        for n in &sent {
            let bytes = encode(n);
            assert_eq!(&decode(&bytes).unwrap(), n);
            // every cut and a trailing byte are errors, never a shorter notification
            for cut in 0..bytes.len() {
                assert!(matches!(decode(&bytes[..cut]), Err(WalError::Corrupt(_))), "cut {cut}");
            }
            let mut long = bytes.clone();
            long.push(0);
            assert!(matches!(decode(&long), Err(WalError::Corrupt(_))));
            wal.append(n).unwrap();
        }
        // finished entries are found from the headers: the revert counts with what precedes it
        assert_eq!(wal.done_through(BlockNumHash::new(1, B256::ZERO)).unwrap(), 0);
        assert_eq!(wal.done_through(BlockNumHash::new(2, B256::ZERO)).unwrap(), 1);
        assert_eq!(wal.done_through(BlockNumHash::new(4, B256::ZERO)).unwrap(), 3);

        // an unknown kind and blocks that do not link are refused
        let mut bad = encode(&sent[0]);
        bad[0] = 9;
        assert!(matches!(decode(&bad), Err(WalError::Corrupt(m)) if m.contains("kind")));
        let mut unlinked = vec![COMMITTED];
        unlinked.extend_from_slice(&2u64.to_be_bytes());
        unlinked.extend_from_slice(&2u32.to_le_bytes());
        for b in [chain(1, 1), chain(2, 1)] {
            let bytes = b.blocks()[0].encode();
            unlinked.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
            unlinked.extend_from_slice(&bytes);
        }
        assert!(matches!(decode(&unlinked), Err(WalError::Corrupt(m)) if m.contains("link")));
    }
}
