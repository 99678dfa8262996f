//! The extension installed into a running host node: everything [`crate::service`] needs, built
//! from a [`PreconfConfig`], and the tasks that drive it.
//!
//! [`PreconfRuntime::start`] opens the databases, loads the signer, starts libp2p, the follower
//! (gossip → import), the transaction forwarder, the gauge sampler and the metrics server. The
//! duties then run either on the wall clock ([`PreconfRuntime::spawn_duties`]: an L1 task that
//! refreshes the lookahead and the anchor once per slot, and a tick task that calls
//! [`PreconfService::on_tick`] at each L2 tick), or are driven by a test through
//! [`PreconfRuntime::refresh`] and the service with a manual clock.

use std::{net::SocketAddr, path::PathBuf, sync::Arc, time::Duration};

use alloy::primitives::Address;
use taiko_beacon::clock::SlotClock;
use taiko_contracts::wire;
use taiko_l1::{
    BeaconClient, L1Client, L1Error,
    txmgr::{TxConfig, TxManager},
};
use taiko_node::RunningNode;
use tokio::task::JoinHandle;

use crate::{
    anchor::L1Anchor,
    clock::{Clock, TickSchedule},
    evidence::EvidenceDb,
    metrics::{self, Metrics},
    p2p::{P2p, P2pConfig, P2pHandle},
    proposer::{Proposal, ProposeError, Proposer},
    protection::ProtectionDb,
    reconcile::{ReconcileReport, Reconciler},
    schedule::{L1Lookahead, LookaheadSchedule},
    service::{PreconfService, ServiceParts, TickOutcome, WindowSchedule},
    signer::{CommitmentSigner, PreconfSigner},
};

/// Everything the extension is configured with.
#[derive(Debug)]
pub struct PreconfConfig {
    /// L1 execution JSON-RPC URL.
    pub l1_rpc: String,
    /// Beacon API URL.
    pub beacon_api: String,
    /// `PreconfRegistry`.
    pub registry: Address,
    /// `PreconfTaskManager` (also the commitment domain's verifying contract).
    pub task_manager: Address,
    /// The preconfer key; `None` runs a follower.
    pub signer: Option<Arc<dyn PreconfSigner>>,
    /// Directory of the slashing-protection and evidence databases.
    pub datadir: PathBuf,
    /// libp2p.
    pub p2p: P2pConfig,
    /// When blocks are released.
    pub ticks: TickSchedule,
    /// Fee recipient of our blocks.
    pub coinbase: Address,
    /// Anchor this many L1 blocks behind the L1 head.
    pub anchor_lag: u64,
    /// Skip ticks with an empty pool.
    pub skip_empty: bool,
    /// Wait this long at the start of a turn for the previous end-of-sequencing block.
    pub handover_grace_ms: u64,
    /// Where to serve `/metrics`; `None` disables it.
    pub metrics_addr: Option<SocketAddr>,
    /// `TaikoInbox`, followed to mark blocks `safe` and `finalized` (`None`: not followed).
    pub inbox: Option<Address>,
    /// Propose our turns to L1 from this account through `inbox` (`None`: preconfirm only).
    pub proposer: Option<(alloy::signers::local::PrivateKeySigner, Address)>,
    /// Stop preconfirming this long before a window ends, so its batch lands in the window;
    /// 0 when proposing means automatic: a third of a slot (Bolt's commitment deadline is two
    /// thirds into the slot before the window's) plus one block interval, at most the slot
    /// less one second (block timestamps are whole seconds: a one-slot window must keep one).
    pub proposal_margin_ms: u64,
    /// Bolt sidecar of our validators: proposals go there first.
    pub bolt_rpc: Option<String>,
    /// How proposals are priced and watched (`resubmit_after` zero: one L1 slot).
    pub tx: TxConfig,
    /// Where batches carry their tx lists.
    pub batch_data: crate::batch::DataChoice,
}

/// Why the extension could not start.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// The L1 or the beacon API is unreachable or answered nonsense.
    #[error(transparent)]
    L1(#[from] L1Error),
    /// A database could not be opened.
    #[error("{0}")]
    Db(String),
    /// libp2p could not start.
    #[error("p2p: {0}")]
    P2p(String),
    /// The tick schedule does not fit the slots.
    #[error(transparent)]
    Schedule(#[from] crate::clock::ScheduleError),
    /// The metrics server could not bind.
    #[error("metrics server: {0}")]
    Metrics(std::io::Error),
}

/// The running extension.
#[derive(Debug)]
pub struct PreconfRuntime {
    /// The duty loop.
    pub service: Arc<PreconfService>,
    /// The lookahead the node runs on.
    pub schedule: Arc<LookaheadSchedule>,
    /// Where the lookahead comes from.
    pub lookahead: L1Lookahead,
    /// The anchor candidate.
    pub anchor: Arc<L1Anchor>,
    /// The L1 slots.
    pub slots: SlotClock,
    /// When blocks are released.
    pub ticks: TickSchedule,
    /// libp2p.
    pub p2p: P2pHandle,
    /// The metrics server's address.
    pub metrics_addr: Option<SocketAddr>,
    /// Metrics.
    pub metrics: Arc<Metrics>,
    /// The evidence database.
    pub evidence: Arc<EvidenceDb>,
    /// Proposes our turns, when configured.
    pub proposer: Option<Proposer>,
    /// Follows the inbox (when its address is known).
    pub reconciler: Option<Arc<Reconciler>>,
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for PreconfRuntime {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

impl PreconfRuntime {
    /// Starts the extension on `node`.
    pub async fn start(node: &RunningNode, config: PreconfConfig) -> Result<Self, RuntimeError> {
        let l1 = L1Client::connect(&config.l1_rpc).await?;
        let beacon = BeaconClient::new(&config.beacon_api);
        let slots = beacon.slot_clock().await?;
        config.ticks.validate(&slots)?;
        let proposal_margin_ms = match (config.proposal_margin_ms, &config.proposer) {
            (0, Some(_)) => {
                let block_ms = match &config.ticks {
                    TickSchedule::Uniform { block_time_ms } => *block_time_ms,
                    TickSchedule::WithinSlot { .. } => 1_000,
                };
                // but never so much that a one-slot window has no second left to build in
                (slots.slot_secs * 1000 / 3 + block_ms)
                    .min((slots.slot_secs * 1000).saturating_sub(1000))
            }
            (m, _) => m,
        };
        std::fs::create_dir_all(&config.datadir).map_err(|e| RuntimeError::Db(e.to_string()))?;
        let signer = match config.signer {
            Some(key) => {
                let protection = ProtectionDb::open(&config.datadir.join("protection.redb"))
                    .map_err(|e| RuntimeError::Db(e.to_string()))?;
                Some(Arc::new(CommitmentSigner::new(
                    key,
                    Arc::new(protection),
                    l1.chain_id(),
                    config.task_manager,
                )))
            }
            None => None,
        };
        let evidence = Arc::new(
            EvidenceDb::open(&config.datadir.join("evidence.redb"))
                .map_err(|e| RuntimeError::Db(e.to_string()))?,
        );
        let (p2p, events) =
            P2p::spawn(config.p2p).await.map_err(|e| RuntimeError::P2p(e.to_string()))?;
        let schedule = Arc::new(LookaheadSchedule::new(slots));
        let anchor = Arc::new(L1Anchor::new(config.anchor_lag));
        let metrics = Arc::new(Metrics::default());
        let service = Arc::new(PreconfService::new(ServiceParts {
            coinbase: config.coinbase,
            metrics: metrics.clone(),
            evidence: Some(evidence.clone()),
            skip_empty: config.skip_empty,
            handover_grace_ms: config.handover_grace_ms,
            proposal_margin_ms,
            ..ServiceParts::for_node(
                node,
                p2p.clone(),
                signer,
                schedule.clone(),
                wire::preconf_domain(l1.chain_id(), config.task_manager),
                anchor.clone(),
            )
        }));
        service.restore_signed().await.map_err(|e| RuntimeError::Db(e.to_string()))?;
        let mut tasks = vec![
            tokio::spawn(service.clone().run_follower(events)),
            tokio::spawn(service.clone().run_tx_forwarder()),
        ];
        let sampler = service.clone();
        tasks.push(tokio::spawn(async move {
            loop {
                sampler.sample_gauges().await;
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }));
        let metrics_addr = match config.metrics_addr {
            Some(addr) => {
                let (bound, task) =
                    metrics::serve(metrics.clone(), addr).await.map_err(RuntimeError::Metrics)?;
                tasks.push(task);
                Some(bound)
            }
            None => None,
        };
        let lookahead = L1Lookahead {
            l1,
            beacon,
            registry: config.registry,
            task_manager: config.task_manager,
        };
        let reconciler = config.inbox.map(|inbox| {
            Arc::new(
                Reconciler::new(lookahead.l1.clone(), inbox, 0, Some(evidence.clone()))
                    .with_beacon(lookahead.beacon.clone(), slots),
            )
        });
        let mut tx_config = config.tx;
        if tx_config.resubmit_after.is_zero() {
            tx_config.resubmit_after = Duration::from_secs(slots.slot_secs);
        }
        if config.proposer.is_some() && config.batch_data != crate::batch::DataChoice::Calldata {
            // the KZG trusted setup loads on first use: not inside a proposal's margin
            tokio::task::spawn_blocking(|| {
                alloy::eips::eip4844::env_settings::EnvKzgSettings::Default.get();
            });
        }
        let proposer = config.proposer.map(|(key, inbox)| {
            let txs = Arc::new(TxManager::new(lookahead.l1.clone(), key, tx_config));
            let bolt = config.bolt_rpc.as_deref().map(taiko_l1::bolt::BoltClient::new);
            Proposer {
                data: config.batch_data,
                ..Proposer::new(lookahead.clone(), txs, inbox, bolt)
            }
        });
        Ok(Self {
            service,
            proposer,
            reconciler,
            schedule,
            lookahead,
            anchor,
            slots,
            ticks: config.ticks,
            p2p,
            metrics_addr,
            metrics,
            evidence,
            tasks,
        })
    }

    /// Proposes our unproposed blocks into the window ending at `window_end` (when a proposer
    /// is configured).
    pub async fn propose_turn(&self, window_end: u64) -> Result<Option<Proposal>, ProposeError> {
        match &self.proposer {
            Some(p) => p.propose_turn(&self.service, &self.schedule, window_end).await,
            None => Ok(None),
        }
    }

    /// Proposes the turn ending at `window_end` as the node does: confirmed on L1, retried
    /// while the L1 cannot be reached, until the window is over by `clock`.
    pub async fn propose_in_window(
        &self,
        window_end: u64,
        clock: &dyn Clock,
    ) -> Result<Option<(Proposal, Vec<taiko_l1::txmgr::Mined>)>, ProposeError> {
        match &self.proposer {
            Some(p) => p.propose_in_window(&self.service, &self.schedule, window_end, clock).await,
            None => Ok(None),
        }
    }

    /// Halts preconfirming when the proposer account cannot pay for a turn's proposal at
    /// today's fees, and resumes when it can (a no-op without a proposer).
    pub async fn check_funds(&self) -> Result<(), L1Error> {
        check_funds(self.proposer.as_ref(), &self.service).await
    }

    /// Reads new inbox batches: matching ones make their blocks `safe` (and `finalized` once
    /// final on L1).
    pub async fn reconcile(&self) -> Result<ReconcileReport, L1Error> {
        match &self.reconciler {
            Some(r) => r.poll(&self.service).await,
            None => Ok(ReconcileReport::default()),
        }
    }

    /// Refreshes the lookahead and the anchor from the L1 for time `now` (seconds).
    pub async fn refresh(&self, now: u64) -> Result<(), L1Error> {
        self.refresher().refresh(now).await
    }

    fn refresher(&self) -> RefreshHandle {
        RefreshHandle {
            proposer: self.proposer.clone(),
            service: self.service.clone(),
            lookahead: self.lookahead.clone(),
            schedule: self.schedule.clone(),
            anchor: self.anchor.clone(),
            metrics: self.metrics.clone(),
        }
    }

    /// Runs the duties on `clock`: an L1 refresh shortly after each slot starts, and a tick
    /// loop. Both stop when the runtime is dropped.
    pub fn spawn_duties(&mut self, clock: Arc<dyn Clock>) {
        let me = self.refresher();
        let reconciler = self.reconciler.clone();
        let service = self.service.clone();
        let slots = self.slots;
        let c = clock.clone();
        self.tasks.push(tokio::spawn(async move {
            loop {
                let now = c.now_ms();
                if let Some(r) = &reconciler
                    && let Err(e) = r.poll(&service).await
                {
                    tracing::warn!(target: "preconf::reconcile", %e, "reading the inbox failed");
                }
                if me.refresh(now / 1000).await.is_err() {
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
                // the next slot's block is out ~200 ms after the slot starts
                let next_slot_ms = slots.slot_time(slots.slot_at(now / 1000) + 1) * 1000 + 200;
                tokio::time::sleep(Duration::from_millis(next_slot_ms.saturating_sub(c.now_ms())))
                    .await;
            }
        }));
        let proposer = self.proposer.clone().map(|p| (p, self.schedule.clone()));
        self.tasks.push(tokio::spawn(run_ticks(
            self.service.clone(),
            self.ticks.clone(),
            slots,
            clock,
            proposer,
        )));
    }
}

/// Sleeps until `at_ms` on `clock`. tokio's timer rounds up to the next millisecond and fires
/// late when the workers are busy, which a tick would pass on to every transaction of its
/// block; so the last stretch (up to [`TICK_SPIN`]) is waited with the OS's finer sleep on a
/// blocking thread.
async fn sleep_until_ms(clock: &dyn Clock, at_ms: u64) {
    let at_us = at_ms.saturating_mul(1000);
    let coarse = at_us.saturating_sub(clock.now_us()).saturating_sub(TICK_SPIN.as_micros() as u64);
    if coarse > 0 {
        tokio::time::sleep(Duration::from_micros(coarse)).await;
    }
    let rest = at_us.saturating_sub(clock.now_us());
    if rest > 0 {
        let _ =
            tokio::task::spawn_blocking(move || std::thread::sleep(Duration::from_micros(rest)))
                .await;
    }
}

/// How much of the wait for a tick [`sleep_until_ms`] leaves to the OS's sleep.
const TICK_SPIN: Duration = Duration::from_millis(3);

/// Calls [`PreconfService::on_tick`] at every tick of `ticks` on `clock`, forever; while the
/// previous preconfer's handover is awaited, retries every 25 ms until the next tick. After the
/// last block of a turn, `proposer` (if any) proposes the turn.
pub async fn run_ticks(
    service: Arc<PreconfService>,
    ticks: TickSchedule,
    slots: SlotClock,
    clock: Arc<dyn Clock>,
    proposer: Option<(Proposer, Arc<LookaheadSchedule>)>,
) {
    loop {
        let tick = ticks.next_tick_ms(&slots, clock.now_ms());
        let after = ticks.next_tick_ms(&slots, tick);
        service.prepare(tick, after - tick).await;
        sleep_until_ms(clock.as_ref(), tick).await;
        loop {
            match service.on_tick(tick, after).await {
                Ok(TickOutcome::AwaitingHandover) if clock.now_ms() + 25 < after => {
                    tokio::time::sleep(Duration::from_millis(25)).await;
                }
                Ok(TickOutcome::Preconfirmed { end_of_sequencing: true, .. }) => {
                    if let Some((p, schedule)) = &proposer
                        && let Some((_, window_end)) = schedule.window_at(tick / 1000)
                    {
                        let (p, schedule, service) = (p.clone(), schedule.clone(), service.clone());
                        let clock = clock.clone();
                        tokio::spawn(async move {
                            match p
                                .propose_in_window(&service, &schedule, window_end, clock.as_ref())
                                .await
                            {
                                Ok(Some((prop, mined))) => {
                                    let m = mined.last().expect("the proposal");
                                    tracing::info!(target: "preconf::proposer", first = prop.batch.first, last = prop.batch.last, l1_block = m.block_number, index = m.index, gas = m.gas_used, via_bolt = prop.via_bolt, bumps = m.bumps, "turn confirmed on L1");
                                }
                                Ok(None) => {}
                                Err(e) => {
                                    tracing::error!(target: "preconf::proposer", %e, window_end, "the turn could not be proposed in its window");
                                }
                            }
                        });
                    }
                    break;
                }
                Ok(_) => break,
                Err(e) => {
                    tracing::error!(target: "preconf::runtime", %e, tick, "tick failed");
                    break;
                }
            }
        }
    }
}

/// Halts or resumes `service` by whether `proposer`'s account can pay for a turn.
async fn check_funds(proposer: Option<&Proposer>, service: &PreconfService) -> Result<(), L1Error> {
    let Some(p) = proposer else { return Ok(()) };
    let (ok, balance, needed) = p.can_pay().await?;
    service.halt((!ok).then(|| {
        format!(
            "the proposer account {} holds {balance} wei; proposing a turn may cost {needed} wei: fund it to resume",
            p.txs.address()
        )
    }));
    Ok(())
}

/// What the L1 task needs (cloned out of the runtime).
struct RefreshHandle {
    proposer: Option<Proposer>,
    service: Arc<PreconfService>,
    lookahead: L1Lookahead,
    schedule: Arc<LookaheadSchedule>,
    anchor: Arc<L1Anchor>,
    metrics: Arc<Metrics>,
}

impl RefreshHandle {
    async fn refresh(&self, now: u64) -> Result<(), L1Error> {
        let r = async {
            self.lookahead.refresh(&self.schedule, now).await?;
            self.anchor.refresh(&self.lookahead.l1).await?;
            check_funds(self.proposer.as_ref(), &self.service).await
        }
        .await;
        if let Err(e) = &r {
            self.metrics.l1_errors.inc();
            tracing::warn!(target: "preconf::runtime", %e, "L1 refresh failed; keeping the last lookahead and anchor");
        }
        r
    }
}
