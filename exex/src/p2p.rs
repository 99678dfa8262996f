//! Gossip of preconfirmed blocks over libp2p, and catch-up by request/response.
//!
//! - **Gossipsub**, one topic per L2 chain (`/taiko-preconf/{chain}/1/blocks`), anonymous
//!   messages (the payload carries its own signature), content-addressed ids
//!   ([`message::message_id`]), a size limit of [`message::MAX_COMPRESSED`]. Nothing is forwarded
//!   before the application validates it: every received message comes out as
//!   [`P2pEvent::Message`] and goes back in as [`P2pHandle::report`] with accept / reject /
//!   ignore. Rejections feed gossipsub's peer score (invalid deliveries weigh −100 each, squared,
//!   so one invalid block takes a peer below the graylist threshold).
//! - **Request/response** (`/taiko-preconf/blocks/1`, CBOR): "blocks `from`.. (up to `count`)"
//!   answered with their wire bytes, for a node that joins late or sees a gap.
//! - A second gossipsub topic (`/taiko-preconf/{chain}/1/txs`) carries the transactions users
//!   send to any node, so they reach whichever preconfer owns the window; a receiver adds them
//!   to its pool and accepts (forwards) them if the pool takes them.
//! - Static peers are dialled at start.
//!
//! [`P2p::spawn`] runs the swarm on its own task; [`P2pHandle`] talks to it.

use std::time::Duration;

use futures::StreamExt;
pub use libp2p::{Multiaddr as PeerAddr, PeerId as NodeId};
use libp2p::{
    Multiaddr, PeerId, StreamProtocol, Swarm,
    gossipsub::{
        self, IdentTopic, MessageAcceptance, MessageAuthenticity, MessageId, ValidationMode,
    },
    identity::Keypair,
    noise,
    request_response::{self, ProtocolSupport},
    swarm::{NetworkBehaviour, SwarmEvent},
    tcp, yamux,
};
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot};

use crate::message;

/// The gossip topic of an L2 chain.
pub fn topic(l2_chain_id: u64) -> IdentTopic {
    IdentTopic::new(format!("/taiko-preconf/{l2_chain_id}/1/blocks"))
}

/// The fragment topic of an L2 chain: the preconfer's next block, streamed round by round
/// ([`crate::fragment`]).
pub fn fragments_topic(l2_chain_id: u64) -> IdentTopic {
    IdentTopic::new(format!("/taiko-preconf/{l2_chain_id}/1/fragments"))
}

/// The transaction topic of an L2 chain: transactions sent to any node reach the preconfers.
pub fn txs_topic(l2_chain_id: u64) -> IdentTopic {
    IdentTopic::new(format!("/taiko-preconf/{l2_chain_id}/1/txs"))
}

/// Largest gossiped transaction (the pool's limit).
pub const MAX_TX_BYTES: usize = 128 * 1024;

/// Most blocks one catch-up response carries.
pub const MAX_BLOCKS_PER_REQUEST: u16 = 64;

/// A catch-up request: blocks `from`, `from + 1`, … (at most `count`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlocksRequest {
    /// First block number.
    pub from: u64,
    /// How many.
    pub count: u16,
}

/// A catch-up response: the wire bytes of the blocks, in order.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlocksResponse {
    /// Gossip-encoded messages.
    pub blocks: Vec<Vec<u8>>,
}

/// What to start.
#[derive(Clone, Debug)]
pub struct P2pConfig {
    /// The L2 chain.
    pub l2_chain_id: u64,
    /// Where to listen (`/ip4/127.0.0.1/tcp/0` picks a free port).
    pub listen: Multiaddr,
    /// Peers to dial at start.
    pub static_peers: Vec<Multiaddr>,
    /// The node key (a new one when `None`).
    pub keypair: Option<Keypair>,
}

/// The node's libp2p identity from `path` (32-byte ed25519 secret, hex), created there on first
/// use so the node's peer id — what other operators put in their peer lists — stays the same
/// across restarts.
pub fn load_or_create_keypair(path: &std::path::Path) -> std::io::Result<Keypair> {
    use std::io::{Error, ErrorKind};
    if let Ok(text) = std::fs::read_to_string(path) {
        let mut bytes = alloy::hex::decode(text.trim())
            .map_err(|e| Error::new(ErrorKind::InvalidData, format!("{}: {e}", path.display())))?;
        return Keypair::ed25519_from_bytes(&mut bytes)
            .map_err(|e| Error::new(ErrorKind::InvalidData, format!("{}: {e}", path.display())));
    }
    let key = libp2p::identity::ed25519::Keypair::generate();
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(path, alloy::hex::encode(key.secret().as_ref()))?;
    Ok(key.into())
}

/// What the swarm reports.
#[derive(Debug)]
pub enum P2pEvent {
    /// A gossiped message to validate and [`P2pHandle::report`].
    Message {
        /// Its id.
        id: MessageId,
        /// The peer it came from.
        source: PeerId,
        /// The wire bytes.
        data: Vec<u8>,
    },
    /// A peer asks for blocks; answer on `reply`.
    BlocksRequested {
        /// The peer.
        peer: PeerId,
        /// What it wants.
        request: BlocksRequest,
        /// Where the answer goes.
        reply: oneshot::Sender<BlocksResponse>,
    },
    /// A gossiped transaction to add to the pool and [`P2pHandle::report`].
    Transaction {
        /// Its message id.
        id: MessageId,
        /// The peer it came from.
        source: PeerId,
        /// EIP-2718 bytes.
        data: Vec<u8>,
    },
    /// A gossiped block fragment to validate and [`P2pHandle::report`].
    Fragment {
        /// Its id.
        id: MessageId,
        /// The peer it came from.
        source: PeerId,
        /// The wire bytes.
        data: Vec<u8>,
    },
    /// A peer subscribed to our topic.
    PeerJoined(PeerId),
}

/// How a message is judged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Acceptance {
    /// Valid: forward it.
    Accept,
    /// Invalid: penalise the sender.
    Reject,
    /// Not for now: neither forward nor penalise.
    Ignore,
}

/// Why a p2p operation failed.
#[derive(Debug, thiserror::Error)]
pub enum P2pError {
    /// Building or starting the swarm failed.
    #[error("p2p setup: {0}")]
    Setup(String),
    /// Publishing failed (no peers, too large, duplicate).
    #[error("publish: {0}")]
    Publish(String),
    /// The request failed or timed out.
    #[error("request: {0}")]
    Request(String),
    /// The p2p task stopped.
    #[error("p2p task stopped")]
    Stopped,
}

enum Command {
    Publish(Vec<u8>, oneshot::Sender<Result<(), P2pError>>),
    PublishTx(Vec<u8>),
    PublishFragment(Vec<u8>),
    Report(MessageId, PeerId, Acceptance),
    Request(PeerId, BlocksRequest, oneshot::Sender<Result<BlocksResponse, P2pError>>),
    PeerScore(PeerId, oneshot::Sender<Option<f64>>),
    Peers(oneshot::Sender<Vec<PeerId>>),
}

#[derive(NetworkBehaviour)]
struct Behaviour {
    gossipsub: gossipsub::Behaviour,
    blocks: request_response::cbor::Behaviour<BlocksRequest, BlocksResponse>,
}

/// A handle to the running swarm.
#[derive(Clone, Debug)]
pub struct P2pHandle {
    tx: mpsc::UnboundedSender<Command>,
    /// This node's peer id.
    pub peer_id: PeerId,
    /// The address it listens on.
    pub listen_addr: Multiaddr,
}

impl std::fmt::Debug for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("p2p command")
    }
}

impl P2pHandle {
    /// The address other nodes dial to reach this one: the listen address with `/p2p/<id>`.
    pub fn dial_addr(&self) -> Multiaddr {
        self.listen_addr.clone().with(libp2p::multiaddr::Protocol::P2p(self.peer_id))
    }

    /// Publishes wire bytes on the topic.
    pub async fn publish(&self, data: Vec<u8>) -> Result<(), P2pError> {
        let (tx, rx) = oneshot::channel();
        self.tx.send(Command::Publish(data, tx)).map_err(|_| P2pError::Stopped)?;
        rx.await.map_err(|_| P2pError::Stopped)?
    }

    /// Gossips a transaction (best effort).
    pub fn publish_transaction(&self, raw: Vec<u8>) {
        let _ = self.tx.send(Command::PublishTx(raw));
    }

    /// Gossips a block fragment (best effort).
    pub fn publish_fragment(&self, data: Vec<u8>) {
        let _ = self.tx.send(Command::PublishFragment(data));
    }

    /// Reports the verdict on a received message (exactly once per message).
    pub fn report(&self, id: MessageId, source: PeerId, acceptance: Acceptance) {
        let _ = self.tx.send(Command::Report(id, source, acceptance));
    }

    /// Asks `peer` for blocks.
    pub async fn request_blocks(
        &self,
        peer: PeerId,
        request: BlocksRequest,
    ) -> Result<BlocksResponse, P2pError> {
        let (tx, rx) = oneshot::channel();
        self.tx.send(Command::Request(peer, request, tx)).map_err(|_| P2pError::Stopped)?;
        rx.await.map_err(|_| P2pError::Stopped)?
    }

    /// Gossipsub's score of `peer`.
    pub async fn peer_score(&self, peer: PeerId) -> Option<f64> {
        let (tx, rx) = oneshot::channel();
        self.tx.send(Command::PeerScore(peer, tx)).ok()?;
        rx.await.ok()?
    }

    /// Peers subscribed to our topic.
    pub async fn topic_peers(&self) -> Vec<PeerId> {
        let (tx, rx) = oneshot::channel();
        if self.tx.send(Command::Peers(tx)).is_err() {
            return vec![];
        }
        rx.await.unwrap_or_default()
    }
}

/// The p2p service.
#[derive(Debug)]
pub struct P2p;

fn gossip_behaviour(l2_chain_id: u64) -> Result<gossipsub::Behaviour, P2pError> {
    let config = gossipsub::ConfigBuilder::default()
        .validation_mode(ValidationMode::Anonymous)
        .validate_messages()
        .message_id_fn(|m: &gossipsub::Message| MessageId::from(message::message_id(&m.data)))
        .max_transmit_size(message::MAX_COMPRESSED)
        .heartbeat_interval(Duration::from_millis(500))
        // Messages are anonymous with content ids, so a peer that relays our own message back
        // (it reached that peer through another one first) cannot know it came from us: it is
        // honest, and the duplicate cache drops the copy. gossipsub's default would count it as
        // an invalid delivery (−100 here), greylist the peer after one such relay, and from then
        // on our blocks would reach it only through others, a hop and an import later.
        .allow_self_origin(true)
        .build()
        .map_err(|e| P2pError::Setup(e.to_string()))?;
    let mut g = gossipsub::Behaviour::new(MessageAuthenticity::Anonymous, config)
        .map_err(|e| P2pError::Setup(e.to_string()))?;
    let t = topic(l2_chain_id);
    let mut params = gossipsub::PeerScoreParams::default();
    params.topics.insert(
        t.hash(),
        gossipsub::TopicScoreParams {
            topic_weight: 1.0,
            time_in_mesh_weight: 0.01,
            time_in_mesh_quantum: Duration::from_secs(1),
            first_message_deliveries_weight: 1.0,
            // blocks come every few hundred milliseconds at best: no delivery quota
            mesh_message_deliveries_weight: 0.0,
            mesh_failure_penalty_weight: 0.0,
            invalid_message_deliveries_weight: -100.0,
            invalid_message_deliveries_decay: 0.99, // half-life about 70 s
            ..Default::default()
        },
    );
    // fragments: as blocks, and one comes every few tens of milliseconds in a turn
    let scored = params.topics[&t.hash()].clone();
    params.topics.insert(fragments_topic(l2_chain_id).hash(), scored);
    g.with_peer_score(params, gossipsub::PeerScoreThresholds::default())
        .map_err(P2pError::Setup)?;
    g.subscribe(&t).map_err(|e| P2pError::Setup(e.to_string()))?;
    g.subscribe(&txs_topic(l2_chain_id)).map_err(|e| P2pError::Setup(e.to_string()))?;
    g.subscribe(&fragments_topic(l2_chain_id)).map_err(|e| P2pError::Setup(e.to_string()))?;
    Ok(g)
}

impl P2p {
    /// Starts the swarm; returns the handle and the event stream.
    pub async fn spawn(
        config: P2pConfig,
    ) -> Result<(P2pHandle, mpsc::UnboundedReceiver<P2pEvent>), P2pError> {
        let key = config.keypair.clone().unwrap_or_else(Keypair::generate_ed25519);
        let mut swarm = libp2p::SwarmBuilder::with_existing_identity(key)
            .with_tokio()
            .with_tcp(
                tcp::Config::default().nodelay(true),
                noise::Config::new,
                yamux::Config::default,
            )
            .map_err(|e| P2pError::Setup(e.to_string()))?
            .with_behaviour(|_| {
                Ok(Behaviour {
                    gossipsub: gossip_behaviour(config.l2_chain_id)
                        .map_err(|e| Box::new(e) as Box<dyn std::error::Error + Send + Sync>)?,
                    blocks: request_response::cbor::Behaviour::new(
                        [(StreamProtocol::new("/taiko-preconf/blocks/1"), ProtocolSupport::Full)],
                        request_response::Config::default()
                            .with_request_timeout(Duration::from_secs(10)),
                    ),
                })
            })
            .map_err(|e| P2pError::Setup(e.to_string()))?
            .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(3600)))
            .build();
        swarm.listen_on(config.listen.clone()).map_err(|e| P2pError::Setup(e.to_string()))?;
        let listen_addr = loop {
            match swarm.select_next_some().await {
                SwarmEvent::NewListenAddr { address, .. } => break address,
                SwarmEvent::ListenerError { error, .. } => {
                    return Err(P2pError::Setup(error.to_string()));
                }
                _ => {}
            }
        };
        for peer in &config.static_peers {
            if let Err(e) = swarm.dial(peer.clone()) {
                tracing::warn!(target: "preconf::p2p", %peer, %e, "dial failed");
            }
        }
        let peer_id = *swarm.local_peer_id();
        let (tx, rx) = mpsc::unbounded_channel();
        let (events_tx, events_rx) = mpsc::unbounded_channel();
        tokio::spawn(run(swarm, rx, events_tx, config.l2_chain_id));
        tracing::info!(target: "preconf::p2p", %peer_id, %listen_addr, "p2p up");
        Ok((P2pHandle { tx, peer_id, listen_addr }, events_rx))
    }
}

async fn run(
    mut swarm: Swarm<Behaviour>,
    mut commands: mpsc::UnboundedReceiver<Command>,
    events: mpsc::UnboundedSender<P2pEvent>,
    l2_chain_id: u64,
) {
    let topic = topic(l2_chain_id);
    let txs = txs_topic(l2_chain_id).hash();
    let fragments = fragments_topic(l2_chain_id);
    let mut pending: std::collections::HashMap<
        request_response::OutboundRequestId,
        oneshot::Sender<Result<BlocksResponse, P2pError>>,
    > = Default::default();
    let (answers_tx, mut answers_rx) = mpsc::unbounded_channel::<(
        request_response::ResponseChannel<BlocksResponse>,
        BlocksResponse,
    )>();
    loop {
        tokio::select! {
            cmd = commands.recv() => {
                let Some(cmd) = cmd else { return };
                match cmd {
                    Command::Publish(data, reply) => {
                        let r = swarm.behaviour_mut().gossipsub.publish(topic.clone(), data)
                            .map(|_| ()).map_err(|e| P2pError::Publish(e.to_string()));
                        let _ = reply.send(r);
                    }
                    Command::PublishTx(raw) => {
                        if raw.len() <= MAX_TX_BYTES
                            && let Err(e) = swarm.behaviour_mut().gossipsub.publish(txs.clone(), raw)
                        {
                            tracing::debug!(target: "preconf::p2p", %e, "transaction not gossiped");
                        }
                    }
                    Command::PublishFragment(data) => {
                        if let Err(e) = swarm.behaviour_mut().gossipsub.publish(fragments.clone(), data) {
                            tracing::debug!(target: "preconf::p2p", %e, "fragment not gossiped");
                        }
                    }
                    Command::Report(id, source, acceptance) => {
                        let a = match acceptance {
                            Acceptance::Accept => MessageAcceptance::Accept,
                            Acceptance::Reject => MessageAcceptance::Reject,
                            Acceptance::Ignore => MessageAcceptance::Ignore,
                        };
                        swarm.behaviour_mut().gossipsub.report_message_validation_result(&id, &source, a);
                    }
                    Command::Request(peer, request, reply) => {
                        let id = swarm.behaviour_mut().blocks.send_request(&peer, request);
                        pending.insert(id, reply);
                    }
                    Command::PeerScore(peer, reply) => {
                        let _ = reply.send(swarm.behaviour().gossipsub.peer_score(&peer));
                    }
                    Command::Peers(reply) => {
                        let peers = swarm.behaviour().gossipsub.all_peers()
                            .filter(|(_, topics)| topics.contains(&&topic.hash()))
                            .map(|(p, _)| *p).collect();
                        let _ = reply.send(peers);
                    }
                }
            }
            answer = answers_rx.recv() => {
                if let Some((channel, response)) = answer {
                    let _ = swarm.behaviour_mut().blocks.send_response(channel, response);
                }
            }
            event = swarm.select_next_some() => match event {
                SwarmEvent::Behaviour(BehaviourEvent::Gossipsub(gossipsub::Event::Message { propagation_source, message_id, message })) => {
                    let ev = if message.topic == txs {
                        P2pEvent::Transaction { id: message_id, source: propagation_source, data: message.data }
                    } else if message.topic == fragments.hash() {
                        P2pEvent::Fragment { id: message_id, source: propagation_source, data: message.data }
                    } else {
                        P2pEvent::Message { id: message_id, source: propagation_source, data: message.data }
                    };
                    let _ = events.send(ev);
                }
                SwarmEvent::Behaviour(BehaviourEvent::Gossipsub(gossipsub::Event::Subscribed { peer_id, .. })) => {
                    let _ = events.send(P2pEvent::PeerJoined(peer_id));
                }
                SwarmEvent::Behaviour(BehaviourEvent::Blocks(request_response::Event::Message { peer, message, .. })) => match message {
                    request_response::Message::Request { request, channel, .. } => {
                        let (reply, answer) = oneshot::channel();
                        let request = BlocksRequest { count: request.count.min(MAX_BLOCKS_PER_REQUEST), ..request };
                        let _ = events.send(P2pEvent::BlocksRequested { peer, request, reply });
                        let answers = answers_tx.clone();
                        tokio::spawn(async move {
                            let response = answer.await.unwrap_or_default();
                            let _ = answers.send((channel, response));
                        });
                    }
                    request_response::Message::Response { request_id, response } => {
                        if let Some(reply) = pending.remove(&request_id) {
                            let _ = reply.send(Ok(response));
                        }
                    }
                },
                SwarmEvent::Behaviour(BehaviourEvent::Blocks(request_response::Event::OutboundFailure { request_id, error, .. })) => {
                    if let Some(reply) = pending.remove(&request_id) {
                        let _ = reply.send(Err(P2pError::Request(error.to_string())));
                    }
                }
                SwarmEvent::ConnectionEstablished { peer_id, .. } => {
                    tracing::debug!(target: "preconf::p2p", %peer_id, "connected");
                }
                _ => {}
            }
        }
    }
}
