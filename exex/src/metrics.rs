//! Prometheus metrics of the extension, served at `/metrics`.
//!
//! | metric | kind | meaning |
//! |---|---|---|
//! | `preconf_blocks_preconfirmed_total` | counter | blocks this node signed and published |
//! | `preconf_blocks_compact_total` | counter | of those, blocks published in compact form (naming their fragments) |
//! | `preconf_blocks_imported_total` | counter | gossiped blocks imported |
//! | `preconf_gossip_rejected_total{reason}` | counter | gossip messages refused (peer penalised) |
//! | `preconf_equivocations_total` | counter | two signed blocks at one height seen from one signer |
//! | `preconf_compact_fetches_total` | counter | compact block messages whose fragments this node lacked (the block was fetched in full) |
//! | `preconf_blocks_sealed_ahead_total` | counter | followed blocks sealed on their last fragment, before their signed message came |
//! | `preconf_build_seconds` | histogram | tick → block signed, published and `latest` |
//! | `preconf_import_seconds` | histogram | gossip message received → `latest` |
//! | `preconf_gossip_peers` | gauge | peers on the blocks topic |
//! | `preconf_pool_pending` / `preconf_pool_queued` | gauge | transactions in the pool |
//! | `preconf_l2_head` | gauge | number of `latest` |
//! | `preconf_l1_errors_total` | counter | failed L1 / beacon reads |
//! | `preconf_l1_mismatches_total` | counter | L1 batches that differ from the preconfirmed chain |
//! | `preconf_proposals_total` | counter | turns proposed and confirmed on L1 |
//! | `preconf_proposal_retries_total` | counter | proposal attempts that failed on the L1 and were retried |
//! | `preconf_proposal_failures_total` | counter | turns that could not be proposed in their window |
//! | `preconf_orphaned_blocks_total` | counter | blocks dropped because their window closed without them on L1 |
//! | `preconf_halted` | gauge | 1 while preconfirming is halted (the proposer account cannot pay) |

use std::{net::SocketAddr, sync::Arc};

use parking_lot::Mutex;
use prometheus_client::{
    encoding::{EncodeLabelSet, text::encode},
    metrics::{counter::Counter, family::Family, gauge::Gauge, histogram::Histogram},
    registry::Registry,
};

/// Label of the rejection counter.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabel {
    /// Short reason (`decode`, `wrong_chain`, `mismatch`, `bad_signature`, `not_preconfer`,
    /// `invalid_execution`).
    pub reason: &'static str,
}

/// The extension's metrics.
#[derive(Debug)]
pub struct Metrics {
    registry: Mutex<Registry>,
    /// Blocks signed and published.
    pub blocks_preconfirmed: Counter,
    /// Of those, blocks published in compact form.
    pub blocks_compact: Counter,
    /// Gossiped blocks imported.
    pub blocks_imported: Counter,
    /// Refused gossip by reason.
    pub gossip_rejected: Family<ReasonLabel, Counter>,
    /// Equivocations seen.
    pub equivocations: Counter,
    /// Compact block messages that could not be rebuilt here (fetched in full instead).
    pub compact_fetches: Counter,
    /// Followed blocks sealed on their last fragment, ahead of their signed message.
    pub blocks_sealed_ahead: Counter,
    /// Tick → published and `latest`, seconds.
    pub build_seconds: Histogram,
    /// Received → `latest`, seconds.
    pub import_seconds: Histogram,
    /// Peers on the blocks topic.
    pub gossip_peers: Gauge,
    /// Pending pool transactions.
    pub pool_pending: Gauge,
    /// Queued pool transactions.
    pub pool_queued: Gauge,
    /// `latest`.
    pub l2_head: Gauge,
    /// Failed L1 or beacon reads.
    pub l1_errors: Counter,
    /// L1 batches that differ from the preconfirmed chain.
    pub l1_mismatches: Counter,
    /// Turns proposed and confirmed.
    pub proposals: Counter,
    /// Proposal attempts retried after an L1 failure.
    pub proposal_retries: Counter,
    /// Turns not proposed in their window.
    pub proposal_failures: Counter,
    /// Blocks dropped: their window closed and L1 never got them.
    pub orphaned_blocks: Counter,
    /// 1 while halted.
    pub halted: Gauge,
}

fn latency_buckets() -> impl Iterator<Item = f64> {
    [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0].into_iter()
}

impl Default for Metrics {
    fn default() -> Self {
        let mut r = Registry::with_prefix("preconf");
        let m = Self {
            registry: Mutex::new(Registry::default()),
            blocks_preconfirmed: Counter::default(),
            blocks_compact: Counter::default(),
            blocks_imported: Counter::default(),
            gossip_rejected: Family::default(),
            equivocations: Counter::default(),
            compact_fetches: Counter::default(),
            blocks_sealed_ahead: Counter::default(),
            build_seconds: Histogram::new(latency_buckets()),
            import_seconds: Histogram::new(latency_buckets()),
            gossip_peers: Gauge::default(),
            pool_pending: Gauge::default(),
            pool_queued: Gauge::default(),
            l2_head: Gauge::default(),
            l1_errors: Counter::default(),
            l1_mismatches: Counter::default(),
            proposals: Counter::default(),
            proposal_retries: Counter::default(),
            proposal_failures: Counter::default(),
            halted: Gauge::default(),
            orphaned_blocks: Counter::default(),
        };
        r.register(
            "blocks_preconfirmed",
            "Blocks signed and published",
            m.blocks_preconfirmed.clone(),
        );
        r.register(
            "blocks_compact",
            "Blocks published in compact form (naming their fragments)",
            m.blocks_compact.clone(),
        );
        r.register("blocks_imported", "Gossiped blocks imported", m.blocks_imported.clone());
        r.register("gossip_rejected", "Gossip messages refused", m.gossip_rejected.clone());
        r.register(
            "equivocations",
            "Two signed blocks at one height from one signer",
            m.equivocations.clone(),
        );
        r.register(
            "compact_fetches",
            "Compact block messages whose fragments were missing here (fetched in full)",
            m.compact_fetches.clone(),
        );
        r.register(
            "blocks_sealed_ahead",
            "Followed blocks sealed on their last fragment, before their signed message came",
            m.blocks_sealed_ahead.clone(),
        );
        r.register("build_seconds", "Tick to published and latest", m.build_seconds.clone());
        r.register("import_seconds", "Gossip received to latest", m.import_seconds.clone());
        r.register("gossip_peers", "Peers on the blocks topic", m.gossip_peers.clone());
        r.register("pool_pending", "Pending pool transactions", m.pool_pending.clone());
        r.register("pool_queued", "Queued pool transactions", m.pool_queued.clone());
        r.register("l2_head", "Number of latest", m.l2_head.clone());
        r.register("l1_errors", "Failed L1 or beacon reads", m.l1_errors.clone());
        r.register(
            "l1_mismatches",
            "L1 batches that differ from the preconfirmed chain",
            m.l1_mismatches.clone(),
        );
        r.register("proposals", "Turns proposed and confirmed on L1", m.proposals.clone());
        r.register(
            "proposal_retries",
            "Proposal attempts that failed on the L1 and were retried",
            m.proposal_retries.clone(),
        );
        r.register(
            "proposal_failures",
            "Turns that could not be proposed in their window",
            m.proposal_failures.clone(),
        );
        r.register("halted", "1 while preconfirming is halted", m.halted.clone());
        r.register(
            "orphaned_blocks",
            "Blocks dropped because their window closed without them on L1",
            m.orphaned_blocks.clone(),
        );
        *m.registry.lock() = r;
        m
    }
}

impl Metrics {
    /// The text exposition.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        encode(&mut out, &self.registry.lock()).expect("writing to a String");
        out
    }

    /// Counts a refused gossip message.
    pub fn rejected(&self, reason: &'static str) {
        self.gossip_rejected.get_or_create(&ReasonLabel { reason }).inc();
    }
}

/// Serves `GET /metrics` on `addr` until the task is dropped; returns the bound address.
pub async fn serve(
    metrics: Arc<Metrics>,
    addr: SocketAddr,
) -> std::io::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    use axum::{Router, routing::get};
    let app = Router::new().route(
        "/metrics",
        get(move || {
            let m = metrics.clone();
            async move {
                ([(axum::http::header::CONTENT_TYPE, "text/plain; version=0.0.4")], m.encode())
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let bound = listener.local_addr()?;
    let task = tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!(target: "preconf::metrics", %e, "metrics server stopped");
        }
    });
    Ok((bound, task))
}
