//! The protection journal: where a new record becomes durable before its signature may leave.
//!
//! Making a record durable in redb is a commit of its B-tree pages — for a record that keeps
//! its block's unsigned message (≈ 230 KB for 2,000 transactions) 1.5–3 ms, on the path
//! between sealing a block and publishing it. The journal is a file of fixed size, filled
//! with zeros when it is created, so that writing a record is an overwrite of blocks the
//! filesystem has already allocated: one `pwrite` and one `fdatasync`, with no change of size
//! or allocation for the filesystem to journal first. The database's flusher thread then
//! copies the records into redb (durably) and starts the journal over; opening the database
//! copies whatever the journal holds that redb lacks (a crash before the flush).
//!
//! Layout: two header slots, at 0 and at 512, each `magic ‖ generation: u64 ‖ crc32`; the
//! valid slot with the higher generation is the current one. Entries start at [`DATA_START`]:
//! `magic ‖ generation: u64 ‖ len: u32 ‖ crc32(generation ‖ len ‖ body): u32 ‖ body`. Reading
//! stops at the first entry that is not of the current generation or fails its checksum (the
//! entries of earlier generations that follow are stale, and a torn last write is not
//! trusted). Starting over writes the *other* header slot with the next generation, so a
//! header torn by a crash leaves the previous one current — whose entries are all in redb
//! already, so replaying them again changes nothing.

use std::{
    fs::{File, OpenOptions},
    io::{Read, Write},
    os::unix::fs::FileExt,
    path::{Path, PathBuf},
};

/// Size of a new journal file: several of the largest blocks (the flusher starts the journal
/// over after every flush, so it rarely holds more than one or two records).
pub(crate) const JOURNAL_BYTES: u64 = 16 << 20;
/// Where entries start; the two header slots sit before it.
const DATA_START: u64 = 1024;
const HEADER_MAGIC: u32 = 0x5450_4a48; // "TPJH"
const ENTRY_MAGIC: u32 = 0x5450_4a45; // "TPJE"
const ENTRY_HEAD: usize = 4 + 8 + 4 + 4;

/// One record as the journal keeps it; written from a borrowed payload (`P = &[u8]`), read
/// back into an owned one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Entry<P = Vec<u8>> {
    pub(crate) signer: [u8; 20],
    pub(crate) chain_id: u64,
    pub(crate) height: u64,
    pub(crate) record: [u8; 96],
    pub(crate) payload: Option<P>,
}

/// The fixed part of an entry's body: signer, chain id, height, record, payload flag.
const BODY_FIXED: usize = 20 + 8 + 8 + 96 + 1;

/// The open journal file.
#[derive(Debug)]
pub(crate) struct Journal {
    file: File,
    path: PathBuf,
    generation: u64,
    /// Where the next entry goes.
    tail: u64,
    size: u64,
}

fn header(generation: u64) -> [u8; 16] {
    let mut h = [0u8; 16];
    h[..4].copy_from_slice(&HEADER_MAGIC.to_le_bytes());
    h[4..12].copy_from_slice(&generation.to_le_bytes());
    let crc = crc32fast::hash(&h[..12]);
    h[12..].copy_from_slice(&crc.to_le_bytes());
    h
}

fn read_header(bytes: &[u8]) -> Option<u64> {
    let h = bytes.get(..16)?;
    let magic = u32::from_le_bytes(h[..4].try_into().ok()?);
    let crc = u32::from_le_bytes(h[12..16].try_into().ok()?);
    (magic == HEADER_MAGIC && crc32fast::hash(&h[..12]) == crc)
        .then(|| u64::from_le_bytes(h[4..12].try_into().expect("8 bytes")))
}

fn slot_offset(generation: u64) -> u64 {
    (generation % 2) * 512
}

impl<P: AsRef<[u8]>> Entry<P> {
    fn payload_bytes(&self) -> &[u8] {
        self.payload.as_ref().map(AsRef::as_ref).unwrap_or_default()
    }

    fn body_len(&self) -> usize {
        BODY_FIXED + self.payload_bytes().len()
    }

    fn encode_body_into(&self, b: &mut Vec<u8>) {
        b.extend_from_slice(&self.signer);
        b.extend_from_slice(&self.chain_id.to_le_bytes());
        b.extend_from_slice(&self.height.to_le_bytes());
        b.extend_from_slice(&self.record);
        b.push(u8::from(self.payload.is_some()));
        b.extend_from_slice(self.payload_bytes());
    }
}

impl Entry {
    fn decode_body(b: &[u8]) -> Option<Self> {
        if b.len() < BODY_FIXED {
            return None;
        }
        let has_payload = match b[132] {
            0 => false,
            1 => true,
            _ => return None,
        };
        let rest = &b[133..];
        if !has_payload && !rest.is_empty() {
            return None;
        }
        Some(Self {
            signer: b[..20].try_into().ok()?,
            chain_id: u64::from_le_bytes(b[20..28].try_into().ok()?),
            height: u64::from_le_bytes(b[28..36].try_into().ok()?),
            record: b[36..132].try_into().ok()?,
            payload: has_payload.then(|| rest.to_vec()),
        })
    }
}

impl Journal {
    /// Opens the journal at `path` (creating it, `size` bytes of zeros, if it does not exist)
    /// and returns it with the entries of its current generation, oldest first. Call
    /// [`Self::start_over`] once they are safe elsewhere.
    pub(crate) fn open(path: &Path, size: u64) -> std::io::Result<(Self, Vec<Entry>)> {
        if !path.exists() {
            Self::create(path, size)?;
        }
        let mut file = OpenOptions::new().read(true).write(true).open(path)?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)?;
        let generation = [0u64, 512]
            .iter()
            .filter_map(|&o| read_header(bytes.get(o as usize..)?))
            .max()
            .ok_or_else(|| {
                std::io::Error::other(format!(
                    "{}: no valid header; it is not a slashing-protection journal, or it is damaged (move it away only if the records it may hold are in the database or an interchange file)",
                    path.display()
                ))
            })?;
        let mut entries = Vec::new();
        let mut pos = DATA_START as usize;
        while pos + ENTRY_HEAD <= bytes.len() {
            let h = &bytes[pos..pos + ENTRY_HEAD];
            let magic = u32::from_le_bytes(h[..4].try_into().expect("4 bytes"));
            let entry_generation = u64::from_le_bytes(h[4..12].try_into().expect("8 bytes"));
            let len = u32::from_le_bytes(h[12..16].try_into().expect("4 bytes")) as usize;
            let crc = u32::from_le_bytes(h[16..20].try_into().expect("4 bytes"));
            let end = pos + ENTRY_HEAD + len;
            if magic != ENTRY_MAGIC || entry_generation != generation || end > bytes.len() {
                break;
            }
            let mut hasher = crc32fast::Hasher::new();
            hasher.update(&h[4..16]);
            hasher.update(&bytes[pos + ENTRY_HEAD..end]);
            if hasher.finalize() != crc {
                break;
            }
            let Some(entry) = Entry::decode_body(&bytes[pos + ENTRY_HEAD..end]) else { break };
            entries.push(entry);
            pos = end;
        }
        let len = bytes.len() as u64;
        Ok((Self { file, path: path.to_owned(), generation, tail: pos as u64, size: len }, entries))
    }

    /// Writes a new journal: `size` bytes of zeros (allocated now, so that later writes change
    /// no metadata) and generation 1, synced with its directory entry.
    fn create(path: &Path, size: u64) -> std::io::Result<()> {
        let tmp = path.with_extension("journal-new");
        {
            let mut f = File::create(&tmp)?;
            let zeros = vec![0u8; 1 << 20];
            let mut left = size.max(DATA_START);
            while left > 0 {
                let n = left.min(zeros.len() as u64) as usize;
                f.write_all(&zeros[..n])?;
                left -= n as u64;
            }
            f.write_all_at(&header(1), slot_offset(1))?;
            f.sync_all()?;
        }
        std::fs::rename(&tmp, path)?;
        if let Some(dir) = path.parent() {
            File::open(dir)?.sync_all()?;
        }
        Ok(())
    }

    /// Appends `entry` and syncs it. Returns `false`, writing nothing, when it does not fit in
    /// the space left (the caller makes the record durable another way).
    pub(crate) fn append(&mut self, entry: &Entry<impl AsRef<[u8]>>) -> std::io::Result<bool> {
        let body_len = entry.body_len();
        let len = u32::try_from(body_len).map_err(|_| std::io::Error::other("entry too large"))?;
        if self.tail + (ENTRY_HEAD + body_len) as u64 > self.size {
            return Ok(false);
        }
        // one buffer: the head (its checksum filled in last), then the body written in place
        let mut frame = Vec::with_capacity(ENTRY_HEAD + body_len);
        frame.extend_from_slice(&ENTRY_MAGIC.to_le_bytes());
        frame.extend_from_slice(&self.generation.to_le_bytes());
        frame.extend_from_slice(&len.to_le_bytes());
        frame.extend_from_slice(&[0; 4]);
        entry.encode_body_into(&mut frame);
        let mut hasher = crc32fast::Hasher::new();
        hasher.update(&frame[4..16]);
        hasher.update(&frame[ENTRY_HEAD..]);
        frame[16..ENTRY_HEAD].copy_from_slice(&hasher.finalize().to_le_bytes());
        self.file.write_all_at(&frame, self.tail)?;
        self.file.sync_data()?;
        self.tail += frame.len() as u64;
        Ok(true)
    }

    /// Empties the journal (its entries are durable elsewhere): the next generation, in the
    /// other header slot, synced. A journal of another size than `size` is written anew.
    pub(crate) fn start_over(&mut self, size: u64) -> std::io::Result<()> {
        if self.size != size {
            std::fs::remove_file(&self.path)?;
            Self::create(&self.path, size)?;
            let (fresh, _) = Self::open(&self.path, size)?;
            *self = fresh;
            return Ok(());
        }
        let next = self.generation + 1;
        self.file.write_all_at(&header(next), slot_offset(next))?;
        self.file.sync_data()?;
        self.generation = next;
        self.tail = DATA_START;
        Ok(())
    }

    /// Whether entries were appended since the journal last started over.
    #[cfg(test)]
    pub(crate) fn is_empty(&self) -> bool {
        self.tail == DATA_START
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(height: u64, payload: Option<Vec<u8>>) -> Entry {
        Entry { signer: [7; 20], chain_id: 167_010, height, record: [height as u8; 96], payload }
    }

    #[test]
    fn entries_survive_reopen_until_it_starts_over() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.journal");
        let (mut j, old) = Journal::open(&path, 64 * 1024).unwrap();
        assert!(old.is_empty() && j.is_empty());
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 64 * 1024, "allocated up front");
        let (a, b) = (entry(1, Some(vec![1; 1000])), entry(2, None));
        assert!(j.append(&a).unwrap());
        assert!(j.append(&b).unwrap());
        drop(j);
        let (mut j, got) = Journal::open(&path, 64 * 1024).unwrap();
        assert_eq!(got, vec![a.clone(), b]);
        // entries after a reopen go after the ones read
        let c = entry(3, Some(vec![]));
        assert!(j.append(&c).unwrap());
        drop(j);
        let (mut j, got) = Journal::open(&path, 64 * 1024).unwrap();
        assert_eq!(got.len(), 3);
        assert_eq!(got[2], c);

        // starting over: nothing is read back, though the bytes are still in the file
        j.start_over(64 * 1024).unwrap();
        drop(j);
        let (mut j, got) = Journal::open(&path, 64 * 1024).unwrap();
        assert!(got.is_empty(), "{got:?}");
        // a new entry over the stale ones: only it is read, not the stale ones after it
        let d = entry(4, Some(vec![4; 10]));
        assert!(j.append(&d).unwrap());
        drop(j);
        assert_eq!(Journal::open(&path, 64 * 1024).unwrap().1, vec![d]);

        // an entry that does not fit is refused without writing
        let (mut j, _) = Journal::open(&path, 64 * 1024).unwrap();
        assert!(!j.append(&entry(5, Some(vec![0; 70 * 1024]))).unwrap());
        drop(j);
        assert_eq!(Journal::open(&path, 64 * 1024).unwrap().1.len(), 1);
    }

    #[test]
    fn a_torn_entry_or_header_is_not_trusted() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.journal");
        let (mut j, _) = Journal::open(&path, 64 * 1024).unwrap();
        let a = entry(1, Some(vec![1; 100]));
        assert!(j.append(&a).unwrap());
        assert!(j.append(&entry(2, Some(vec![2; 100]))).unwrap());
        drop(j);
        // a crash in the middle of the second write: a flipped byte in its payload
        let mut bytes = std::fs::read(&path).unwrap();
        let second = DATA_START as usize + ENTRY_HEAD + a.body_len();
        bytes[second + ENTRY_HEAD + 140] ^= 0xff;
        std::fs::write(&path, &bytes).unwrap();
        assert_eq!(Journal::open(&path, 64 * 1024).unwrap().1, vec![a.clone()]);

        // a header torn while starting over: the previous generation stays current
        let (mut j, _) = Journal::open(&path, 64 * 1024).unwrap();
        j.start_over(64 * 1024).unwrap(); // generation 2, slot 0
        drop(j);
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[3] ^= 0xff; // slot 0 (generation 2) torn
        std::fs::write(&path, &bytes).unwrap();
        let (_, got) = Journal::open(&path, 64 * 1024).unwrap();
        assert_eq!(got, vec![a], "generation 1's entries, replayed again (harmlessly)");

        // no valid header at all: refused, not silently emptied
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[512 + 3] ^= 0xff;
        std::fs::write(&path, &bytes).unwrap();
        assert!(Journal::open(&path, 64 * 1024).is_err());
    }
}
