//! Shared helpers: signed blocks, a validation context.
#![allow(dead_code, unreachable_pub)]

use alloy::{
    consensus::{BlockBody, Header, SignableTransaction, TxEip1559, TxEnvelope},
    primitives::{Address, B256, TxKind, U256},
    signers::{SignerSync, local::PrivateKeySigner},
    sol_types::Eip712Domain,
};
use taiko_contracts::wire::{self, Preconfirmation};
use taiko_preconf_exex::message::{Block, PreconfMessage, ValidationContext, tx_list_hash};

pub const CHAIN: u64 = 167010;
pub const TASK_MANAGER: Address = Address::repeat_byte(0x7a);

pub fn key(name: &str) -> PrivateKeySigner {
    PrivateKeySigner::from_bytes(&alloy::primitives::keccak256(name)).unwrap()
}

pub fn tx(from: &PrivateKeySigner, nonce: u64) -> TxEnvelope {
    let t = TxEip1559 {
        chain_id: CHAIN,
        nonce,
        gas_limit: 21_000,
        max_fee_per_gas: 1_000_000_000,
        max_priority_fee_per_gas: 1,
        to: TxKind::Call(Address::repeat_byte(9)),
        value: U256::from(nonce),
        input: Default::default(),
        access_list: Default::default(),
    };
    let sig = from.sign_hash_sync(&t.signature_hash()).unwrap();
    TxEnvelope::from(t.into_signed(sig))
}

pub struct Ctx {
    pub domain: Eip712Domain,
    pub preconfer: Address,
    pub head: (u64, B256),
}

impl ValidationContext for Ctx {
    fn l2_chain_id(&self) -> u64 {
        CHAIN
    }
    fn domain(&self) -> &Eip712Domain {
        &self.domain
    }
    fn preconfer_at(&self, timestamp: u64) -> Option<Address> {
        (1_000..2_000).contains(&timestamp).then_some(self.preconfer)
    }
    fn head(&self) -> (u64, B256) {
        self.head
    }
}

pub fn block(number: u64, parent: B256, txs: usize) -> Block {
    let user = key("user");
    let mut transactions = vec![tx(&key("golden touch stand-in"), number)];
    transactions.extend((0..txs as u64).map(|n| tx(&user, n)));
    Block {
        header: Header {
            number,
            parent_hash: parent,
            timestamp: 1_500,
            beneficiary: Address::repeat_byte(0xc0),
            transactions_root: alloy::consensus::proofs::calculate_transaction_root(&transactions),
            ..Default::default()
        },
        body: BlockBody { transactions, ommers: vec![], withdrawals: None },
    }
}

pub fn sign(signer: &PrivateKeySigner, block: Block, chain: u64) -> PreconfMessage {
    let commitment = Preconfirmation {
        l2ChainId: chain,
        blockNumber: block.header.number,
        parentHash: block.header.parent_hash,
        blockHash: block.header.hash_slow(),
        parentDigest: B256::repeat_byte(0xd0),
        txListHash: tx_list_hash(&block),
        timestamp: block.header.timestamp,
        anchorBlockId: 7,
        coinbase: block.header.beneficiary,
        windowEnd: 1_999,
        endOfSequencing: false,
    };
    let digest =
        wire::preconf_signing_hash(&commitment, &wire::preconf_domain(31337, TASK_MANAGER));
    let signature = signer.sign_hash_sync(&digest).unwrap().as_bytes();
    PreconfMessage { commitment, signature, block }
}

pub fn ctx(head: (u64, B256)) -> Ctx {
    Ctx {
        domain: wire::preconf_domain(31337, TASK_MANAGER),
        preconfer: key("preconfer").address(),
        head,
    }
}
