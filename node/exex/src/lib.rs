//! Execution extensions (ExEx): long-running tasks inside the node that follow its canonical
//! chain, shaped like reth's `reth-exex`.
//!
//! # Design
//!
//! The engine reports every canonical change to the [`ExExManager`] through an
//! [`ExExManagerHandle`]: [`ExExNotification::ChainCommitted`] when blocks are appended,
//! [`ExExNotification::ChainReorged`] when a branch replaced another, and
//! [`ExExNotification::ChainReverted`] when blocks were unwound. The manager
//!
//! 1. appends the notification to a write-ahead log ([`Wal`], a redb file) **before** delivering
//!    it, so a crash cannot lose it;
//! 2. delivers it, in order, to every installed ExEx through its [`ExExContext`];
//! 3. records each ExEx's [`ExExEvent::FinishedHeight`]: a notification is done for an ExEx once
//!    it reported a finished height at or above the notification's committed tip;
//! 4. on start, replays to each ExEx the logged notifications it had not finished, so an ExEx
//!    that restarts resumes exactly where it stopped;
//! 5. prunes log entries every ExEx has finished.
//!
//! An ExEx is installed with [`ExExManager::install_exex`]: a closure that receives the context
//! and returns the ExEx future. As in reth, an ExEx future that returns — even `Ok` — is a fatal
//! node error: [`ExExManager::run`] stops with [`ExExError::Exited`].

#![warn(missing_docs, unreachable_pub)]

mod wal;

pub use wal::Wal;

use alloy::eips::BlockNumHash;
use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};
use std::{future::Future, sync::Arc};
use taiko_store::ExecutedBlock;
use tokio::{sync::mpsc, task::JoinSet};
use tracing::{debug, error, info};

/// A contiguous run of canonical blocks, oldest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Chain {
    blocks: Vec<Arc<ExecutedBlock>>,
}

impl Chain {
    /// A chain of `blocks` (must be contiguous, oldest first, non-empty).
    pub fn new(blocks: Vec<ExecutedBlock>) -> Self {
        Self::from_shared(blocks.into_iter().map(Arc::new).collect())
    }

    /// A chain of blocks shared with their other holders (the store keeps the same blocks
    /// until its applier has written them), so a notification copies no block.
    pub fn from_shared(blocks: Vec<Arc<ExecutedBlock>>) -> Self {
        assert!(!blocks.is_empty(), "a chain has at least one block");
        debug_assert!(
            blocks.windows(2).all(|w| w[1].block.header().parent_hash == w[0].block.hash())
        );
        Self { blocks }
    }

    /// The blocks, oldest first.
    pub fn blocks(&self) -> &[Arc<ExecutedBlock>] {
        &self.blocks
    }

    /// The newest block.
    pub fn tip(&self) -> &ExecutedBlock {
        self.blocks.last().expect("non-empty")
    }

    /// The oldest block.
    pub fn first(&self) -> &ExecutedBlock {
        self.blocks.first().expect("non-empty")
    }

    /// Block number range covered.
    pub fn range(&self) -> std::ops::RangeInclusive<u64> {
        self.first().block.number()..=self.tip().block.number()
    }
}

/// A change of the canonical chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ExExNotification {
    /// Blocks were appended to the canonical chain.
    ChainCommitted {
        /// The new blocks.
        new: Arc<Chain>,
    },
    /// A branch replaced part of the canonical chain.
    ChainReorged {
        /// The blocks that were removed.
        old: Arc<Chain>,
        /// The blocks that replaced them.
        new: Arc<Chain>,
    },
    /// Blocks were removed from the tip of the canonical chain.
    ChainReverted {
        /// The removed blocks.
        old: Arc<Chain>,
    },
}

impl ExExNotification {
    /// The chain this notification commits, if any.
    pub fn committed_chain(&self) -> Option<&Arc<Chain>> {
        match self {
            Self::ChainCommitted { new } | Self::ChainReorged { new, .. } => Some(new),
            Self::ChainReverted { .. } => None,
        }
    }

    /// The chain this notification removes, if any.
    pub fn reverted_chain(&self) -> Option<&Arc<Chain>> {
        match self {
            Self::ChainReorged { old, .. } | Self::ChainReverted { old } => Some(old),
            Self::ChainCommitted { .. } => None,
        }
    }
}

/// What an ExEx reports back to the manager.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExExEvent {
    /// The ExEx has processed every notification up to this block; log entries below it may
    /// be pruned and will not be replayed.
    FinishedHeight(BlockNumHash),
}

/// The node parts an ExEx may use.
pub trait NodeComponents: Clone + Send + Sync + 'static {
    /// The transaction pool.
    type Pool: Send + Sync;
    /// State and chain access.
    type Provider: Send + Sync;
    /// The pool.
    fn pool(&self) -> &Self::Pool;
    /// The provider.
    fn provider(&self) -> &Self::Provider;
}

/// Everything an ExEx gets from the node.
#[derive(Debug)]
pub struct ExExContext<Node> {
    /// The canonical head when the ExEx was installed.
    pub head: BlockNumHash,
    /// Canonical-chain notifications, in order (replayed ones first).
    pub notifications: mpsc::UnboundedReceiver<ExExNotification>,
    /// Where the ExEx reports [`ExExEvent`]s.
    pub events: mpsc::UnboundedSender<ExExEvent>,
    /// Node components.
    pub components: Node,
}

impl<Node: NodeComponents> ExExContext<Node> {
    /// The node's transaction pool.
    pub fn pool(&self) -> &Node::Pool {
        self.components.pool()
    }

    /// The node's state and chain provider.
    pub fn provider(&self) -> &Node::Provider {
        self.components.provider()
    }
}

/// Errors of the ExEx manager.
#[derive(Debug, thiserror::Error)]
pub enum ExExError {
    /// An ExEx future returned or failed: fatal for the node.
    #[error("ExEx {id} exited: {reason}")]
    Exited {
        /// ExEx id.
        id: String,
        /// Its result.
        reason: String,
    },
    /// The write-ahead log failed.
    #[error("ExEx write-ahead log: {0}")]
    Wal(String),
    /// Two ExExes with one id.
    #[error("an ExEx with id {0} is already installed")]
    DuplicateId(String),
}

type ExExResult = Result<(), Box<dyn std::error::Error + Send + Sync>>;

struct Installed {
    id: String,
    sender: mpsc::UnboundedSender<ExExNotification>,
    /// Highest WAL id this ExEx has finished.
    done: u64,
    finished: Option<BlockNumHash>,
}

/// Sends canonical-chain notifications to the manager.
#[derive(Debug, Clone)]
pub struct ExExManagerHandle {
    tx: mpsc::UnboundedSender<ExExNotification>,
}

impl ExExManagerHandle {
    /// Queues a notification (delivered in order). Fails only if the manager stopped.
    pub fn notify(&self, n: ExExNotification) -> Result<(), ExExError> {
        self.tx
            .send(n)
            .map_err(|_| ExExError::Exited { id: "manager".into(), reason: "stopped".into() })
    }
}

/// Runs the installed ExExes and feeds them notifications.
pub struct ExExManager<Node> {
    wal: Arc<Wal>,
    components: Node,
    head: BlockNumHash,
    exexes: Vec<Installed>,
    tasks: JoinSet<(usize, ExExResult)>,
    incoming: mpsc::UnboundedReceiver<ExExNotification>,
    handle: Option<ExExManagerHandle>,
    events_tx: mpsc::UnboundedSender<(usize, ExExEvent)>,
    events_rx: mpsc::UnboundedReceiver<(usize, ExExEvent)>,
    barrier: Option<LogBarrier>,
}

/// Runs before each append to the write-ahead log (see [`ExExManager::log_after`]).
pub type LogBarrier = Arc<dyn Fn() -> Result<(), String> + Send + Sync>;

impl<Node> std::fmt::Debug for ExExManager<Node> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExExManager")
            .field("head", &self.head)
            .field("exexes", &self.exexes.len())
            .finish()
    }
}

impl<Node: NodeComponents> ExExManager<Node> {
    /// A manager over the log `wal`, with the node's `components` and canonical `head`.
    pub fn new(wal: Wal, components: Node, head: BlockNumHash) -> Self {
        let (tx, incoming) = mpsc::unbounded_channel();
        let (events_tx, events_rx) = mpsc::unbounded_channel();
        Self {
            wal: Arc::new(wal),
            components,
            head,
            exexes: Vec::new(),
            tasks: JoinSet::new(),
            incoming,
            handle: Some(ExExManagerHandle { tx }),
            events_tx,
            events_rx,
            barrier: None,
        }
    }

    /// Makes every append to the write-ahead log wait for `barrier` first (on the log's writer
    /// thread, so nothing else waits). The node passes the store's
    /// [`wait_synced`](taiko_store::Store::wait_synced): the log then never holds a block the
    /// store could lose in a power loss, so a replay after one never hands an ExEx a block above
    /// the store's head. A failed barrier fails the manager, as a failed append does.
    pub fn log_after(mut self, barrier: LogBarrier) -> Self {
        self.barrier = Some(barrier);
        self
    }

    /// The handle the engine notifies through.
    pub fn handle(&self) -> ExExManagerHandle {
        self.handle.clone().expect("the manager keeps its handle until it runs")
    }

    /// Installs an ExEx: `init` receives its context and returns the ExEx future. Logged
    /// notifications the ExEx has not finished are queued to it first.
    pub async fn install_exex<F, Fut, E>(
        &mut self,
        id: impl Into<String>,
        init: F,
    ) -> Result<(), ExExError>
    where
        F: FnOnce(ExExContext<Node>) -> Fut,
        Fut: Future<Output = Result<E, Box<dyn std::error::Error + Send + Sync>>>,
        E: Future<Output = ExExResult> + Send + 'static,
    {
        let id = id.into();
        if self.exexes.iter().any(|e| e.id == id) {
            return Err(ExExError::DuplicateId(id));
        }
        let (sender, notifications) = mpsc::unbounded_channel();
        let (done, finished) = self.wal.progress(&id).map_err(|e| ExExError::Wal(e.to_string()))?;
        let replay = self.wal.entries_after(done).map_err(|e| ExExError::Wal(e.to_string()))?;
        info!(target: "exex", %id, replay = replay.len(), ?finished, "installing ExEx");
        for (_, n) in replay {
            let _ = sender.send(n);
        }
        let index = self.exexes.len();
        let (ev_tx, mut ev_rx) = mpsc::unbounded_channel::<ExExEvent>();
        let fwd = self.events_tx.clone();
        tokio::spawn(async move {
            while let Some(ev) = ev_rx.recv().await {
                if fwd.send((index, ev)).is_err() {
                    break;
                }
            }
        });
        let ctx = ExExContext {
            head: self.head,
            notifications,
            events: ev_tx,
            components: self.components.clone(),
        };
        let exex = init(ctx)
            .await
            .map_err(|e| ExExError::Exited { id: id.clone(), reason: e.to_string() })?;
        let fut: BoxFuture<'static, ExExResult> = Box::pin(exex);
        self.tasks.spawn(async move { (index, fut.await) });
        self.exexes.push(Installed { id, sender, done, finished });
        Ok(())
    }

    /// Runs until an ExEx exits (an error) or every handle is dropped (clean stop).
    pub async fn run(mut self) -> Result<(), ExExError> {
        self.handle.take();
        let writer = LogWriter::spawn().map_err(|e| ExExError::Wal(e.to_string()))?;
        loop {
            tokio::select! {
                biased;
                Some(joined) = self.tasks.join_next() => {
                    let (index, result) = joined.map_err(|e| ExExError::Exited { id: "?".into(), reason: e.to_string() })?;
                    let id = self.exexes[index].id.clone();
                    let reason = match result { Ok(()) => "returned".to_string(), Err(e) => e.to_string() };
                    error!(target: "exex", %id, %reason, "ExEx exited: fatal");
                    return Err(ExExError::Exited { id, reason });
                }
                Some((index, ExExEvent::FinishedHeight(height))) = self.events_rx.recv() => {
                    self.on_finished(index, height)?;
                }
                n = self.incoming.recv() => {
                    let Some(n) = n else { return Ok(()) };
                    let started = std::time::Instant::now();
                    let (wal, logged, barrier) = (self.wal.clone(), n.clone(), self.barrier.clone());
                    let id = writer
                        .run(move || {
                            if let Some(barrier) = barrier {
                                barrier().map_err(|e| format!("before logging: {e}"))?;
                            }
                            wal.append(&logged).map_err(|e| e.to_string())
                        })
                        .await?
                        .map_err(ExExError::Wal)?;
                    debug!(target: "exex", wal_id = id, ms = started.elapsed().as_secs_f64() * 1e3, "logged notification");
                    for exex in &self.exexes {
                        let _ = exex.sender.send(n.clone());
                    }
                }
            }
        }
    }

    fn on_finished(&mut self, index: usize, height: BlockNumHash) -> Result<(), ExExError> {
        let wal_err = |e: wal::WalError| ExExError::Wal(e.to_string());
        let done = off_runtime(|| self.wal.done_through(height)).map_err(wal_err)?;
        let exex = &mut self.exexes[index];
        exex.finished = Some(height);
        exex.done = exex.done.max(done);
        let (id, exex_done) = (exex.id.clone(), exex.done);
        let min_done = self.exexes.iter().map(|e| e.done).min().unwrap_or(0);
        off_runtime(|| self.wal.set_progress(&id, exex_done, height, min_done)).map_err(wal_err)?;
        debug!(target: "exex", %id, height = height.number, "finished height");
        Ok(())
    }
}

/// A thread of its own, at background priority ([`taiko_store::background_priority`]), for
/// the log's appends: a 2,000-transaction block is ≈ 1.5 ms of encoding and writing per
/// node, which on the runtime's workers would take a core from imports at the very moment a
/// block arrives. ExExes get a notification once it is logged, a few milliseconds later
/// under load; the order and the durability are unchanged.
struct LogWriter {
    jobs: std::sync::mpsc::Sender<Box<dyn FnOnce() + Send>>,
}

impl LogWriter {
    fn spawn() -> std::io::Result<Self> {
        let (jobs, rx) = std::sync::mpsc::channel::<Box<dyn FnOnce() + Send>>();
        std::thread::Builder::new().name("exex-wal".into()).spawn(move || {
            taiko_store::background_priority();
            while let Ok(job) = rx.recv() {
                job();
            }
        })?;
        Ok(Self { jobs })
    }

    /// Runs `f` on the thread and waits for its result.
    async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, ExExError> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let stopped = || ExExError::Wal("the log's writer thread stopped".into());
        self.jobs
            .send(Box::new(move || {
                let _ = tx.send(f());
            }))
            .map_err(|_| stopped())?;
        rx.await.map_err(|_| stopped())
    }
}

/// Runs blocking work (a durable write, say) from async code without stalling the runtime's
/// other tasks: on a multi-threaded runtime the worker hands its queue to another thread
/// meanwhile (`block_in_place`); elsewhere (a current-thread runtime, no runtime) it just runs.
pub fn off_runtime<T>(f: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::try_current().map(|h| h.runtime_flavor()) {
        Ok(tokio::runtime::RuntimeFlavor::MultiThread) => tokio::task::block_in_place(f),
        _ => f(),
    }
}
