//! Block execution shared by building and importing.

use crate::{
    BlockAttributes, BuildError, ImportError, TaikoSpec,
    anchor::{AnchorInput, anchor_transaction, decode_anchor_calldata},
    commitments::Precomputed,
    txlist::TxListBudget,
};
use alloy::{
    consensus::{
        EMPTY_OMMER_ROOT_HASH, Header, ReceiptEnvelope, Transaction, TxEnvelope, TxReceipt,
        proofs::{calculate_receipt_root, calculate_transaction_root},
        transaction::Recovered,
    },
    eips::{Encodable2718, eip7685::EMPTY_REQUESTS_HASH},
    primitives::{Address, B256, Bloom, U256},
    trie::EMPTY_ROOT_HASH,
};
use alloy_evm::{
    Evm, EvmEnv, EvmFactory,
    block::{BlockExecutionError, BlockExecutor},
    eth::{
        EthBlockExecutionCtx, EthBlockExecutor, EthEvm, EthEvmFactory,
        receipt_builder::AlloyReceiptBuilder,
    },
    precompiles::PrecompilesMap,
};
use revm::{
    context::{BlockEnv, CfgEnv},
    context_interface::block::BlobExcessGasAndPrice,
    database::{State, states::bundle_state::BundleRetention},
    database_interface::{DatabaseCommitExt, WrapDatabaseRef},
    inspector::NoOpInspector,
    primitives::{eip4844::BLOB_BASE_FEE_UPDATE_FRACTION_PRAGUE, hardfork::SpecId},
};
use std::borrow::Cow;
use taiko_chainspec::{ChainSpec, GOLDEN_TOUCH_ADDRESS};
use taiko_store::{
    ExecutedBlock, SealedBlock, StateChanges, StateProvider, Store, StoreError, TrieUndo,
};

type Db<'a> = State<WrapDatabaseRef<&'a StateProvider>>;
type TaikoEvm<'a> = EthEvm<Db<'a>, NoOpInspector, PrecompilesMap>;
type Executor<'a> = EthBlockExecutor<'a, TaikoEvm<'a>, TaikoSpec<'a>, AlloyReceiptBuilder>;

/// The result of executing a block: the block, its state changes, and the undo record of the
/// store's tries, which now hold the block's state. The engine commits the block with
/// [`Store::commit_block`] or puts the tries back with [`Store::undo_trie`].
#[derive(Debug)]
#[must_use = "the store's tries hold this block's state until it is committed or undone"]
pub struct ExecutionOutcome {
    /// The executed block with senders and receipts.
    pub executed: ExecutedBlock,
    /// Post-state of everything the block touched.
    pub changes: StateChanges,
    /// Undo record of the tries.
    pub trie_undo: TrieUndo,
    /// The transactions' encodings, when the builder kept them while the block grew (a build
    /// session does), for the store's commit.
    pub encoded_txs: Option<taiko_store::EncodedTxs>,
    /// Where the time went.
    pub timings: PhaseTimings,
}

/// Time spent in each phase of executing a block.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct PhaseTimings {
    /// Environment, system calls, anchor and transactions.
    pub execute: std::time::Duration,
    /// Fee shares, post-execution calls and extracting the state changes.
    pub changes: std::time::Duration,
    /// Updating the tries and computing the state root.
    pub state_root: std::time::Duration,
    /// Transaction and receipt roots and the logs bloom.
    pub commitments: std::time::Duration,
    /// Compressing the tx list.
    pub tx_list: std::time::Duration,
}

impl std::ops::AddAssign for PhaseTimings {
    fn add_assign(&mut self, o: Self) {
        self.execute += o.execute;
        self.changes += o.changes;
        self.state_root += o.state_root;
        self.commitments += o.commitments;
        self.tx_list += o.tx_list;
    }
}

/// The parent's values that shape the next block.
pub(crate) struct ParentInfo<'a> {
    pub(crate) header: &'a Header,
    pub(crate) hash: B256,
}

/// An in-progress block on top of `latest`.
pub(crate) struct BlockRun<'a> {
    spec: &'a ChainSpec,
    exec: Executor<'a>,
    pub(crate) txs: Vec<TxEnvelope>,
    pub(crate) senders: Vec<Address>,
    coinbase: Address,
    coinbase_share: u128,
    treasury_share: u128,
    pub(crate) base_fee: u64,
    pub(crate) gas_used: u64,
    pub(crate) budget: TxListBudget,
    started: std::time::Instant,
}

/// What a build session applied to the store's tries round by round ([`BlockRun::take_round_changes`]),
/// so that sealing hashes only what the last round touched. Dropping it (or [`Self::reset`])
/// puts the tries back: a session that is abandoned, does not match a received block or fails
/// to seal leaves no trace in them. A round whose changes cannot be applied (a corrupted leaf)
/// puts everything back and stops the rounds; the block is then sealed from its whole changes,
/// as a single build does.
pub(crate) struct AppliedRounds<'s> {
    store: &'s Store,
    undo: Option<TrieUndo>,
    failed: bool,
}

impl<'s> AppliedRounds<'s> {
    pub(crate) fn new(store: &'s Store) -> Self {
        Self { store, undo: None, failed: false }
    }

    /// Applies a round's changes (and hashes the tries, while the session waits for the next
    /// round anyway).
    pub(crate) fn apply(&mut self, changes: &StateChanges) {
        if self.failed {
            return;
        }
        match self.store.apply_to_trie(changes) {
            Ok((_, undo)) => self.undo.get_or_insert_default().then(undo),
            Err(error) => {
                tracing::warn!(target: "evm::build", %error, "a round's changes do not apply to the tries; sealing from the whole block's changes");
                self.reset();
                self.failed = true;
            }
        }
    }

    /// Puts the tries back as they were before the first round.
    pub(crate) fn reset(&mut self) {
        if let Some(undo) = self.undo.take() {
            self.store.undo_trie(undo);
        }
    }

    fn active(&self) -> bool {
        self.undo.is_some() && !self.failed
    }
}

impl Drop for AppliedRounds<'_> {
    fn drop(&mut self) {
        self.reset();
    }
}

/// Base fee and anchor nonce for the next block, read from the state at the parent.
pub(crate) fn next_block_params(
    spec: &ChainSpec,
    state: &StateProvider,
    parent: &Header,
    timestamp: u64,
) -> Result<(u64, u64), StoreError> {
    // TaikoAnchor packs gasExcess (bits 0..64) and parentTimestamp (bits 64..128) in slot 0.
    let slot0 = state.storage(&spec.anchor_address, &U256::ZERO)?;
    let mask = U256::from(u64::MAX);
    let gas_excess = (slot0 & mask).to::<u64>();
    let parent_ts = ((slot0 >> 64usize) & mask).to::<u64>();
    let parent_gas_used = u32::try_from(parent.gas_used).unwrap_or(u32::MAX);
    let fee = spec.base_fee_config().calculate(gas_excess, parent_gas_used, parent_ts, timestamp);
    let nonce = state.account(&GOLDEN_TOUCH_ADDRESS)?.map(|a| a.nonce).unwrap_or(0);
    Ok((fee.base_fee, nonce))
}

impl<'a> BlockRun<'a> {
    /// Starts a block: environment, pre-execution system calls.
    pub(crate) fn start(
        spec: &'a ChainSpec,
        state: &'a StateProvider,
        parent: &ParentInfo<'_>,
        attrs: &BlockAttributes,
        base_fee: u64,
        max_tx_list_bytes: usize,
    ) -> Result<Self, BlockExecutionError> {
        let started = std::time::Instant::now();
        let number = parent.header.number + 1;
        let cfg = CfgEnv::new_with_spec(SpecId::PRAGUE).with_chain_id(spec.chain_id);
        let block_env = BlockEnv {
            number: U256::from(number),
            beneficiary: attrs.coinbase,
            timestamp: U256::from(attrs.timestamp),
            gas_limit: spec.block_gas_limit(),
            basefee: base_fee,
            difficulty: U256::ZERO,
            prevrandao: Some(ChainSpec::difficulty(number)),
            blob_excess_gas_and_price: Some(BlobExcessGasAndPrice::new(
                0,
                BLOB_BASE_FEE_UPDATE_FRACTION_PRAGUE,
            )),
            ..Default::default()
        };
        let db = State::builder().with_database_ref(state).with_bundle_update().build();
        let evm = EthEvmFactory::default().create_evm(db, EvmEnv::new(cfg, block_env));
        let ctx = EthBlockExecutionCtx {
            parent_hash: parent.hash,
            parent_beacon_block_root: Some(attrs.parent_beacon_block_root),
            ommers: &[],
            withdrawals: Some(Cow::Owned(vec![])),
            extra_data: attrs.extra_data.clone(),
            tx_count_hint: None,
            slot_number: None,
        };
        let mut exec =
            EthBlockExecutor::new(evm, ctx, TaikoSpec(spec), AlloyReceiptBuilder::default());
        exec.apply_pre_execution_changes()?;
        Ok(Self {
            spec,
            exec,
            txs: Vec::new(),
            senders: Vec::new(),
            coinbase: attrs.coinbase,
            coinbase_share: 0,
            treasury_share: 0,
            base_fee,
            gas_used: 0,
            budget: TxListBudget::new(max_tx_list_bytes),
            started,
        })
    }

    /// Executes the anchor transaction, which is neither charged nor refunded.
    pub(crate) fn apply_anchor(&mut self, anchor: TxEnvelope) -> Result<(), String> {
        let recovered = Recovered::new_unchecked(anchor, GOLDEN_TOUCH_ADDRESS);
        self.exec.evm_mut().cfg.disable_fee_charge = true;
        let out = self.exec.execute_transaction_without_commit(&recovered);
        self.exec.evm_mut().cfg.disable_fee_charge = false;
        let out = out.map_err(|e| e.to_string())?;
        let result = &out.result.result;
        if !result.is_success() {
            return Err(format!("{result:?}"));
        }
        let gas = self.exec.commit_transaction(out);
        self.gas_used += gas.tx_gas_used();
        let (tx, sender) = recovered.into_parts();
        self.txs.push(tx);
        self.senders.push(sender);
        Ok(())
    }

    /// Executes and commits a user transaction; on error nothing changes.
    pub(crate) fn apply_transaction(
        &mut self,
        tx: &Recovered<TxEnvelope>,
    ) -> Result<(), BlockExecutionError> {
        let out = self.exec.execute_transaction_without_commit(tx)?;
        let gas = self.exec.commit_transaction(out).tx_gas_used();
        self.gas_used += gas;
        let base_fee_paid = self.base_fee as u128 * gas as u128;
        let (to_coinbase, to_treasury) =
            self.spec.base_fee_config().split_fee(U256::from(base_fee_paid));
        self.coinbase_share += to_coinbase.to::<u128>();
        self.treasury_share += to_treasury.to::<u128>();
        self.txs.push(tx.inner().clone());
        self.senders.push(tx.signer());
        Ok(())
    }

    /// The receipts of the transactions executed so far, in block order.
    pub(crate) fn receipts(&self) -> &[ReceiptEnvelope] {
        self.exec.receipts()
    }

    /// Remaining block gas.
    pub(crate) fn gas_left(&self) -> u64 {
        self.spec.block_gas_limit().saturating_sub(self.gas_used)
    }

    /// Finishes execution: fee sharing, post-execution calls, the state changes, the header
    /// (with the state root from the store's tries, which keep the block's state).
    ///
    /// `precomputed` carries what was computed alongside execution: the transactions root
    /// (import knows the transactions up front), or all the roots of a block built in rounds.
    /// The tx list is never compressed here: the builder's budget already guarantees that it
    /// fits, and the proposer compresses a whole turn's list when it proposes, off the
    /// preconfirmation path.
    /// The changes of the transactions executed since the last call (or since the block
    /// started), in the form the tries take ([`StateChanges::from_transitions`]); revm's
    /// transitions are merged into the block's bundle afterwards, so the next call sees only
    /// what comes next. The bundle, and so the block's [`StateChanges`], are unchanged by it.
    pub(crate) fn take_round_changes(&mut self) -> StateChanges {
        let db = self.exec.evm_mut().db_mut();
        let changes =
            db.transition_state.as_ref().map(StateChanges::from_transitions).unwrap_or_default();
        db.merge_transitions(BundleRetention::PlainState);
        changes
    }

    /// Seals the block. With `rounds` holding what a session applied to the tries round by
    /// round, only the changes since the last round are applied and hashed; otherwise the
    /// whole block's changes are. On success the outcome's undo record covers both.
    pub(crate) fn finish(
        self,
        store: &Store,
        parent: &ParentInfo<'_>,
        attrs: &BlockAttributes,
        precomputed: Precomputed,
        rounds: Option<&mut AppliedRounds<'_>>,
    ) -> Result<(Header, ExecutionOutcome), BlockExecutionError> {
        let Self {
            spec,
            exec,
            txs,
            senders,
            coinbase,
            coinbase_share,
            treasury_share,
            base_fee,
            started,
            ..
        } = self;
        let mut timings = PhaseTimings { execute: started.elapsed(), ..Default::default() };
        let mut lap = std::time::Instant::now();
        let mut split = |slot: &mut std::time::Duration| {
            let now = std::time::Instant::now();
            *slot = now - lap;
            lap = now;
        };
        let (mut evm, result) = exec.finish()?;
        let db = evm.db_mut();
        let shares = [(coinbase, coinbase_share), (spec.treasury(), treasury_share)];
        db.increment_balances(shares.into_iter().filter(|(_, v)| *v > 0))
            .map_err(BlockExecutionError::other)?;
        let rounds = rounds.filter(|r| r.active());
        let since_rounds = rounds
            .is_some()
            .then(|| db.transition_state.as_ref().map(StateChanges::from_transitions))
            .flatten()
            .unwrap_or_default();
        db.merge_transitions(BundleRetention::Reverts);
        let bundle = db.take_bundle();
        let changes = StateChanges::from_bundle(&bundle);
        split(&mut timings.changes);
        // The state root on this thread; receipts root, bloom and (when not precomputed) the
        // transactions root on another.
        let receipts: Vec<ReceiptEnvelope> = result.receipts;
        let (root, (receipts_root, logs_bloom, transactions_root, side)) =
            std::thread::scope(|scope| {
                let side = scope.spawn(|| {
                    let t = std::time::Instant::now();
                    let (receipts_root, logs_bloom) = precomputed.receipts.unwrap_or_else(|| {
                        let bloom = receipts.iter().fold(Bloom::ZERO, |acc, r| acc | r.bloom());
                        (calculate_receipt_root(&receipts), bloom)
                    });
                    let transactions_root = precomputed
                        .transactions_root
                        .unwrap_or_else(|| calculate_transaction_root(&txs));
                    (receipts_root, logs_bloom, transactions_root, t.elapsed())
                });
                let root = match rounds {
                    Some(rounds) => store.apply_to_trie(&since_rounds).map(|(root, last)| {
                        let mut undo = rounds.undo.take().expect("active rounds hold an undo");
                        undo.then(last);
                        (root, undo)
                    }),
                    None => store.apply_to_trie(&changes),
                };
                (root, side.join().expect("commitment thread does not panic"))
            });
        let (state_root, trie_undo) = root.map_err(BlockExecutionError::other)?;
        split(&mut timings.state_root);
        timings.commitments = side;
        let requests_hash = if result.requests.is_empty() {
            EMPTY_REQUESTS_HASH
        } else {
            result.requests.requests_hash()
        };
        let number = parent.header.number + 1;
        let header = Header {
            parent_hash: parent.hash,
            ommers_hash: EMPTY_OMMER_ROOT_HASH,
            beneficiary: coinbase,
            state_root,
            transactions_root,
            receipts_root,
            logs_bloom,
            difficulty: U256::ZERO,
            number,
            gas_limit: spec.block_gas_limit(),
            gas_used: result.gas_used,
            timestamp: attrs.timestamp,
            extra_data: attrs.extra_data.clone(),
            mix_hash: ChainSpec::difficulty(number),
            nonce: Default::default(),
            base_fee_per_gas: Some(base_fee),
            withdrawals_root: Some(EMPTY_ROOT_HASH),
            blob_gas_used: Some(0),
            excess_blob_gas: Some(0),
            parent_beacon_block_root: Some(attrs.parent_beacon_block_root),
            requests_hash: Some(requests_hash),
            ..Default::default()
        };
        let block = SealedBlock::from_parts(header.clone(), txs);
        Ok((
            header,
            ExecutionOutcome {
                executed: ExecutedBlock { block, senders, receipts },
                changes,
                trie_undo,
                encoded_txs: None,
                timings,
            },
        ))
    }
}

/// Checks that `parent` is the store's `latest`, the only block the executor can build on.
pub(crate) fn check_parent_is_latest(store: &Store, parent_hash: B256) -> Result<(), StoreError> {
    let latest = store.heads()?.latest;
    if latest.hash != parent_hash {
        return Err(StoreError::NotChildOfHead {
            number: latest.number + 1,
            hash: parent_hash,
            head: latest,
        });
    }
    Ok(())
}

/// Rebuilds the anchor transaction a block must start with and checks it byte for byte.
pub(crate) fn expected_anchor(
    spec: &ChainSpec,
    first: &TxEnvelope,
    nonce: u64,
    base_fee: u64,
    parent: &Header,
) -> Result<TxEnvelope, ImportError> {
    let (input, _) = decode_anchor_calldata(first.input()).ok_or(ImportError::MissingAnchor)?;
    let expected = anchor_from_parent(spec, nonce, base_fee, &input, parent);
    if expected.encoded_2718() != first.encoded_2718() {
        return Err(ImportError::InvalidAnchor);
    }
    Ok(expected)
}

/// The anchor transaction for a block on top of `parent`.
pub(crate) fn anchor_from_parent(
    spec: &ChainSpec,
    nonce: u64,
    base_fee: u64,
    input: &AnchorInput,
    parent: &Header,
) -> TxEnvelope {
    let parent_gas_used = u32::try_from(parent.gas_used).unwrap_or(u32::MAX);
    anchor_transaction(spec, nonce, base_fee, input, parent_gas_used)
}

/// Turns an executor error at a user transaction into the build error that names it.
pub(crate) fn build_error(e: BlockExecutionError) -> BuildError {
    BuildError::Execution(e.to_string())
}
