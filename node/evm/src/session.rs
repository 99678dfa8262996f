//! Building one block over time: continuous block building for a preconfer.
//!
//! A preconfer that builds its next block only at the tick pays for executing every
//! transaction that arrived during the block time right at the tick, on the latency path of
//! each of them. A [`BuildSession`] starts the block as soon as its parent is `latest` —
//! environment, system calls, anchor — and executes candidates as they arrive, in rounds
//! ([`BuildSession::append`]), on its own thread, and applies each round's state changes to the
//! store's tries, hashing them while it waits for the next round. At the tick,
//! [`BuildSession::finish`] runs a last round for what arrived since, applies and hashes its
//! changes, and seals the header: the work left on the latency path is what arrived in the last
//! round, not the whole block. A follower executing a preconfer's streamed block in a session
//! seals it with [`BuildSession::seal`] as soon as the preconfer says the block is complete, and
//! the block's arrival then only has to match the sealed hash. While a session lives, the
//! store's tries hold its block on top of `latest`; dropping the session (or a failed seal, or
//! a received block it does not match) puts them back, so the owner — the engine — must drop it
//! before it touches the tries for anything else.
//!
//! Each round draws from a fresh best-first source (the pool). Candidates already in the
//! block are passed over by hash, so the block is the one a single build would have made from
//! the transactions in the order they became available. The session's state is a snapshot of
//! its parent; the engine drops a session whose parent is no longer `latest`. Nothing is
//! signed or written here: the engine treats the finished block like any built block.

use crate::{
    BlockAttributes, BuildError, BuildLimits, BuiltBlock, IterSource, Selection, TxSource,
    commitments::BlockCommitments,
    execute::{AppliedRounds, ParentInfo, build_error},
    prepare_build, start_build,
};
use alloy::{
    consensus::{
        Header, TxEnvelope,
        transaction::{Recovered, SignerRecoverable},
    },
    primitives::{Address, B256},
};
use std::sync::{Arc, mpsc};
use taiko_chainspec::ChainSpec;
use taiko_store::{SealedBlock, Store};
use tracing::debug;

type Source = Box<dyn TxSource + Send>;

/// Called after each appended round with the transactions it added to the block (never
/// empty), in block order, with `last = false`; and once more when the block is sealed,
/// before its header is computed, with the last round's transactions (possibly none) and
/// `last = true`: a preconfer streams them to its followers, and the last call tells them that
/// the block is complete, so they can seal it while the preconfer signs.
pub type RoundHook = Box<dyn FnMut(&[TxEnvelope], bool) + Send>;

enum Round {
    Append(Source),
    Finish(Option<Source>, mpsc::SyncSender<Result<BuiltBlock, BuildError>>),
    /// Finish as `block`, if the block so far is a prefix of it (else `None`, nothing applied).
    Match(
        Arc<SealedBlock>,
        Option<Vec<Address>>,
        mpsc::SyncSender<Result<Option<BuiltBlock>, BuildError>>,
    ),
    /// Seal now with what the block holds and keep the result for the next `Finish` or
    /// `Match`: the block's preconfer said no transaction follows.
    Seal,
}

/// A block being built on its own thread while transactions arrive.
///
/// Dropping the session abandons the block: its thread ends after the round it is in, and the
/// drop waits for that, so the session's hold on the store ends with it.
#[derive(Debug)]
pub struct BuildSession {
    parent_hash: B256,
    attrs: BlockAttributes,
    limits: BuildLimits,
    rounds: mpsc::Sender<Round>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl std::fmt::Debug for Round {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Append(_) => "append",
            Self::Finish(..) => "finish",
            Self::Match(..) => "match",
            Self::Seal => "seal",
        })
    }
}

impl BuildSession {
    /// Starts a block on `parent`, which must be the store's `latest`, with the store's tries
    /// holding its state and nothing else (checked): returns once the environment, the system
    /// calls and the anchor have executed (or failed).
    pub fn start(
        spec: Arc<ChainSpec>,
        store: Arc<Store>,
        parent: Header,
        parent_hash: B256,
        attrs: BlockAttributes,
        limits: BuildLimits,
        on_round: Option<RoundHook>,
    ) -> Result<Self, BuildError> {
        let (rounds, rx) = mpsc::channel();
        let (ready_tx, ready) = mpsc::sync_channel(1);
        let session_attrs = attrs.clone();
        let thread = std::thread::Builder::new()
            .name("block-builder".into())
            .spawn(move || {
                let ctx = SessionCtx { spec: &spec, store: &store, parent: &parent, parent_hash };
                run_session(ctx, &session_attrs, limits, on_round, rx, ready_tx)
            })
            .map_err(|e| BuildError::Execution(format!("starting the builder thread: {e}")))?;
        let session = Self { parent_hash, attrs, limits, rounds, thread: Some(thread) };
        ready.recv().map_err(|_| ended())??;
        Ok(session)
    }

    /// The hash of the block this one builds on.
    pub fn parent_hash(&self) -> B256 {
        self.parent_hash
    }

    /// The block's attributes.
    pub fn attrs(&self) -> &BlockAttributes {
        &self.attrs
    }

    /// The limits the block is built within.
    pub fn limits(&self) -> BuildLimits {
        self.limits
    }

    /// Queues a round of candidates; returns at once (the session's thread executes them).
    pub fn append(&self, source: Box<dyn TxSource + Send>) {
        // a send fails only if the thread ended, which `finish` reports
        let _ = self.rounds.send(Round::Append(source));
    }

    /// Seals the block with the rounds queued so far, on the session's thread, and returns at
    /// once: a follower calls it when the block's preconfer has said that no transaction
    /// follows, so the seal runs while the preconfer signs. The next [`Self::finish`] or
    /// [`Self::finish_as`] answers with the sealed block (taking no more transactions), and a
    /// session dropped while sealed puts the tries back.
    pub fn seal(&self) {
        let _ = self.rounds.send(Round::Seal);
    }

    /// Runs the queued rounds and a last one from `last`, then finishes the block: state
    /// changes, state root (the tries already hold the earlier rounds; the last round's changes
    /// are applied and hashed now) and header. The outcome's undo record puts back every round.
    ///
    /// The session is spent afterwards. Its thread replies first and then drops the block's
    /// working state (the EVM's caches, the cached tries, the state snapshot: a few
    /// milliseconds for a block of thousands of transactions) at background priority, so the
    /// caller gets the block without waiting for that. Dropping the session waits for the
    /// thread: keep it until the latency-critical work is done (the engine retires it).
    pub fn finish(
        &mut self,
        last: Option<Box<dyn TxSource + Send>>,
    ) -> Result<BuiltBlock, BuildError> {
        let (reply, result) = mpsc::sync_channel(1);
        self.rounds.send(Round::Finish(last, reply)).map_err(|_| ended())?;
        result.recv().map_err(|_| ended())?
    }
}

impl BuildSession {
    /// Finishes the block as the received `block` (with its `senders` if known; the senders of
    /// the transactions not yet executed are recovered otherwise), when the transactions
    /// executed so far are exactly its first ones: executes the rest and seals. Returns `None`
    /// — and leaves the store's tries alone — when they are not, or a signature does not
    /// recover. The caller compares the result's hash with the block's: only an identical
    /// block is the same block. The session is spent afterwards, as after [`Self::finish`].
    pub fn finish_as(
        &mut self,
        block: Arc<SealedBlock>,
        senders: Option<Vec<Address>>,
    ) -> Result<Option<BuiltBlock>, BuildError> {
        let (reply, result) = mpsc::sync_channel(1);
        self.rounds.send(Round::Match(block, senders, reply)).map_err(|_| ended())?;
        result.recv().map_err(|_| ended())?
    }
}

impl Drop for BuildSession {
    fn drop(&mut self) {
        // close the channel, so the thread's next wait ends, then wait for it
        drop(std::mem::replace(&mut self.rounds, mpsc::channel().0));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn ended() -> BuildError {
    BuildError::Execution("the builder thread ended".into())
}

enum Reply {
    Built(mpsc::SyncSender<Result<BuiltBlock, BuildError>>),
    Matched(mpsc::SyncSender<Result<Option<BuiltBlock>, BuildError>>),
}

struct SessionCtx<'a> {
    spec: &'a ChainSpec,
    store: &'a Store,
    parent: &'a Header,
    parent_hash: B256,
}

fn run_session(
    ctx: SessionCtx<'_>,
    attrs: &BlockAttributes,
    limits: BuildLimits,
    mut on_round: Option<RoundHook>,
    rounds: mpsc::Receiver<Round>,
    ready: mpsc::SyncSender<Result<(), BuildError>>,
) {
    let SessionCtx { spec, store, parent, parent_hash } = ctx;
    let started = std::time::Instant::now();
    // the rounds go into the tries on top of the parent's state: nothing else may be in them
    let root = store.trie_root();
    if root != parent.state_root {
        let _ = ready.send(Err(BuildError::Execution(format!(
            "the tries hold {root}, not the parent's state root {}",
            parent.state_root
        ))));
        return;
    }
    let state = match prepare_build(store, parent, parent_hash, attrs) {
        Ok(s) => s,
        Err(e) => {
            let _ = ready.send(Err(e));
            return;
        }
    };
    let parent_info = ParentInfo { header: parent, hash: parent_hash };
    let mut run = match start_build(spec, &state, &parent_info, attrs, limits) {
        Ok(r) => r,
        Err(e) => {
            let _ = ready.send(Err(e));
            return;
        }
    };
    if ready.send(Ok(())).is_err() {
        return;
    }
    let mut selection = Selection::new(spec, limits);
    let mut commitments = BlockCommitments::default();
    // the tries follow the block round by round; dropped (the tries put back) unless sealed
    let mut applied = AppliedRounds::new(store);
    let mut count = 0usize;
    // the seal and where its result goes (`None`: sealed ahead, for the next Finish or Match)
    let (built, reply) = loop {
        let Ok(round) = rounds.recv() else {
            return; // abandoned: dropping `applied` puts the tries back
        };
        count += 1;
        let sealing = std::time::Instant::now();
        let (last, reply) = match round {
            Round::Append(mut source) => {
                let before = run.txs.len();
                selection.fill(&mut run, source.as_mut());
                if run.txs.len() > before {
                    if let Some(hook) = on_round.as_mut() {
                        hook(&run.txs[before..], false);
                    }
                    // hash the round's transactions and receipts now, not at the seal
                    commitments.extend(&run.txs, run.receipts());
                    commitments.roots();
                    // and its state: the seal hashes only what the last round touches
                    applied.apply(&run.take_round_changes());
                }
                continue;
            }
            Round::Seal => (None, None),
            Round::Finish(last, reply) => (last, Some(Reply::Built(reply))),
            Round::Match(block, senders, reply) => {
                let txs = block.transactions();
                let n = run.txs.len();
                // every transaction, the anchor included: the block's body must be the
                // session's, whose roots the sealed header will carry
                let prefix = txs.len() >= n
                    && run.txs.iter().zip(txs).all(|(a, b)| a.tx_hash() == b.tx_hash());
                let rest: Option<Vec<_>> = match senders {
                    Some(s) if s.len() == txs.len() => Some(
                        txs[n..]
                            .iter()
                            .zip(&s[n..])
                            .map(|(tx, s)| Recovered::new_unchecked(tx.clone(), *s))
                            .collect(),
                    ),
                    _ if prefix => txs[n..]
                        .iter()
                        .map(|tx| {
                            let signer = tx.recover_signer().ok()?;
                            Some(Recovered::new_unchecked(tx.clone(), signer))
                        })
                        .collect(),
                    _ => None,
                };
                let (true, Some(rest)) = (prefix, rest) else {
                    // the engine imports the block in full next: the tries must be clean first
                    applied.reset();
                    let _ = reply.send(Ok(None));
                    return;
                };
                (
                    Some(Box::new(IterSource(rest.into_iter())) as Source),
                    Some(Reply::Matched(reply)),
                )
            }
        };
        let before = run.txs.len();
        if let Some(mut source) = last {
            selection.fill(&mut run, source.as_mut());
        }
        if let Some(hook) = on_round.as_mut() {
            hook(&run.txs[before..], true);
        }
        commitments.extend(&run.txs, run.receipts());
        let precomputed = commitments.roots();
        let last_round = sealing.elapsed();
        let result = run
            .finish(store, &parent_info, attrs, precomputed, Some(&mut applied))
            .map_err(build_error);
        if result.is_err() {
            // before the reply: the engine may build or import in full next
            applied.reset();
        }
        if let Ok((_, outcome)) = &result {
            debug!(target: "evm::build", number = outcome.executed.block.number(), txs = outcome.executed.block.transactions().len(), rounds = count, open_ms = started.elapsed().as_secs_f64() * 1e3, last_round_ms = last_round.as_secs_f64() * 1e3, finish_ms = sealing.elapsed().as_secs_f64() * 1e3, ahead = reply.is_none(), timings = ?outcome.timings, "built block in a session");
        }
        let skipped = std::mem::take(&mut selection.skipped);
        let encoded = commitments.take_encoded();
        let built = result.map(|(_, mut outcome)| {
            outcome.encoded_txs = Some(encoded);
            BuiltBlock { outcome, skipped }
        });
        break (built, reply);
    };
    let reply = match reply {
        Some(reply) => reply,
        // sealed ahead: the next Finish or Match takes the block as it is
        None => loop {
            match rounds.recv() {
                Ok(Round::Finish(_, reply)) => break Reply::Built(reply),
                Ok(Round::Match(_, _, reply)) => break Reply::Matched(reply),
                Ok(Round::Append(_) | Round::Seal) => continue,
                Err(_) => {
                    // abandoned: the sealed block's changes leave the tries
                    if let Ok(b) = built {
                        store.undo_trie(b.outcome.trie_undo);
                    }
                    return;
                }
            }
        },
    };
    match reply {
        Reply::Built(reply) => {
            let _ = reply.send(built);
        }
        Reply::Matched(reply) => {
            let _ = reply.send(built.map(Some));
        }
    }
    // the block is delivered; what is left is dropping the working state
    taiko_store::background_priority();
}
