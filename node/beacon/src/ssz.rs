//! SSZ merkleization with SHA-256: chunks, zero hashes, `hash_tree_root` of vectors and lists,
//! and Merkle branches over trees whose populated part is small (a validator list has a limit
//! of 2^40 entries but a devnet holds a few dozen).

use alloy::primitives::B256;
use sha2::{Digest, Sha256};
use std::sync::OnceLock;

/// The deepest tree this module builds (a list limit of 2^64 chunks is the SSZ maximum).
pub const MAX_DEPTH: usize = 64;

/// `sha256(a ‖ b)`.
pub fn hash_pair(a: &B256, b: &B256) -> B256 {
    let mut h = Sha256::new();
    h.update(a);
    h.update(b);
    B256::from_slice(&h.finalize())
}

/// `zero_hash(d)`: the root of a tree of depth `d` whose leaves are all zero chunks.
pub fn zero_hash(depth: usize) -> B256 {
    static ZERO: OnceLock<Vec<B256>> = OnceLock::new();
    ZERO.get_or_init(|| {
        let mut z = vec![B256::ZERO];
        for d in 0..MAX_DEPTH {
            let next = hash_pair(&z[d], &z[d]);
            z.push(next);
        }
        z
    })[depth]
}

/// A `uint64` as an SSZ chunk (little-endian, zero-padded).
pub fn u64_chunk(v: u64) -> B256 {
    let mut c = [0u8; 32];
    c[..8].copy_from_slice(&v.to_le_bytes());
    B256::from(c)
}

/// The root of a 48-byte value (a BLS pubkey): two chunks, the second zero-padded.
pub fn bytes48_root(b: &[u8; 48]) -> B256 {
    let mut h = Sha256::new();
    h.update(b);
    h.update([0u8; 16]);
    B256::from_slice(&h.finalize())
}

/// `mix_in_length(root, len)`.
pub fn mix_in_length(root: &B256, len: u64) -> B256 {
    hash_pair(root, &u64_chunk(len))
}

/// The smallest depth whose tree holds `n` leaves.
pub fn depth_for(n: usize) -> usize {
    n.max(1).next_power_of_two().trailing_zeros() as usize
}

/// Root of the tree of the given `depth` whose first leaves are `leaves` and the rest zero.
pub fn merkleize(leaves: &[B256], depth: usize) -> B256 {
    tree_with_branch(leaves, depth, None).0
}

/// Root of a depth-`depth` tree over `leaves` (zero-padded), and the branch (siblings, leaf
/// upwards) of leaf `index` when asked.
pub fn tree_with_branch(leaves: &[B256], depth: usize, index: Option<usize>) -> (B256, Vec<B256>) {
    assert!(
        leaves.len() <= 1usize.checked_shl(depth as u32).unwrap_or(usize::MAX),
        "too many leaves"
    );
    let mut layer: Vec<B256> = leaves.to_vec();
    let mut branch = Vec::with_capacity(if index.is_some() { depth } else { 0 });
    let mut idx = index.unwrap_or(0);
    for d in 0..depth {
        if index.is_some() {
            let sibling = idx ^ 1;
            branch.push(layer.get(sibling).copied().unwrap_or_else(|| zero_hash(d)));
            idx >>= 1;
        }
        if layer.is_empty() {
            layer.push(zero_hash(d + 1));
            continue;
        }
        let mut next = Vec::with_capacity(layer.len().div_ceil(2));
        for pair in layer.chunks(2) {
            let right = pair.get(1).copied().unwrap_or_else(|| zero_hash(d));
            next.push(hash_pair(&pair[0], &right));
        }
        layer = next;
    }
    (layer.first().copied().unwrap_or_else(|| zero_hash(depth)), branch)
}

/// Walks a branch from `leaf` at generalized index `gindex` (the leaf's position, root = 1) and
/// returns the root it leads to.
pub fn root_from_branch(leaf: B256, branch: &[B256], gindex: u128) -> B256 {
    let mut node = leaf;
    for (i, sibling) in branch.iter().enumerate() {
        node = if (gindex >> i) & 1 == 1 {
            hash_pair(sibling, &node)
        } else {
            hash_pair(&node, sibling)
        };
    }
    node
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_hashes_chain() {
        assert_eq!(zero_hash(0), B256::ZERO);
        assert_eq!(zero_hash(1), hash_pair(&B256::ZERO, &B256::ZERO));
        assert_eq!(zero_hash(3), merkleize(&[], 3));
        // the well-known depth-1 zero hash
        assert_eq!(
            zero_hash(1).to_string(),
            "0xf5a5fd42d16a20302798ef6ed309979b43003d2320d9f0e8ea9831a92759fb4b"
        );
    }

    #[test]
    fn branches_lead_to_the_root() {
        let leaves: Vec<B256> = (0..5u8).map(|i| B256::repeat_byte(i + 1)).collect();
        for depth in [3usize, 8, 40] {
            for i in 0..5 {
                let (root, branch) = tree_with_branch(&leaves, depth, Some(i));
                assert_eq!(root, merkleize(&leaves, depth));
                assert_eq!(branch.len(), depth);
                let gindex = (1u128 << depth) + i as u128;
                assert_eq!(
                    root_from_branch(leaves[i], &branch, gindex),
                    root,
                    "depth {depth} leaf {i}"
                );
                let mut bad = branch.clone();
                bad[0] = B256::repeat_byte(0xee);
                assert_ne!(root_from_branch(leaves[i], &bad, gindex), root);
            }
        }
    }

    #[test]
    fn u64_chunks_are_little_endian() {
        assert_eq!(u64_chunk(1)[0], 1);
        assert_eq!(u64_chunk(0x0102)[..2], [2, 1]);
    }
}
