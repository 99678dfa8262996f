//! State changes of a block (or of an unwind), in the shape the store and the trie consume.

use alloy::primitives::{Address, B256, Bytes, U256};
use revm::{
    database::{BundleState, TransitionState},
    state::AccountInfo,
};

/// An account's fields as stored (its storage lives in its own table and trie).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Account {
    /// Transaction count.
    pub nonce: u64,
    /// Balance in wei.
    pub balance: U256,
    /// Keccak of the account's code (`KECCAK_EMPTY` without code).
    pub code_hash: B256,
}

impl Account {
    /// Encoded size in the accounts table.
    pub(crate) const ENCODED_LEN: usize = 8 + 32 + 32;

    pub(crate) fn encode(&self) -> [u8; Self::ENCODED_LEN] {
        let mut out = [0u8; Self::ENCODED_LEN];
        out[..8].copy_from_slice(&self.nonce.to_be_bytes());
        out[8..40].copy_from_slice(&self.balance.to_be_bytes::<32>());
        out[40..].copy_from_slice(self.code_hash.as_slice());
        out
    }

    pub(crate) fn decode(bytes: &[u8]) -> Option<Self> {
        if bytes.len() != Self::ENCODED_LEN {
            return None;
        }
        Some(Self {
            nonce: u64::from_be_bytes(bytes[..8].try_into().ok()?),
            balance: U256::from_be_slice(&bytes[8..40]),
            code_hash: B256::from_slice(&bytes[40..]),
        })
    }
}

impl From<&AccountInfo> for Account {
    fn from(i: &AccountInfo) -> Self {
        Self { nonce: i.nonce, balance: i.balance, code_hash: i.code_hash }
    }
}

/// Storage changes of one account.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StorageChanges {
    /// Whether all storage of the account was cleared before `slots` apply (self-destruct).
    pub wiped: bool,
    /// New slot values; zero deletes the slot.
    pub slots: Vec<(U256, U256)>,
}

/// The post-state of everything a block touched.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StateChanges {
    /// New account values; `None` deletes the account.
    pub accounts: Vec<(Address, Option<Account>)>,
    /// Storage changes by account.
    pub storage: Vec<(Address, StorageChanges)>,
    /// New contract code by hash.
    pub contracts: Vec<(B256, Bytes)>,
}

impl StateChanges {
    /// Extracts the changes from revm's bundle state (after `merge_transitions`). Accounts whose
    /// fields did not change and that have no storage change are left out, so an account that
    /// was only read never reaches the trie.
    pub fn from_bundle(bundle: &BundleState) -> Self {
        let mut out = Self::default();
        for (address, acc) in &bundle.state {
            let info = acc.info.as_ref().map(Account::from);
            let original = acc.original_info.as_ref().map(Account::from);
            let wiped = acc.status.was_destroyed();
            let slots: Vec<(U256, U256)> = acc
                .storage
                .iter()
                .filter(|(_, s)| wiped || s.is_changed())
                .map(|(k, s)| (*k, s.present_value))
                .collect();
            if info != original || wiped {
                out.accounts.push((*address, info));
            }
            if wiped || !slots.is_empty() {
                out.storage.push((*address, StorageChanges { wiped, slots }));
            }
        }
        for (hash, code) in &bundle.contracts {
            out.contracts.push((*hash, code.original_bytes()));
        }
        out.sort();
        out
    }

    /// The present values of everything `transitions` touched — the transactions executed
    /// since revm last merged its transitions — for the tries: every account it holds with
    /// its current fields (`None`: it does not exist), and every slot with its current value,
    /// after clearing the account's storage where a transition destroyed it. Unchanged values
    /// are included (setting a trie key to its value changes no root); code is left out (the
    /// tries do not hold it). A build session applies these round by round, so that sealing
    /// only hashes what the last round touched; applied in order, they leave the tries exactly
    /// where [`Self::from_bundle`] of the whole block would.
    pub fn from_transitions(transitions: &TransitionState) -> Self {
        let mut out = Self::default();
        for (address, t) in &transitions.transitions {
            out.accounts.push((*address, t.info.as_ref().map(Account::from)));
            let wiped = t.storage_was_destroyed;
            let slots: Vec<(U256, U256)> =
                t.storage.iter().map(|(k, s)| (*k, s.present_value)).collect();
            if wiped || !slots.is_empty() {
                out.storage.push((*address, StorageChanges { wiped, slots }));
            }
        }
        out.sort();
        out
    }

    /// Puts every list in address (and slot) order, so that encodings are deterministic.
    pub fn sort(&mut self) {
        self.accounts.sort_by_key(|(a, _)| *a);
        self.storage.sort_by_key(|(a, _)| *a);
        for (_, s) in &mut self.storage {
            s.slots.sort_by_key(|(k, _)| *k);
        }
        self.contracts.sort_by_key(|(h, _)| *h);
    }

    /// Whether nothing changed.
    pub fn is_empty(&self) -> bool {
        self.accounts.is_empty() && self.storage.is_empty() && self.contracts.is_empty()
    }

    /// Compact binary encoding (used for per-block revert records).
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(8 + self.accounts.len() * 93);
        out.extend_from_slice(&(self.accounts.len() as u32).to_be_bytes());
        for (addr, acc) in &self.accounts {
            out.extend_from_slice(addr.as_slice());
            match acc {
                Some(a) => {
                    out.push(1);
                    out.extend_from_slice(&a.encode());
                }
                None => out.push(0),
            }
        }
        out.extend_from_slice(&(self.storage.len() as u32).to_be_bytes());
        for (addr, s) in &self.storage {
            out.extend_from_slice(addr.as_slice());
            out.push(s.wiped as u8);
            out.extend_from_slice(&(s.slots.len() as u32).to_be_bytes());
            for (k, v) in &s.slots {
                out.extend_from_slice(&k.to_be_bytes::<32>());
                out.extend_from_slice(&v.to_be_bytes::<32>());
            }
        }
        out
    }

    /// Decodes [`Self::encode`]'s output.
    pub(crate) fn decode(mut b: &[u8]) -> Option<Self> {
        fn take<'a>(b: &mut &'a [u8], n: usize) -> Option<&'a [u8]> {
            crate::codec::take(b, n).ok()
        }
        fn u32_(b: &mut &[u8]) -> Option<u32> {
            Some(u32::from_be_bytes(take(b, 4)?.try_into().ok()?))
        }
        let mut out = Self::default();
        for _ in 0..u32_(&mut b)? {
            let addr = Address::from_slice(take(&mut b, 20)?);
            let acc = match take(&mut b, 1)?[0] {
                1 => Some(Account::decode(take(&mut b, Account::ENCODED_LEN)?)?),
                _ => None,
            };
            out.accounts.push((addr, acc));
        }
        for _ in 0..u32_(&mut b)? {
            let addr = Address::from_slice(take(&mut b, 20)?);
            let wiped = take(&mut b, 1)?[0] == 1;
            let n = u32_(&mut b)?;
            let mut slots = Vec::with_capacity(n as usize);
            for _ in 0..n {
                let k = U256::from_be_slice(take(&mut b, 32)?);
                let v = U256::from_be_slice(take(&mut b, 32)?);
                slots.push((k, v));
            }
            out.storage.push((addr, StorageChanges { wiped, slots }));
        }
        b.is_empty().then_some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn revert_encoding_round_trips() {
        let c = StateChanges {
            accounts: vec![
                (
                    Address::repeat_byte(1),
                    Some(Account {
                        nonce: 3,
                        balance: U256::from(9),
                        code_hash: B256::repeat_byte(7),
                    }),
                ),
                (Address::repeat_byte(2), None),
            ],
            storage: vec![(
                Address::repeat_byte(1),
                StorageChanges { wiped: true, slots: vec![(U256::from(1), U256::from(2))] },
            )],
            contracts: vec![],
        };
        assert_eq!(StateChanges::decode(&c.encode()), Some(c.clone()));
        let enc = c.encode();
        assert_eq!(StateChanges::decode(&enc[..enc.len() - 1]), None, "truncation is detected");
    }
}
