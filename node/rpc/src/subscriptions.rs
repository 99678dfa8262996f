//! Polling filters (`eth_newFilter`, `eth_newBlockFilter`, `eth_newPendingTransactionFilter`,
//! `eth_getFilterChanges`, `eth_getFilterLogs`, `eth_uninstallFilter`) and WebSocket
//! subscriptions (`eth_subscribe` to `newHeads`, `logs`, `newPendingTransactions`).

use crate::{RpcContext, convert, eth, internal, invalid_params};
use alloy::{
    primitives::{B256, U64},
    rpc::types::eth::Filter,
};
use jsonrpsee::{
    PendingSubscriptionSink, RpcModule, SubscriptionMessage,
    core::{RegisterMethodError, SubscriptionResult},
    types::{ErrorObjectOwned, Params},
};
use serde_json::Value;
use std::sync::Mutex;
use std::{
    collections::HashMap,
    sync::atomic::{AtomicU64, Ordering},
    time::{Duration, Instant},
};
use tokio::sync::broadcast;

/// Filters unused for this long are dropped.
const FILTER_TIMEOUT: Duration = Duration::from_secs(300);

enum FilterKind {
    Blocks { next: u64 },
    Logs { filter: Box<Filter>, next: u64 },
    Pending { rx: broadcast::Receiver<B256> },
}

struct Installed {
    kind: FilterKind,
    last_poll: Instant,
}

/// Installed polling filters.
#[derive(Default)]
pub(crate) struct Filters {
    next_id: AtomicU64,
    map: Mutex<HashMap<u64, Installed>>,
}

impl Filters {
    fn install(&self, kind: FilterKind) -> U64 {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed) + 1;
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        map.retain(|_, f| f.last_poll.elapsed() < FILTER_TIMEOUT);
        map.insert(id, Installed { kind, last_poll: Instant::now() });
        U64::from(id)
    }
}

type RpcResult<T> = Result<T, ErrorObjectOwned>;

fn latest(c: &RpcContext) -> RpcResult<u64> {
    Ok(c.store.heads().map_err(internal)?.latest.number)
}

fn block_hashes(c: &RpcContext, from: u64, to: u64) -> RpcResult<Vec<B256>> {
    (from..=to)
        .filter_map(|n| c.store.canonical_hash(n).transpose())
        .collect::<Result<_, _>>()
        .map_err(internal)
}

pub(crate) fn register(m: &mut RpcModule<RpcContext>) -> Result<(), RegisterMethodError> {
    m.register_blocking_method("eth_newBlockFilter", |_p: Params, c, _| -> RpcResult<U64> {
        Ok(c.filters.install(FilterKind::Blocks { next: latest(&c)? + 1 }))
    })?;
    m.register_blocking_method(
        "eth_newPendingTransactionFilter",
        |_p: Params, c, _| -> RpcResult<U64> {
            Ok(c.filters
                .install(FilterKind::Pending { rx: c.pool.new_pending_transactions_listener() }))
        },
    )?;
    m.register_blocking_method("eth_newFilter", |p: Params, c, _| -> RpcResult<U64> {
        let (filter,): (Filter,) = p.parse()?;
        let (from, _) = eth::filter_range(&c, &filter)?;
        let head = latest(&c)?;
        // Without an explicit start, a filter reports blocks that arrive after it was installed.
        let explicit_start = matches!(
            filter.block_option,
            alloy::rpc::types::eth::FilterBlockOption::Range { from_block: Some(_), .. }
                | alloy::rpc::types::eth::FilterBlockOption::AtBlockHash(_)
        );
        let next = if explicit_start { from.min(head + 1) } else { head + 1 };
        Ok(c.filters.install(FilterKind::Logs { filter: Box::new(filter), next }))
    })?;
    m.register_blocking_method("eth_uninstallFilter", |p: Params, c, _| -> RpcResult<bool> {
        let (id,): (U64,) = p.parse()?;
        Ok(c.filters.map.lock().unwrap_or_else(|e| e.into_inner()).remove(&id.to()).is_some())
    })?;
    m.register_blocking_method("eth_getFilterChanges", |p: Params, c, _| -> RpcResult<Value> {
        let (id,): (U64,) = p.parse()?;
        let head = latest(&c)?;
        let mut map = c.filters.map.lock().unwrap_or_else(|e| e.into_inner());
        let f = map.get_mut(&id.to()).ok_or_else(|| invalid_params("filter not found"))?;
        f.last_poll = Instant::now();
        match &mut f.kind {
            FilterKind::Blocks { next } => {
                let out = if *next <= head { block_hashes(&c, *next, head)? } else { vec![] };
                *next = head + 1;
                serde_json::to_value(out).map_err(internal)
            }
            FilterKind::Logs { filter, next } => {
                let to = head.min(*next + c.config.max_logs_range - 1);
                let out =
                    if *next <= to { eth::logs_in_range(&c, *next, to, filter)? } else { vec![] };
                *next = to + 1;
                serde_json::to_value(out).map_err(internal)
            }
            FilterKind::Pending { rx } => {
                let mut out = Vec::new();
                loop {
                    match rx.try_recv() {
                        Ok(h) => out.push(h),
                        Err(broadcast::error::TryRecvError::Lagged(_)) => continue,
                        Err(_) => break,
                    }
                }
                serde_json::to_value(out).map_err(internal)
            }
        }
    })?;
    m.register_blocking_method("eth_getFilterLogs", |p: Params, c, _| -> RpcResult<Value> {
        let (id,): (U64,) = p.parse()?;
        let filter = {
            let map = c.filters.map.lock().unwrap_or_else(|e| e.into_inner());
            match map.get(&id.to()).map(|f| &f.kind) {
                Some(FilterKind::Logs { filter, .. }) => filter.clone(),
                Some(_) => return Err(invalid_params("not a log filter")),
                None => return Err(invalid_params("filter not found")),
            }
        };
        let (from, to) = eth::filter_range(&c, &filter)?;
        serde_json::to_value(eth::logs_in_range(&c, from, to, &filter)?).map_err(internal)
    })?;

    m.register_subscription(
        "eth_subscribe",
        "eth_subscription",
        "eth_unsubscribe",
        |p, pending, c, _| async move {
            let result: SubscriptionResult = async {
                let mut s = p.sequence();
                let kind: String = match s.next() {
                    Ok(k) => k,
                    Err(e) => {
                        pending.reject(e).await;
                        return Ok(());
                    }
                };
                match kind.as_str() {
                    "newHeads" => follow_heads(pending, c, None).await,
                    "logs" => {
                        let filter: Filter = match s.optional_next() {
                            Ok(f) => f.unwrap_or_default(),
                            Err(e) => {
                                pending.reject(e).await;
                                return Ok(());
                            }
                        };
                        follow_heads(pending, c, Some(filter)).await
                    }
                    "newPendingTransactions" => {
                        let mut rx = c.pool.new_pending_transactions_listener();
                        let sink = pending.accept().await?;
                        loop {
                            tokio::select! {
                                _ = sink.closed() => return Ok(()),
                                h = rx.recv() => match h {
                                    Ok(h) => sink.send(message(&h)?).await?,
                                    Err(broadcast::error::RecvError::Lagged(_)) => continue,
                                    Err(_) => return Ok(()),
                                },
                            }
                        }
                    }
                    other => {
                        pending
                            .reject(invalid_params(format!("unknown subscription {other}")))
                            .await;
                        Ok(())
                    }
                }
            }
            .await;
            result
        },
    )?;
    Ok(())
}

fn message<T: serde::Serialize>(v: &T) -> Result<SubscriptionMessage, serde_json::Error> {
    Ok(serde_json::value::to_raw_value(v)?.into())
}

/// Sends each new canonical head (or, with a filter, the logs of each new block).
async fn follow_heads(
    pending: PendingSubscriptionSink,
    c: std::sync::Arc<RpcContext>,
    logs: Option<Filter>,
) -> SubscriptionResult {
    let mut heads = c.heads.clone();
    let mut sent = heads.borrow_and_update().latest;
    let sink = pending.accept().await?;
    loop {
        tokio::select! {
            _ = sink.closed() => return Ok(()),
            changed = heads.changed() => {
                if changed.is_err() {
                    return Ok(());
                }
                let now = heads.borrow_and_update().latest;
                if now == sent {
                    continue;
                }
                // After a reorg, continue from the fork point's successor.
                let mut from = sent.number + 1;
                if c.store.canonical_hash(sent.number)? != Some(sent.hash) || now.number <= sent.number {
                    from = now.number.min(sent.number).max(1);
                    while from > 1 && c.store.canonical_hash(from - 1)?.is_none() {
                        from -= 1;
                    }
                }
                for n in from..=now.number {
                    let Some(b) = c.store.block_by_number(n)? else { break };
                    match &logs {
                        None => sink.send(message(&convert::rpc_block(&b, false).header)?).await?,
                        Some(f) => {
                            for l in convert::block_logs(&b).into_iter().filter(|l| eth::log_matches(f, l)) {
                                sink.send(message(&l)?).await?;
                            }
                        }
                    }
                }
                sent = now;
            }
        }
    }
}
