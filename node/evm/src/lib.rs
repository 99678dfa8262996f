//! Taiko L2 block execution on alloy-evm and revm.
//!
//! # Data flow
//!
//! Both entry points run a block on top of the store's `latest` block through the same
//! [`BlockRun`](execute) pipeline, built on alloy-evm's `EthBlockExecutor`:
//!
//! 1. **Environment.** Prague rules, the block's base fee from the Taiko formula (the parent's
//!    gas excess and timestamp are read from the anchor contract's storage, so the executor and
//!    the contract use the same inputs), `prevrandao = keccak(abi.encode("TAIKO_DIFFICULTY", n))`.
//! 2. **Pre-execution.** The EIP-2935 (parent hash) and EIP-4788 (beacon root) system calls.
//! 3. **Anchor.** The first transaction, rebuilt deterministically ([`anchor`]), executed
//!    without charging or refunding gas; it must succeed — the contract checks the base fee.
//! 4. **User transactions.** Executed in order; the base-fee part of each fee is not burned but
//!    split between the coinbase (`sharingPctg`%) and the treasury.
//! 5. **Finish.** Fee shares credited, state changes extracted from revm's bundle, the state
//!    root computed by the store's incremental tries, the header assembled.
//!
//! [`build_block`] draws candidates from a [`TxSource`] and skips (and reports) those that are
//! invalid or do not fit the gas limit or the compressed tx-list budget. [`import_block`]
//! re-executes a received block and rejects it, with a distinct [`ImportError`], unless every
//! derived header field and the hash match. Neither writes to the store: the result holds the
//! tries' undo record, and the engine decides to commit or undo.

#![warn(missing_docs, unreachable_pub)]

pub mod anchor;
mod commitments;
mod execute;
mod session;
pub mod testing;
mod txlist;

pub use anchor::AnchorInput;
pub use execute::{ExecutionOutcome, PhaseTimings};
pub use session::{BuildSession, RoundHook};
pub use txlist::{
    TxListBudget, TxListError, check_tx_list_size, compress_tx_list, decompress_tx_list,
};

use alloy::{
    consensus::{
        Header, Transaction, TxEnvelope,
        transaction::{Recovered, SignerRecoverable},
    },
    primitives::{Address, B256, Bytes},
};
use alloy_hardforks::{EthereumHardfork, EthereumHardforks, ForkCondition};
use execute::{
    BlockRun, ParentInfo, anchor_from_parent, check_parent_is_latest, expected_anchor,
    next_block_params,
};
use taiko_chainspec::{ChainSpec, GOLDEN_TOUCH_ADDRESS};
use taiko_store::{SealedBlock, StateProvider, Store, StoreError};
use tracing::debug;

/// The chain spec as alloy-evm's executor spec (forks; no deposit contract on L2).
#[derive(Debug, Clone, Copy)]
pub(crate) struct TaikoSpec<'a>(&'a ChainSpec);

impl EthereumHardforks for TaikoSpec<'_> {
    fn ethereum_fork_activation(&self, fork: EthereumHardfork) -> ForkCondition {
        self.0.ethereum_fork_activation(fork)
    }
}

impl alloy_evm::eth::spec::EthExecutorSpec for TaikoSpec<'_> {
    fn deposit_contract_address(&self) -> Option<Address> {
        None
    }
}

/// The proposer-chosen fields of a new block.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BlockAttributes {
    /// Block timestamp (not before the parent's).
    pub timestamp: u64,
    /// Fee recipient.
    pub coinbase: Address,
    /// The L1 block anchored.
    pub anchor: AnchorInput,
    /// Recorded by the EIP-4788 system call.
    pub parent_beacon_block_root: B256,
    /// Header extra data.
    pub extra_data: Bytes,
}

/// A stream of candidate transactions for a block, best first.
pub trait TxSource {
    /// The next candidate.
    fn next_tx(&mut self) -> Option<Recovered<TxEnvelope>>;
    /// Reports that `tx` is invalid; the source should skip the sender's later nonces.
    fn mark_invalid(&mut self, tx: &Recovered<TxEnvelope>);
    /// The next candidate whose hash `skip` does not name. A builder adding a round to a block
    /// passes over the transactions the block already holds (thousands, when the source is the
    /// pool): a source that can look at a hash before copying the transaction out overrides
    /// this to pass over them without the copy.
    fn next_tx_unless(&mut self, skip: &dyn Fn(&B256) -> bool) -> Option<Recovered<TxEnvelope>> {
        loop {
            let tx = self.next_tx()?;
            if !skip(tx.tx_hash()) {
                return Some(tx);
            }
        }
    }
    /// As [`Self::next_tx_unless`], when the caller can also say from which nonce on it still
    /// takes a sender's transactions (`next_nonce`: the block so far used the ones below). A
    /// source that holds each sender's transactions by nonce overrides this to jump past the
    /// used ones instead of passing over them one at a time, so a round costs what is new.
    fn next_tx_from(
        &mut self,
        skip: &dyn Fn(&B256) -> bool,
        next_nonce: &dyn Fn(&Address) -> Option<u64>,
    ) -> Option<Recovered<TxEnvelope>> {
        let _ = next_nonce;
        self.next_tx_unless(skip)
    }
}

/// A [`TxSource`] over any iterator (invalid transactions are only reported).
#[derive(Debug)]
pub struct IterSource<I>(pub I);

impl<I: Iterator<Item = Recovered<TxEnvelope>>> TxSource for IterSource<I> {
    fn next_tx(&mut self) -> Option<Recovered<TxEnvelope>> {
        self.0.next()
    }
    fn mark_invalid(&mut self, _tx: &Recovered<TxEnvelope>) {}
}

/// Why the builder left a candidate out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SkipReason {
    /// Its gas limit exceeds the gas left in the block.
    ExceedsBlockGas,
    /// The compressed tx list would exceed its maximum.
    TxListFull,
    /// Blob transactions are not accepted on L2.
    BlobTransaction,
    /// The golden-touch account may only send the anchor.
    GoldenTouchSender,
    /// Execution rejected it (nonce, balance, fee cap below base fee, …).
    Invalid(String),
}

/// A candidate the builder skipped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedTx {
    /// Transaction hash.
    pub hash: B256,
    /// Sender.
    pub sender: Address,
    /// Why.
    pub reason: SkipReason,
}

/// A built block and what was left out.
#[derive(Debug)]
pub struct BuiltBlock {
    /// The executed block; commit or undo it.
    pub outcome: ExecutionOutcome,
    /// Candidates left out, with reasons.
    pub skipped: Vec<SkippedTx>,
}

/// Limits for building.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BuildLimits {
    /// Most gas the block's transactions may use (capped at the block gas limit).
    pub gas_limit: u64,
    /// Most bytes of the compressed tx list.
    pub max_tx_list_bytes: usize,
}

impl BuildLimits {
    /// The chain's own limits.
    pub fn from_spec(spec: &ChainSpec) -> Self {
        Self { gas_limit: spec.block_gas_limit(), max_tx_list_bytes: spec.max_tx_list_bytes() }
    }
}

/// Why a block could not be built.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// The store failed, or the parent is not `latest`.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The block timestamp is before the parent's.
    #[error("timestamp {timestamp} is before the parent's {parent}")]
    TimestampBeforeParent {
        /// Requested timestamp.
        timestamp: u64,
        /// Parent timestamp.
        parent: u64,
    },
    /// The anchor transaction failed (for instance an L1 block id going backwards).
    #[error("anchor transaction failed: {0}")]
    AnchorFailed(String),
    /// Execution failed outside any single transaction.
    #[error("execution: {0}")]
    Execution(String),
}

/// Why a received block was rejected. Nothing is written to the store in any case.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImportError {
    /// The header does not hash to the block's claimed hash.
    #[error("block hash mismatch: claimed {claimed}, header hashes to {computed}")]
    HashMismatch {
        /// Hash the block claimed.
        claimed: B256,
        /// Hash of its header.
        computed: B256,
    },
    /// The parent is not the expected one (not `latest`, or a different hash).
    #[error("block {number} has parent {got}, expected {expected}")]
    WrongParent {
        /// Block number.
        number: u64,
        /// Expected parent hash.
        expected: B256,
        /// Parent hash in the header.
        got: B256,
    },
    /// The number is not the parent's plus one.
    #[error("block number {got}, expected {expected}")]
    WrongNumber {
        /// Expected number.
        expected: u64,
        /// Number in the header.
        got: u64,
    },
    /// The timestamp is before the parent's.
    #[error("timestamp {timestamp} is before the parent's {parent}")]
    TimestampBeforeParent {
        /// Header timestamp.
        timestamp: u64,
        /// Parent timestamp.
        parent: u64,
    },
    /// The gas limit is not the chain's.
    #[error("gas limit {got}, the chain's is {expected}")]
    WrongGasLimit {
        /// Chain gas limit.
        expected: u64,
        /// Header gas limit.
        got: u64,
    },
    /// The base fee is not the Taiko formula's.
    #[error("base fee {got:?}, expected {expected}")]
    WrongBaseFee {
        /// Formula result.
        expected: u64,
        /// Header value.
        got: Option<u64>,
    },
    /// The first transaction is not an anchor call from the golden-touch account.
    #[error("the first transaction is not the anchor")]
    MissingAnchor,
    /// The anchor transaction differs from the one this node derives.
    #[error("anchor transaction differs from the expected one")]
    InvalidAnchor,
    /// The anchor transaction reverted.
    #[error("anchor transaction reverted: {0}")]
    AnchorReverted(String),
    /// A transaction other than the first comes from the golden-touch account.
    #[error("transaction {index} is a misplaced golden-touch transaction")]
    MisplacedAnchor {
        /// Index in the block.
        index: usize,
    },
    /// A transaction signature does not recover.
    #[error("transaction {index} has an invalid signature")]
    InvalidSignature {
        /// Index in the block.
        index: usize,
    },
    /// A blob transaction (not accepted on L2).
    #[error("transaction {index} is a blob transaction")]
    BlobTransaction {
        /// Index in the block.
        index: usize,
    },
    /// A transaction failed validation (nonce, balance, gas over the block limit, …).
    #[error("transaction {index} ({hash}) is invalid: {reason}")]
    InvalidTransaction {
        /// Index in the block.
        index: usize,
        /// Transaction hash.
        hash: B256,
        /// Executor's reason.
        reason: String,
    },
    /// The compressed tx list exceeds its maximum.
    #[error("compressed tx list is {size} bytes, the maximum is {max}")]
    TxListTooLarge {
        /// Compressed size.
        size: usize,
        /// Maximum.
        max: usize,
    },
    /// A header field differs from the re-executed one.
    #[error("header field {field} mismatch: expected {expected}, got {got}")]
    HeaderMismatch {
        /// Field name.
        field: &'static str,
        /// Derived value.
        expected: String,
        /// Header value.
        got: String,
    },
    /// Execution failed outside any single transaction.
    #[error("execution: {0}")]
    Execution(String),
    /// The store failed.
    #[error("store: {0}")]
    Store(String),
}

impl From<StoreError> for ImportError {
    fn from(e: StoreError) -> Self {
        Self::Store(e.to_string())
    }
}

/// Builds a block on top of the store's `latest` (`parent`).
pub fn build_block(
    spec: &ChainSpec,
    store: &Store,
    parent: &Header,
    parent_hash: B256,
    attrs: &BlockAttributes,
    source: &mut (impl TxSource + ?Sized),
    limits: BuildLimits,
) -> Result<BuiltBlock, BuildError> {
    let started = std::time::Instant::now();
    let state = prepare_build(store, parent, parent_hash, attrs)?;
    let parent_info = ParentInfo { header: parent, hash: parent_hash };
    let mut run = start_build(spec, &state, &parent_info, attrs, limits)?;
    let mut selection = Selection::new(spec, limits);
    selection.fill(&mut run, source);
    let selected = started.elapsed();
    let (_, outcome) = run
        .finish(store, &parent_info, attrs, Default::default(), None)
        .map_err(execute::build_error)?;
    debug!(target: "evm::build", number = outcome.executed.block.number(), txs = outcome.executed.block.transactions().len(), skipped = selection.skipped.len(), selection_and_execution_ms = selected.as_secs_f64() * 1e3, timings = ?outcome.timings, "built block");
    Ok(BuiltBlock { outcome, skipped: selection.skipped })
}

/// Checks that a block can be built on `parent` and opens the state it is built on.
fn prepare_build(
    store: &Store,
    parent: &Header,
    parent_hash: B256,
    attrs: &BlockAttributes,
) -> Result<StateProvider, BuildError> {
    check_parent_is_latest(store, parent_hash)?;
    if attrs.timestamp < parent.timestamp {
        return Err(BuildError::TimestampBeforeParent {
            timestamp: attrs.timestamp,
            parent: parent.timestamp,
        });
    }
    Ok(store.state()?)
}

/// Starts a block on `state`: environment, system calls and the anchor transaction.
fn start_build<'a>(
    spec: &'a ChainSpec,
    state: &'a StateProvider,
    parent: &ParentInfo<'_>,
    attrs: &BlockAttributes,
    limits: BuildLimits,
) -> Result<BlockRun<'a>, BuildError> {
    let (base_fee, nonce) = next_block_params(spec, state, parent.header, attrs.timestamp)?;
    let mut run = BlockRun::start(spec, state, parent, attrs, base_fee, limits.max_tx_list_bytes)
        .map_err(execute::build_error)?;
    run.apply_anchor(anchor_from_parent(spec, nonce, base_fee, &attrs.anchor, parent.header))
        .map_err(BuildError::AnchorFailed)?;
    Ok(run)
}

/// The builder's choice of transactions, kept across rounds of candidates (a
/// [`BuildSession`] draws from the pool many times for one block).
struct Selection {
    gas_limit: u64,
    skipped: Vec<SkippedTx>,
    /// Transactions in the block: a later round's candidates repeat them.
    included: std::collections::HashSet<B256>,
    /// Each sender's next nonce after the transactions the block holds.
    next_nonce: std::collections::HashMap<Address, u64>,
    /// Transactions already reported in `skipped`.
    reported: std::collections::HashSet<B256>,
    /// No further transaction fits.
    full: bool,
}

impl Selection {
    fn new(spec: &ChainSpec, limits: BuildLimits) -> Self {
        Self {
            gas_limit: limits.gas_limit.min(spec.block_gas_limit()),
            skipped: Vec::new(),
            included: Default::default(),
            next_nonce: Default::default(),
            reported: Default::default(),
            full: false,
        }
    }

    fn skip(&mut self, tx: &Recovered<TxEnvelope>, reason: SkipReason) {
        if self.reported.insert(*tx.tx_hash()) {
            self.skipped.push(SkippedTx { hash: *tx.tx_hash(), sender: tx.signer(), reason });
        }
    }

    /// Executes candidates from `source` into `run` until the source ends or the block is full.
    /// Candidates already in the block are passed over; invalid ones are reported to the source
    /// (and once in `skipped`).
    fn fill(&mut self, run: &mut BlockRun<'_>, source: &mut (impl TxSource + ?Sized)) {
        while !self.full
            && let Some(tx) = source.next_tx_from(&|h| self.included.contains(h), &|sender| {
                self.next_nonce.get(sender).copied()
            })
        {
            if tx.signer() == GOLDEN_TOUCH_ADDRESS {
                self.skip(&tx, SkipReason::GoldenTouchSender);
                source.mark_invalid(&tx);
                continue;
            }
            if tx.is_eip4844() {
                self.skip(&tx, SkipReason::BlobTransaction);
                source.mark_invalid(&tx);
                continue;
            }
            let gas_left = self.gas_limit.saturating_sub(run.gas_used).min(run.gas_left());
            if tx.gas_limit() > gas_left {
                self.skip(&tx, SkipReason::ExceedsBlockGas);
                self.full = gas_left < 21_000;
                continue;
            }
            if !run.budget.try_add(tx.inner()) {
                self.skip(&tx, SkipReason::TxListFull);
                self.full = run.budget.exhausted();
                continue;
            }
            match run.apply_transaction(&tx) {
                Ok(()) => {
                    self.included.insert(*tx.tx_hash());
                    self.next_nonce.insert(tx.signer(), tx.nonce() + 1);
                }
                Err(e) => {
                    run.budget.remove_last(tx.inner());
                    self.skip(&tx, SkipReason::Invalid(e.to_string()));
                    source.mark_invalid(&tx);
                }
            }
        }
    }
}

/// Re-executes a received block on top of the store's `latest` and checks every derived field.
///
/// `senders` may carry already-recovered senders (from the pool); otherwise they are
/// recovered here.
pub fn import_block(
    spec: &ChainSpec,
    store: &Store,
    parent: &Header,
    parent_hash: B256,
    block: &SealedBlock,
    senders: Option<&[Address]>,
) -> Result<ExecutionOutcome, ImportError> {
    let header = block.header();
    let computed = header.hash_slow();
    if computed != block.hash() {
        return Err(ImportError::HashMismatch { claimed: block.hash(), computed });
    }
    if header.parent_hash != parent_hash {
        return Err(ImportError::WrongParent {
            number: header.number,
            expected: parent_hash,
            got: header.parent_hash,
        });
    }
    if header.number != parent.number + 1 {
        return Err(ImportError::WrongNumber { expected: parent.number + 1, got: header.number });
    }
    if header.timestamp < parent.timestamp {
        return Err(ImportError::TimestampBeforeParent {
            timestamp: header.timestamp,
            parent: parent.timestamp,
        });
    }
    if header.gas_limit != spec.block_gas_limit() {
        return Err(ImportError::WrongGasLimit {
            expected: spec.block_gas_limit(),
            got: header.gas_limit,
        });
    }
    check_parent_is_latest(store, parent_hash).map_err(|_| ImportError::WrongParent {
        number: header.number,
        expected: store.heads().map(|h| h.latest.hash).unwrap_or_default(),
        got: parent_hash,
    })?;

    let txs = block.transactions();
    let senders: Vec<Address> = match senders {
        Some(s) if s.len() == txs.len() => s.to_vec(),
        _ => recover_senders(txs)?,
    };
    let (first, first_sender) = match (txs.first(), senders.first()) {
        (Some(tx), Some(sender)) => (tx, *sender),
        _ => return Err(ImportError::MissingAnchor),
    };
    if first_sender != GOLDEN_TOUCH_ADDRESS || first.to() != Some(spec.anchor_address) {
        return Err(ImportError::MissingAnchor);
    }
    if let Some(index) = senders.iter().skip(1).position(|s| *s == GOLDEN_TOUCH_ADDRESS) {
        return Err(ImportError::MisplacedAnchor { index: index + 1 });
    }
    if let Some(index) = txs.iter().position(|t| t.is_eip4844()) {
        return Err(ImportError::BlobTransaction { index });
    }

    let state = store.state()?;
    let (base_fee, nonce) = next_block_params(spec, &state, parent, header.timestamp)?;
    if header.base_fee_per_gas != Some(base_fee) {
        return Err(ImportError::WrongBaseFee { expected: base_fee, got: header.base_fee_per_gas });
    }
    let anchor = expected_anchor(spec, first, nonce, base_fee, parent)?;
    let attrs = BlockAttributes {
        timestamp: header.timestamp,
        coinbase: header.beneficiary,
        anchor: AnchorInput::default(),
        parent_beacon_block_root: header.parent_beacon_block_root.unwrap_or_default(),
        extra_data: header.extra_data.clone(),
    };
    let parent_info = ParentInfo { header: parent, hash: parent_hash };
    let max_list = spec.max_tx_list_bytes();
    // The tx-list size check and the transactions root depend only on the block: compute them
    // on another thread while this one executes.
    let (executed, side) = std::thread::scope(|scope| {
        let side = scope.spawn(|| {
            let t = std::time::Instant::now();
            let fits = check_tx_list_size(&txs[1..], max_list);
            let root = alloy::consensus::proofs::calculate_transaction_root(txs);
            (fits, root, t.elapsed())
        });
        let executed = (|| {
            let mut run = BlockRun::start(spec, &state, &parent_info, &attrs, base_fee, max_list)
                .map_err(|e| ImportError::Execution(e.to_string()))?;
            run.apply_anchor(anchor).map_err(ImportError::AnchorReverted)?;
            for (index, (tx, sender)) in txs.iter().zip(&senders).enumerate().skip(1) {
                let recovered = Recovered::new_unchecked(tx.clone(), *sender);
                run.apply_transaction(&recovered).map_err(|e| ImportError::InvalidTransaction {
                    index,
                    hash: *tx.tx_hash(),
                    reason: e.to_string(),
                })?;
            }
            Ok::<_, ImportError>(run)
        })();
        (executed, side.join().expect("tx-list thread does not panic"))
    });
    let (fits, transactions_root, tx_list_time) = side;
    let (expected, mut outcome) = executed?
        .finish(
            store,
            &parent_info,
            &attrs,
            commitments::Precomputed { transactions_root: Some(transactions_root), receipts: None },
            None,
        )
        .map_err(|e| ImportError::Execution(e.to_string()))?;
    outcome.timings.tx_list = tx_list_time;
    if let Err(e) = compare_headers(&expected, header)
        .and_then(|()| fits.map_err(|size| ImportError::TxListTooLarge { size, max: max_list }))
    {
        store.undo_trie(outcome.trie_undo);
        return Err(e);
    }
    debug!(target: "evm::import", number = header.number, hash = %block.hash(), txs = txs.len(), timings = ?outcome.timings, "imported block");
    Ok(outcome)
}

/// Recovers the senders of `txs`, in parallel.
pub fn recover_senders(txs: &[TxEnvelope]) -> Result<Vec<Address>, ImportError> {
    use rayon::prelude::*;
    txs.par_iter()
        .enumerate()
        .map(|(index, tx)| tx.recover_signer().map_err(|_| ImportError::InvalidSignature { index }))
        .collect()
}

fn compare_headers(expected: &Header, got: &Header) -> Result<(), ImportError> {
    macro_rules! check {
        ($($field:ident),*) => {$(
            if expected.$field != got.$field {
                return Err(ImportError::HeaderMismatch {
                    field: stringify!($field),
                    expected: format!("{:?}", expected.$field),
                    got: format!("{:?}", got.$field),
                });
            }
        )*};
    }
    check!(
        state_root,
        transactions_root,
        receipts_root,
        logs_bloom,
        gas_used,
        ommers_hash,
        difficulty,
        mix_hash,
        nonce,
        withdrawals_root,
        blob_gas_used,
        excess_blob_gas,
        requests_hash,
        parent_beacon_block_root,
        base_fee_per_gas,
        extra_data,
        beneficiary,
        timestamp,
        number,
        gas_limit,
        parent_hash
    );
    Ok(())
}
