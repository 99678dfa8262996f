//! L1 access for the node: what a preconfer and every follower read from (and send to) the L1.
//!
//! - [`execution`]: a JSON-RPC client of an L1 execution node — blocks (with the state roots
//!   anchors need), typed contract calls through the generated bindings, signed EIP-1559
//!   transactions, receipts;
//! - [`beacon`]: a client of the standard beacon API subset the lookahead needs — genesis, the
//!   slot/epoch spec, and proposer duties.
//!
//! - [`bolt`]: Bolt's `bolt_requestInclusion` (top-of-block inclusion in a Bolt validator's
//!   slot);
//! - [`keystore`]: EIP-2335 BLS keystores, the files validators keep their keys in;
//! - [`registration`]: the idempotent steps that make an account a preconfer with validators;
//! - [`txmgr`]: one account's transactions — nonces, fees and fee bumps, a funds check,
//!   confirmation that survives L1 reorgs.
//!
//! The clients report failures as [`L1Error`], naming the method or path that failed, so an unreachable
//! endpoint reads as such in the logs rather than as a decoding error.

#![warn(missing_docs, unreachable_pub)]

pub mod beacon;
pub mod bolt;
pub mod execution;
pub mod keystore;
pub mod registration;
pub mod txmgr;

pub use beacon::BeaconClient;
pub use execution::{L1Block, L1Client};

/// What can go wrong talking to the L1.
#[derive(Debug, thiserror::Error)]
pub enum L1Error {
    /// A JSON-RPC call failed (transport, timeout, error response, or undecodable result).
    #[error("L1 {method}: {message}")]
    Rpc {
        /// The method.
        method: &'static str,
        /// The error.
        message: String,
    },
    /// A beacon API request failed.
    #[error("beacon API {path}: {message}")]
    Beacon {
        /// The path requested.
        path: String,
        /// The error.
        message: String,
    },
    /// A transaction reverted or was not mined in time.
    #[error("transaction failed: {0}")]
    TxFailed(String),
}
