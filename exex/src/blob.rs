//! Tx lists in EIP-4844 blobs: the byte encoding, the sidecar, and reading them back.
//!
//! A blob is 4,096 field elements of 32 bytes, each below the BLS12-381 scalar modulus. Our
//! encoding keeps the first byte of every field element zero and fills the other 31 with data,
//! so a blob carries [`BLOB_CAPACITY`] bytes: the batch's data is the concatenation of those
//! bytes over its blobs in order, and the tx list is `data[byteOffset .. byteOffset + byteSize]`
//! (`BatchParams.blobParams`). Data after the tx list is zero padding.
//!
//! Reading back ([`tx_list_from_sidecars`]) trusts nothing the beacon node says: each blob must
//! match its KZG commitment (the proof is verified), the commitment must hash to the versioned
//! hash the inbox recorded from `blobhash`, and every field element's first byte must be zero.

use alloy::{
    eips::eip4844::{
        BYTES_PER_BLOB, Blob, BlobTransactionSidecar, env_settings::EnvKzgSettings,
        kzg_to_versioned_hash,
    },
    primitives::{B256, Bytes},
};

/// Data bytes per field element.
pub const BYTES_PER_ELEMENT: usize = 31;
/// Data bytes per blob.
pub const BLOB_CAPACITY: usize = BYTES_PER_ELEMENT * (BYTES_PER_BLOB / 32);
/// Blobs one transaction may carry (Prague).
pub const MAX_BLOBS: usize = 9;

/// Why blobs cannot carry, or do not give back, a tx list.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BlobError {
    /// More data than [`MAX_BLOBS`] blobs hold.
    #[error("{0} bytes do not fit in {MAX_BLOBS} blobs")]
    TooLarge(usize),
    /// KZG failed.
    #[error("kzg: {0}")]
    Kzg(String),
    /// A blob named by the batch is not among the sidecars.
    #[error("blob {0} not found")]
    Missing(B256),
    /// A blob does not match its commitment.
    #[error("blob {0} does not match its KZG commitment")]
    BadProof(B256),
    /// A field element's first byte is not zero.
    #[error("blob {0} is not in our encoding")]
    Encoding(B256),
    /// The tx list's range is outside the blob data.
    #[error("tx list range {offset}+{size} outside {have} bytes of blob data")]
    Range {
        /// Offset.
        offset: usize,
        /// Size.
        size: usize,
        /// Blob data bytes.
        have: usize,
    },
}

/// `data` in as few blobs as hold it.
pub fn encode(data: &[u8]) -> Result<Vec<Blob>, BlobError> {
    let n = data.len().div_ceil(BLOB_CAPACITY).max(1);
    if n > MAX_BLOBS {
        return Err(BlobError::TooLarge(data.len()));
    }
    let mut blobs = vec![Blob::ZERO; n];
    for (i, chunk) in data.chunks(BYTES_PER_ELEMENT).enumerate() {
        let (blob, element) = (i / (BYTES_PER_BLOB / 32), i % (BYTES_PER_BLOB / 32));
        let at = element * 32 + 1;
        blobs[blob][at..at + chunk.len()].copy_from_slice(chunk);
    }
    Ok(blobs)
}

/// The data bytes of `blob`, or `None` if a field element's first byte is not zero.
pub fn decode(blob: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(BLOB_CAPACITY);
    for element in blob.chunks(32) {
        if element[0] != 0 {
            return None;
        }
        out.extend_from_slice(&element[1..]);
    }
    Some(out)
}

/// The sidecar carrying `data`: blobs, KZG commitments and proofs.
pub fn sidecar(data: &[u8]) -> Result<BlobTransactionSidecar, BlobError> {
    BlobTransactionSidecar::try_from_blobs_with_settings(
        encode(data)?,
        EnvKzgSettings::Default.get(),
    )
    .map_err(|e| BlobError::Kzg(e.to_string()))
}

/// One blob as a beacon node serves it.
#[derive(Clone, Debug)]
pub struct ServedBlob {
    /// The blob.
    pub blob: Bytes,
    /// Its KZG commitment.
    pub commitment: Bytes,
    /// Its KZG proof.
    pub proof: Bytes,
}

/// The tx list of a blob batch: the blobs with `hashes` (in that order) found among `served`,
/// each checked against its commitment and the versioned hash, decoded, and cut to
/// `offset..offset + size`.
pub fn tx_list_from_sidecars(
    hashes: &[B256],
    served: &[ServedBlob],
    offset: usize,
    size: usize,
) -> Result<Vec<u8>, BlobError> {
    let settings = EnvKzgSettings::Default.get();
    let mut data = Vec::with_capacity(hashes.len() * BLOB_CAPACITY);
    for h in hashes {
        let s = served
            .iter()
            .find(|s| s.commitment.len() == 48 && kzg_to_versioned_hash(&s.commitment) == *h)
            .ok_or(BlobError::Missing(*h))?;
        let blob = c_kzg::Blob::from_bytes(&s.blob).map_err(|_| BlobError::BadProof(*h))?;
        let commitment =
            c_kzg::Bytes48::from_bytes(&s.commitment).map_err(|_| BlobError::BadProof(*h))?;
        let proof = c_kzg::Bytes48::from_bytes(&s.proof).map_err(|_| BlobError::BadProof(*h))?;
        match settings.verify_blob_kzg_proof(&blob, &commitment, &proof) {
            Ok(true) => {}
            _ => return Err(BlobError::BadProof(*h)),
        }
        data.extend(decode(&s.blob).ok_or(BlobError::Encoding(*h))?);
    }
    let end = offset.checked_add(size).filter(|e| *e <= data.len());
    let Some(end) = end else {
        return Err(BlobError::Range { offset, size, have: data.len() });
    };
    Ok(data[offset..end].to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn served(s: &BlobTransactionSidecar) -> Vec<ServedBlob> {
        s.blobs
            .iter()
            .zip(&s.commitments)
            .zip(&s.proofs)
            .map(|((b, c), p)| ServedBlob {
                blob: Bytes::copy_from_slice(b.as_slice()),
                commitment: Bytes::copy_from_slice(c.as_slice()),
                proof: Bytes::copy_from_slice(p.as_slice()),
            })
            .collect()
    }

    #[test]
    fn round_trips_across_blobs_and_checks_everything() {
        let data: Vec<u8> = (0..BLOB_CAPACITY + 1_000).map(|i| (i * 7 % 251) as u8).collect();
        let s = sidecar(&data).unwrap();
        assert_eq!(s.blobs.len(), 2);
        let hashes: Vec<B256> = s.versioned_hashes().collect();
        let got = tx_list_from_sidecars(&hashes, &served(&s), 0, data.len()).unwrap();
        assert_eq!(got, data);
        // a part of it
        let part = tx_list_from_sidecars(&hashes, &served(&s), 5, 100).unwrap();
        assert_eq!(part, data[5..105]);
        // out of range
        assert!(matches!(
            tx_list_from_sidecars(&hashes, &served(&s), 0, 2 * BLOB_CAPACITY + 1),
            Err(BlobError::Range { .. })
        ));
        // a blob missing, or swapped for another with the same commitment claimed
        assert_eq!(
            tx_list_from_sidecars(&hashes, &served(&s)[..1], 0, 10),
            Err(BlobError::Missing(hashes[1]))
        );
        let mut tampered = served(&s);
        let mut b = tampered[0].blob.to_vec();
        b[33] ^= 1;
        tampered[0].blob = b.into();
        assert_eq!(
            tx_list_from_sidecars(&hashes, &tampered, 0, 10),
            Err(BlobError::BadProof(hashes[0]))
        );
        // too much data
        assert_eq!(
            encode(&vec![1u8; MAX_BLOBS * BLOB_CAPACITY + 1]).unwrap_err(),
            BlobError::TooLarge(MAX_BLOBS * BLOB_CAPACITY + 1)
        );
        assert_eq!(decode(&[1u8; 64]), None, "a field element with a high byte");
    }
}
