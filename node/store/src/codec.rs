//! Framing for the store's compact binary encodings (block log records, stored receipts,
//! [`ExecutedBlock::encode`](crate::ExecutedBlock::encode)) and for encodings built on them
//! elsewhere (the ExEx write-ahead log): little-endian `u32` length prefixes, and a reader
//! that fails with [`StoreError::Corrupt`] instead of reading past the end.

use crate::{StoreError, corrupt};

/// Appends `part` behind its length as a little-endian `u32`.
pub fn put_part(out: &mut Vec<u8>, part: &[u8]) {
    out.extend_from_slice(&(part.len() as u32).to_le_bytes());
    out.extend_from_slice(part);
}

/// Takes the next `n` bytes off the front of `b`.
pub fn take<'a>(b: &mut &'a [u8], n: usize) -> Result<&'a [u8], StoreError> {
    if b.len() < n {
        return Err(corrupt("stored record cut short"));
    }
    let (h, t) = b.split_at(n);
    *b = t;
    Ok(h)
}

/// Takes a little-endian `u32` off the front of `b`.
pub fn take_u32(b: &mut &[u8]) -> Result<usize, StoreError> {
    Ok(u32::from_le_bytes(take(b, 4)?.try_into().expect("4 bytes")) as usize)
}

/// Takes a part written by [`put_part`] off the front of `b`.
pub fn take_part<'a>(b: &mut &'a [u8]) -> Result<&'a [u8], StoreError> {
    let n = take_u32(b)?;
    take(b, n)
}
