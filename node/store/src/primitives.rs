//! Block types shared by the store, the executor and the engine.

use alloy::{
    consensus::{BlockBody, Header, ReceiptEnvelope, TxEnvelope},
    eips::BlockNumHash,
    primitives::{Address, B256},
};

/// An L2 block: header and transactions (no ommers, no withdrawals).
pub type Block = alloy::consensus::Block<TxEnvelope>;

/// A block with its hash computed once.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SealedBlock {
    hash: B256,
    block: Block,
}

impl SealedBlock {
    /// Seals a block by hashing its header.
    pub fn seal(block: Block) -> Self {
        Self { hash: block.header.hash_slow(), block }
    }

    /// Wraps a block with a hash claimed by someone else (for instance a peer); importing
    /// checks the claim.
    pub fn new_unchecked(block: Block, hash: B256) -> Self {
        Self { hash, block }
    }

    /// Builds a block from a header and its transactions, and seals it.
    pub fn from_parts(header: Header, transactions: Vec<TxEnvelope>) -> Self {
        Self::seal(Block {
            header,
            body: BlockBody { transactions, ommers: vec![], withdrawals: Some(Default::default()) },
        })
    }

    /// The block hash.
    pub fn hash(&self) -> B256 {
        self.hash
    }

    /// The header.
    pub fn header(&self) -> &Header {
        &self.block.header
    }

    /// The block number.
    pub fn number(&self) -> u64 {
        self.block.header.number
    }

    /// Number and hash.
    pub fn num_hash(&self) -> BlockNumHash {
        BlockNumHash::new(self.number(), self.hash)
    }

    /// The transactions.
    pub fn transactions(&self) -> &[TxEnvelope] {
        &self.block.body.transactions
    }

    /// The unsealed block.
    pub fn block(&self) -> &Block {
        &self.block
    }

    /// Splits into the block; the hash is dropped.
    pub fn into_block(self) -> Block {
        self.block
    }
}

/// A block together with what executing it produced: senders and receipts.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ExecutedBlock {
    /// The block.
    pub block: SealedBlock,
    /// Recovered sender of each transaction, in order.
    pub senders: Vec<Address>,
    /// Receipt of each transaction, in order.
    pub receipts: Vec<ReceiptEnvelope>,
}

impl ExecutedBlock {
    /// Number and hash of the block.
    pub fn num_hash(&self) -> BlockNumHash {
        self.block.num_hash()
    }
}
