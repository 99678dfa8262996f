//! Read access to the state of one block, for execution (revm `DatabaseRef`) and RPC.

use crate::{
    ACCOUNTS, Account, CANONICAL, CODE, HEADERS, META, META_LATEST, STORAGE, StoreError, corrupt,
    decode, slot_key,
};
use alloy::primitives::{Address, B256, U256};
use redb::{ReadOnlyTable, ReadTransaction};
use revm::{
    DatabaseRef,
    state::{AccountInfo, Bytecode},
};

/// A consistent read snapshot of the flat state at the block that was `latest` when it was
/// taken. Concurrent commits do not affect it.
#[derive(Debug)]
pub struct StateProvider {
    accounts: ReadOnlyTable<&'static [u8], &'static [u8]>,
    storage: ReadOnlyTable<&'static [u8], &'static [u8]>,
    code: ReadOnlyTable<&'static [u8], &'static [u8]>,
    canonical: ReadOnlyTable<u64, &'static [u8]>,
    header: alloy::consensus::Header,
}

impl StateProvider {
    pub(crate) fn new(txn: ReadTransaction) -> Result<Self, StoreError> {
        let latest = txn
            .open_table(META)?
            .get(META_LATEST)?
            .map(|v| u64::from_be_bytes(v.value().try_into().unwrap_or_default()))
            .ok_or_else(|| corrupt("missing latest head"))?;
        let header = txn
            .open_table(HEADERS)?
            .get(latest)?
            .map(|v| decode(v.value(), "header"))
            .transpose()?
            .ok_or_else(|| corrupt("missing latest header"))?;
        Ok(Self {
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
        self.accounts
            .get(address.as_slice())?
            .map(|v| Account::decode(v.value()).ok_or_else(|| corrupt("account record")))
            .transpose()
    }

    /// A storage slot (zero when unset).
    pub fn storage(&self, address: &Address, slot: &U256) -> Result<U256, StoreError> {
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
