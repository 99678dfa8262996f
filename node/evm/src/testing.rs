//! Transaction factories for tests, benchmarks and the devnet spammer: signed EIP-1559 transfers,
//! deployments and ERC-20 calls from the deterministic devnet accounts (or any keys).

use alloy::{
    consensus::{SignableTransaction, TxEip1559, TxEnvelope, transaction::Recovered},
    primitives::{Address, Bytes, TxKind, U256},
    signers::SignerSync,
    signers::local::PrivateKeySigner,
    sol_types::SolCall,
};
use taiko_contracts::BenchToken;

/// Signs transactions for a set of accounts, tracking their nonces.
#[derive(Debug)]
pub struct TxFactory {
    chain_id: u64,
    signers: Vec<PrivateKeySigner>,
    nonces: Vec<u64>,
    /// Fee cap used for every transaction.
    pub max_fee_per_gas: u128,
    /// Tip used for every transaction.
    pub max_priority_fee_per_gas: u128,
}

impl TxFactory {
    /// A factory for `signers` on `chain_id`, nonces starting at 0.
    pub fn new(chain_id: u64, signers: Vec<PrivateKeySigner>) -> Self {
        let n = signers.len();
        Self {
            chain_id,
            signers,
            nonces: vec![0; n],
            max_fee_per_gas: 1_000_000_000,
            max_priority_fee_per_gas: 1_000_000,
        }
    }

    /// Address of account `i`.
    pub fn address(&self, i: usize) -> Address {
        self.signers[i].address()
    }

    /// Number of accounts.
    pub fn len(&self) -> usize {
        self.signers.len()
    }

    /// Whether there are no accounts.
    pub fn is_empty(&self) -> bool {
        self.signers.is_empty()
    }

    /// Next nonce of account `i`.
    pub fn nonce(&self, i: usize) -> u64 {
        self.nonces[i]
    }

    /// Overrides the next nonce of account `i`.
    pub fn set_nonce(&mut self, i: usize, nonce: u64) {
        self.nonces[i] = nonce;
    }

    /// Signs a transaction from account `from` and advances its nonce.
    pub fn sign(
        &mut self,
        from: usize,
        to: TxKind,
        value: U256,
        input: Bytes,
        gas_limit: u64,
    ) -> Recovered<TxEnvelope> {
        let tx = TxEip1559 {
            chain_id: self.chain_id,
            nonce: self.nonces[from],
            gas_limit,
            max_fee_per_gas: self.max_fee_per_gas,
            max_priority_fee_per_gas: self.max_priority_fee_per_gas,
            to,
            value,
            access_list: Default::default(),
            input,
        };
        let sig = self.signers[from].sign_hash_sync(&tx.signature_hash()).expect("local signing");
        self.nonces[from] += 1;
        Recovered::new_unchecked(tx.into_signed(sig).into(), self.signers[from].address())
    }

    /// An ETH transfer.
    pub fn transfer(&mut self, from: usize, to: Address, value: u64) -> Recovered<TxEnvelope> {
        self.sign(from, TxKind::Call(to), U256::from(value), Bytes::new(), 21_000)
    }

    /// Deploys a [`BenchToken`] minting `supply` to the sender; returns the tx and the address.
    pub fn deploy_token(&mut self, from: usize, supply: U256) -> (Recovered<TxEnvelope>, Address) {
        let sender = self.address(from);
        let address = sender.create(self.nonces[from]);
        let mut code = BenchToken::BYTECODE.to_vec();
        code.extend_from_slice(&supply.to_be_bytes::<32>());
        (self.sign(from, TxKind::Create, U256::ZERO, code.into(), 1_000_000), address)
    }

    /// An ERC-20 `transfer(to, amount)` on `token`.
    pub fn token_transfer(
        &mut self,
        from: usize,
        token: Address,
        to: Address,
        amount: u64,
    ) -> Recovered<TxEnvelope> {
        let input = BenchToken::transferCall { to, value: U256::from(amount) }.abi_encode();
        self.sign(from, TxKind::Call(token), U256::ZERO, input.into(), 80_000)
    }
}

/// Block attributes for tests and benchmarks: a fixed coinbase and a fixed L1 anchor (block 1).
pub fn test_attributes(timestamp: u64) -> crate::BlockAttributes {
    crate::BlockAttributes {
        timestamp,
        coinbase: Address::repeat_byte(0xc0),
        anchor: crate::AnchorInput {
            l1_block_id: 1,
            l1_block_hash: alloy::primitives::B256::repeat_byte(1),
            l1_state_root: alloy::primitives::B256::repeat_byte(2),
        },
        ..Default::default()
    }
}
