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
use taiko_contracts::wire;
use taiko_engine::EngineHandle;
use taiko_evm::{AnchorInput, BlockAttributes, BuildLimits};
use taiko_pool::Pool;
use taiko_store::Store;
use tokio::sync::mpsc;

use crate::{
    message::{Ignored, PreconfMessage, ValidationContext},
    p2p::{Acceptance, BlocksRequest, BlocksResponse, P2pEvent, P2pHandle},
    sequencer::{BlockPlan, FollowOutcome, SequencerError, commit, follow, preconfirm, resume},
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
}

/// One node's preconfirmation service.
#[derive(Debug)]
pub struct PreconfService {
    parts: ServiceParts,
    /// Adopted blocks: gossip bytes (for catch-up) and block digest.
    chain: Mutex<BTreeMap<u64, (Vec<u8>, B256)>>,
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
}

impl PreconfService {
    /// A service over `parts`.
    pub fn new(parts: ServiceParts) -> Self {
        Self { parts, chain: Mutex::new(BTreeMap::new()) }
    }

    fn head(&self) -> (u64, B256) {
        let h = self.parts.store.latest_header().expect("the head is readable");
        (h.number, h.hash_slow())
    }

    fn digest_of(&self, number: u64) -> B256 {
        if number == 0 {
            return B256::ZERO;
        }
        self.chain.lock().get(&number).map(|(_, d)| *d).unwrap_or_default()
    }

    fn remember(&self, msg: &PreconfMessage, wire_bytes: Vec<u8>) {
        let c = &msg.commitment;
        let digest = wire::block_digest(
            self.digest_of(c.blockNumber - 1),
            c.blockNumber,
            c.txListHash,
            c.timestamp,
            c.anchorBlockId,
            c.coinbase,
        );
        self.chain.lock().insert(c.blockNumber, (wire_bytes, digest));
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
        if owner != signer.address() {
            return Ok(TickOutcome::NotOurTurn);
        }
        let end_of_sequencing =
            self.parts.schedule.window_at(next_tick_ms / 1000).map(|(o, _)| o) != Some(owner);
        let parent = self.parts.store.latest_header().expect("the head is readable");
        let head = parent.number;
        let msg = match resume(signer, self.parts.l2_chain_id, head + 1).await? {
            Some(m) => m,
            None => {
                let parent_ts = parent.timestamp;
                let plan = BlockPlan {
                    attrs: BlockAttributes {
                        timestamp: ts.max(parent_ts),
                        coinbase: self.parts.coinbase,
                        anchor: AnchorInput {
                            l1_block_id: head + 1,
                            l1_block_hash: B256::with_last_byte(1),
                            l1_state_root: B256::with_last_byte(2),
                        },
                        ..Default::default()
                    },
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
        let wire_bytes = msg.encode();
        if let Err(e) = self.parts.p2p.publish(wire_bytes.clone()).await {
            tracing::warn!(target: "preconf::service", %e, "publish failed (no peers yet?)");
        }
        commit(&self.parts.engine, msg.commitment.blockHash).await?;
        let number = msg.commitment.blockNumber;
        let eos = msg.commitment.endOfSequencing;
        self.remember(&msg, wire_bytes);
        Ok(TickOutcome::Preconfirmed { number, end_of_sequencing: eos })
    }

    /// Imports a decoded message; fetches missing blocks from `source` on a gap.
    async fn adopt(
        &self,
        msg: &PreconfMessage,
        wire_bytes: Vec<u8>,
    ) -> Result<FollowOutcome, SequencerError> {
        let ctx = Ctx { service: self, head: self.head() };
        let outcome = follow(&self.parts.engine, msg, &ctx).await?;
        if outcome == FollowOutcome::Imported {
            self.remember(msg, wire_bytes);
        }
        Ok(outcome)
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
                match self.adopt(&m, bytes).await {
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
                    let Ok(msg) = PreconfMessage::decode(&data) else {
                        self.parts.p2p.report(id, source, Acceptance::Reject);
                        continue;
                    };
                    let outcome = self.adopt(&msg, data.clone()).await;
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
                        let _ = self.adopt(&msg, data).await;
                    }
                }
                P2pEvent::BlocksRequested { request, reply, .. } => {
                    let chain = self.chain.lock();
                    let blocks = (request.from..request.from + request.count as u64)
                        .map_while(|n| chain.get(&n).map(|(b, _)| b.clone()))
                        .collect();
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
                P2pEvent::PeerJoined(_) => {}
            }
        }
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
