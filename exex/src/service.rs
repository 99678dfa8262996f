//! The duty loop of one node: preconfirm in our windows, follow everyone's blocks.
//!
//! [`PreconfService::on_tick`] runs at each L2 tick: if the window containing the tick belongs to
//! our signer, it first [`resume`]s a block signed before a crash, else builds the next block
//! from the pool ([`preconfirm`]), publishes it, commits it, and keeps it for peers that catch
//! up. The last block of a window carries the end-of-sequencing mark. [`PreconfService::run_follower`]
//! consumes gossip: validate, import, report the verdict to gossipsub, fetch missing blocks from
//! the sender on a gap, and serve catch-up requests. Every node keeps the block digest of each
//! block it adopts, so its commitments name the right parent digest.

use std::{collections::BTreeMap, sync::Arc};

use alloy::{
    primitives::{Address, B256},
    sol_types::Eip712Domain,
};
use parking_lot::Mutex;
use taiko_contracts::wire::{self, Preconfirmation};
use taiko_engine::EngineHandle;
use taiko_evm::{BlockAttributes, BuildLimits, IterSource};
use taiko_pool::Pool;
use taiko_store::Store;
use tokio::sync::mpsc;

use crate::{
    anchor::{AnchorSource, anchor_of, choose},
    compact::{BlockMessage, CompactMessage, fragments_hash},
    evidence::{Equivocation, EvidenceDb},
    fragment::{Fragment, validate_fragment},
    message::{Ignored, PreconfMessage, Rejection, ValidationContext, Verdict},
    metrics::Metrics,
    p2p::{Acceptance, BlocksRequest, BlocksResponse, P2pEvent, P2pHandle},
    sequencer::{
        BlockPlan, FollowOutcome, SequencerError, Signed, commit, follow_with_senders, preconfirm,
        resume,
    },
    signer::CommitmentSigner,
};

/// Who owns the preconfirmation window containing a timestamp, and when it ends.
pub trait WindowSchedule: Send + Sync + std::fmt::Debug {
    /// `(owner, window end)` for `timestamp`, if known.
    fn window_at(&self, timestamp: u64) -> Option<(Address, u64)>;
}

/// What a service is made of.
#[derive(Debug)]
pub struct ServiceParts {
    /// The engine.
    pub engine: EngineHandle,
    /// The pool the blocks are built from.
    pub pool: Pool<Store>,
    /// The store (the head).
    pub store: Arc<Store>,
    /// The gossip network.
    pub p2p: P2pHandle,
    /// The commitment signer; `None` on a follower-only node.
    pub signer: Option<Arc<CommitmentSigner>>,
    /// Who owns which window.
    pub schedule: Arc<dyn WindowSchedule>,
    /// The commitment domain.
    pub domain: Eip712Domain,
    /// The L2 chain.
    pub l2_chain_id: u64,
    /// Build limits.
    pub limits: BuildLimits,
    /// Fee recipient of our blocks.
    pub coinbase: Address,
    /// Where anchors come from.
    pub anchor: Arc<dyn AnchorSource>,
    /// Metrics.
    pub metrics: Arc<Metrics>,
    /// Where equivocations are recorded; `None` keeps them in the log only.
    pub evidence: Option<Arc<EvidenceDb>>,
    /// Skip ticks with nothing pending (except the end-of-sequencing block of a turn).
    pub skip_empty: bool,
    /// At the start of our turn, how long to wait for the previous preconfer's
    /// end-of-sequencing block before building on what we have.
    pub handover_grace_ms: u64,
    /// Stop preconfirming this long before the window ends, so the turn's batch can still be
    /// proposed in the window (0: preconfirm up to the window's end).
    pub proposal_margin_ms: u64,
}

impl ServiceParts {
    /// The parts for `node`: its engine, pool and store, its chain's id and build limits, with
    /// fresh metrics, no evidence database, no empty-tick skipping, no handover grace, and a
    /// zero coinbase — the caller sets what differs.
    pub fn for_node(
        node: &taiko_node::RunningNode,
        p2p: P2pHandle,
        signer: Option<Arc<CommitmentSigner>>,
        schedule: Arc<dyn WindowSchedule>,
        domain: Eip712Domain,
        anchor: Arc<dyn AnchorSource>,
    ) -> Self {
        Self {
            engine: node.engine.clone(),
            pool: node.pool.clone(),
            store: node.store.clone(),
            p2p,
            signer,
            schedule,
            domain,
            l2_chain_id: node.spec.chain_id,
            limits: BuildLimits::from_spec(&node.spec),
            coinbase: Address::ZERO,
            anchor,
            metrics: Default::default(),
            evidence: None,
            skip_empty: false,
            handover_grace_ms: 0,
            proposal_margin_ms: 0,
        }
    }
}

/// One adopted block, as kept for catch-up, digests and handovers.
#[derive(Clone, Debug)]
struct Adopted {
    commitment: Preconfirmation,
    signature: [u8; 65],
    /// The full message's wire bytes when this node received them in full; otherwise they are
    /// made from the stored block when asked for ([`PreconfService::adopted_message`]).
    full: Option<Vec<u8>>,
    digest: B256,
}

/// One node's preconfirmation service.
#[derive(Debug)]
pub struct PreconfService {
    parts: ServiceParts,
    /// Adopted blocks.
    chain: Mutex<BTreeMap<u64, Adopted>>,
    /// When our current turn started (ms), if we are in one.
    turn_started_ms: Mutex<Option<u64>>,
    /// Digests recomputed from the store (blocks adopted before a restart).
    computed: Mutex<BTreeMap<u64, B256>>,
    /// Why our turns are not taken (the proposer account cannot pay), if they are not.
    halted: Mutex<Option<String>>,
    /// Our next block, started early on the engine (see [`PreconfService::on_tick`]).
    next: Mutex<Option<NextBlock>>,
    /// The block whose fragments we execute ahead.
    following: Mutex<Option<Following>>,
    /// The fragments of our own next block published so far.
    streamed: Arc<Mutex<Streamed>>,
    /// The next tick and the block time, as the tick loop last announced them
    /// ([`PreconfService::prepare`]).
    upcoming: Mutex<Option<(u64, u64)>>,
}

/// A block followed in fragments: where it stands, and its transactions so far with their
/// senders, so the signed block's senders need not be looked up again for those, and the
/// block can be rebuilt from a compact message.
#[derive(Debug)]
struct Following {
    number: u64,
    parent: B256,
    next_index: u32,
    senders: Vec<Address>,
    /// The transactions, in order.
    txs: Vec<alloy::consensus::TxEnvelope>,
    /// Each fragment's content hash.
    contents: Vec<B256>,
    /// How many transactions the fragments up to each one carried.
    ends: Vec<usize>,
    /// The transactions' RLP encodings, concatenated (for the tx-list hash of a rebuilt block).
    encoded: Vec<u8>,
    /// How many of those bytes the fragments up to each one carried.
    encoded_ends: Vec<usize>,
    /// The tx-list hash of all the transactions, once the last fragment came.
    complete: Option<B256>,
}

/// The fragments of our next block published so far (what its compact message names).
#[derive(Debug, Default)]
struct Streamed {
    number: u64,
    parent: B256,
    /// Each fragment's content hash.
    contents: Vec<B256>,
    /// The hashes of their transactions, in order.
    txs: Vec<B256>,
}

impl Following {
    /// The full message of a compact one, with its tx-list hash (from the encodings we hold),
    /// if it names fragments of this block that we followed: `Err` gives it back otherwise.
    fn expand(
        &self,
        c: Box<CompactMessage>,
    ) -> Result<(PreconfMessage, B256), Box<CompactMessage>> {
        let k = c.fragments as usize;
        let ours = (self.number, self.parent) == (c.header.number, c.header.parent_hash)
            && k > 0
            && k <= self.contents.len()
            && fragments_hash(&self.contents[..k]) == c.fragments_hash;
        if !ours {
            return Err(c);
        }
        let streamed = self.txs[..self.ends[k - 1]].to_vec();
        let txs_hash = match self.complete {
            // hashed when the last fragment came, while the preconfer signed
            Some(h) if k == self.contents.len() && c.tail.is_empty() => h,
            _ => {
                let mut tail = Vec::new();
                for tx in &c.tail {
                    alloy::rlp::Encodable::encode(tx, &mut tail);
                }
                crate::message::tx_list_hash_of_parts(&[
                    &self.encoded[..self.encoded_ends[k - 1]],
                    &tail,
                ])
            }
        };
        Ok(((*c).expand(streamed), txs_hash))
    }

    /// The senders of `txs` (a block: the anchor first, then the user transactions) when the
    /// followed transactions are its prefix: those from the fragments, the rest from `others`.
    fn senders_of(
        &self,
        txs: &[alloy::consensus::TxEnvelope],
        others: impl Fn(&[alloy::consensus::TxEnvelope]) -> Option<Vec<Address>>,
    ) -> Option<Vec<Address>> {
        let (anchor, users) = txs.split_first()?;
        let n = self.txs.len();
        if users.len() < n
            || users[..n].iter().zip(&self.txs).any(|(tx, ours)| tx.tx_hash() != ours.tx_hash())
        {
            return None;
        }
        let mut senders = Vec::with_capacity(txs.len());
        senders.extend(others(std::slice::from_ref(anchor))?);
        senders.extend_from_slice(&self.senders);
        senders.extend(others(&users[n..])?);
        Some(senders)
    }
}

/// A block the engine is building ahead of its tick.
#[derive(Debug)]
struct NextBlock {
    parent: B256,
    attrs: BlockAttributes,
    /// Tells the task feeding the session from the pool to stop.
    stop: Arc<std::sync::atomic::AtomicBool>,
}

impl NextBlock {
    fn stop_feeding(&self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

/// How often the next block takes the pool's new transactions while it waits for its tick.
const FEED_INTERVAL: std::time::Duration = std::time::Duration::from_millis(20);
/// How many times a block named by a compact message we cannot rebuild is asked for.
const FETCH_TRIES: usize = 3;
/// The wait between those requests.
const FETCH_RETRY: std::time::Duration = std::time::Duration::from_millis(100);

impl Drop for PreconfService {
    fn drop(&mut self) {
        if let Some(next) = self.next.get_mut().take() {
            next.stop_feeding();
        }
    }
}

/// What a tick did.
#[derive(Debug, PartialEq, Eq)]
pub enum TickOutcome {
    /// Not our window.
    NotOurTurn,
    /// A block was preconfirmed (or resumed), published and committed.
    Preconfirmed {
        /// Its number.
        number: u64,
        /// Whether it ended our turn.
        end_of_sequencing: bool,
    },
    /// Our turn, but nothing to preconfirm (`skip_empty`).
    Skipped,
    /// Our turn has begun but the previous preconfer's end-of-sequencing block has not arrived;
    /// call again until the grace period is over.
    AwaitingHandover,
    /// Our window, but preconfirming is halted ([`PreconfService::halt`]): nothing is signed.
    Halted,
    /// Our window, but we signed a block at the next height before, on another parent (a chain
    /// the L1 dropped): a second one there is never signed.
    SignedOnOtherParent {
        /// The height.
        height: u64,
    },
}

impl PreconfService {
    /// A service over `parts`.
    pub fn new(parts: ServiceParts) -> Self {
        Self {
            parts,
            chain: Mutex::new(BTreeMap::new()),
            turn_started_ms: Mutex::new(None),
            computed: Mutex::new(BTreeMap::new()),
            halted: Mutex::new(None),
            next: Mutex::new(None),
            following: Mutex::new(None),
            streamed: Default::default(),
            upcoming: Mutex::new(None),
        }
    }

    /// Halts preconfirming for `reason` (the turns are left to the fallback rules: the next
    /// preconfer builds on the last block we did propose), or resumes with `None`.
    pub fn halt(&self, reason: Option<String>) {
        let mut h = self.halted.lock();
        match (&*h, &reason) {
            (None, Some(r)) => {
                tracing::error!(target: "preconf::service", reason = %r, "preconfirming halted")
            }
            (Some(_), None) => tracing::info!(target: "preconf::service", "preconfirming resumed"),
            _ => {}
        }
        self.parts.metrics.halted.set(i64::from(reason.is_some()));
        *h = reason;
    }

    /// After a restart: takes the blocks above `safe` that we signed back into the adopted
    /// chain, from the slashing-protection db (which keeps every payload we signed; signing it
    /// again gives the same commitment), so that the turn they belong to is still proposed and
    /// hands over as if nothing had happened. Returns how many were restored.
    pub async fn restore_signed(&self) -> Result<usize, SequencerError> {
        let Some(signer) = &self.parts.signer else { return Ok(0) };
        let Ok(heads) = self.parts.store.heads() else { return Ok(0) };
        let mut restored = 0;
        for h in heads.safe.number + 1..=heads.latest.number {
            if self.chain.lock().contains_key(&h) {
                continue;
            }
            let Some(signed) = resume(signer, self.parts.l2_chain_id, h).await? else { continue };
            let msg = &signed.message;
            if self.parts.store.canonical_hash(h).ok().flatten() != Some(msg.commitment.blockHash) {
                continue; // signed, but not the block we hold (L1 replaced it)
            }
            self.remember(msg, None);
            restored += 1;
        }
        if restored > 0 {
            tracing::info!(target: "preconf::service", restored, "our signed blocks above safe restored after a restart");
        }
        Ok(restored)
    }

    /// Why preconfirming is halted, if it is.
    pub fn halted(&self) -> Option<String> {
        self.halted.lock().clone()
    }

    fn head(&self) -> (u64, B256) {
        let h = self.parts.store.latest_header().expect("the head is readable");
        (h.number, h.hash_slow())
    }

    fn digest_of(&self, number: u64) -> B256 {
        self.digest(number).unwrap_or_default()
    }

    /// Whether the head ends a turn: genesis, a block marked end-of-sequencing, or our own.
    fn head_hands_over(&self, head: u64, us: Address) -> bool {
        if head == 0 {
            return true;
        }
        let Some(eos) = self.chain.lock().get(&head).map(|a| a.commitment.endOfSequencing) else {
            return false;
        };
        eos || self.signer_of(head) == Some(us)
    }

    /// The signer of a message, under our commitment domain.
    fn recover(&self, m: &PreconfMessage) -> Option<Address> {
        crate::signer::recover_commitment_signer(&m.commitment, &self.parts.domain, &m.signature)
    }

    /// Adds `msg`'s block to the adopted chain; `full` are its full wire bytes if at hand.
    fn remember(&self, msg: &PreconfMessage, full: Option<Vec<u8>>) {
        let c = &msg.commitment;
        let digest = wire::block_digest(
            self.digest_of(c.blockNumber - 1),
            c.blockNumber,
            c.txListHash,
            c.timestamp,
            c.anchorBlockId,
            c.coinbase,
        );
        self.chain.lock().insert(
            c.blockNumber,
            Adopted { commitment: c.clone(), signature: msg.signature, full, digest },
        );
        self.parts.metrics.l2_head.set(c.blockNumber as i64);
    }

    /// Records `msg` (`full`: its full wire bytes, if at hand) as equivocation evidence if we
    /// adopted a different block its signer signed at the same height.
    fn check_equivocation(&self, msg: &PreconfMessage, full: Option<&[u8]>) {
        let c = &msg.commitment;
        let Some(kept) = self.chain.lock().get(&c.blockNumber).map(|a| a.commitment.blockHash)
        else {
            return;
        };
        if kept == c.blockHash {
            return;
        }
        let (Some(a), Some(b)) = (self.signer_of(c.blockNumber), self.recover(msg)) else { return };
        if a != b {
            return;
        }
        self.parts.metrics.equivocations.inc();
        tracing::warn!(target: "preconf::service", signer = %a, height = c.blockNumber, %kept, other = %c.blockHash, "equivocation: two signed blocks at one height");
        if let Some(db) = &self.parts.evidence {
            let Some(first) = self.adopted_message(c.blockNumber) else { return };
            let e = Equivocation {
                signer: a,
                chain_id: c.l2ChainId,
                height: c.blockNumber,
                first,
                second: full.map_or_else(|| msg.encode(), <[u8]>::to_vec),
            };
            if let Err(err) = db.record(&e, c.blockHash) {
                tracing::error!(target: "preconf::service", %err, "recording equivocation evidence");
            }
        }
    }

    /// Announces the next tick (at `tick_ms`, `block_ms` before the one after it) and, if
    /// nothing is building for it yet, starts our block for it ahead of time when it is ours to
    /// build: the tick is in our window, we are not halted, and the head hands over to us
    /// (genesis, an end-of-sequencing block, or our own). Without this, the first block of a
    /// turn would be built from the whole pool at its tick; with it, that block streams in
    /// fragments and the tick only seals, as for every later block of the turn. The tick loop
    /// calls it before waiting for each tick, and adopting a block that ends another
    /// preconfer's turn calls it again.
    pub async fn prepare(&self, tick_ms: u64, block_ms: u64) {
        *self.upcoming.lock() = Some((tick_ms, block_ms));
        let Some(signer) = &self.parts.signer else { return };
        let Some((owner, window_end)) = self.parts.schedule.window_at(tick_ms / 1000) else {
            return;
        };
        let margin = self.parts.proposal_margin_ms;
        let past_deadline = margin > 0 && tick_ms > (window_end * 1000).saturating_sub(margin);
        if owner != signer.address() || past_deadline || self.halted.lock().is_some() {
            return;
        }
        let Ok(head) = self.parts.store.latest_header() else { return };
        let head_hash = head.hash_slow();
        let timestamp = (tick_ms / 1000).max(head.timestamp);
        let building = self
            .next
            .lock()
            .as_ref()
            .is_some_and(|n| n.parent == head_hash && n.attrs.timestamp == timestamp);
        if building || !self.head_hands_over(head.number, owner) {
            return;
        }
        self.start_next(head_hash, head.number, tick_ms, block_ms).await;
    }

    /// Runs one L2 tick at `now_ms`.
    pub async fn on_tick(
        &self,
        now_ms: u64,
        next_tick_ms: u64,
    ) -> Result<TickOutcome, SequencerError> {
        let Some(signer) = &self.parts.signer else { return Ok(TickOutcome::NotOurTurn) };
        let ts = now_ms / 1000;
        let Some((owner, window_end)) = self.parts.schedule.window_at(ts) else {
            return Ok(TickOutcome::NotOurTurn);
        };
        let margin = self.parts.proposal_margin_ms;
        let deadline_ms = (window_end * 1000).saturating_sub(margin);
        if owner != signer.address() || (margin > 0 && now_ms > deadline_ms) {
            *self.turn_started_ms.lock() = None;
            if let Some(next) = self.next.lock().take() {
                next.stop_feeding();
            }
            return Ok(TickOutcome::NotOurTurn);
        }
        // a turn already begun goes on (its blocks are ours to propose); no new one starts
        if self.halted.lock().is_some() && self.turn_started_ms.lock().is_none() {
            return Ok(TickOutcome::Halted);
        }
        let started = *self.turn_started_ms.lock().get_or_insert(now_ms);
        let parent = self.parts.store.latest_header().expect("the head is readable");
        if !self.head_hands_over(parent.number, owner)
            && now_ms < started + self.parts.handover_grace_ms
        {
            return Ok(TickOutcome::AwaitingHandover);
        }
        let end_of_sequencing = (margin > 0 && next_tick_ms > deadline_ms)
            || self.parts.schedule.window_at(next_tick_ms / 1000).map(|(o, _)| o) != Some(owner);
        let head = parent.number;
        let started_at = std::time::Instant::now();
        // how late this tick began against the wall clock (the tick's own time is `now_ms`)
        let started_late_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs_f64() * 1e3 - now_ms as f64)
            .unwrap_or_default();
        let parent_hash = parent.hash_slow();
        let signed = match resume(signer, self.parts.l2_chain_id, head + 1).await? {
            Some(signed) => {
                let m = &signed.message;
                if m.block.header.parent_hash != parent_hash {
                    // we signed this height on another parent (a chain L1 dropped): never a
                    // second block at one height, so this turn has nothing to add
                    return Ok(TickOutcome::SignedOnOtherParent { height: head + 1 });
                }
                // the engine may have dropped it (a crash before the import, or a revert after
                // its window closed without it on L1): import it again before committing
                let sealed = taiko_store::SealedBlock::new_unchecked(
                    m.block.clone(),
                    m.commitment.blockHash,
                );
                match self.parts.engine.new_payload(sealed, None).await? {
                    taiko_engine::PayloadStatus::Valid => {}
                    other => {
                        return Err(SequencerError::Resume(format!(
                            "the signed block at {} does not import: {other:?}",
                            head + 1
                        )));
                    }
                }
                signed
            }
            None => {
                if self.parts.skip_empty
                    && !end_of_sequencing
                    && self.parts.pool.size().pending.count == 0
                {
                    return Ok(TickOutcome::Skipped);
                }
                let timestamp = ts.max(parent.timestamp);
                let attrs = self
                    .take_next(parent_hash, timestamp)
                    .unwrap_or_else(|| self.block_attributes(head, timestamp));
                let plan = BlockPlan {
                    attrs,
                    parent_digest: self.digest_of(head),
                    window_end,
                    end_of_sequencing,
                };
                preconfirm(
                    &self.parts.engine,
                    Box::new(self.parts.pool.best_transactions()),
                    self.parts.limits,
                    signer,
                    self.parts.l2_chain_id,
                    plan,
                )
                .await?
            }
        };
        let compact = self.compact_wire(&signed.message);
        let is_compact = compact.is_some();
        let wire_bytes = compact.unwrap_or_else(|| signed.wire());
        let Signed { message: msg, .. } = signed;
        let signed_at = started_at.elapsed();
        if let Err(e) = self.parts.p2p.publish(wire_bytes.clone()).await {
            tracing::warn!(target: "preconf::service", %e, "publish failed (no peers yet?)");
        }
        let published_at = started_at.elapsed();
        commit(&self.parts.engine, msg.commitment.blockHash).await?;
        tracing::debug!(
            target: "preconf::service",
            number = msg.commitment.blockNumber,
            txs = msg.block.body.transactions.len(),
            bytes = wire_bytes.len(),
            compact = is_compact,
            started_after_tick_ms = started_late_ms,
            signed_ms = signed_at.as_secs_f64() * 1e3,
            published_ms = published_at.as_secs_f64() * 1e3,
            committed_ms = started_at.elapsed().as_secs_f64() * 1e3,
            "tick timings"
        );
        let number = msg.commitment.blockNumber;
        let eos = msg.commitment.endOfSequencing;
        self.remember(&msg, (!is_compact).then_some(wire_bytes));
        self.parts.metrics.blocks_preconfirmed.inc();
        if is_compact {
            self.parts.metrics.blocks_compact.inc();
        }
        self.parts.metrics.build_seconds.observe(started_at.elapsed().as_secs_f64());
        if !eos {
            let block_ms = next_tick_ms.saturating_sub(now_ms);
            self.start_next(msg.commitment.blockHash, number, next_tick_ms, block_ms).await;
        }
        Ok(TickOutcome::Preconfirmed { number, end_of_sequencing: eos })
    }

    /// The attributes of our block after `head` at `timestamp`.
    fn block_attributes(&self, head: u64, timestamp: u64) -> BlockAttributes {
        BlockAttributes {
            timestamp,
            coinbase: self.parts.coinbase,
            anchor: choose(self.parts.anchor.candidate(), anchor_of(&self.parts.store, head)),
            ..Default::default()
        }
    }

    /// The compact wire bytes of our signed `msg` when its block was streamed in fragments that
    /// are published: followers rebuild it from those ([`crate::compact`]).
    fn compact_wire(&self, msg: &PreconfMessage) -> Option<Vec<u8>> {
        let streamed = self.streamed.lock();
        let h = &msg.block.header;
        if (streamed.number, streamed.parent) != (h.number, h.parent_hash) {
            return None;
        }
        Some(CompactMessage::of(msg, &streamed.contents, &streamed.txs)?.encode())
    }

    /// The attributes of the block started ahead of this tick, if it was started on `parent`
    /// for `timestamp` (the engine then only runs its last round and seals it).
    fn take_next(&self, parent: B256, timestamp: u64) -> Option<BlockAttributes> {
        let next = self.next.lock().take()?;
        next.stop_feeding();
        (next.parent == parent && next.attrs.timestamp == timestamp).then_some(next.attrs)
    }

    /// Starts our next block on `parent` (just committed) for the tick at `tick_ms`, and a task
    /// that gives it the pool's new transactions every [`FEED_INTERVAL`] until the tick takes
    /// it: the transactions execute while they arrive instead of all at the tick.
    async fn start_next(&self, parent: B256, number: u64, tick_ms: u64, block_ms: u64) {
        if let Some(old) = self.next.lock().take() {
            old.stop_feeding();
        }
        let timestamp =
            (tick_ms / 1000).max(self.parts.store.latest_header().map_or(0, |h| h.timestamp));
        let attrs = self.block_attributes(number, timestamp);
        let stream = self.fragment_stream(parent, number + 1, &attrs);
        if let Err(e) =
            self.parts.engine.start_build(attrs.clone(), self.parts.limits, stream).await
        {
            tracing::debug!(target: "preconf::service", %e, "next block not started early");
            return;
        }
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        *self.next.lock() = Some(NextBlock { parent, attrs, stop: stop.clone() });
        let (engine, pool) = (self.parts.engine.clone(), self.parts.pool.clone());
        let mut pending = pool.new_pending_transactions_listener();
        tokio::spawn(async move {
            use tokio::sync::broadcast::error::TryRecvError;
            // in case no tick takes the block (a manual clock, a lost turn)
            let give_up = tokio::time::Instant::now()
                + std::time::Duration::from_millis(block_ms.saturating_mul(2).max(1_000));
            let mut interval = tokio::time::interval(FEED_INTERVAL);
            interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
            interval.tick().await;
            loop {
                interval.tick().await;
                if stop.load(std::sync::atomic::Ordering::Relaxed)
                    || tokio::time::Instant::now() > give_up
                    || engine.is_stopped()
                {
                    return;
                }
                let mut arrived = false;
                loop {
                    match pending.try_recv() {
                        Ok(_) | Err(TryRecvError::Lagged(_)) => arrived = true,
                        Err(TryRecvError::Empty) => break,
                        Err(TryRecvError::Closed) => return,
                    }
                }
                if arrived && engine.append_build(Box::new(pool.best_transactions())).is_err() {
                    return;
                }
            }
        });
    }

    /// A hook for the build session of our block `number` on `parent`: each round's
    /// transactions are signed and gossiped as the block's next fragment.
    fn fragment_stream(
        &self,
        parent: B256,
        number: u64,
        attrs: &BlockAttributes,
    ) -> Option<taiko_evm::RoundHook> {
        let signer = self.parts.signer.clone()?;
        let (tx, mut rounds) =
            mpsc::unbounded_channel::<(Vec<alloy::consensus::TxEnvelope>, bool)>();
        let (p2p, l2_chain_id, attrs) =
            (self.parts.p2p.clone(), self.parts.l2_chain_id, attrs.clone());
        let streamed = self.streamed.clone();
        *streamed.lock() = Streamed { number, parent, ..Default::default() };
        tokio::spawn(async move {
            let mut index = 0u32;
            while let Some((txs, last)) = rounds.recv().await {
                let hashes: Vec<B256> = txs.iter().map(|tx| *tx.tx_hash()).collect();
                let mut f = Fragment {
                    l2_chain_id,
                    number,
                    parent_hash: parent,
                    index,
                    attrs: attrs.clone(),
                    txs,
                    last,
                    signature: [0; 65],
                };
                match signer.sign_fragment(&f).await {
                    Ok(signature) => f.signature = signature,
                    Err(e) => {
                        tracing::warn!(target: "preconf::service", %e, number, "fragment not signed; the stream stops");
                        return;
                    }
                }
                p2p.publish_fragment(f.encode());
                let mut s = streamed.lock();
                if (s.number, s.parent, s.contents.len()) != (number, parent, index as usize) {
                    return; // another block's stream took over
                }
                s.contents.push(f.signed().contentHash);
                s.txs.extend(hashes);
                drop(s);
                if last {
                    return;
                }
                index += 1;
            }
        });
        Some(Box::new(move |txs: &[alloy::consensus::TxEnvelope], last| {
            let _ = tx.send((txs.to_vec(), last));
        }))
    }

    /// Imports a decoded message; fetches missing blocks from `source` on a gap.
    async fn adopt(
        &self,
        msg: &PreconfMessage,
        full: Option<Vec<u8>>,
        txs_hash: Option<B256>,
    ) -> Result<FollowOutcome, SequencerError> {
        let ctx = Ctx { service: self, head: self.head() };
        let received = std::time::Instant::now();
        let pool = &self.parts.pool;
        let from_pool = |txs: &[alloy::consensus::TxEnvelope]| -> Option<Vec<Address>> {
            use alloy::consensus::transaction::SignerRecoverable;
            let known = pool.senders_of(txs.iter().map(|tx| tx.tx_hash()));
            txs.iter().zip(known).map(|(tx, s)| s.or_else(|| tx.recover_signer().ok())).collect()
        };
        let outcome = follow_with_senders(&self.parts.engine, msg, &ctx, txs_hash, |block| {
            let txs = &block.body.transactions;
            let followed = self.following.lock();
            followed
                .as_ref()
                .filter(|w| (w.number, w.parent) == (block.header.number, block.header.parent_hash))
                .and_then(|w| w.senders_of(txs, from_pool))
                .or_else(|| from_pool(txs))
        })
        .await?;
        tracing::debug!(
            target: "preconf::service",
            number = msg.commitment.blockNumber,
            txs = msg.block.body.transactions.len(),
            ?outcome,
            ms = received.elapsed().as_secs_f64() * 1e3,
            "followed"
        );
        match &outcome {
            FollowOutcome::Imported => {
                self.parts.metrics.blocks_imported.inc();
                self.parts.metrics.import_seconds.observe(received.elapsed().as_secs_f64());
                self.remember(msg, full);
                // another preconfer's turn ended: our first block may start now
                let upcoming = *self.upcoming.lock();
                if msg.commitment.endOfSequencing
                    && let Some((tick_ms, block_ms)) = upcoming
                {
                    self.prepare(tick_ms, block_ms).await;
                }
            }
            FollowOutcome::Ignored(Ignored::Old | Ignored::OtherBranch) => {
                self.check_equivocation(msg, full.as_deref());
            }
            FollowOutcome::Rejected(r) => self.parts.metrics.rejected(reason(r)),
            FollowOutcome::Invalid(_) => self.parts.metrics.rejected("invalid_execution"),
            FollowOutcome::Ignored(Ignored::Gap { .. } | Ignored::UnknownWindow) => {}
        }
        Ok(outcome)
    }

    /// The full message of a compact one whose fragments we did not follow, if we followed
    /// them after all; `Err` gives it back.
    fn expand(
        &self,
        c: Box<CompactMessage>,
    ) -> Result<(PreconfMessage, B256), Box<CompactMessage>> {
        match self.following.lock().as_ref() {
            Some(w) => w.expand(c),
            None => Err(c),
        }
    }

    /// Fetches block `number` from `source` (a compact message we could not rebuild came from
    /// it) and everything below it that we lack. The source may not have adopted the block
    /// yet — a preconfer publishes before it imports — so it is asked up to
    /// [`FETCH_TRIES`] times, [`FETCH_RETRY`] apart; a later gap fetch covers anything left.
    async fn fetch_block(self: Arc<Self>, source: libp2p::PeerId, number: u64) {
        for _ in 0..FETCH_TRIES {
            let from = self.head().0 + 1;
            if from > number {
                return;
            }
            self.catch_up(source, from, number + 1).await;
            if self.head().0 >= number {
                return;
            }
            tokio::time::sleep(FETCH_RETRY).await;
        }
    }

    async fn catch_up(&self, source: libp2p::PeerId, from: u64, upto: u64) {
        let mut next = from;
        while next < upto {
            let count = (upto - next).min(crate::p2p::MAX_BLOCKS_PER_REQUEST as u64) as u16;
            let Ok(resp) =
                self.parts.p2p.request_blocks(source, BlocksRequest { from: next, count }).await
            else {
                return;
            };
            if resp.blocks.is_empty() {
                return;
            }
            for bytes in resp.blocks {
                let Ok(m) = PreconfMessage::decode(&bytes) else { return };
                match self.adopt(&m, Some(bytes), None).await {
                    Ok(FollowOutcome::Imported) => next += 1,
                    _ => return,
                }
            }
        }
    }

    /// Consumes gossip until the event stream ends.
    pub async fn run_follower(self: Arc<Self>, mut events: mpsc::UnboundedReceiver<P2pEvent>) {
        while let Some(ev) = events.recv().await {
            match ev {
                P2pEvent::Message { id, source, data } => {
                    tracing::debug!(target: "preconf::service", me = %self.parts.p2p.dial_addr(), from = %source, bytes = data.len(), "block message received");
                    let (msg, full, txs_hash) =
                        match crate::sequencer::cpu_bound(|| BlockMessage::decode(&data)) {
                            Ok(BlockMessage::Full(msg)) => (msg, Some(data), None),
                            Ok(BlockMessage::Compact(c)) => match self.expand(c) {
                                Ok((msg, txs_hash)) => (msg, None, Some(txs_hash)),
                                Err(c) => {
                                    // we lack its fragments: nobody's fault; fetch it in full
                                    self.parts.metrics.compact_fetches.inc();
                                    self.parts.p2p.report(id, source, Acceptance::Ignore);
                                    let number = c.commitment.blockNumber;
                                    tokio::spawn(self.clone().fetch_block(source, number));
                                    continue;
                                }
                            },
                            Err(_) => {
                                self.parts.metrics.rejected("decode");
                                self.parts.p2p.report(id, source, Acceptance::Reject);
                                continue;
                            }
                        };
                    let outcome = self.adopt(&msg, full.clone(), txs_hash).await;
                    let acceptance = match &outcome {
                        Ok(FollowOutcome::Imported) => Acceptance::Accept,
                        Ok(FollowOutcome::Ignored(_)) => Acceptance::Ignore,
                        Ok(FollowOutcome::Rejected(_) | FollowOutcome::Invalid(_)) => {
                            Acceptance::Reject
                        }
                        Err(_) => Acceptance::Ignore,
                    };
                    self.parts.p2p.report(id, source, acceptance);
                    if let Ok(FollowOutcome::Ignored(Ignored::Gap { from })) = outcome {
                        self.catch_up(source, from, msg.commitment.blockNumber).await;
                        let _ = self.adopt(&msg, full, txs_hash).await;
                    }
                }
                P2pEvent::BlocksRequested { request, reply, .. } => {
                    let blocks = crate::sequencer::cpu_bound(|| {
                        (request.from..request.from + request.count as u64)
                            .map_while(|n| self.adopted_message(n))
                            .collect()
                    });
                    let _ = reply.send(BlocksResponse { blocks });
                }
                P2pEvent::Transaction { id, source, data } => {
                    use taiko_pool::{PoolError, TransactionOrigin};
                    let acceptance =
                        match self.parts.pool.add_raw(TransactionOrigin::External, &data) {
                            Ok(_) => Acceptance::Accept,
                            Err(PoolError::Decode(_)) => Acceptance::Reject,
                            // valid elsewhere perhaps (already known, nonce taken meanwhile, …)
                            Err(_) => Acceptance::Ignore,
                        };
                    self.parts.p2p.report(id, source, acceptance);
                }
                P2pEvent::Fragment { id, source, data } => {
                    let acceptance = self.on_fragment(&data).await;
                    self.parts.p2p.report(id, source, acceptance);
                }
                P2pEvent::PeerJoined(_) => {}
            }
        }
    }

    /// A gossiped fragment of the next block: validated, then executed ahead on the engine —
    /// fragment 0 starts the block, each next one in sequence adds its transactions. A
    /// fragment out of sequence stops the stream for that block (the block is then imported in
    /// full when it comes).
    async fn on_fragment(&self, data: &[u8]) -> Acceptance {
        let f = match Fragment::decode(data) {
            Ok(f) => f,
            Err(_) => {
                self.parts.metrics.rejected("fragment_decode");
                return Acceptance::Reject;
            }
        };
        let ctx = Ctx { service: self, head: self.head() };
        match validate_fragment(&f, &ctx, |digest, sig| {
            crate::signer::recover_canonical(digest, sig)
        }) {
            Verdict::Accept { .. } => {}
            Verdict::Ignore { .. } => return Acceptance::Ignore,
            Verdict::Reject(r) => {
                self.parts.metrics.rejected(match r {
                    Rejection::BadSignature => "fragment_bad_signature",
                    Rejection::NotThePreconfer { .. } => "fragment_not_preconfer",
                    _ => "fragment_invalid",
                });
                return Acceptance::Reject;
            }
        }
        let expected = (f.number, f.parent_hash, f.index);
        let in_sequence = {
            let mut following = self.following.lock();
            match following.as_mut() {
                _ if f.index == 0 => {
                    *following = Some(Following {
                        number: f.number,
                        parent: f.parent_hash,
                        next_index: 1,
                        senders: vec![],
                        txs: vec![],
                        contents: vec![],
                        ends: vec![],
                        encoded: vec![],
                        encoded_ends: vec![],
                        complete: None,
                    });
                    true
                }
                Some(w) if (w.number, w.parent, w.next_index) == expected => {
                    w.next_index += 1;
                    true
                }
                _ => {
                    *following = None;
                    false
                }
            }
        };
        if !in_sequence {
            return Acceptance::Accept;
        }
        if f.index == 0 {
            let limits = BuildLimits::from_spec(self.parts.store.chain_spec());
            if let Err(e) = self.parts.engine.start_build(f.attrs.clone(), limits, None).await {
                tracing::debug!(target: "preconf::service", %e, number = f.number, "fragments not followed");
                *self.following.lock() = None;
                return Acceptance::Accept;
            }
        }
        let content = f.signed().contentHash;
        let last = f.last;
        let pool = &self.parts.pool;
        let known = pool.senders_of(f.txs.iter().map(|tx| tx.tx_hash()));
        let recovered: Option<Vec<_>> = f
            .txs
            .into_iter()
            .zip(known)
            .map(|(tx, sender)| {
                use alloy::consensus::transaction::SignerRecoverable;
                let sender = sender.or_else(|| tx.recover_signer().ok())?;
                Some(alloy::consensus::transaction::Recovered::new_unchecked(tx, sender))
            })
            .collect();
        match recovered {
            Some(txs) => {
                let mut following = self.following.lock();
                let followed = following.as_mut().filter(|w| {
                    (w.number, w.parent, w.next_index) == (f.number, f.parent_hash, f.index + 1)
                });
                let Some(w) = followed else {
                    let _ = self.parts.engine.append_build(Box::new(IterSource(txs.into_iter())));
                    return Acceptance::Accept;
                };
                w.txs.extend(txs.iter().map(|tx| tx.inner().clone()));
                w.senders.extend(txs.iter().map(|tx| tx.signer()));
                w.contents.push(content);
                w.ends.push(w.txs.len());
                for tx in &txs {
                    alloy::rlp::Encodable::encode(tx.inner(), &mut w.encoded);
                }
                w.encoded_ends.push(w.encoded.len());
                let _ = self.parts.engine.append_build(Box::new(IterSource(txs.into_iter())));
                if last {
                    // the block is complete: the engine seals it and we hash its transactions
                    // now, both while the preconfer signs
                    if self.parts.engine.seal_build().is_ok() {
                        self.parts.metrics.blocks_sealed_ahead.inc();
                    }
                    w.complete = Some(crate::message::tx_list_hash_of_parts(&[&w.encoded]));
                }
            }
            None => *self.following.lock() = None,
        }
        Acceptance::Accept
    }

    /// Gossips the transactions this node's users send (the pool's local ones), so they reach
    /// whichever preconfer owns the window. Transactions from peers are not re-sent: gossipsub
    /// forwards them once they are accepted.
    pub async fn run_tx_forwarder(self: Arc<Self>) {
        use alloy::eips::eip2718::Encodable2718;
        let mut new = self.parts.pool.new_pending_transactions_listener();
        loop {
            match new.recv().await {
                Ok(hash) => {
                    if let Some(tx) = self.parts.pool.get(&hash)
                        && tx.origin == taiko_pool::TransactionOrigin::Local
                    {
                        self.parts.p2p.publish_transaction(tx.tx.inner().encoded_2718());
                    }
                }
                Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                    tracing::warn!(target: "preconf::service", n, "transaction forwarder lagged");
                }
                Err(_) => return,
            }
        }
    }

    /// The head as `(number, hash)`.
    pub fn latest(&self) -> (u64, B256) {
        self.head()
    }

    /// The block digest of adopted block `number` (what the next commitment names as its
    /// parent digest, and what the inbox must compute once the block is proposed).
    ///
    /// Blocks adopted by this process carry it; for older ones (after a restart) it is
    /// recomputed from the store, from the nearest known digest below, and remembered.
    pub fn digest(&self, number: u64) -> Option<B256> {
        if number == 0 {
            return Some(B256::ZERO);
        }
        let (mut n, mut d) = {
            let (chain, computed) = (self.chain.lock(), self.computed.lock());
            if let Some(d) = chain.get(&number).map(|a| a.digest).or(computed.get(&number).copied())
            {
                return Some(d);
            }
            let adopted = chain.range(..number).next_back().map(|(n, a)| (*n, a.digest));
            let known = computed.range(..number).next_back().map(|(n, d)| (*n, *d));
            adopted.max(known).unwrap_or_default()
        };
        let store = &self.parts.store;
        while n < number {
            n += 1;
            let b = store.block_by_number(n).ok()??;
            let block = b.block.block();
            let anchor = crate::anchor::anchor_of(store, n).map(|a| a.l1_block_id).unwrap_or(0);
            d = wire::block_digest(
                d,
                n,
                crate::message::tx_list_hash(block),
                block.header.timestamp,
                anchor,
                block.header.beneficiary,
            );
        }
        self.computed.lock().insert(number, d);
        Some(d)
    }

    /// Who signed adopted block `number`.
    pub fn signer_of(&self, number: u64) -> Option<Address> {
        let (c, signature) =
            self.chain.lock().get(&number).map(|a| (a.commitment.clone(), a.signature))?;
        crate::signer::recover_commitment_signer(&c, &self.parts.domain, &signature)
    }

    /// The signed message adopted at `number` (the full message's wire bytes), if this process
    /// adopted one. A block received or published in compact form is encoded from the store.
    pub fn adopted_message(&self, number: u64) -> Option<Vec<u8>> {
        let (commitment, signature) = {
            let chain = self.chain.lock();
            let a = chain.get(&number)?;
            if let Some(full) = &a.full {
                return Some(full.clone());
            }
            (a.commitment.clone(), a.signature)
        };
        let stored = self.parts.store.block_by_number(number).ok()??;
        (stored.block.hash() == commitment.blockHash).then(|| {
            PreconfMessage { commitment, signature, block: stored.block.into_block() }.encode()
        })
    }

    /// Forgets what was adopted from `number` on (the chain there is being replaced).
    pub fn forget_from(&self, number: u64) {
        self.chain.lock().split_off(&number);
        self.computed.lock().split_off(&number);
    }

    /// The engine.
    pub fn engine(&self) -> &EngineHandle {
        &self.parts.engine
    }

    /// The store.
    pub fn store(&self) -> &Arc<Store> {
        &self.parts.store
    }

    /// Our preconfer address (`None` on a follower).
    pub fn address(&self) -> Option<Address> {
        self.parts.signer.as_ref().map(|s| s.address())
    }

    /// Drops the signed messages kept for a restart at heights up to `finalized`: those blocks
    /// are final on L1, so nothing will publish or propose them again. The slashing-protection
    /// records stay.
    pub fn prune_signed_payloads(&self, finalized: u64) {
        let Some(signer) = &self.parts.signer else { return };
        // a durable write, like signing's: off the runtime's workers
        match taiko_node_exex::off_runtime(|| {
            signer.protection().prune_payloads_through(
                signer.address(),
                self.parts.l2_chain_id,
                finalized,
            )
        }) {
            Ok(0) => {}
            Ok(dropped) => {
                tracing::debug!(target: "preconf::protection", dropped, finalized, "pruned signed payloads of final blocks")
            }
            Err(e) => {
                tracing::warn!(target: "preconf::protection", %e, finalized, "pruning signed payloads failed")
            }
        }
    }

    /// Who owns which window.
    pub fn schedule(&self) -> &Arc<dyn WindowSchedule> {
        &self.parts.schedule
    }

    /// The metrics.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.parts.metrics
    }

    /// The gossip network.
    pub fn p2p(&self) -> &P2pHandle {
        &self.parts.p2p
    }

    /// Updates the gauges that are sampled rather than counted.
    pub async fn sample_gauges(&self) {
        let m = &self.parts.metrics;
        m.gossip_peers.set(self.parts.p2p.topic_peers().await.len() as i64);
        let size = self.parts.pool.size();
        m.pool_pending.set(size.pending.count as i64);
        m.pool_queued.set((size.queued.count + size.basefee.count) as i64);
        m.l2_head.set(self.head().0 as i64);
    }
}

fn reason(r: &Rejection) -> &'static str {
    match r {
        Rejection::Decode(_) => "decode",
        Rejection::WrongChain(_) => "wrong_chain",
        Rejection::Mismatch(_) => "mismatch",
        Rejection::BadSignature => "bad_signature",
        Rejection::NotThePreconfer { .. } => "not_preconfer",
    }
}

struct Ctx<'a> {
    service: &'a PreconfService,
    head: (u64, B256),
}

impl ValidationContext for Ctx<'_> {
    fn l2_chain_id(&self) -> u64 {
        self.service.parts.l2_chain_id
    }
    fn domain(&self) -> &Eip712Domain {
        &self.service.parts.domain
    }
    fn preconfer_at(&self, timestamp: u64) -> Option<Address> {
        self.service.parts.schedule.window_at(timestamp).map(|(o, _)| o)
    }
    fn head(&self) -> (u64, B256) {
        self.head
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy::{
        consensus::{Signed, TxEnvelope, TxLegacy},
        primitives::{Signature, U256},
    };

    fn tx(nonce: u64) -> TxEnvelope {
        let t = TxLegacy { nonce, gas_limit: 21_000, ..Default::default() };
        TxEnvelope::Legacy(Signed::new_unhashed(
            t,
            Signature::new(U256::from(1), U256::from(2), false),
        ))
    }

    #[test]
    fn a_followed_prefix_gives_its_senders_and_anything_else_does_not() {
        let block: Vec<_> = (0..6).map(tx).collect(); // anchor, then five transactions
        let following = Following {
            number: 1,
            parent: B256::ZERO,
            next_index: 2,
            senders: vec![Address::with_last_byte(0xf1); 3],
            txs: block[1..4].to_vec(),
            contents: vec![B256::repeat_byte(1), B256::repeat_byte(2)],
            ends: vec![1, 3],
            encoded: vec![],
            encoded_ends: vec![],
            complete: None,
        };
        let looked_up = |txs: &[TxEnvelope]| Some(vec![Address::with_last_byte(0x10); txs.len()]);
        let mut want = vec![Address::with_last_byte(0x10)];
        want.extend([Address::with_last_byte(0xf1); 3]);
        want.extend([Address::with_last_byte(0x10); 2]);
        assert_eq!(following.senders_of(&block, looked_up), Some(want));
        // a block that does not start with the followed transactions
        let mut other = block.clone();
        other.swap(2, 3);
        assert_eq!(following.senders_of(&other, looked_up), None);
        // shorter than what was followed
        assert_eq!(following.senders_of(&block[..3], looked_up), None);
        // a sender that cannot be found for the rest
        assert_eq!(following.senders_of(&block, |_| None), None);
    }

    #[test]
    fn a_compact_message_is_rebuilt_only_from_the_fragments_it_names() {
        use crate::compact::CompactMessage;
        let txs: Vec<_> = (0..7).map(tx).collect(); // anchor, five streamed, one in the tail
        let contents = [B256::repeat_byte(1), B256::repeat_byte(2), B256::repeat_byte(3)];
        let parent = B256::repeat_byte(9);
        let ends = [2, 4, 5];
        let encoded_len = |n: usize| txs[1..1 + n].iter().map(alloy::rlp::Encodable::length).sum();
        let mut following = Following {
            number: 4,
            parent,
            next_index: 3,
            senders: vec![Address::ZERO; 5],
            txs: txs[1..6].to_vec(),
            contents: contents.to_vec(),
            ends: ends.to_vec(),
            encoded: txs[1..6].iter().flat_map(alloy::rlp::encode).collect(),
            encoded_ends: ends.iter().map(|&n| encoded_len(n)).collect(),
            complete: None,
        };
        let header =
            alloy::consensus::Header { number: 4, parent_hash: parent, ..Default::default() };
        let compact = |fragments: u32, named: &[B256], tail: &[TxEnvelope]| {
            Box::new(CompactMessage {
                commitment: Default::default(),
                signature: [0; 65],
                header: header.clone(),
                anchor: txs[0].clone(),
                fragments,
                fragments_hash: fragments_hash(named),
                tail: tail.to_vec(),
            })
        };
        // all three fragments
        let (full, hash) = following.expand(compact(3, &contents, &txs[6..])).unwrap();
        assert_eq!(full.block.body.transactions, txs);
        assert_eq!(hash, crate::message::tx_list_hash(&full.block));
        // the first two (the third reached us after the preconfer sealed): their four
        // transactions, then the tail the message carries
        let (full, hash) = following.expand(compact(2, &contents[..2], &txs[5..])).unwrap();
        assert_eq!(full.block.body.transactions, txs);
        assert_eq!(hash, crate::message::tx_list_hash(&full.block));
        // fragments we do not have, or other ones under the same count, or another block
        assert!(
            following
                .expand(compact(4, &[contents.as_slice(), &[B256::ZERO]].concat(), &[]))
                .is_err()
        );
        assert!(following.expand(compact(2, &[contents[0], B256::ZERO], &txs[5..])).is_err());
        assert!(following.expand(compact(0, &[], &txs[1..])).is_err());
        let mut elsewhere = compact(3, &contents, &txs[6..]);
        elsewhere.header.parent_hash = B256::ZERO;
        assert!(following.expand(elsewhere).is_err());

        // the third fragment was the last: the list was hashed when it came, and a message
        // naming all of them with no tail takes that hash
        following.complete = Some(crate::message::tx_list_hash_of_parts(&[&following.encoded]));
        let (full, hash) = following.expand(compact(3, &contents, &[])).unwrap();
        assert_eq!(full.block.body.transactions, txs[..6]);
        assert_eq!(hash, crate::message::tx_list_hash(&full.block));
        // but not a message with a tail, or one naming fewer fragments
        let (full, hash) = following.expand(compact(3, &contents, &txs[6..])).unwrap();
        assert_eq!(hash, crate::message::tx_list_hash(&full.block));
        let (full, hash) = following.expand(compact(2, &contents[..2], &txs[5..])).unwrap();
        assert_eq!(hash, crate::message::tx_list_hash(&full.block));
    }
}
