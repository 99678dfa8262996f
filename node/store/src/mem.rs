//! Blocks that are durable in the block log but not yet applied to redb's tables.
//!
//! A [`MemBlock`] keeps the block, its state changes and the encodings the applier writes, plus
//! hash maps of its post-state so that reads at `latest` find what it changed without a table
//! lookup. The same encodings, framed together, are the block log record.

use crate::{Account, ExecutedBlock, SealedBlock, StateChanges, StoreError, corrupt, decode};
use alloy::{
    consensus::{Header, TxEnvelope},
    primitives::{
        Address, B256, Bytes, U256,
        map::{AddressMap, AddressSet, B256Map, HashMap},
    },
    rlp::Encodable,
};

/// A committed block that the applier has not written to the tables yet.
#[derive(Debug)]
pub(crate) struct MemBlock {
    pub(crate) executed: ExecutedBlock,
    pub(crate) changes: StateChanges,
    pub(crate) header_rlp: Vec<u8>,
    pub(crate) body_rlp: Vec<u8>,
    pub(crate) senders: Vec<u8>,
    pub(crate) receipts: Vec<u8>,
    accounts: AddressMap<Option<Account>>,
    storage: HashMap<(Address, U256), U256>,
    wiped: AddressSet,
    code: B256Map<Bytes>,
    /// Transaction hash → index in the block.
    tx_index: B256Map<u32>,
}

/// What a block says about a storage slot.
pub(crate) enum SlotRead {
    /// The block wrote this value.
    Value(U256),
    /// The block cleared all of the account's storage and did not write the slot.
    Wiped,
    /// The block did not touch it.
    Untouched,
}

impl MemBlock {
    /// Wraps a committed block.
    pub(crate) fn new(executed: ExecutedBlock, changes: StateChanges) -> Self {
        let block = &executed.block;
        let header_rlp = alloy::rlp::encode(block.header());
        let mut body_rlp =
            Vec::with_capacity(block.transactions().iter().map(|t| t.length()).sum::<usize>() + 8);
        alloy::rlp::encode_list::<_, TxEnvelope>(block.transactions(), &mut body_rlp);
        let senders: Vec<u8> = executed.senders.iter().flat_map(|s| s.0.0).collect();
        let receipts = crate::receipts::encode(&executed.receipts);
        Self::with_encodings(executed, changes, header_rlp, body_rlp, senders, receipts)
    }

    fn with_encodings(
        executed: ExecutedBlock,
        changes: StateChanges,
        header_rlp: Vec<u8>,
        body_rlp: Vec<u8>,
        senders: Vec<u8>,
        receipts: Vec<u8>,
    ) -> Self {
        let accounts = changes.accounts.iter().copied().collect();
        let mut storage = HashMap::default();
        let mut wiped = AddressSet::default();
        for (addr, st) in &changes.storage {
            if st.wiped {
                wiped.insert(*addr);
            }
            for (slot, value) in &st.slots {
                storage.insert((*addr, *slot), *value);
            }
        }
        let code = changes.contracts.iter().cloned().collect();
        let tx_index = executed
            .block
            .transactions()
            .iter()
            .enumerate()
            .map(|(i, tx)| (*tx.tx_hash(), i as u32))
            .collect();
        Self {
            executed,
            changes,
            header_rlp,
            body_rlp,
            senders,
            receipts,
            accounts,
            storage,
            wiped,
            code,
            tx_index,
        }
    }

    /// The block number.
    pub(crate) fn number(&self) -> u64 {
        self.executed.block.number()
    }

    /// The block hash.
    pub(crate) fn hash(&self) -> B256 {
        self.executed.block.hash()
    }

    /// The account as this block left it, if the block changed it.
    pub(crate) fn account(&self, address: &Address) -> Option<Option<Account>> {
        self.accounts.get(address).copied()
    }

    /// A storage slot as this block left it.
    pub(crate) fn slot(&self, address: &Address, slot: &U256) -> SlotRead {
        match self.storage.get(&(*address, *slot)) {
            Some(v) => SlotRead::Value(*v),
            None if self.wiped.contains(address) => SlotRead::Wiped,
            None => SlotRead::Untouched,
        }
    }

    /// The index of a transaction in this block.
    pub(crate) fn tx_position(&self, hash: &B256) -> Option<u32> {
        self.tx_index.get(hash).copied()
    }

    /// Code this block deployed.
    pub(crate) fn code(&self, hash: &B256) -> Option<Bytes> {
        self.code.get(hash).cloned()
    }

    /// The block log record: the four encodings (receipts in [`crate::receipts`]' form) and the state changes, each length-prefixed,
    /// then the deployed code.
    pub(crate) fn record(&self) -> Vec<u8> {
        let changes = self.changes.encode();
        let code_len: usize = self.changes.contracts.iter().map(|(_, c)| 36 + c.len()).sum();
        let mut out = Vec::with_capacity(
            24 + self.header_rlp.len()
                + self.body_rlp.len()
                + self.senders.len()
                + self.receipts.len()
                + changes.len()
                + code_len,
        );
        for part in [&self.header_rlp, &self.body_rlp, &self.senders, &self.receipts, &changes] {
            out.extend_from_slice(&(part.len() as u32).to_le_bytes());
            out.extend_from_slice(part);
        }
        out.extend_from_slice(&(self.changes.contracts.len() as u32).to_le_bytes());
        for (hash, code) in &self.changes.contracts {
            out.extend_from_slice(hash.as_slice());
            out.extend_from_slice(&(code.len() as u32).to_le_bytes());
            out.extend_from_slice(code);
        }
        out
    }

    /// Decodes [`Self::record`].
    pub(crate) fn from_record(mut b: &[u8]) -> Result<Self, StoreError> {
        fn take<'a>(b: &mut &'a [u8], n: usize) -> Result<&'a [u8], StoreError> {
            if b.len() < n {
                return Err(corrupt("block log record cut short"));
            }
            let (h, t) = b.split_at(n);
            *b = t;
            Ok(h)
        }
        fn u32_(b: &mut &[u8]) -> Result<usize, StoreError> {
            Ok(u32::from_le_bytes(take(b, 4)?.try_into().expect("4 bytes")) as usize)
        }
        let part = |b: &mut &[u8]| -> Result<Vec<u8>, StoreError> {
            let n = u32_(b)?;
            Ok(take(b, n)?.to_vec())
        };
        let header_rlp = part(&mut b)?;
        let body_rlp = part(&mut b)?;
        let senders = part(&mut b)?;
        let receipts_bytes = part(&mut b)?;
        let changes_bytes = part(&mut b)?;
        let mut changes = StateChanges::decode(&changes_bytes)
            .ok_or_else(|| corrupt("block log record: state changes"))?;
        for _ in 0..u32_(&mut b)? {
            let hash = B256::from_slice(take(&mut b, 32)?);
            let n = u32_(&mut b)?;
            changes.contracts.push((hash, Bytes::copy_from_slice(take(&mut b, n)?)));
        }
        if !b.is_empty() {
            return Err(corrupt("block log record: trailing bytes"));
        }
        let header: Header = decode(&header_rlp, "block log header")?;
        let txs: Vec<TxEnvelope> = decode(&body_rlp, "block log body")?;
        let receipts = crate::receipts::decode(&receipts_bytes)?;
        if senders.len() != 20 * txs.len() {
            return Err(corrupt("block log record: senders"));
        }
        let executed = ExecutedBlock {
            block: SealedBlock::from_parts(header, txs),
            senders: senders.chunks_exact(20).map(Address::from_slice).collect(),
            receipts,
        };
        Ok(Self::with_encodings(executed, changes, header_rlp, body_rlp, senders, receipts_bytes))
    }
}
