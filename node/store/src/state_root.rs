//! The state trie: the account trie plus one storage trie per account with storage.
//!
//! [`StateTrie::apply`] applies a block's [`StateChanges`] and returns the new state root along
//! with a [`TrieUndo`] that puts back exactly what was replaced; the engine applies a block
//! speculatively, checks the root, then either commits the block to disk (dropping the undo)
//! or undoes it. Work per block is proportional to the touched keys times the trie depth.

use crate::{
    changes::{Account, StateChanges},
    trie::Trie,
};
use alloy::{
    primitives::{Address, B256, U256, keccak256},
    rlp::{Decodable, Encodable},
    trie::{EMPTY_ROOT_HASH, TrieAccount},
};
use std::collections::{BTreeSet, HashMap};

/// The account trie and all storage tries.
#[derive(Debug, Default)]
pub struct StateTrie {
    accounts: Trie,
    storages: HashMap<B256, Trie>,
}

/// What [`StateTrie::apply`] replaced, to put it back: one step per `apply`, undone
/// newest first ([`TrieUndo::then`] joins the undo records of consecutive applies).
#[derive(Debug, Default)]
#[must_use = "an undo record must be applied or dropped deliberately"]
pub struct TrieUndo {
    steps: Vec<UndoStep>,
}

#[derive(Debug, Default)]
struct UndoStep {
    accounts: Vec<(B256, Option<Vec<u8>>)>,
    storage: Vec<(B256, B256, Option<Vec<u8>>)>,
    wiped: Vec<(B256, Trie)>,
}

impl TrieUndo {
    /// Appends the undo record of an `apply` made after the ones this record undoes, so that
    /// undoing the result puts back what was there before all of them.
    pub fn then(&mut self, later: TrieUndo) {
        self.steps.extend(later.steps);
    }
}

/// The trie could not be updated: an account leaf did not decode (a corrupted trie).
#[derive(Debug, thiserror::Error)]
#[error("corrupted account leaf for {0}")]
pub struct CorruptLeaf(pub B256);

impl StateTrie {
    /// Builds the tries from the flat state.
    pub fn from_state(
        accounts: impl IntoIterator<Item = (Address, Account)>,
        storage: impl IntoIterator<Item = (Address, U256, U256)>,
    ) -> Self {
        let mut storages: HashMap<B256, Trie> = HashMap::new();
        for (addr, slot, value) in storage {
            if !value.is_zero() {
                storages
                    .entry(keccak256(addr))
                    .or_default()
                    .set(&keccak256(B256::from(slot)), Some(alloy::rlp::encode(value)));
            }
        }
        let mut trie = Self { accounts: Trie::new(), storages };
        for (addr, acc) in accounts {
            let hashed = keccak256(addr);
            let storage_root = trie.storage_root(&hashed);
            trie.accounts.set(&hashed, Some(encode_account(&acc, storage_root)));
        }
        trie
    }

    fn storage_root(&mut self, hashed: &B256) -> B256 {
        self.storages.get_mut(hashed).map(Trie::root).unwrap_or(EMPTY_ROOT_HASH)
    }

    /// The current state root.
    pub fn root(&mut self) -> B256 {
        self.accounts.root()
    }

    /// Applies `changes` and returns the new root and the undo record.
    pub fn apply(&mut self, changes: &StateChanges) -> Result<(B256, TrieUndo), CorruptLeaf> {
        let mut undo = UndoStep::default();
        let result = self.apply_step(changes, &mut undo);
        let undo = TrieUndo { steps: vec![undo] };
        match result {
            Ok(()) => Ok((self.accounts.root(), undo)),
            Err(e) => {
                // put back what was set before the corrupted leaf was found
                self.undo(undo);
                Err(e)
            }
        }
    }

    fn apply_step(
        &mut self,
        changes: &StateChanges,
        undo: &mut UndoStep,
    ) -> Result<(), CorruptLeaf> {
        let mut dirty: BTreeSet<Address> = BTreeSet::new();
        for (addr, st) in &changes.storage {
            let hashed = keccak256(addr);
            if st.wiped {
                let old = self.storages.remove(&hashed).unwrap_or_default();
                undo.wiped.push((hashed, old));
            }
            let trie = self.storages.entry(hashed).or_default();
            for (slot, value) in &st.slots {
                let key = keccak256(B256::from(*slot));
                let new = (!value.is_zero()).then(|| alloy::rlp::encode(value));
                let old = trie.set(&key, new);
                undo.storage.push((hashed, key, old));
            }
            dirty.insert(*addr);
        }
        let mut new_accounts: HashMap<Address, Option<Account>> = HashMap::new();
        for (addr, acc) in &changes.accounts {
            new_accounts.insert(*addr, *acc);
            dirty.insert(*addr);
        }
        for addr in dirty {
            let hashed = keccak256(addr);
            let storage_root = self.storage_root(&hashed);
            if self.storages.get(&hashed).is_some_and(Trie::is_empty) {
                self.storages.remove(&hashed);
            }
            let leaf = match new_accounts.get(&addr) {
                Some(Some(acc)) => Some(encode_account(acc, storage_root)),
                Some(None) => None,
                None => {
                    // Only storage changed: re-encode the existing leaf with the new root.
                    match self.accounts.get(&hashed) {
                        Some(old) => {
                            let mut acc = TrieAccount::decode(&mut &old[..])
                                .map_err(|_| CorruptLeaf(hashed))?;
                            acc.storage_root = storage_root;
                            Some(alloy::rlp::encode(acc))
                        }
                        // Storage written to an account that does not exist: create it empty.
                        None => Some(encode_account(&Account::default_empty(), storage_root)),
                    }
                }
            };
            let old = self.accounts.set(&hashed, leaf);
            undo.accounts.push((hashed, old));
        }
        Ok(())
    }

    /// Puts back what the [`apply`](Self::apply) calls behind `undo` replaced.
    pub fn undo(&mut self, undo: TrieUndo) {
        for step in undo.steps.into_iter().rev() {
            self.undo_step(step);
        }
    }

    fn undo_step(&mut self, undo: UndoStep) {
        for (hashed, old) in undo.accounts.into_iter().rev() {
            self.accounts.set(&hashed, old);
        }
        for (hashed, key, old) in undo.storage.into_iter().rev() {
            let trie = self.storages.entry(hashed).or_default();
            trie.set(&key, old);
            if trie.is_empty() {
                self.storages.remove(&hashed);
            }
        }
        for (hashed, trie) in undo.wiped.into_iter().rev() {
            if trie.is_empty() {
                self.storages.remove(&hashed);
            } else {
                self.storages.insert(hashed, trie);
            }
        }
    }
}

impl Account {
    fn default_empty() -> Self {
        Self { nonce: 0, balance: U256::ZERO, code_hash: alloy::primitives::KECCAK256_EMPTY }
    }
}

fn encode_account(acc: &Account, storage_root: B256) -> Vec<u8> {
    let t = TrieAccount {
        nonce: acc.nonce,
        balance: acc.balance,
        storage_root,
        code_hash: acc.code_hash,
    };
    let mut out = Vec::with_capacity(t.length());
    t.encode(&mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::changes::StorageChanges;
    use alloy::trie::root::{state_root_unhashed, storage_root_unhashed};
    use std::collections::BTreeMap;

    fn acc(n: u64) -> Account {
        Account {
            nonce: n,
            balance: U256::from(n * 1000),
            code_hash: alloy::primitives::KECCAK256_EMPTY,
        }
    }

    /// Reference root from alloy-trie over a flat model.
    fn reference(
        accounts: &BTreeMap<Address, Account>,
        storage: &BTreeMap<Address, BTreeMap<U256, U256>>,
    ) -> B256 {
        state_root_unhashed(accounts.iter().map(|(a, acc)| {
            let sroot = storage
                .get(a)
                .map(|s| {
                    storage_root_unhashed(
                        s.iter().filter(|(_, v)| !v.is_zero()).map(|(k, v)| (B256::from(*k), *v)),
                    )
                })
                .unwrap_or(EMPTY_ROOT_HASH);
            (
                *a,
                TrieAccount {
                    nonce: acc.nonce,
                    balance: acc.balance,
                    storage_root: sroot,
                    code_hash: acc.code_hash,
                },
            )
        }))
    }

    #[test]
    fn apply_and_undo_match_reference_roots() {
        let mut accounts: BTreeMap<Address, Account> =
            (1..=50u8).map(|i| (Address::repeat_byte(i), acc(i as u64))).collect();
        let mut storage: BTreeMap<Address, BTreeMap<U256, U256>> = BTreeMap::new();
        storage.entry(Address::repeat_byte(3)).or_default().insert(U256::from(1), U256::from(11));
        let mut trie = StateTrie::from_state(
            accounts.iter().map(|(a, c)| (*a, *c)),
            storage.iter().flat_map(|(a, s)| s.iter().map(move |(k, v)| (*a, *k, *v))),
        );
        let genesis_root = trie.root();
        assert_eq!(genesis_root, reference(&accounts, &storage));

        let changes = StateChanges {
            accounts: vec![
                (Address::repeat_byte(1), Some(acc(99))),
                (Address::repeat_byte(2), None),
                (Address::repeat_byte(77), Some(acc(5))),
            ],
            storage: vec![
                (
                    Address::repeat_byte(3),
                    StorageChanges {
                        wiped: false,
                        slots: vec![(U256::from(1), U256::ZERO), (U256::from(2), U256::from(22))],
                    },
                ),
                (
                    Address::repeat_byte(4),
                    StorageChanges { wiped: false, slots: vec![(U256::from(9), U256::from(99))] },
                ),
            ],
            contracts: vec![],
        };
        let (root, undo) = trie.apply(&changes).unwrap();
        accounts.insert(Address::repeat_byte(1), acc(99));
        accounts.remove(&Address::repeat_byte(2));
        accounts.insert(Address::repeat_byte(77), acc(5));
        storage.get_mut(&Address::repeat_byte(3)).unwrap().remove(&U256::from(1));
        storage.get_mut(&Address::repeat_byte(3)).unwrap().insert(U256::from(2), U256::from(22));
        storage.entry(Address::repeat_byte(4)).or_default().insert(U256::from(9), U256::from(99));
        assert_eq!(root, reference(&accounts, &storage));

        trie.undo(undo);
        assert_eq!(trie.root(), genesis_root, "undo restores the exact root");
    }

    #[test]
    fn wiped_storage_is_restored_by_undo() {
        let a = Address::repeat_byte(5);
        let mut trie = StateTrie::from_state([(a, acc(1))], [(a, U256::from(1), U256::from(2))]);
        let before = trie.root();
        let changes = StateChanges {
            accounts: vec![(a, None)],
            storage: vec![(a, StorageChanges { wiped: true, slots: vec![] })],
            contracts: vec![],
        };
        let (root, undo) = trie.apply(&changes).unwrap();
        assert_eq!(root, EMPTY_ROOT_HASH);
        trie.undo(undo);
        assert_eq!(trie.root(), before);
    }
}
