//! The engine: the single writer of the chain, driven like an execution client's Engine API.
//!
//! # Design
//!
//! [`Engine`] is an actor owning the [`Store`], running on a thread of its own ([`Engine::run`]);
//! everything else talks to it through a cloneable [`EngineHandle`] (a message enum with oneshot
//! replies, as in reth):
//!
//! - [`EngineHandle::new_payload`] validates a block. If its parent is `latest` it is fully
//!   re-executed ([`taiko_evm::import_block`]) and kept as *valid*, not yet canonical; otherwise
//!   it is buffered as *accepted* and executed when a fork choice selects it.
//! - [`EngineHandle::build_payload`] builds a block on `latest` from a transaction source and
//!   keeps it the same way (the sequencer's path). A preconfer can start its next block early
//!   with [`EngineHandle::start_build`] and feed it rounds of candidates with
//!   [`EngineHandle::append_build`]: the block executes on a [`taiko_evm::BuildSession`]'s
//!   thread while transactions arrive, and `build_payload` with the session's attributes on the
//!   same `latest` only runs the last round and seals it. Any other `build_payload`, or a new
//!   `latest`, drops the session. A follower executing a preconfer's streamed block in a session
//!   seals it ahead with [`EngineHandle::seal_build`] once the preconfer says the block is
//!   complete; the block's `new_payload` then only compares the sealed hash.
//! - **The tries and a session.** A session applies each round's state changes to the store's
//!   tries as it goes (so sealing hashes only the last round's), which makes the tries hold
//!   `latest` plus the session's block for the session's whole life. The engine therefore
//!   starts a session only on settled tries and drops the session — which puts its rounds
//!   back — before anything else touches them: a build or an import not through the session,
//!   and any change of head.
//! - [`EngineHandle::fork_choice_updated`] makes a known block the head: it appends, unwinds
//!   or reorgs (unwind to the fork point, then execute and commit the new branch; if the branch
//!   turns out invalid the old one is restored), moves `safe` and `finalized`, and reports the
//!   change to the ExEx manager as `ChainCommitted`, `ChainReorged` or `ChainReverted`.
//!   [`EngineHandle::new_payload_as_head`] does both for a block that extends `latest`, in one
//!   turn.
//!
//! Heads are published on a `watch` channel ([`EngineHandle::heads`]). Reorgs are limited to the
//! store's revert window and never go below `finalized`.

#![warn(missing_docs, unreachable_pub)]

use alloy::{
    consensus::Header,
    eips::BlockNumHash,
    primitives::{Address, B256},
};
use std::{collections::HashMap, sync::Arc};
use taiko_chainspec::ChainSpec;
use taiko_evm::{
    BlockAttributes, BuildLimits, BuildSession, ExecutionOutcome, ImportError, RoundHook,
    SkippedTx, TxSource,
};
use taiko_node_exex::{Chain, ExExManagerHandle, ExExNotification};
use taiko_store::{ExecutedBlock, Heads, SealedBlock, StateChanges, Store, StoreError, TrieUndo};
use tokio::sync::{mpsc, oneshot, watch};
use tracing::{debug, error, info, warn};

/// The result of [`EngineHandle::new_payload`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PayloadStatus {
    /// Fully executed and valid; canonical once a fork choice selects it.
    Valid,
    /// Stored for later execution (its parent is not `latest`).
    Accepted,
    /// Rejected.
    Invalid(ImportError),
}

/// Head, safe and finalized block hashes; `B256::ZERO` leaves safe/finalized unchanged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ForkchoiceState {
    /// New head.
    pub head: B256,
    /// New safe block.
    pub safe: B256,
    /// New finalized block.
    pub finalized: B256,
}

/// Errors of the engine.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The head (or one of its ancestors) is unknown.
    #[error("unknown block {0}")]
    UnknownBlock(B256),
    /// The new branch contains an invalid block; the old chain was kept.
    #[error("invalid block {hash} in the new branch: {error}")]
    InvalidBranch {
        /// The invalid block.
        hash: B256,
        /// Why.
        error: ImportError,
    },
    /// The fork point is below `finalized`.
    #[error("reorg to block {target} would go below finalized block {finalized}")]
    BelowFinalized {
        /// Fork point.
        target: u64,
        /// Finalized number.
        finalized: u64,
    },
    /// Safe or finalized is not canonical or is above the head.
    #[error("safe/finalized block {0} is not an ancestor of the head")]
    InvalidSafeOrFinalized(B256),
    /// Building failed.
    #[error("building: {0}")]
    Build(#[from] taiko_evm::BuildError),
    /// The engine stopped.
    #[error("engine stopped")]
    Stopped,
}

/// A built payload.
#[derive(Debug, Clone)]
pub struct BuiltPayload {
    /// The block (not canonical until a fork choice selects it).
    pub block: ExecutedBlock,
    /// Its transactions' encodings, when they were made while it was built (a build session):
    /// a caller that hashes or encodes the transactions again can use them.
    pub encoded_txs: Option<taiko_store::EncodedTxs>,
    /// Candidates left out.
    pub skipped: Vec<SkippedTx>,
}

type Reply<T> = oneshot::Sender<Result<T, EngineError>>;

enum Message {
    NewPayload {
        block: Box<SealedBlock>,
        senders: Option<Vec<Address>>,
        /// Make it the head at once if it is valid.
        adopt: bool,
        reply: Reply<PayloadStatus>,
    },
    ForkChoiceUpdated {
        state: ForkchoiceState,
        reply: Reply<Heads>,
    },
    BuildPayload {
        attrs: BlockAttributes,
        source: Box<dyn TxSource + Send>,
        limits: BuildLimits,
        reply: Reply<BuiltPayload>,
    },
    StartBuild {
        attrs: BlockAttributes,
        limits: BuildLimits,
        on_round: Option<RoundHook>,
        reply: Reply<()>,
    },
    AppendBuild {
        source: Box<dyn TxSource + Send>,
    },
    SealBuild,
    /// Sent by [`Engine::run`]'s future when it is dropped: the thread ends.
    Stop,
}

/// A cloneable handle to the engine actor.
#[derive(Debug, Clone)]
pub struct EngineHandle {
    tx: mpsc::UnboundedSender<Message>,
    heads: watch::Receiver<Heads>,
    session_imports: Arc<std::sync::atomic::AtomicU64>,
}

impl std::fmt::Debug for Message {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("engine message")
    }
}

impl EngineHandle {
    async fn call<T>(&self, make: impl FnOnce(Reply<T>) -> Message) -> Result<T, EngineError> {
        let (reply, rx) = oneshot::channel();
        self.tx.send(make(reply)).map_err(|_| EngineError::Stopped)?;
        rx.await.map_err(|_| EngineError::Stopped)?
    }

    /// Validates a block (see the crate docs).
    pub async fn new_payload(
        &self,
        block: SealedBlock,
        senders: Option<Vec<Address>>,
    ) -> Result<PayloadStatus, EngineError> {
        self.payload(block, senders, false).await
    }

    /// [`Self::new_payload`] and, if the block is valid, [`Self::fork_choice_updated`] to it
    /// (safe and finalized unchanged), in one turn of the engine: a follower adopting a
    /// gossiped block saves a round trip to the engine between the two.
    pub async fn new_payload_as_head(
        &self,
        block: SealedBlock,
        senders: Option<Vec<Address>>,
    ) -> Result<PayloadStatus, EngineError> {
        self.payload(block, senders, true).await
    }

    async fn payload(
        &self,
        block: SealedBlock,
        senders: Option<Vec<Address>>,
        adopt: bool,
    ) -> Result<PayloadStatus, EngineError> {
        let block = Box::new(block);
        self.call(|reply| Message::NewPayload { block, senders, adopt, reply }).await
    }

    /// Makes `state.head` the head and moves safe/finalized.
    pub async fn fork_choice_updated(&self, state: ForkchoiceState) -> Result<Heads, EngineError> {
        self.call(|reply| Message::ForkChoiceUpdated { state, reply }).await
    }

    /// Builds a block on `latest`.
    pub async fn build_payload(
        &self,
        attrs: BlockAttributes,
        source: Box<dyn TxSource + Send>,
        limits: BuildLimits,
    ) -> Result<BuiltPayload, EngineError> {
        self.call(|reply| Message::BuildPayload { attrs, source, limits, reply }).await
    }

    /// Starts building the next block on `latest` now (see the crate docs); a later
    /// [`Self::build_payload`] with the same attributes and limits on the same `latest` finishes
    /// it, and so does a [`Self::new_payload`] of the very block the session is building.
    /// `on_round` sees the transactions each appended round adds. Replaces any session
    /// already open.
    pub async fn start_build(
        &self,
        attrs: BlockAttributes,
        limits: BuildLimits,
        on_round: Option<RoundHook>,
    ) -> Result<(), EngineError> {
        self.call(|reply| Message::StartBuild { attrs, limits, on_round, reply }).await
    }

    /// Gives the open build session a round of candidates (best first; those already in the
    /// block are passed over). Without a session it does nothing.
    pub fn append_build(&self, source: Box<dyn TxSource + Send>) -> Result<(), EngineError> {
        self.tx.send(Message::AppendBuild { source }).map_err(|_| EngineError::Stopped)
    }

    /// Seals the open build session with the rounds given so far, ahead of the block: a
    /// follower calls it when the block's preconfer has said that no transaction follows, so
    /// the seal overlaps the preconfer's signing, and the block's [`Self::new_payload`] only
    /// compares hashes. Without a session it does nothing.
    pub fn seal_build(&self) -> Result<(), EngineError> {
        self.tx.send(Message::SealBuild).map_err(|_| EngineError::Stopped)
    }

    /// How many received blocks were imported through a build session (their transactions
    /// executed ahead of the block) rather than in full.
    pub fn session_imports(&self) -> u64 {
        self.session_imports.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Whether the engine has stopped.
    pub fn is_stopped(&self) -> bool {
        self.tx.is_closed()
    }

    /// The current heads, updated on every change.
    pub fn heads(&self) -> watch::Receiver<Heads> {
        self.heads.clone()
    }
}

/// A validated block waiting for a fork choice, with the changes to commit it.
struct Pending {
    outcome_block: Arc<ExecutedBlock>,
    changes: StateChanges,
    encoded_txs: Option<taiko_store::EncodedTxs>,
}

/// The valid block whose state changes are still applied to the store's trie (see
/// [`Engine::settle_trie`]), and how to take them out.
struct Applied {
    hash: B256,
    undo: TrieUndo,
}

/// The engine actor.
pub struct Engine {
    spec: Arc<ChainSpec>,
    store: Arc<Store>,
    exex: Option<ExExManagerHandle>,
    valid: HashMap<B256, Pending>,
    applied: Option<Applied>,
    buffered: HashMap<B256, (SealedBlock, Option<Vec<Address>>)>,
    /// The next block, building while transactions arrive.
    session: Option<BuildSession>,
    /// The last finished session, whose thread may still be dropping its working state: it is
    /// joined when the next one retires or the engine stops, not while the block it made is
    /// on its way to `latest`.
    retired: Option<BuildSession>,
    session_imports: Arc<std::sync::atomic::AtomicU64>,
    heads: watch::Sender<Heads>,
    rx: mpsc::UnboundedReceiver<Message>,
    /// Reaches the engine's own queue without keeping it open (see [`Engine::run`]).
    stopper: mpsc::WeakUnboundedSender<Message>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("valid", &self.valid.len())
            .field("buffered", &self.buffered.len())
            .finish()
    }
}

/// A block off the canonical chain that a fork choice may select.
enum SideBlock {
    /// Validated: its execution result is kept, shared.
    Validated(Arc<ExecutedBlock>),
    /// Received before its parent, with its senders if known.
    Buffered(Box<(SealedBlock, Option<Vec<Address>>)>),
}

impl SideBlock {
    fn block(&self) -> &SealedBlock {
        match self {
            Self::Validated(e) => &e.block,
            Self::Buffered(b) => &b.0,
        }
    }

    fn senders(&self) -> Option<&[Address]> {
        match self {
            Self::Validated(e) => Some(&e.senders),
            Self::Buffered(b) => b.1.as_deref(),
        }
    }
}

/// Most blocks kept waiting for a fork choice.
const MAX_WAITING: usize = 1024;

/// Stops the engine's thread (after the message in hand) and waits for it, when
/// [`Engine::run`]'s future is dropped before the thread ended.
struct StopOnDrop {
    stopper: mpsc::WeakUnboundedSender<Message>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        let Some(thread) = self.thread.take() else { return };
        if let Some(tx) = self.stopper.upgrade() {
            let _ = tx.send(Message::Stop);
        }
        let _ = thread.join();
    }
}

impl Engine {
    /// Creates the engine and its handle. Run it with [`Engine::run`].
    pub fn new(
        store: Arc<Store>,
        exex: Option<ExExManagerHandle>,
    ) -> Result<(Self, EngineHandle), EngineError> {
        let (tx, rx) = mpsc::unbounded_channel();
        let (heads_tx, heads_rx) = watch::channel(store.heads()?);
        let session_imports = Arc::<std::sync::atomic::AtomicU64>::default();
        let spec = store.chain_spec().clone();
        let engine = Self {
            spec,
            store,
            exex,
            valid: HashMap::new(),
            applied: None,
            buffered: HashMap::new(),
            session: None,
            retired: None,
            session_imports: session_imports.clone(),
            heads: heads_tx,
            stopper: tx.downgrade(),
            rx,
        };
        Ok((engine, EngineHandle { tx, heads: heads_rx, session_imports }))
    }

    /// Serves messages until every handle is dropped, on a thread of its own (`engine`), as
    /// reth runs its engine tree: a message wakes that thread directly, not a task that must
    /// first get a runtime worker and then hand the worker's other tasks to another thread for
    /// its CPU-bound work. Dropping the returned future (aborting its task) stops the thread
    /// after the message in hand and waits for it, so the engine — and its hold on the store
    /// — is gone when the drop returns.
    pub async fn run(self) {
        let (done, finished) = oneshot::channel::<()>();
        let stopper = self.stopper.clone();
        let thread = std::thread::Builder::new().name("engine".into()).spawn(move || {
            let mut engine = self;
            while let Some(msg) = engine.rx.blocking_recv() {
                if matches!(msg, Message::Stop) {
                    debug!(target: "engine", "engine stopped");
                    break;
                }
                engine.handle(msg);
            }
            drop(engine);
            let _ = done.send(());
        });
        let thread = match thread {
            Ok(t) => t,
            Err(e) => {
                error!(target: "engine", error = %e, "could not start the engine thread");
                return;
            }
        };
        let mut guard = StopOnDrop { stopper, thread: Some(thread) };
        let _ = finished.await;
        if let Some(t) = guard.thread.take() {
            let _ = t.join();
        }
        debug!(target: "engine", "all handles dropped, engine stops");
    }

    /// Handles one message synchronously (used by [`Self::run`], and by tests directly).
    fn handle(&mut self, msg: Message) {
        match msg {
            Message::Stop => {}
            Message::NewPayload { block, senders, adopt, reply } => {
                let hash = block.hash();
                let status = self.on_new_payload(*block, senders);
                let status = match status {
                    Ok(PayloadStatus::Valid) if adopt => self
                        .on_fork_choice(ForkchoiceState { head: hash, ..Default::default() })
                        .map(|_| PayloadStatus::Valid),
                    other => other,
                };
                let _ = reply.send(status);
            }
            Message::ForkChoiceUpdated { state, reply } => {
                let _ = reply.send(self.on_fork_choice(state));
            }
            Message::BuildPayload { attrs, source, limits, reply } => {
                let _ = reply.send(self.on_build(attrs, source, limits));
            }
            Message::StartBuild { attrs, limits, on_round, reply } => {
                let _ = reply.send(self.on_start_build(attrs, limits, on_round));
            }
            Message::AppendBuild { source } => {
                if let Some(session) = &self.session {
                    session.append(source);
                }
            }
            Message::SealBuild => {
                if let Some(session) = &self.session {
                    session.seal();
                }
            }
        }
    }

    fn latest(&self) -> Result<(Header, B256), EngineError> {
        let header = self.store.latest_header()?;
        let hash = header.hash_slow();
        Ok((header, hash))
    }

    /// Keeps an executed outcome as a valid pending block and puts the tries back.
    /// Takes the changes of the last validated block out of the trie, unless it is `keep`.
    ///
    /// A block just built or imported leaves its changes applied: the usual next step is the
    /// fork choice that makes it `latest`, which then commits without computing the state root
    /// a second time. Anything else that touches the trie settles it first.
    fn settle_trie(&mut self, keep: Option<B256>) {
        if let Some(a) = self.applied.take() {
            if Some(a.hash) == keep {
                self.applied = Some(a);
            } else {
                self.store.undo_trie(a.undo);
            }
        }
    }

    fn keep(&mut self, outcome: ExecutionOutcome) {
        self.settle_trie(None);
        let hash = outcome.executed.block.hash();
        self.applied = Some(Applied { hash, undo: outcome.trie_undo });
        if self.valid.len() >= MAX_WAITING {
            self.valid.clear();
        }
        self.valid.insert(
            hash,
            Pending {
                outcome_block: Arc::new(outcome.executed),
                changes: outcome.changes,
                encoded_txs: outcome.encoded_txs,
            },
        );
    }

    fn on_build(
        &mut self,
        attrs: BlockAttributes,
        mut source: Box<dyn TxSource + Send>,
        limits: BuildLimits,
    ) -> Result<BuiltPayload, EngineError> {
        self.settle_trie(None);
        let (parent, parent_hash) = self.latest()?;
        let built = match self.session.take() {
            Some(mut session)
                if session.parent_hash() == parent_hash
                    && session.attrs() == &attrs
                    && session.limits() == limits =>
            {
                let built = session.finish(Some(source));
                self.retired = Some(session);
                built?
            }
            other => {
                // a session holds its rounds in the tries until it is dropped
                drop(other);
                taiko_evm::build_block(
                    &self.spec,
                    &self.store,
                    &parent,
                    parent_hash,
                    &attrs,
                    source.as_mut(),
                    limits,
                )?
            }
        };
        let block = built.outcome.executed.clone();
        let encoded_txs = built.outcome.encoded_txs.clone();
        self.keep(built.outcome);
        Ok(BuiltPayload { block, encoded_txs, skipped: built.skipped })
    }

    fn on_start_build(
        &mut self,
        attrs: BlockAttributes,
        limits: BuildLimits,
        on_round: Option<RoundHook>,
    ) -> Result<(), EngineError> {
        self.session = None;
        // the session applies its rounds to the tries: they must hold `latest` exactly
        self.settle_trie(None);
        let (parent, parent_hash) = self.latest()?;
        self.session = Some(BuildSession::start(
            self.spec.clone(),
            self.store.clone(),
            parent,
            parent_hash,
            attrs,
            limits,
            on_round,
        )?);
        Ok(())
    }

    fn on_new_payload(
        &mut self,
        block: SealedBlock,
        senders: Option<Vec<Address>>,
    ) -> Result<PayloadStatus, EngineError> {
        let hash = block.hash();
        if self.valid.contains_key(&hash) || self.store.block_number(hash)?.is_some() {
            return Ok(PayloadStatus::Valid);
        }
        self.settle_trie(None);
        let (parent, parent_hash) = self.latest()?;
        if block.header().parent_hash != parent_hash {
            if self.buffered.len() >= MAX_WAITING {
                self.buffered.clear();
            }
            self.buffered.insert(hash, (block, senders));
            return Ok(PayloadStatus::Accepted);
        }
        let block = Arc::new(block);
        if let Some(status) = self.import_through_session(&block, &senders, parent_hash) {
            return Ok(status);
        }
        // another block on our parent: a session (another preconfer's block, or ours for a
        // later tick) holds its rounds in the tries, which the import needs clean
        self.session = None;
        match taiko_evm::import_block(
            &self.spec,
            &self.store,
            &parent,
            parent_hash,
            &block,
            senders.as_deref(),
        ) {
            Ok(outcome) => {
                self.keep(outcome);
                Ok(PayloadStatus::Valid)
            }
            Err(e) => {
                warn!(target: "engine", %hash, error = %e, "invalid payload");
                Ok(PayloadStatus::Invalid(e))
            }
        }
    }

    /// Imports `block` through the open build session when the session is building the same
    /// block — a follower that received the block's transactions ahead of it (streamed by its
    /// preconfer) executed them already — by executing the rest and sealing. The session's
    /// block is taken only if it is identical to `block` (same hash: every header field, every
    /// transaction); anything else returns `None` and the block is imported in full.
    fn import_through_session(
        &mut self,
        block: &Arc<SealedBlock>,
        senders: &Option<Vec<Address>>,
        parent_hash: B256,
    ) -> Option<PayloadStatus> {
        let h = block.header();
        let mut session = self.session.take_if(|s| {
            let a = s.attrs();
            s.parent_hash() == parent_hash
                && a.timestamp == h.timestamp
                && a.coinbase == h.beneficiary
                && a.extra_data == h.extra_data
                && Some(a.parent_beacon_block_root) == h.parent_beacon_block_root
        })?;
        let started = std::time::Instant::now();
        let finished = session.finish_as(Arc::clone(block), senders.clone());
        self.retired = Some(session);
        match finished {
            Ok(Some(built)) if built.outcome.executed.block.hash() == block.hash() => {
                debug!(target: "engine", number = h.number, hash = %block.hash(), ms = started.elapsed().as_secs_f64() * 1e3, "imported through the build session");
                self.keep(built.outcome);
                self.session_imports.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                Some(PayloadStatus::Valid)
            }
            Ok(Some(built)) => {
                debug!(target: "engine", number = h.number, "the build session made another block; importing in full");
                self.store.undo_trie(built.outcome.trie_undo);
                None
            }
            Ok(None) => {
                debug!(target: "engine", number = h.number, "the build session is not a prefix of the block; importing in full");
                None
            }
            Err(error) => {
                debug!(target: "engine", number = h.number, %error, "the build session failed; importing in full");
                None
            }
        }
    }

    /// Looks up a non-canonical block by hash (a validated one is shared, not copied).
    fn side_block(&self, hash: &B256) -> Option<SideBlock> {
        if let Some(p) = self.valid.get(hash) {
            return Some(SideBlock::Validated(p.outcome_block.clone()));
        }
        self.buffered.get(hash).map(|b| SideBlock::Buffered(Box::new(b.clone())))
    }

    fn on_fork_choice(&mut self, state: ForkchoiceState) -> Result<Heads, EngineError> {
        self.settle_trie(Some(state.head));
        let heads = self.store.heads()?;
        if state.head != heads.latest.hash {
            self.set_head(state.head, heads)?;
        }
        self.set_safe_finalized(state)?;
        let heads = self.store.heads()?;
        if self.session.as_ref().is_some_and(|s| s.parent_hash() != heads.latest.hash) {
            self.session = None;
        }
        self.heads.send_replace(heads);
        Ok(heads)
    }

    fn set_safe_finalized(&mut self, state: ForkchoiceState) -> Result<(), EngineError> {
        if state.safe.is_zero() && state.finalized.is_zero() {
            return Ok(());
        }
        let heads = self.store.heads()?;
        let number = |h: B256, current: BlockNumHash| -> Result<u64, EngineError> {
            if h.is_zero() {
                return Ok(current.number);
            }
            self.store.block_number(h)?.ok_or(EngineError::InvalidSafeOrFinalized(h))
        };
        let safe = number(state.safe, heads.safe)?;
        let finalized = number(state.finalized, heads.finalized)?;
        if finalized > safe {
            return Err(EngineError::InvalidSafeOrFinalized(state.finalized));
        }
        if finalized < heads.finalized.number {
            return Err(EngineError::InvalidSafeOrFinalized(state.finalized));
        }
        self.store.set_safe_finalized(safe, finalized)?;
        Ok(())
    }

    fn set_head(&mut self, head: B256, heads: Heads) -> Result<(), EngineError> {
        // The head moves, so a session on the old one is useless, and its rounds sit in the
        // tries that the unwinds and imports below use.
        self.session = None;
        // Canonical ancestor: a plain revert.
        if let Some(number) = self.store.block_number(head)? {
            if number < heads.finalized.number {
                return Err(EngineError::BelowFinalized {
                    target: number,
                    finalized: heads.finalized.number,
                });
            }
            let old = self.store.unwind_to(number)?;
            info!(target: "engine", to = number, removed = old.len(), "reverted head");
            self.notify(ExExNotification::ChainReverted { old: Arc::new(Chain::new(old)) });
            return Ok(());
        }
        // Walk back through known side blocks to the canonical chain.
        let mut branch = Vec::new();
        let mut cursor = head;
        let fork_point = loop {
            if let Some(n) = self.store.block_number(cursor)? {
                break n;
            }
            let side = self.side_block(&cursor).ok_or(EngineError::UnknownBlock(cursor))?;
            cursor = side.block().header().parent_hash;
            branch.push(side);
        };
        branch.reverse();
        if fork_point < heads.finalized.number {
            return Err(EngineError::BelowFinalized {
                target: fork_point,
                finalized: heads.finalized.number,
            });
        }
        let old = self.store.unwind_to(fork_point)?;
        let t0 = std::time::Instant::now();
        let mut new = Vec::with_capacity(branch.len());
        for side in branch {
            let block = side.block();
            match self.commit_block(block, side.senders()) {
                Ok(executed) => new.push(executed),
                Err(error) => {
                    warn!(target: "engine", hash = %block.hash(), %error, "new branch is invalid; restoring the old chain");
                    self.store.unwind_to(fork_point)?;
                    for b in &old {
                        self.commit_block(&b.block, Some(&b.senders)).map_err(|e| {
                            EngineError::InvalidBranch { hash: b.block.hash(), error: e }
                        })?;
                    }
                    return Err(EngineError::InvalidBranch { hash: block.hash(), error });
                }
            }
        }
        for b in &new {
            self.buffered.remove(&b.block.hash());
            self.valid.remove(&b.block.hash());
        }
        let new = Arc::new(Chain::from_shared(new));
        let committed = t0.elapsed();
        info!(target: "engine", head = new.tip().block.number(), hash = %head, reorged = old.len(), "new head");
        if old.is_empty() {
            self.notify(ExExNotification::ChainCommitted { new });
        } else {
            self.notify(ExExNotification::ChainReorged { old: Arc::new(Chain::new(old)), new });
        }
        debug!(target: "engine", commit_ms = committed.as_secs_f64() * 1e3, notify_ms = (t0.elapsed() - committed).as_secs_f64() * 1e3, "head timings");
        Ok(())
    }

    /// Executes (or takes the validated result of) a child of `latest` and commits it.
    fn commit_block(
        &mut self,
        block: &SealedBlock,
        senders: Option<&[Address]>,
    ) -> Result<Arc<ExecutedBlock>, ImportError> {
        self.settle_trie(Some(block.hash()));
        let (parent, parent_hash) = self.latest().map_err(|e| ImportError::Store(e.to_string()))?;
        let (executed, changes, undo, encoded) = match self.valid.remove(&block.hash()) {
            Some(p) if block.header().parent_hash == parent_hash => {
                if let Some(a) = self.applied.take_if(|a| a.hash == block.hash()) {
                    // validated on top of `latest` and still applied: the root was checked then
                    return self.persist(p.outcome_block, p.changes, a.undo, p.encoded_txs);
                }
                let (root, undo) = self.store.apply_to_trie(&p.changes)?;
                if root != block.header().state_root {
                    self.store.undo_trie(undo);
                    return Err(ImportError::HeaderMismatch {
                        field: "state_root",
                        expected: root.to_string(),
                        got: block.header().state_root.to_string(),
                    });
                }
                (p.outcome_block, p.changes, undo, p.encoded_txs)
            }
            _ => {
                let o = taiko_evm::import_block(
                    &self.spec,
                    &self.store,
                    &parent,
                    parent_hash,
                    block,
                    senders,
                )?;
                (Arc::new(o.executed), o.changes, o.trie_undo, o.encoded_txs)
            }
        };
        self.persist(executed, changes, undo, encoded)
    }

    /// Writes a block whose changes are applied to the trie; takes them out again on failure.
    /// The store and the ExEx notification share the block.
    fn persist(
        &mut self,
        executed: Arc<ExecutedBlock>,
        changes: StateChanges,
        undo: TrieUndo,
        encoded: Option<taiko_store::EncodedTxs>,
    ) -> Result<Arc<ExecutedBlock>, ImportError> {
        if let Err(e) = self.store.commit_shared(executed.clone(), changes, encoded) {
            self.store.undo_trie(undo);
            return Err(e.into());
        }
        Ok(executed)
    }

    fn notify(&self, n: ExExNotification) {
        if let Some(exex) = &self.exex
            && exex.notify(n).is_err()
        {
            warn!(target: "engine", "ExEx manager stopped; notification dropped");
        }
    }
}
