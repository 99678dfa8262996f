//! The ExEx write-ahead log: notifications by increasing id, and each ExEx's progress.

use crate::ExExNotification;
use alloy::{eips::BlockNumHash, primitives::B256};
use redb::{Database, Durability, ReadableTable, TableDefinition};
use std::path::Path;

const ENTRIES: TableDefinition<u64, &[u8]> = TableDefinition::new("notifications");
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
        let bytes = serde_json::to_vec(n).map_err(|e| WalError::Corrupt(e.to_string()))?;
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
            let n =
                serde_json::from_slice(v.value()).map_err(|e| WalError::Corrupt(e.to_string()))?;
            out.push((k.value(), n));
        }
        Ok(out)
    }

    /// The highest id whose notification is finished once an ExEx reached `height`: every
    /// leading entry whose committed tip is at or below it (reverts count as done with what
    /// follows them).
    pub fn done_through(&self, height: BlockNumHash) -> Result<u64, WalError> {
        let mut done = 0;
        for (id, n) in self.entries_after(0)? {
            match n.committed_chain() {
                Some(c) if c.tip().block.number() > height.number => break,
                _ => done = id,
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

    /// Records an ExEx's progress.
    pub fn set_progress(
        &self,
        exex: &str,
        done: u64,
        height: BlockNumHash,
    ) -> Result<(), WalError> {
        let mut v = Vec::with_capacity(48);
        v.extend_from_slice(&done.to_be_bytes());
        v.extend_from_slice(&height.number.to_be_bytes());
        v.extend_from_slice(height.hash.as_slice());
        let mut w = self.db.begin_write()?;
        w.set_durability(Durability::Immediate);
        w.open_table(PROGRESS)?.insert(exex, v.as_slice())?;
        w.commit()?;
        Ok(())
    }

    /// Removes entries with id ≤ `id`.
    pub fn prune_through(&self, id: u64) -> Result<(), WalError> {
        if id == 0 {
            return Ok(());
        }
        let w = self.db.begin_write()?;
        {
            let mut t = w.open_table(ENTRIES)?;
            t.retain_in(..=id, |_, _| false)?;
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
