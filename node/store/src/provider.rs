//! Read access to the state of one block, for execution (revm `DatabaseRef`) and RPC.

use crate::{
    ACCOUNTS, Account, CANONICAL, CODE, HEADERS, META, META_LATEST, REVERTS, STORAGE, StateChanges,
    StoreError, corrupt, decode,
    mem::{MemBlock, SlotRead},
    read_u64, slot_key,
};
use alloy::primitives::{Address, B256, U256};
use redb::{ReadOnlyTable, ReadTransaction};
use revm::{
    DatabaseRef,
    state::{AccountInfo, Bytecode},
};
use std::{collections::HashMap, sync::Arc};

/// A consistent read snapshot of the state after one block: `latest` when taken with
/// [`Store::state`](crate::Store::state), or an older block within the revert window with
/// [`Store::state_at`](crate::Store::state_at). Blocks not yet written to the tables are laid
/// over them (newest first); for a block older than the tables' head, the revert records of the
/// newer blocks are. Concurrent commits do not affect it.
#[derive(Debug)]
pub struct StateProvider {
    /// Values as they were after `header`'s block, for keys changed since.
    overlay: Overlay,
    /// Committed blocks above the tables' head, up to `header`'s block, oldest first.
    mem: Vec<Arc<MemBlock>>,
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
    /// The state after block `at` (`None`: `latest`), from a read transaction and the
    /// committed blocks not yet in the tables when it began (`mem`, oldest first).
    pub(crate) fn new(
        txn: ReadTransaction,
        at: Option<u64>,
        latest: u64,
        revert_window: u64,
        mut mem: Vec<Arc<MemBlock>>,
    ) -> Result<Self, StoreError> {
        // The tables' head: the applier may have written some of `mem` since it was copied.
        let applied = read_u64(&txn.open_table(META)?, META_LATEST)?;
        let latest = latest.max(applied);
        let number = at.unwrap_or(latest);
        let oldest = latest.saturating_sub(revert_window);
        if number > latest || number < oldest {
            return Err(StoreError::StateUnavailable { number, latest, oldest });
        }
        mem.retain(|b| b.number() > applied && b.number() <= number);
        let mut overlay = Overlay::default();
        if number < applied {
            let reverts = txn.open_table(REVERTS)?;
            // Newest first, so the oldest (closest to `number`) value of a key wins.
            for n in (number + 1..=applied).rev() {
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
        let header = match mem.last() {
            Some(b) if b.number() == number => b.executed.block.header().clone(),
            _ => txn
                .open_table(HEADERS)?
                .get(number)?
                .map(|v| decode(v.value(), "header"))
                .transpose()?
                .ok_or_else(|| corrupt("missing header"))?,
        };
        Ok(Self {
            overlay,
            mem,
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
        for b in self.mem.iter().rev() {
            if let Some(acc) = b.account(address) {
                return Ok(acc);
            }
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
        for b in self.mem.iter().rev() {
            match b.slot(address, slot) {
                SlotRead::Value(v) => return Ok(v),
                SlotRead::Wiped => return Ok(U256::ZERO),
                SlotRead::Untouched => {}
            }
        }
        Ok(self
            .storage
            .get(slot_key(address, slot).as_slice())?
            .map(|v| U256::from_be_slice(v.value()))
            .unwrap_or_default())
    }

    /// Contract code by hash.
    pub fn code(&self, hash: &B256) -> Result<Option<alloy::primitives::Bytes>, StoreError> {
        if let Some(code) = self.mem.iter().rev().find_map(|b| b.code(hash)) {
            return Ok(Some(code));
        }
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
        if let Some(b) = self.mem.iter().find(|b| b.number() == number) {
            return Ok(b.hash());
        }
        Ok(self.canonical.get(number)?.map(|v| B256::from_slice(v.value())).unwrap_or_default())
    }
}
