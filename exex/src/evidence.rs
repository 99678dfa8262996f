//! Evidence of equivocation: two different blocks signed by one preconfer at one height.
//!
//! The first valid block at a height wins locally; when a second, different one arrives with a
//! valid signature of the same signer, both wire messages are written here, durably, keyed by
//! (signer, L2 chain, height, second block hash). The dispute watcher (a later part) turns a
//! record into `proveEquivocation` on L1; the messages carry everything that call needs.

use std::path::Path;

use alloy::primitives::{Address, B256};
use redb::{Database, ReadableTable, TableDefinition};

/// (signer, chain, height, hash of the second block).
type EvidenceKey = ([u8; 20], u64, u64, [u8; 32]);

/// Key → (first message, second message).
const EVIDENCE: TableDefinition<EvidenceKey, (&[u8], &[u8])> =
    TableDefinition::new("equivocations");

/// (L2 chain, height) → (L1 batch id, our signed message at that height).
const BROKEN: TableDefinition<(u64, u64), (u64, &[u8])> = TableDefinition::new("broken");

/// A preconfirmed block that an L1 batch replaced: the signed commitment it broke.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BrokenCommitment {
    /// The L2 chain.
    pub chain_id: u64,
    /// The height.
    pub height: u64,
    /// The L1 batch that proposed something else there.
    pub batch_id: u64,
    /// The signed message we had adopted (wire bytes).
    pub message: Vec<u8>,
}

/// One equivocation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Equivocation {
    /// The signer.
    pub signer: Address,
    /// The L2 chain.
    pub chain_id: u64,
    /// The height.
    pub height: u64,
    /// The block kept (wire bytes).
    pub first: Vec<u8>,
    /// The conflicting block (wire bytes).
    pub second: Vec<u8>,
}

/// The evidence database failed.
#[derive(Debug, thiserror::Error)]
#[error("evidence database: {0}")]
pub struct EvidenceError(String);

fn db_err(e: impl std::fmt::Display) -> EvidenceError {
    EvidenceError(e.to_string())
}

/// Durable equivocation records.
#[derive(Debug)]
pub struct EvidenceDb {
    db: Database,
}

impl EvidenceDb {
    /// Opens (or creates) the database file.
    pub fn open(path: &Path) -> Result<Self, EvidenceError> {
        let db = Database::create(path).map_err(db_err)?;
        let w = db.begin_write().map_err(db_err)?;
        w.open_table(EVIDENCE).map_err(db_err)?;
        w.open_table(BROKEN).map_err(db_err)?;
        w.commit().map_err(db_err)?;
        Ok(Self { db })
    }

    /// Records `e` (the second block identified by `second_hash`); `false` if already known.
    pub fn record(&self, e: &Equivocation, second_hash: B256) -> Result<bool, EvidenceError> {
        let w = self.db.begin_write().map_err(db_err)?;
        let new = {
            let mut t = w.open_table(EVIDENCE).map_err(db_err)?;
            let key = (e.signer.0.0, e.chain_id, e.height, second_hash.0);
            if t.get(key).map_err(db_err)?.is_some() {
                false
            } else {
                t.insert(key, (e.first.as_slice(), e.second.as_slice())).map_err(db_err)?;
                true
            }
        };
        w.commit().map_err(db_err)?;
        Ok(new)
    }

    /// Records a commitment broken by an L1 batch; `false` if that height was already recorded.
    pub fn record_broken(&self, b: &BrokenCommitment) -> Result<bool, EvidenceError> {
        let w = self.db.begin_write().map_err(db_err)?;
        let new = {
            let mut t = w.open_table(BROKEN).map_err(db_err)?;
            let key = (b.chain_id, b.height);
            let known = t.get(key).map_err(db_err)?.is_some();
            if !known {
                t.insert(key, (b.batch_id, b.message.as_slice())).map_err(db_err)?;
            }
            !known
        };
        w.commit().map_err(db_err)?;
        Ok(new)
    }

    /// Every broken commitment, by height.
    pub fn broken(&self) -> Result<Vec<BrokenCommitment>, EvidenceError> {
        let r = self.db.begin_read().map_err(db_err)?;
        let t = r.open_table(BROKEN).map_err(db_err)?;
        t.iter()
            .map_err(db_err)?
            .map(|row| {
                let (k, v) = row.map_err(db_err)?;
                let (chain_id, height) = k.value();
                let (batch_id, message) = v.value();
                Ok(BrokenCommitment { chain_id, height, batch_id, message: message.to_vec() })
            })
            .collect()
    }

    /// Every record, in key order.
    pub fn all(&self) -> Result<Vec<Equivocation>, EvidenceError> {
        let r = self.db.begin_read().map_err(db_err)?;
        let t = r.open_table(EVIDENCE).map_err(db_err)?;
        t.iter()
            .map_err(db_err)?
            .map(|row| {
                let (k, v) = row.map_err(db_err)?;
                let (signer, chain_id, height, _) = k.value();
                let (first, second) = v.value();
                Ok(Equivocation {
                    signer: Address::from(signer),
                    chain_id,
                    height,
                    first: first.to_vec(),
                    second: second.to_vec(),
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_survive_reopening_and_are_not_duplicated() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("evidence.redb");
        let e = Equivocation {
            signer: Address::repeat_byte(1),
            chain_id: 7,
            height: 9,
            first: vec![1, 2],
            second: vec![3],
        };
        {
            let db = EvidenceDb::open(&path).unwrap();
            assert!(db.record(&e, B256::repeat_byte(3)).unwrap());
            assert!(!db.record(&e, B256::repeat_byte(3)).unwrap());
        }
        assert_eq!(EvidenceDb::open(&path).unwrap().all().unwrap(), vec![e]);
    }
}
