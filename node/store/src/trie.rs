//! An in-memory Merkle-Patricia trie whose nodes cache their own encoding, so that the root after a
//! block costs work proportional to the keys the block changed, not to the size of the state.
//!
//! Keys are 32-byte hashes (64 nibbles), as in Ethereum's secure tries, so no value ever sits in
//! a branch node. Every node keeps its RLP reference ([`RlpNode`]: the inline encoding when
//! shorter than 32 bytes, otherwise its keccak hash); an insert or removal clears the caches on
//! its path only, and [`Trie::root`] re-encodes just those nodes. Node encodings come from
//! `alloy-trie`, so roots are exactly Ethereum's.
//!
//! The store rebuilds its tries from the flat state when it opens (see the crate docs) and then
//! keeps them current block by block; [`Trie::set`] returns the previous value, which is all a
//! caller needs to undo a speculative update exactly.

use alloy::{
    primitives::{B256, keccak256},
    trie::{
        EMPTY_ROOT_HASH, Nibbles, TrieMask,
        nodes::{BranchNodeRef, ExtensionNodeRef, LeafNodeRef, RlpNode},
    },
};

/// A Merkle-Patricia trie over 32-byte keys.
#[derive(Debug, Default, Clone)]
pub struct Trie {
    root: Node,
}

#[derive(Debug, Default, Clone)]
enum Node {
    #[default]
    Empty,
    Leaf(Box<Leaf>),
    Extension(Box<Extension>),
    Branch(Box<Branch>),
}

#[derive(Debug, Clone)]
struct Leaf {
    key: Nibbles,
    value: Vec<u8>,
    cache: Option<RlpNode>,
}

#[derive(Debug, Clone)]
struct Extension {
    key: Nibbles,
    child: Node,
    cache: Option<RlpNode>,
}

#[derive(Debug, Clone, Default)]
struct Branch {
    children: [Node; 16],
    cache: Option<RlpNode>,
}

impl Trie {
    /// An empty trie.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether the trie holds no key.
    pub fn is_empty(&self) -> bool {
        matches!(self.root, Node::Empty)
    }

    /// The value stored at `key`.
    pub fn get(&self, key: &B256) -> Option<&[u8]> {
        let path = Nibbles::unpack(key);
        let mut node = &self.root;
        let mut pos = 0;
        loop {
            match node {
                Node::Empty => return None,
                Node::Leaf(leaf) => {
                    return (path.slice(pos..) == leaf.key).then_some(leaf.value.as_slice());
                }
                Node::Extension(ext) => {
                    let rest = path.slice(pos..);
                    if !rest.starts_with(&ext.key) {
                        return None;
                    }
                    pos += ext.key.len();
                    node = &ext.child;
                }
                Node::Branch(branch) => {
                    node = &branch.children[path.get_unchecked(pos) as usize];
                    pos += 1;
                }
            }
        }
    }

    /// Sets `key` to `value` (removing it when `value` is `None`) and returns the previous value.
    pub fn set(&mut self, key: &B256, value: Option<Vec<u8>>) -> Option<Vec<u8>> {
        self.set_path(Nibbles::unpack(key), value)
    }

    /// As [`Trie::set`], for keys of any length, as long as no key of the trie is a prefix of
    /// another (values never sit in branch nodes). RLP-encoded indices, the keys of a block's
    /// transactions and receipts tries, are such keys.
    pub fn set_bytes(&mut self, key: &[u8], value: Option<Vec<u8>>) -> Option<Vec<u8>> {
        self.set_path(Nibbles::unpack(key), value)
    }

    fn set_path(&mut self, path: Nibbles, value: Option<Vec<u8>>) -> Option<Vec<u8>> {
        match value {
            Some(v) => insert(&mut self.root, path, v),
            None => remove(&mut self.root, path),
        }
    }

    /// The root hash, re-encoding only the nodes changed since the last call. The sixteen
    /// subtries under a root branch are hashed in parallel.
    pub fn root(&mut self) -> B256 {
        let mut buf = Vec::with_capacity(600);
        if let Node::Branch(b) = &mut self.root
            && b.cache.is_none()
        {
            use rayon::prelude::*;
            b.children.par_iter_mut().for_each(|child| {
                encode(child, &mut Vec::with_capacity(600));
            });
        }
        match &self.root {
            Node::Empty => EMPTY_ROOT_HASH,
            _ => {
                let rlp = encode(&mut self.root, &mut buf);
                rlp.as_hash().unwrap_or_else(|| keccak256(rlp.as_slice()))
            }
        }
    }

    /// Builds a trie from key/value pairs in any order.
    pub fn from_entries(entries: impl IntoIterator<Item = (B256, Vec<u8>)>) -> Self {
        let mut trie = Self::new();
        for (k, v) in entries {
            trie.set(&k, Some(v));
        }
        trie
    }
}

fn leaf(key: Nibbles, value: Vec<u8>) -> Node {
    Node::Leaf(Box::new(Leaf { key, value, cache: None }))
}

fn extension(key: Nibbles, child: Node) -> Node {
    if key.is_empty() {
        child
    } else {
        Node::Extension(Box::new(Extension { key, child, cache: None }))
    }
}

/// The node for two keys that diverge after their common prefix: the existing node (rebuilt by
/// `existing` from the rest of its key) and a new leaf, under a branch, under an extension for
/// the shared prefix (if any).
fn diverge(
    key: Nibbles,
    existing: impl FnOnce(Nibbles) -> Node,
    path: Nibbles,
    value: Vec<u8>,
) -> Node {
    let common = key.common_prefix_length(&path);
    let mut branch = Branch::default();
    branch.children[key.get_unchecked(common) as usize] = existing(key.slice(common + 1..));
    branch.children[path.get_unchecked(common) as usize] = leaf(path.slice(common + 1..), value);
    extension(path.slice(..common), Node::Branch(Box::new(branch)))
}

fn insert(node: &mut Node, path: Nibbles, value: Vec<u8>) -> Option<Vec<u8>> {
    match node {
        Node::Empty => {
            *node = leaf(path, value);
            None
        }
        Node::Leaf(l) => {
            if l.key == path {
                l.cache = None;
                return Some(std::mem::replace(&mut l.value, value));
            }
            let (key, old) = (l.key, std::mem::take(&mut l.value));
            *node = diverge(key, |rest| leaf(rest, old), path, value);
            None
        }
        Node::Extension(e) => {
            let common = e.key.common_prefix_length(&path);
            if common == e.key.len() {
                e.cache = None;
                return insert(&mut e.child, path.slice(common..), value);
            }
            let (key, child) = (e.key, std::mem::take(&mut e.child));
            *node = diverge(key, |rest| extension(rest, child), path, value);
            None
        }
        Node::Branch(b) => {
            b.cache = None;
            insert(&mut b.children[path.get_unchecked(0) as usize], path.slice(1..), value)
        }
    }
}

fn remove(node: &mut Node, path: Nibbles) -> Option<Vec<u8>> {
    match node {
        Node::Empty => None,
        Node::Leaf(l) => {
            if l.key != path {
                return None;
            }
            let Node::Leaf(l) = std::mem::take(node) else { unreachable!() };
            Some(l.value)
        }
        Node::Extension(e) => {
            if !path.starts_with(&e.key) {
                return None;
            }
            let removed = remove(&mut e.child, path.slice(e.key.len()..))?;
            e.cache = None;
            // The child was a branch; if it collapsed, merge it into this extension.
            match std::mem::take(&mut e.child) {
                Node::Empty => *node = Node::Empty,
                Node::Leaf(mut l) => {
                    l.key = e.key.join(&l.key);
                    l.cache = None;
                    *node = Node::Leaf(l);
                }
                Node::Extension(mut inner) => {
                    inner.key = e.key.join(&inner.key);
                    inner.cache = None;
                    *node = Node::Extension(inner);
                }
                branch @ Node::Branch(_) => e.child = branch,
            }
            Some(removed)
        }
        Node::Branch(b) => {
            let idx = path.get_unchecked(0) as usize;
            let removed = remove(&mut b.children[idx], path.slice(1..))?;
            b.cache = None;
            let (first, second) = {
                let mut left =
                    b.children.iter().enumerate().filter(|(_, c)| !matches!(c, Node::Empty));
                (left.next().map(|(i, _)| i), left.next().is_some())
            };
            let only = first.expect("a branch had two children before the removal");
            if !second {
                let child = std::mem::take(&mut b.children[only]);
                let prefix = Nibbles::from_nibbles_unchecked([only as u8]);
                *node = match child {
                    Node::Leaf(mut l) => {
                        l.key = prefix.join(&l.key);
                        l.cache = None;
                        Node::Leaf(l)
                    }
                    Node::Extension(mut e) => {
                        e.key = prefix.join(&e.key);
                        e.cache = None;
                        Node::Extension(e)
                    }
                    branch => extension(prefix, branch),
                };
            }
            Some(removed)
        }
    }
}

/// The RLP reference of a node, from its cache when it has not changed.
fn encode(node: &mut Node, buf: &mut Vec<u8>) -> RlpNode {
    match node {
        Node::Empty => RlpNode::from_rlp(&[alloy::rlp::EMPTY_STRING_CODE]),
        Node::Leaf(l) => {
            if let Some(c) = &l.cache {
                return c.clone();
            }
            buf.clear();
            let rlp = LeafNodeRef::new(&l.key, &l.value).rlp(buf);
            l.cache = Some(rlp.clone());
            rlp
        }
        Node::Extension(e) => {
            if let Some(c) = &e.cache {
                return c.clone();
            }
            let child = encode(&mut e.child, buf);
            buf.clear();
            let rlp = ExtensionNodeRef::new(&e.key, &child).rlp(buf);
            e.cache = Some(rlp.clone());
            rlp
        }
        Node::Branch(b) => {
            if let Some(c) = &b.cache {
                return c.clone();
            }
            let mut stack = Vec::with_capacity(16);
            let mut mask = TrieMask::default();
            for (i, child) in b.children.iter_mut().enumerate() {
                if !matches!(child, Node::Empty) {
                    stack.push(encode(child, buf));
                    mask.set_bit(i as u8);
                }
            }
            buf.clear();
            let rlp = BranchNodeRef::new(&stack, mask).rlp(buf);
            b.cache = Some(rlp.clone());
            rlp
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy::{
        primitives::U256,
        trie::{HashBuilder, Nibbles},
    };
    use rand::{Rng, SeedableRng, rngs::StdRng};
    use std::collections::BTreeMap;

    /// Reference root: alloy-trie's HashBuilder over the sorted entries.
    fn reference_root(entries: &BTreeMap<B256, Vec<u8>>) -> B256 {
        let mut hb = HashBuilder::default();
        for (k, v) in entries {
            hb.add_leaf(Nibbles::unpack(k), v);
        }
        hb.root()
    }

    fn value(rng: &mut StdRng) -> Vec<u8> {
        let len = rng.random_range(1..80);
        alloy::rlp::encode(
            U256::from(rng.random::<u64>()).to_be_bytes_vec()[..len.min(32)].to_vec(),
        )
    }

    #[test]
    fn empty_trie_has_empty_root() {
        assert_eq!(Trie::new().root(), EMPTY_ROOT_HASH);
    }

    #[test]
    fn matches_hash_builder_under_random_inserts_updates_and_removals() {
        let mut rng = StdRng::seed_from_u64(7);
        let mut trie = Trie::new();
        let mut model = BTreeMap::new();
        let mut keys: Vec<B256> = Vec::new();
        for round in 0..60 {
            for _ in 0..rng.random_range(1..60) {
                let op = rng.random_range(0..10);
                if op < 6 || keys.is_empty() {
                    // Keys sharing long prefixes exercise extension splits.
                    let mut k = B256::from(rng.random::<[u8; 32]>());
                    if !keys.is_empty() && rng.random_bool(0.3) {
                        let base = keys[rng.random_range(0..keys.len())];
                        let keep = rng.random_range(1..31);
                        k.0[..keep].copy_from_slice(&base.0[..keep]);
                    }
                    let v = value(&mut rng);
                    assert_eq!(trie.set(&k, Some(v.clone())), model.insert(k, v));
                    keys.push(k);
                } else if op < 8 {
                    let k = keys[rng.random_range(0..keys.len())];
                    let v = value(&mut rng);
                    assert_eq!(trie.set(&k, Some(v.clone())), model.insert(k, v));
                } else {
                    let k = keys.swap_remove(rng.random_range(0..keys.len()));
                    assert_eq!(trie.set(&k, None), model.remove(&k));
                }
            }
            assert_eq!(trie.root(), reference_root(&model), "round {round}");
            for k in keys.iter().take(20) {
                assert_eq!(trie.get(k), model.get(k).map(|v| v.as_slice()));
            }
        }
        // Removing everything returns to the empty root.
        for k in model.keys() {
            assert!(trie.set(k, None).is_some());
        }
        assert_eq!(trie.root(), EMPTY_ROOT_HASH);
        assert!(trie.is_empty());
    }

    #[test]
    fn undo_by_previous_values_restores_root() {
        let mut rng = StdRng::seed_from_u64(9);
        let entries: Vec<_> =
            (0..500).map(|_| (B256::from(rng.random::<[u8; 32]>()), value(&mut rng))).collect();
        let mut trie = Trie::from_entries(entries.clone());
        let before = trie.root();
        let mut undo = Vec::new();
        for (k, _) in entries.iter().take(50) {
            undo.push((*k, trie.set(k, None)));
        }
        for _ in 0..50 {
            let k = B256::from(rng.random::<[u8; 32]>());
            undo.push((k, trie.set(&k, Some(value(&mut rng)))));
        }
        assert_ne!(trie.root(), before);
        for (k, old) in undo.into_iter().rev() {
            trie.set(&k, old);
        }
        assert_eq!(trie.root(), before);
    }

    #[test]
    fn ordered_index_keys_give_ethereums_ordered_root_as_they_grow() {
        // the transactions and receipts tries: keys rlp(0), rlp(1), …, grown in order with a
        // root taken along the way, across the one-, two- and three-byte key lengths
        let mut rng = StdRng::seed_from_u64(11);
        let values: Vec<Vec<u8>> = (0..700).map(|_| value(&mut rng)).collect();
        let mut trie = Trie::new();
        for (i, v) in values.iter().enumerate() {
            trie.set_bytes(&alloy::rlp::encode(i), Some(v.clone()));
            let n = i + 1;
            if [1, 2, 3, 127, 128, 129, 255, 256, 257, 500, 700].contains(&n) {
                let want = alloy::trie::root::ordered_trie_root_with_encoder(
                    &values[..n],
                    |v: &Vec<u8>, buf| buf.extend_from_slice(v),
                );
                assert_eq!(trie.root(), want, "{n} entries");
            }
        }
    }
}
