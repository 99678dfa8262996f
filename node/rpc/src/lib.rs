//! The node's JSON-RPC server: HTTP and WebSocket on one port (jsonrpsee), with the `eth_`,
//! `net_`, `web3_`, `txpool_` and `preconf_` namespaces.
//!
//! # Design
//!
//! Every request reads the [`Store`] directly: heads and blocks from its tables, state through a
//! fresh read snapshot, so a preconfirmed block is visible as `latest` the moment the engine
//! commits it, with no cache to invalidate. `pending` is the same block as `latest` (there is no
//! separate pending block: the next preconfirmation *is* the pending state), except that
//! `eth_getTransactionCount(…, "pending")` counts the sender's pending pool transactions.
//! `safe` is the newest block proposed on L1 and `finalized` the newest final one.
//!
//! State is served at `latest` and at older canonical blocks within the store's revert window
//! (the revert records laid over the flat state); older state is refused with a clear error
//! rather than answered wrongly. Block data (headers, transactions, receipts, logs) is served for
//! every canonical block.
//!
//! Errors follow what wallets expect: `-32602` for bad parameters, code `3` with the revert data
//! for a reverted `eth_call` / `eth_estimateGas`, and the pool's rejections as geth's strings
//! (`nonce too low`, `replacement transaction underpriced`, …) under `-32000`.

#![warn(missing_docs, unreachable_pub)]

mod call;
mod convert;
mod eth;
mod subscriptions;

use jsonrpsee::{
    RpcModule,
    server::{ServerBuilder, ServerConfig, ServerHandle},
    types::ErrorObjectOwned,
};
use std::{net::SocketAddr, sync::Arc};
use taiko_chainspec::ChainSpec;
use taiko_pool::Pool;
use taiko_store::{Heads, Store};
use tokio::sync::watch;
use tracing::info;

/// Server settings.
#[derive(Debug, Clone)]
pub struct RpcConfig {
    /// Listen address (HTTP and WebSocket).
    pub addr: SocketAddr,
    /// Largest request body, bytes.
    pub max_request_bytes: u32,
    /// Largest response body, bytes.
    pub max_response_bytes: u32,
    /// Most calls in one batch.
    pub max_batch: u32,
    /// Most blocks one `eth_getLogs` / log filter may span.
    pub max_logs_range: u64,
    /// Most concurrent connections.
    pub max_connections: u32,
    /// `Access-Control-Allow-Origin` value (`*` or a list), none when `None`.
    pub cors: Option<String>,
}

impl Default for RpcConfig {
    fn default() -> Self {
        Self {
            addr: ([127, 0, 0, 1], 8545).into(),
            max_request_bytes: 10 * 1024 * 1024,
            max_response_bytes: 100 * 1024 * 1024,
            max_batch: 100,
            max_logs_range: 10_000,
            max_connections: 500,
            cors: Some("*".into()),
        }
    }
}

/// What the RPC methods read.
#[derive(Clone)]
pub struct RpcContext {
    /// The chain.
    pub spec: Arc<ChainSpec>,
    /// The chain store.
    pub store: Arc<Store>,
    /// The transaction pool.
    pub pool: Pool<Store>,
    /// Head changes (from the engine), for `newHeads` and `logs` subscriptions.
    pub heads: watch::Receiver<Heads>,
    /// Settings.
    pub config: RpcConfig,
    pub(crate) filters: Arc<subscriptions::Filters>,
}

impl std::fmt::Debug for RpcContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RpcContext").field("config", &self.config).finish()
    }
}

impl RpcContext {
    /// A context over the node's parts.
    pub fn new(
        spec: Arc<ChainSpec>,
        store: Arc<Store>,
        pool: Pool<Store>,
        heads: watch::Receiver<Heads>,
        config: RpcConfig,
    ) -> Self {
        Self { spec, store, pool, heads, config, filters: Default::default() }
    }
}

/// The server could not start.
#[derive(Debug, thiserror::Error)]
pub enum RpcError {
    /// Binding or building failed.
    #[error("starting the RPC server: {0}")]
    Start(String),
}

/// All namespaces in one module.
pub fn module(ctx: RpcContext) -> Result<RpcModule<RpcContext>, RpcError> {
    let mut m = RpcModule::new(ctx);
    eth::register(&mut m).map_err(|e| RpcError::Start(e.to_string()))?;
    subscriptions::register(&mut m).map_err(|e| RpcError::Start(e.to_string()))?;
    Ok(m)
}

/// Starts the server; returns the bound address and a handle that stops it.
pub async fn start(ctx: RpcContext) -> Result<(SocketAddr, ServerHandle), RpcError> {
    let cfg = ctx.config.clone();
    let server_cfg = ServerConfig::builder()
        .max_request_body_size(cfg.max_request_bytes)
        .max_response_body_size(cfg.max_response_bytes)
        .max_connections(cfg.max_connections)
        .set_batch_request_config(jsonrpsee::server::BatchRequestConfig::Limit(cfg.max_batch))
        .set_id_provider(HexIds::default())
        .build();
    let cors = match &cfg.cors {
        Some(origins) if origins == "*" => tower_http::cors::CorsLayer::permissive(),
        Some(origins) => {
            let list: Vec<_> = origins.split(',').filter_map(|o| o.trim().parse().ok()).collect();
            tower_http::cors::CorsLayer::new()
                .allow_origin(list)
                .allow_methods([http::Method::POST, http::Method::GET])
                .allow_headers([http::header::CONTENT_TYPE])
        }
        None => tower_http::cors::CorsLayer::new(),
    };
    let middleware = tower::ServiceBuilder::new().layer(cors);
    let server = ServerBuilder::with_config(server_cfg)
        .set_http_middleware(middleware)
        .build(cfg.addr)
        .await
        .map_err(|e| RpcError::Start(e.to_string()))?;
    let addr = server.local_addr().map_err(|e| RpcError::Start(e.to_string()))?;
    let handle = server.start(module(ctx)?);
    info!(target: "rpc", %addr, "JSON-RPC listening (HTTP and WebSocket)");
    Ok((addr, handle))
}

/// Subscription ids as Ethereum clients expect them: `0x`-prefixed hex strings.
#[derive(Debug)]
struct HexIds {
    next: std::sync::atomic::AtomicU64,
    salt: u64,
}

impl Default for HexIds {
    fn default() -> Self {
        use std::hash::{BuildHasher, RandomState};
        Self {
            next: Default::default(),
            salt: RandomState::new().hash_one(std::time::SystemTime::now()),
        }
    }
}

impl jsonrpsee::server::IdProvider for HexIds {
    fn next_id(&self) -> jsonrpsee::types::SubscriptionId<'static> {
        let n = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        jsonrpsee::types::SubscriptionId::Str(format!("0x{:016x}{:016x}", self.salt, n).into())
    }
}

pub(crate) fn invalid_params(msg: impl std::fmt::Display) -> ErrorObjectOwned {
    ErrorObjectOwned::owned(
        jsonrpsee::types::error::INVALID_PARAMS_CODE,
        msg.to_string(),
        None::<()>,
    )
}

pub(crate) fn internal(msg: impl std::fmt::Display) -> ErrorObjectOwned {
    ErrorObjectOwned::owned(
        jsonrpsee::types::error::INTERNAL_ERROR_CODE,
        msg.to_string(),
        None::<()>,
    )
}

pub(crate) fn server_error(msg: impl std::fmt::Display) -> ErrorObjectOwned {
    ErrorObjectOwned::owned(-32000, msg.to_string(), None::<()>)
}
