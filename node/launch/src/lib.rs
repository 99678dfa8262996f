//! Assembles a running node from its parts: the store, the engine actor, the transaction pool
//! (maintained by an ExEx), the ExEx manager and the JSON-RPC server.
//!
//! [`launch`] returns a [`RunningNode`] with handles to everything. With
//! [`NodeConfig::dev_block_time`] set the node also produces a block from its pool at that
//! interval (like `anvil` or `geth --dev`), for wallets and tests before the preconfirmation
//! extension drives block production.

#![warn(missing_docs, unreachable_pub)]

use alloy::primitives::{Address, B256};
use jsonrpsee::server::ServerHandle;
use std::{net::SocketAddr, path::PathBuf, sync::Arc, time::Duration};
use taiko_chainspec::ChainSpec;
use taiko_engine::{Engine, EngineHandle, ForkchoiceState};
use taiko_evm::{AnchorInput, BlockAttributes, BuildLimits};
use taiko_node_exex::{
    ExExContext, ExExEvent, ExExManager, ExExManagerHandle, NodeComponents, Wal,
};
use taiko_pool::{Pool, PoolConfig};
use taiko_rpc::{RpcConfig, RpcContext};
use taiko_store::{Store, StoreOptions};
use tokio::task::JoinHandle;
use tracing::{info, warn};

/// How to run the node.
#[derive(Debug, Clone)]
pub struct NodeConfig {
    /// Data directory.
    pub datadir: PathBuf,
    /// The chain.
    pub spec: Arc<ChainSpec>,
    /// Store options.
    pub store: StoreOptions,
    /// RPC settings (`None`: no RPC server).
    pub rpc: Option<RpcConfig>,
    /// Produce a block from the pool at this interval (dev mode).
    pub dev_block_time: Option<Duration>,
    /// Fee recipient of dev blocks.
    pub dev_coinbase: Address,
}

/// Errors while launching.
#[derive(Debug, thiserror::Error)]
pub enum LaunchError {
    /// The store failed to open.
    #[error(transparent)]
    Store(#[from] taiko_store::StoreError),
    /// The ExEx log or manager failed.
    #[error(transparent)]
    ExEx(#[from] taiko_node_exex::ExExError),
    /// The engine failed to start.
    #[error(transparent)]
    Engine(#[from] taiko_engine::EngineError),
    /// The RPC server failed to start.
    #[error(transparent)]
    Rpc(#[from] taiko_rpc::RpcError),
    /// I/O.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// The WAL failed to open.
    #[error("ExEx log: {0}")]
    Wal(String),
}

/// Node parts handed to ExExes.
#[derive(Debug, Clone)]
pub struct Components {
    /// The chain store.
    pub store: Arc<Store>,
    /// The pool.
    pub pool: Pool<Store>,
}

impl NodeComponents for Components {
    type Pool = Pool<Store>;
    type Provider = Arc<Store>;
    fn pool(&self) -> &Pool<Store> {
        &self.pool
    }
    fn provider(&self) -> &Arc<Store> {
        &self.store
    }
}

/// A running node.
#[derive(Debug)]
pub struct RunningNode {
    /// The chain.
    pub spec: Arc<ChainSpec>,
    /// The store.
    pub store: Arc<Store>,
    /// The pool.
    pub pool: Pool<Store>,
    /// The engine.
    pub engine: EngineHandle,
    /// The ExEx manager (notify-only handle).
    pub exex: ExExManagerHandle,
    /// The RPC address, when serving.
    pub rpc_addr: Option<SocketAddr>,
    rpc: Option<ServerHandle>,
    tasks: Vec<JoinHandle<()>>,
    exex_task: JoinHandle<Result<(), taiko_node_exex::ExExError>>,
    local_txs: PathBuf,
}

/// The pool's maintenance, installed as an ExEx: every canonical change prunes mined
/// transactions, re-injects reverted ones and refreshes senders and the base fee.
async fn pool_maintenance(
    mut ctx: ExExContext<Components>,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    // The updates run on a thread of their own at background priority, in order: removing a
    // block's thousands of transactions from the pool is not on anyone's latency path (a
    // builder skips a transaction the chain already holds), and on a busy machine it must not
    // take a core from the imports that follow a block. Each height is reported finished after
    // its update.
    let (updates, rx) = std::sync::mpsc::channel::<taiko_node_exex::ExExNotification>();
    let (pool, events) = (ctx.pool().clone(), ctx.events.clone());
    let (failed_tx, mut failed) = tokio::sync::oneshot::channel::<String>();
    std::thread::Builder::new().name("pool-maintenance".into()).spawn(move || {
        taiko_store::background_priority();
        while let Ok(n) = rx.recv() {
            pool.on_notification(&n);
            if let Some(chain) = n.committed_chain()
                && events.send(ExExEvent::FinishedHeight(chain.tip().num_hash())).is_err()
            {
                let _ = failed_tx.send("the ExEx manager stopped".into());
                return;
            }
        }
    })?;
    loop {
        tokio::select! {
            n = ctx.notifications.recv() => {
                // The notification stream ends only when the node shuts down.
                let Some(n) = n else { break };
                if updates.send(n).is_err() {
                    return Err("the pool maintenance thread stopped".into());
                }
            }
            Ok(reason) = &mut failed => return Err(reason.into()),
        }
    }
    std::future::pending::<()>().await;
    Ok(())
}

/// Starts every part of the node.
pub async fn launch(config: NodeConfig) -> Result<RunningNode, LaunchError> {
    std::fs::create_dir_all(&config.datadir)?;
    let spec = config.spec.clone();
    let store =
        Arc::new(Store::open(config.datadir.join("chain.redb"), spec.clone(), config.store)?);
    let heads = store.heads()?;
    let base_fee = store.latest_header()?.base_fee_per_gas.unwrap_or_default();
    let pool = Pool::new(PoolConfig::for_chain(&spec), store.clone(), base_fee);
    let local_txs = config.datadir.join("local-txs.bin");
    pool.load_local(&local_txs)?;
    let wal = Wal::open(config.datadir.join("exex-wal.redb"))
        .map_err(|e| LaunchError::Wal(e.to_string()))?;
    let components = Components { store: store.clone(), pool: pool.clone() };
    let synced = store.clone();
    let mut manager = ExExManager::new(wal, components, heads.latest)
        .log_after(Arc::new(move || synced.wait_synced().map_err(|e| e.to_string())));
    manager
        .install_exex("pool-maintenance", |ctx| async move { Ok(pool_maintenance(ctx)) })
        .await?;
    let exex = manager.handle();
    let (engine, handle) = Engine::new(store.clone(), Some(manager.handle()))?;
    let mut tasks = vec![tokio::spawn(engine.run())];
    let exex_task = tokio::spawn(manager.run());

    let (rpc_addr, rpc) = match &config.rpc {
        Some(rpc) => {
            let ctx = RpcContext::new(
                spec.clone(),
                store.clone(),
                pool.clone(),
                handle.heads(),
                rpc.clone(),
            );
            let (addr, h) = taiko_rpc::start(ctx).await?;
            (Some(addr), Some(h))
        }
        None => (None, None),
    };
    if let Some(every) = config.dev_block_time {
        tasks.push(tokio::spawn(dev_blocks(
            handle.clone(),
            store.clone(),
            pool.clone(),
            spec.clone(),
            every,
            config.dev_coinbase,
        )));
    }
    info!(target: "node", chain_id = spec.chain_id, latest = heads.latest.number, rpc = ?rpc_addr, "node running");
    Ok(RunningNode {
        spec,
        store,
        pool,
        engine: handle,
        exex,
        rpc_addr,
        rpc,
        tasks,
        exex_task,
        local_txs,
    })
}

/// Dev block production: every `every`, a block from the pool's best transactions.
async fn dev_blocks(
    engine: EngineHandle,
    store: Arc<Store>,
    pool: Pool<Store>,
    spec: Arc<ChainSpec>,
    every: Duration,
    coinbase: Address,
) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut l1 = 0u64;
    loop {
        tick.tick().await;
        if pool.size().pending.count == 0 {
            continue;
        }
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs();
        let parent_ts = match store.latest_header() {
            Ok(h) => h.timestamp,
            Err(e) => {
                warn!(target: "node::dev", error = %e, "cannot read the head");
                continue;
            }
        };
        l1 += 1;
        let attrs = BlockAttributes {
            timestamp: now.max(parent_ts),
            coinbase,
            anchor: AnchorInput {
                l1_block_id: l1,
                l1_block_hash: B256::with_last_byte(1),
                l1_state_root: B256::with_last_byte(2),
            },
            ..Default::default()
        };
        match engine
            .build_payload(attrs, Box::new(pool.best_transactions()), BuildLimits::from_spec(&spec))
            .await
        {
            Ok(built) => {
                let hash = built.block.block.hash();
                if let Err(e) = engine
                    .fork_choice_updated(ForkchoiceState { head: hash, ..Default::default() })
                    .await
                {
                    warn!(target: "node::dev", error = %e, "dev block not made canonical");
                }
            }
            Err(e) => warn!(target: "node::dev", error = %e, "dev block not built"),
        }
    }
}

impl RunningNode {
    /// Stops the node: RPC first, then block production and the engine; saves local
    /// transactions.
    pub async fn shutdown(self) -> Result<(), LaunchError> {
        if let Some(rpc) = self.rpc {
            let _ = rpc.stop();
            rpc.stopped().await;
        }
        for t in self.tasks {
            t.abort();
        }
        self.exex_task.abort();
        self.pool.save_local(&self.local_txs)?;
        info!(target: "node", "stopped");
        Ok(())
    }

    /// Resolves when an ExEx exits (a fatal error).
    pub async fn exex_failed(&mut self) -> taiko_node_exex::ExExError {
        match (&mut self.exex_task).await {
            Ok(Err(e)) => e,
            Ok(Ok(())) => taiko_node_exex::ExExError::Exited {
                id: "manager".into(),
                reason: "stopped".into(),
            },
            Err(e) => {
                taiko_node_exex::ExExError::Exited { id: "manager".into(), reason: e.to_string() }
            }
        }
    }
}
