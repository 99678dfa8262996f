//! The block log: an append-only file that makes a block durable with one sequential write.
//!
//! [`Store::commit_block`](crate::Store::commit_block) appends the block (header, body, senders,
//! receipts and state changes) here before the block becomes `latest`, and the file is synced
//! either then or by the store's sync thread right after (see
//! [`CommitSync`](crate::CommitSync)); the random writes into redb's tables happen afterwards
//! on the store's applier thread. When the store opens, records above the tables' last applied
//! block are replayed into them, so a killed process loses nothing that `commit_block`
//! returned for (the written bytes are in the kernel's page cache), and a power loss nothing
//! that was synced.
//!
//! Each record is framed as `len: u32 LE ‖ crc32(payload): u32 LE ‖ payload`. Reading stops at
//! the first record that is cut short or fails its checksum (a write torn by a crash), and the
//! file is cut back to the last whole record. The applier clears the file whenever every record
//! in it has been applied (see the store's crate docs).

use std::{
    fs::{File, OpenOptions},
    io::{Read, Seek, SeekFrom, Write},
    path::Path,
};

/// Largest record accepted when reading (a corrupted length must not allocate gigabytes).
const MAX_RECORD: u32 = 1 << 30;

/// The open log file.
#[derive(Debug)]
pub(crate) struct BlockLog {
    file: File,
    /// Records in the file (not counting a torn tail).
    records: usize,
    /// Bytes of whole records in the file.
    len: u64,
}

impl BlockLog {
    /// Opens (or creates) the log at `path` and returns it with the payloads of its whole
    /// records, oldest first. A torn tail is cut off.
    pub(crate) fn open(path: &Path) -> std::io::Result<(Self, Vec<Vec<u8>>)> {
        let mut file =
            OpenOptions::new().read(true).append(true).create(true).truncate(false).open(path)?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)?;
        let mut payloads = Vec::new();
        let mut pos = 0usize;
        while bytes.len() - pos >= 8 {
            let len = u32::from_le_bytes(bytes[pos..pos + 4].try_into().expect("4 bytes"));
            let crc = u32::from_le_bytes(bytes[pos + 4..pos + 8].try_into().expect("4 bytes"));
            let end = pos + 8 + len as usize;
            if len > MAX_RECORD || end > bytes.len() {
                break;
            }
            let payload = &bytes[pos + 8..end];
            if crc32fast::hash(payload) != crc {
                break;
            }
            payloads.push(payload.to_vec());
            pos = end;
        }
        if pos != bytes.len() {
            tracing::warn!(target: "store", path = %path.display(), whole = payloads.len(), cut = bytes.len() - pos, "block log ends in a torn record; cutting it off");
            file.set_len(pos as u64)?;
            file.sync_all()?;
        }
        file.seek(SeekFrom::End(0))?;
        let records = payloads.len();
        Ok((Self { file, records, len: pos as u64 }, payloads))
    }

    /// Appends one record, synced to disk before returning when `sync` (otherwise it is in
    /// the page cache, and [`Self::sync_handle`] syncs it). On failure the file is cut back to
    /// its whole records, so that a later append does not follow a torn one.
    pub(crate) fn append(&mut self, payload: &[u8], sync: bool) -> std::io::Result<()> {
        let result = self.write_record(payload, sync);
        if result.is_err() {
            let _ = self.file.set_len(self.len);
        }
        result
    }

    /// A second handle on the file, for syncing it without holding the log.
    pub(crate) fn sync_handle(&self) -> std::io::Result<File> {
        self.file.try_clone()
    }

    fn write_record(&mut self, payload: &[u8], sync: bool) -> std::io::Result<()> {
        let len = u32::try_from(payload.len())
            .ok()
            .filter(|l| *l <= MAX_RECORD)
            .ok_or_else(|| std::io::Error::other("block log record too large"))?;
        let mut frame = Vec::with_capacity(8 + payload.len());
        frame.extend_from_slice(&len.to_le_bytes());
        frame.extend_from_slice(&crc32fast::hash(payload).to_le_bytes());
        frame.extend_from_slice(payload);
        self.file.write_all(&frame)?;
        if sync {
            self.file.sync_data()?;
        }
        self.records += 1;
        self.len += frame.len() as u64;
        Ok(())
    }

    /// Empties the log (every record in it has been applied durably).
    pub(crate) fn clear(&mut self) -> std::io::Result<()> {
        if self.records == 0 {
            return Ok(());
        }
        self.file.set_len(0)?;
        self.file.sync_data()?;
        self.records = 0;
        self.len = 0;
        Ok(())
    }

    /// Records in the log.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.records
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_survive_reopen_and_a_torn_tail_is_cut() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("blocks.log");
        let (mut log, old) = BlockLog::open(&path).unwrap();
        assert!(old.is_empty());
        log.append(b"first", true).unwrap();
        log.append(&[7u8; 1000], true).unwrap();
        drop(log);
        let (log, got) = BlockLog::open(&path).unwrap();
        assert_eq!(got, vec![b"first".to_vec(), vec![7u8; 1000]]);
        assert_eq!(log.len(), 2);
        drop(log);

        // A crash in the middle of the third append: half its frame is on disk.
        let whole = std::fs::metadata(&path).unwrap().len();
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(&100u32.to_le_bytes()).unwrap();
        f.write_all(&[1, 2, 3, 4, 5, 6]).unwrap();
        drop(f);
        let (mut log, got) = BlockLog::open(&path).unwrap();
        assert_eq!(got.len(), 2, "the torn record is not returned");
        assert_eq!(std::fs::metadata(&path).unwrap().len(), whole, "and is cut off");
        log.append(b"after", false).unwrap(); // written, not synced: a reopen (no power loss) reads it
        drop(log);
        let (mut log, got) = BlockLog::open(&path).unwrap();
        assert_eq!(got.last().unwrap(), b"after");

        log.clear().unwrap();
        drop(log);
        assert!(BlockLog::open(&path).unwrap().1.is_empty());
    }

    #[test]
    fn a_flipped_byte_ends_the_log_there() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("blocks.log");
        let (mut log, _) = BlockLog::open(&path).unwrap();
        for i in 0..3u8 {
            log.append(&[i; 64], true).unwrap();
        }
        drop(log);
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[8 + 64 + 8 + 10] ^= 1; // inside the second payload
        std::fs::write(&path, &bytes).unwrap();
        let (_, got) = BlockLog::open(&path).unwrap();
        assert_eq!(got, vec![vec![0u8; 64]], "nothing after a bad checksum is trusted");
    }
}
