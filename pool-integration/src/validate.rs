//! Transaction validation: stateless checks on the transaction alone, stateful checks against the
//! sender's account at `latest`.

use crate::{PoolConfig, PoolError};
use alloy::{
    consensus::{Transaction, TxEnvelope, transaction::Recovered},
    eips::{Encodable2718, eip7702::constants::PER_EMPTY_ACCOUNT_COST},
    primitives::{Address, B256, KECCAK256_EMPTY, U256},
};
use std::sync::Arc;

/// Who submitted a transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TransactionOrigin {
    /// Through this node's RPC (its user): kept over external ones and persisted across restarts.
    Local,
    /// From peers or re-injected after a reorg.
    External,
}

/// A validated, pooled transaction.
#[derive(Debug, Clone)]
pub struct PooledTransaction {
    /// The transaction and its sender.
    pub tx: Recovered<TxEnvelope>,
    /// Transaction hash.
    pub hash: B256,
    /// Encoded (EIP-2718) size.
    pub size: usize,
    /// `gas_limit · max_fee + value`.
    pub cost: U256,
    /// Where it came from.
    pub origin: TransactionOrigin,
    /// Arrival order (ties are broken first come, first served).
    pub id: u64,
}

impl PooledTransaction {
    /// Sender.
    pub fn sender(&self) -> Address {
        self.tx.signer()
    }

    /// Nonce.
    pub fn nonce(&self) -> u64 {
        self.tx.nonce()
    }

    /// Fee cap (gas price for legacy transactions).
    pub fn max_fee(&self) -> u128 {
        self.tx.max_fee_per_gas()
    }

    /// Tip cap (gas price for legacy transactions).
    pub fn max_tip(&self) -> u128 {
        self.tx.max_priority_fee_per_gas().unwrap_or_else(|| self.tx.max_fee_per_gas())
    }

    /// The tip per gas paid at `base_fee`, or `None` if the fee cap is below it.
    pub fn effective_tip(&self, base_fee: u64) -> Option<u128> {
        let base = base_fee as u128;
        (self.max_fee() >= base).then(|| self.max_tip().min(self.max_fee() - base))
    }

    /// Gas limit.
    pub fn gas_limit(&self) -> u64 {
        self.tx.gas_limit()
    }
}

/// The sender's account as the pool needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SenderAccount {
    /// Account nonce.
    pub nonce: u64,
    /// Balance.
    pub balance: U256,
    /// Whether the account has code other than an EIP-7702 delegation.
    pub has_code: bool,
}

/// Reads sender accounts at `latest`.
pub trait AccountReader: Send + Sync + 'static {
    /// The account, or the default (empty) account if it does not exist.
    fn sender_account(&self, address: &Address) -> Result<SenderAccount, String>;

    /// The accounts of `addresses`, in order, read from one view of the state (a block's
    /// hundreds of senders after it is committed, without a state snapshot each).
    fn sender_accounts(&self, addresses: &[Address]) -> Vec<Result<SenderAccount, String>> {
        addresses.iter().map(|a| self.sender_account(a)).collect()
    }
}

fn read_sender(
    state: &taiko_store::StateProvider,
    address: &Address,
) -> Result<SenderAccount, String> {
    let Some(acc) = state.account(address).map_err(|e| e.to_string())? else {
        return Ok(SenderAccount::default());
    };
    let has_code = if acc.code_hash == KECCAK256_EMPTY {
        false
    } else {
        // An EIP-7702 delegation (0xef0100 ‖ address) still lets the account send.
        let code = state.code(&acc.code_hash).map_err(|e| e.to_string())?.unwrap_or_default();
        !(code.len() == 23 && code.starts_with(&[0xef, 0x01, 0x00]))
    };
    Ok(SenderAccount { nonce: acc.nonce, balance: acc.balance, has_code })
}

impl AccountReader for taiko_store::Store {
    fn sender_account(&self, address: &Address) -> Result<SenderAccount, String> {
        read_sender(&self.state().map_err(|e| e.to_string())?, address)
    }

    fn sender_accounts(&self, addresses: &[Address]) -> Vec<Result<SenderAccount, String>> {
        match self.state() {
            Ok(state) => addresses.iter().map(|a| read_sender(&state, a)).collect(),
            Err(e) => addresses.iter().map(|_| Err(e.to_string())).collect(),
        }
    }
}

impl<T: AccountReader> AccountReader for Arc<T> {
    fn sender_account(&self, address: &Address) -> Result<SenderAccount, String> {
        (**self).sender_account(address)
    }

    fn sender_accounts(&self, addresses: &[Address]) -> Vec<Result<SenderAccount, String>> {
        (**self).sender_accounts(addresses)
    }
}

/// EIP-3860 maximum init code size.
const MAX_INITCODE_SIZE: usize = 2 * 24_576;

/// Intrinsic gas under Prague rules, including the EIP-7623 calldata floor.
pub fn intrinsic_gas(tx: &TxEnvelope) -> u64 {
    let input = tx.input();
    let zeros = input.iter().filter(|b| **b == 0).count() as u64;
    let non_zeros = input.len() as u64 - zeros;
    let mut gas = 21_000 + zeros * 4 + non_zeros * 16;
    if tx.is_create() {
        gas += 32_000 + (input.len() as u64).div_ceil(32) * 2;
    }
    if let Some(list) = tx.access_list() {
        for item in list.iter() {
            gas += 2_400 + item.storage_keys.len() as u64 * 1_900;
        }
    }
    if let Some(auths) = tx.authorization_list() {
        gas += auths.len() as u64 * PER_EMPTY_ACCOUNT_COST;
    }
    let floor = 21_000 + 10 * (zeros + 4 * non_zeros);
    gas.max(floor)
}

/// Checks that need only the transaction.
pub(crate) fn stateless(cfg: &PoolConfig, tx: &Recovered<TxEnvelope>) -> Result<usize, PoolError> {
    if tx.is_eip4844() {
        return Err(PoolError::BlobNotSupported);
    }
    if tx.signer() == taiko_chainspec::GOLDEN_TOUCH_ADDRESS {
        return Err(PoolError::ReservedSender(tx.signer()));
    }
    match tx.chain_id() {
        Some(id) if id == cfg.chain_id => {}
        _ => return Err(PoolError::InvalidChainId),
    }
    let size = tx.inner().encode_2718_len();
    if size > cfg.max_tx_size {
        return Err(PoolError::OversizedData { size, max: cfg.max_tx_size });
    }
    if tx.gas_limit() > cfg.block_gas_limit {
        return Err(PoolError::ExceedsBlockGasLimit);
    }
    if let Some(tip) = tx.max_priority_fee_per_gas()
        && tip > tx.max_fee_per_gas()
    {
        return Err(PoolError::TipAboveFeeCap);
    }
    let tip = tx.max_priority_fee_per_gas().unwrap_or_else(|| tx.max_fee_per_gas());
    if tip < cfg.min_tip {
        return Err(PoolError::Underpriced { tip, min: cfg.min_tip });
    }
    if tx.is_create() && tx.input().len() > MAX_INITCODE_SIZE {
        return Err(PoolError::InitCodeTooLarge);
    }
    let need = intrinsic_gas(tx.inner());
    if tx.gas_limit() < need {
        return Err(PoolError::IntrinsicGasTooLow { need, have: tx.gas_limit() });
    }
    Ok(size)
}

/// Checks against the sender's account.
pub(crate) fn stateful(
    account: &SenderAccount,
    tx: &Recovered<TxEnvelope>,
    cost: U256,
) -> Result<(), PoolError> {
    if account.has_code {
        return Err(PoolError::SenderHasCode(tx.signer()));
    }
    if tx.nonce() < account.nonce {
        return Err(PoolError::NonceTooLow { state: account.nonce, tx: tx.nonce() });
    }
    if account.balance < cost {
        return Err(PoolError::InsufficientFunds { balance: account.balance, cost });
    }
    Ok(())
}

/// `gas_limit · max_fee + value`.
pub fn tx_cost(tx: &TxEnvelope) -> U256 {
    U256::from(tx.gas_limit()) * U256::from(tx.max_fee_per_gas()) + tx.value()
}
