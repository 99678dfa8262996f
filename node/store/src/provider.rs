//! Read access to the state of one block, for execution (revm `DatabaseRef`) and RPC.

use crate::{
    ACCOUNTS, Account, CANONICAL, CODE, HEADERS, META, META_LATEST, REVERTS, STORAGE, StateChanges,
    StoreError, corrupt, decode, slot_key,
};
use alloy::primitives::{Address, B256, U256};
use redb::{ReadOnlyTable, ReadTransaction};
use revm::{
    DatabaseRef,
    state::{AccountInfo, Bytecode},
};
use std::collections::HashMap;

/// A consistent read snapshot of the state after one block: `latest` when taken with
/// [`Store::state`](crate::Store::state), or an older block within the revert window with
/// [`Store::state_at`](crate::Store::state_at) (the revert records of the newer blocks are laid
/// over the flat state). Concurrent commits do not affect it.
#[derive(Debug)]
pub struct StateProvider {
    /// Values as they were after `header`'s block, for keys changed since.
    overlay: Overlay,
    accounts: ReadOnlyTable<&'static [u8], &'static [u8]>,
    storage: ReadOnlyTable<&'static [u8], &'static [u8]>,
    code: ReadOnlyTable<&'static [u8], &'static [u8]>,
    canonical: ReadOnlyTable<u64, &'static [u8]>,
    header: alloy::consensus::Header,
}

#[derive(Debug, Default)]
struct Overlay {
    accounts: HashMap<Address, Option<Account>>,
    storage: HashMap<(Address, U256), U256>,
}

impl StateProvider {
    /// The state after block `at` (`None`: the latest block).
    pub(crate) fn new(txn: ReadTransaction, at: Option<u64>) -> Result<Self, StoreError> {
        let latest = txn
            .open_table(META)?
            .get(META_LATEST)?
            .map(|v| u64::from_be_bytes(v.value().try_into().unwrap_or_default()))
            .ok_or_else(|| corrupt("missing latest head"))?;
        let number = at.unwrap_or(latest);
        if number > latest {
            return Err(StoreError::StateUnavailable { number, latest, oldest: latest });
        }
        let mut overlay = Overlay::default();
        if number < latest {
            let reverts = txn.open_table(REVERTS)?;
            // Newest first, so the oldest (closest to `number`) value of a key wins.
            for n in (number + 1..=latest).rev() {
                let Some(v) = reverts.get(n)? else {
                    return Err(StoreError::StateUnavailable { number, latest, oldest: n });
                };
                let revert =
                    StateChanges::decode(v.value()).ok_or_else(|| corrupt("revert record"))?;
                for (addr, acc) in revert.accounts {
                    overlay.accounts.insert(addr, acc);
                }
                for (addr, st) in revert.storage {
                    for (slot, value) in st.slots {
                        overlay.storage.insert((addr, slot), value);
                    }
                }
            }
        }
        let header = txn
            .open_table(HEADERS)?
            .get(number)?
            .map(|v| decode(v.value(), "header"))
            .transpose()?
            .ok_or_else(|| corrupt("missing header"))?;
        Ok(Self {
            overlay,
            accounts: txn.open_table(ACCOUNTS)?,
            storage: txn.open_table(STORAGE)?,
            code: txn.open_table(CODE)?,
            canonical: txn.open_table(CANONICAL)?,
            header,
        })
    }

    /// The header of the block whose state this snapshot holds.
    pub fn header(&self) -> &alloy::consensus::Header {
        &self.header
    }

    /// An account's fields, if it exists.
    pub fn account(&self, address: &Address) -> Result<Option<Account>, StoreError> {
        if let Some(acc) = self.overlay.accounts.get(address) {
            return Ok(*acc);
        }
        self.accounts
            .get(address.as_slice())?
            .map(|v| Account::decode(v.value()).ok_or_else(|| corrupt("account record")))
            .transpose()
    }

    /// A storage slot (zero when unset).
    pub fn storage(&self, address: &Address, slot: &U256) -> Result<U256, StoreError> {
        if let Some(v) = self.overlay.storage.get(&(*address, *slot)) {
            return Ok(*v);
        }
        Ok(self
            .storage
            .get(slot_key(address, slot).as_slice())?
            .map(|v| U256::from_be_slice(v.value()))
            .unwrap_or_default())
    }

    /// Contract code by hash.
    pub fn code(&self, hash: &B256) -> Result<Option<alloy::primitives::Bytes>, StoreError> {
        Ok(self.code.get(hash.as_slice())?.map(|v| v.value().to_vec().into()))
    }
}

impl DatabaseRef for StateProvider {
    type Error = StoreError;

    fn basic_ref(&self, address: Address) -> Result<Option<AccountInfo>, Self::Error> {
        Ok(self.account(&address)?.map(|a| AccountInfo {
            balance: a.balance,
            nonce: a.nonce,
            code_hash: a.code_hash,
            code: None,
            ..Default::default()
        }))
    }

    fn code_by_hash_ref(&self, code_hash: B256) -> Result<Bytecode, Self::Error> {
        Ok(self.code(&code_hash)?.map(Bytecode::new_raw).unwrap_or_default())
    }

    fn storage_ref(&self, address: Address, index: U256) -> Result<U256, Self::Error> {
        self.storage(&address, &index)
    }

    fn block_hash_ref(&self, number: u64) -> Result<B256, Self::Error> {
        Ok(self.canonical.get(number)?.map(|v| B256::from_slice(v.value())).unwrap_or_default())
    }
}
