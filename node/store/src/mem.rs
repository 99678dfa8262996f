//! Blocks that are durable in the block log but not yet applied to redb's tables.
//!
//! A [`MemBlock`] keeps the block, its state changes and the encodings the applier writes, plus
//! hash maps of its post-state so that reads at `latest` find what it changed without a table
//! lookup. The same encodings, framed together, are the block log record.

use std::sync::Arc;

use crate::{
    Account, ExecutedBlock, SealedBlock, StateChanges, StoreError,
    codec::{put_part, take, take_part, take_u32},
    corrupt, decode,
};
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
    pub(crate) executed: Arc<ExecutedBlock>,
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

/// A block's transactions in the store's body encoding (their RLP, concatenated), made while
/// the block was built — a build session appends each round's transactions — so committing
/// the block does not encode them again. Only [`EncodedTxs::push`] adds to it, one whole
/// transaction at a time.
#[derive(Debug, Default, Clone)]
pub struct EncodedTxs {
    bytes: Vec<u8>,
    count: usize,
}

impl EncodedTxs {
    /// Appends `tx`'s encoding.
    pub fn push(&mut self, tx: &TxEnvelope) {
        tx.encode(&mut self.bytes);
        self.count += 1;
    }

    /// The encodings, concatenated (no list header).
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// How many transactions it holds.
    pub fn len(&self) -> usize {
        self.count
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The RLP list of the transactions (the stored body), if these are `txs`' encodings.
    fn body_of(self, txs: &[TxEnvelope]) -> Option<Vec<u8>> {
        if self.count != txs.len() {
            return None;
        }
        let list = alloy::rlp::Header { list: true, payload_length: self.bytes.len() };
        let mut body = Vec::with_capacity(list.length() + self.bytes.len());
        list.encode(&mut body);
        body.extend_from_slice(&self.bytes);
        debug_assert_eq!(body, body_rlp_of(txs), "encodings that are not the transactions'");
        Some(body)
    }
}

impl MemBlock {
    /// Wraps a committed block; `encoded` are its transactions' encodings, if at hand.
    pub(crate) fn new(
        executed: Arc<ExecutedBlock>,
        changes: StateChanges,
        encoded: Option<EncodedTxs>,
    ) -> Self {
        let [header_rlp, body_rlp, senders, receipts] =
            encode_parts(&executed, encoded.and_then(|e| e.body_of(executed.block.transactions())));
        Self::with_encodings(executed, changes, header_rlp, body_rlp, senders, receipts)
    }

    fn with_encodings(
        executed: Arc<ExecutedBlock>,
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

    /// The block log record: the four encodings of [`encode_parts`] and the state changes,
    /// each length-prefixed, then the deployed code.
    pub(crate) fn record(&self) -> Vec<u8> {
        let changes = self.changes.encode();
        let code_len: usize = self.changes.contracts.iter().map(|(_, c)| 36 + c.len()).sum();
        let parts = [&self.header_rlp, &self.body_rlp, &self.senders, &self.receipts, &changes];
        let mut out =
            Vec::with_capacity(parts.iter().map(|p| 4 + p.len()).sum::<usize>() + 4 + code_len);
        for part in parts {
            put_part(&mut out, part);
        }
        out.extend_from_slice(&(self.changes.contracts.len() as u32).to_le_bytes());
        for (hash, code) in &self.changes.contracts {
            out.extend_from_slice(hash.as_slice());
            put_part(&mut out, code);
        }
        out
    }

    /// Decodes [`Self::record`].
    pub(crate) fn from_record(mut b: &[u8]) -> Result<Self, StoreError> {
        let b = &mut b;
        let header_rlp = take_part(b)?.to_vec();
        let body_rlp = take_part(b)?.to_vec();
        let senders = take_part(b)?.to_vec();
        let receipts_bytes = take_part(b)?.to_vec();
        let mut changes = StateChanges::decode(take_part(b)?)
            .ok_or_else(|| corrupt("block log record: state changes"))?;
        for _ in 0..take_u32(b)? {
            let hash = B256::from_slice(take(b, 32)?);
            changes.contracts.push((hash, Bytes::copy_from_slice(take_part(b)?)));
        }
        if !b.is_empty() {
            return Err(corrupt("block log record: trailing bytes"));
        }
        let executed = executed_from_parts(&header_rlp, &body_rlp, &senders, &receipts_bytes)?;
        Ok(Self::with_encodings(
            Arc::new(executed),
            changes,
            header_rlp,
            body_rlp,
            senders,
            receipts_bytes,
        ))
    }
}

/// The four encodings a block is stored as: header RLP, the transactions' RLP list, the
/// senders (20 bytes each) and the receipts in [`crate::receipts`]' form.
fn encode_parts(executed: &ExecutedBlock, body_rlp: Option<Vec<u8>>) -> [Vec<u8>; 4] {
    let block = &executed.block;
    let header_rlp = alloy::rlp::encode(block.header());
    let body_rlp = body_rlp.unwrap_or_else(|| body_rlp_of(block.transactions()));
    let senders: Vec<u8> = executed.senders.iter().flat_map(|s| s.0.0).collect();
    let receipts = crate::receipts::encode(&executed.receipts);
    [header_rlp, body_rlp, senders, receipts]
}

/// The stored body: the RLP list of the transactions.
fn body_rlp_of(txs: &[TxEnvelope]) -> Vec<u8> {
    let mut body_rlp = Vec::with_capacity(txs.iter().map(|t| t.length()).sum::<usize>() + 8);
    alloy::rlp::encode_list::<_, TxEnvelope>(txs, &mut body_rlp);
    body_rlp
}

/// Decodes [`encode_parts`].
fn executed_from_parts(
    header_rlp: &[u8],
    body_rlp: &[u8],
    senders: &[u8],
    receipts: &[u8],
) -> Result<ExecutedBlock, StoreError> {
    let header: Header = decode(header_rlp, "block header")?;
    let txs: Vec<TxEnvelope> = decode(body_rlp, "block body")?;
    let receipts = crate::receipts::decode(receipts)?;
    if senders.len() != 20 * txs.len() || receipts.len() != txs.len() {
        return Err(corrupt("executed block: senders or receipts do not match the transactions"));
    }
    Ok(ExecutedBlock {
        block: SealedBlock::from_parts(header, txs),
        senders: senders.chunks_exact(20).map(Address::from_slice).collect(),
        receipts,
    })
}

impl ExecutedBlock {
    /// A compact binary encoding (the one the block log uses for a block): header and body as
    /// RLP, the senders, and the receipts without their blooms, each length-prefixed.
    pub fn encode(&self) -> Vec<u8> {
        let parts = encode_parts(self, None);
        let mut out = Vec::with_capacity(parts.iter().map(|p| 4 + p.len()).sum());
        for part in &parts {
            put_part(&mut out, part);
        }
        out
    }

    /// Decodes [`Self::encode`]; the block hash is computed from the header.
    pub fn decode(mut b: &[u8]) -> Result<Self, StoreError> {
        let b = &mut b;
        let (h, body, senders, receipts) =
            (take_part(b)?, take_part(b)?, take_part(b)?, take_part(b)?);
        if !b.is_empty() {
            return Err(corrupt("executed block: trailing bytes"));
        }
        executed_from_parts(h, body, senders, receipts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy::{
        consensus::{SignableTransaction, TxEip1559, TxLegacy},
        primitives::{Signature, TxKind},
    };

    fn executed() -> ExecutedBlock {
        let sig = Signature::test_signature();
        let txs: Vec<TxEnvelope> = vec![
            TxLegacy {
                nonce: 1,
                gas_limit: 21_000,
                to: TxKind::Call(Address::repeat_byte(1)),
                ..Default::default()
            }
            .into_signed(sig)
            .into(),
            TxEip1559 {
                chain_id: 167,
                nonce: 7,
                gas_limit: 90_000,
                max_fee_per_gas: 10,
                to: TxKind::Create,
                input: Bytes::from_static(&[0x60, 0x00]),
                ..Default::default()
            }
            .into_signed(sig)
            .into(),
            TxLegacy { nonce: 2, gas_limit: 21_000, ..Default::default() }.into_signed(sig).into(),
        ];
        let receipts = crate::receipts::tests::sample();
        let header = Header { number: 9, gas_used: 80_000, ..Default::default() };
        ExecutedBlock {
            block: SealedBlock::from_parts(header, txs),
            senders: vec![
                Address::repeat_byte(5),
                Address::repeat_byte(6),
                Address::repeat_byte(7),
            ],
            receipts,
        }
    }

    #[test]
    fn transactions_encoded_ahead_are_the_stored_body() {
        let block = Arc::new(executed());
        let txs = block.block.transactions();
        let mut encoded = EncodedTxs::default();
        for tx in txs {
            encoded.push(tx);
        }
        assert_eq!(encoded.len(), 3);
        let ahead = MemBlock::new(block.clone(), StateChanges::default(), Some(encoded.clone()));
        let fresh = MemBlock::new(block.clone(), StateChanges::default(), None);
        assert_eq!(ahead.body_rlp, fresh.body_rlp);
        assert_eq!(ahead.record(), fresh.record());
        let back = MemBlock::from_record(&ahead.record()).unwrap();
        assert_eq!(*back.executed, *block);
        // encodings of another number of transactions are not used
        let mut short = EncodedTxs::default();
        short.push(&txs[0]);
        assert_eq!(short.clone().body_of(txs), None);
        let fallback = MemBlock::new(block, StateChanges::default(), Some(short));
        assert_eq!(fallback.body_rlp, fresh.body_rlp);
    }

    #[test]
    fn executed_block_round_trips_and_rejects_damage() {
        let block = executed();
        let bytes = block.encode();
        let back = ExecutedBlock::decode(&bytes).unwrap();
        assert_eq!(back, block);
        assert_eq!(back.block.hash(), block.block.hash());
        // every cut is an error, never a shorter block
        for n in 0..bytes.len() {
            assert!(ExecutedBlock::decode(&bytes[..n]).is_err(), "cut at {n}");
        }
        let mut long = bytes.clone();
        long.push(0);
        assert!(ExecutedBlock::decode(&long).is_err(), "trailing byte");
        // senders that do not match the transactions
        let mut wrong = block.clone();
        wrong.senders.pop();
        assert!(ExecutedBlock::decode(&wrong.encode()).is_err());
    }
}
