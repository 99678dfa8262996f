//! Why the pool refuses a transaction.

use alloy::primitives::{Address, B256};

/// A rejected transaction. Each variant maps to the message wallets expect
/// ([`PoolError::wallet_message`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PoolError {
    /// The transaction is already in the pool.
    #[error("already known")]
    AlreadyKnown,
    /// Nonce below the sender's account nonce.
    #[error("nonce too low: next nonce {state}, tx nonce {tx}")]
    NonceTooLow {
        /// Account nonce.
        state: u64,
        /// Transaction nonce.
        tx: u64,
    },
    /// Same sender and nonce as a pooled transaction, without a 10% higher fee cap and tip.
    #[error("replacement transaction underpriced")]
    ReplacementUnderpriced,
    /// The sender cannot pay `gas · fee cap + value`.
    #[error("insufficient funds for gas * price + value: balance {balance}, cost {cost}")]
    InsufficientFunds {
        /// Sender balance.
        balance: alloy::primitives::U256,
        /// Transaction cost.
        cost: alloy::primitives::U256,
    },
    /// Tip below the pool's minimum.
    #[error("transaction underpriced: tip {tip} below minimum {min}")]
    Underpriced {
        /// Offered tip.
        tip: u128,
        /// Minimum tip.
        min: u128,
    },
    /// Gas limit above the block gas limit.
    #[error("exceeds block gas limit")]
    ExceedsBlockGasLimit,
    /// Encoded size above the maximum.
    #[error("oversized data: {size} bytes, max {max}")]
    OversizedData {
        /// Encoded size.
        size: usize,
        /// Maximum.
        max: usize,
    },
    /// Wrong or missing chain id.
    #[error("invalid chain id")]
    InvalidChainId,
    /// Tip above the fee cap.
    #[error("max priority fee per gas higher than max fee per gas")]
    TipAboveFeeCap,
    /// Gas limit below the intrinsic gas.
    #[error("intrinsic gas too low: need {need}, have {have}")]
    IntrinsicGasTooLow {
        /// Intrinsic gas.
        need: u64,
        /// Gas limit.
        have: u64,
    },
    /// Init code larger than EIP-3860 allows.
    #[error("max initcode size exceeded")]
    InitCodeTooLarge,
    /// Blob transactions are not accepted on L2.
    #[error("transaction type not supported: blob transactions are not accepted on L2")]
    BlobNotSupported,
    /// The signature does not recover.
    #[error("invalid sender")]
    InvalidSignature,
    /// The sender is a contract (EIP-3607), other than an EIP-7702 delegation.
    #[error("sender not an eoa: {0}")]
    SenderHasCode(Address),
    /// The golden-touch account may only send anchors.
    #[error("sender {0} is reserved for anchor transactions")]
    ReservedSender(Address),
    /// The sender already has the most transactions allowed.
    #[error("txpool is full for sender {0}")]
    SenderLimit(Address),
    /// The pool is full of better transactions.
    #[error("txpool is full")]
    PoolFull,
    /// The transaction bytes do not decode.
    #[error("invalid transaction encoding: {0}")]
    Decode(String),
    /// State could not be read.
    #[error("state unavailable: {0}")]
    State(String),
}

impl PoolError {
    /// The message wallets and libraries expect (geth's strings).
    pub fn wallet_message(&self) -> String {
        match self {
            Self::AlreadyKnown => "already known".into(),
            Self::NonceTooLow { .. } => "nonce too low".into(),
            Self::ReplacementUnderpriced => "replacement transaction underpriced".into(),
            Self::InsufficientFunds { .. } => "insufficient funds for gas * price + value".into(),
            Self::Underpriced { .. } => "transaction underpriced".into(),
            Self::ExceedsBlockGasLimit => "exceeds block gas limit".into(),
            Self::OversizedData { .. } => "oversized data".into(),
            Self::InvalidChainId => "invalid chain id".into(),
            Self::TipAboveFeeCap => "max priority fee per gas higher than max fee per gas".into(),
            Self::IntrinsicGasTooLow { .. } => "intrinsic gas too low".into(),
            Self::InitCodeTooLarge => "max initcode size exceeded".into(),
            Self::BlobNotSupported => "transaction type not supported".into(),
            Self::InvalidSignature => "invalid sender".into(),
            Self::SenderHasCode(_) => "sender not an eoa".into(),
            other => other.to_string(),
        }
    }
}

/// Outcome of adding a transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddOutcome {
    /// Executable now.
    Pending {
        /// Transaction hash.
        hash: B256,
        /// The pooled transaction it replaced, if any.
        replaced: Option<B256>,
    },
    /// Waiting.
    Queued {
        /// Transaction hash.
        hash: B256,
        /// Why it waits.
        reason: QueuedReason,
        /// The pooled transaction it replaced, if any.
        replaced: Option<B256>,
    },
}

impl AddOutcome {
    /// The transaction hash.
    pub fn hash(&self) -> B256 {
        match self {
            Self::Pending { hash, .. } | Self::Queued { hash, .. } => *hash,
        }
    }
}

/// Why a transaction is not pending.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueuedReason {
    /// An earlier nonce is missing.
    NonceGap,
    /// The sender cannot pay for it after its earlier transactions.
    InsufficientBalance,
    /// Its fee cap is below the next block's base fee (the basefee sub-pool).
    FeeCapBelowBaseFee,
}
