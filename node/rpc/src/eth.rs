//! `eth_`, `net_`, `web3_`, `txpool_` and `preconf_` methods.

use crate::{
    RpcContext,
    call::{self, CallError},
    convert, internal, invalid_params, server_error,
};
use alloy::{
    eips::{BlockId, BlockNumberOrTag},
    primitives::{Address, B256, Bytes, U64, U256},
    rpc::types::eth::{
        AccessList, AccessListItem, AccessListResult, Filter, FilterBlockOption, Log,
        TransactionRequest, state::StateOverride,
    },
};
use jsonrpsee::{
    RpcModule,
    core::RegisterMethodError,
    types::{ErrorObjectOwned, Params},
};
use serde_json::{Value, json};
use taiko_pool::{SubPool, TransactionOrigin};
use taiko_store::ExecutedBlock;

type RpcResult<T> = Result<T, ErrorObjectOwned>;

fn store_err(e: impl std::fmt::Display) -> ErrorObjectOwned {
    internal(e)
}

/// Resolves a block id to a canonical number (`None`: no such block).
pub(crate) fn resolve(ctx: &RpcContext, id: BlockId) -> RpcResult<Option<u64>> {
    let heads = ctx.store.heads().map_err(store_err)?;
    Ok(match id {
        BlockId::Number(tag) => match tag {
            BlockNumberOrTag::Latest | BlockNumberOrTag::Pending => Some(heads.latest.number),
            BlockNumberOrTag::Safe => Some(heads.safe.number),
            BlockNumberOrTag::Finalized => Some(heads.finalized.number),
            BlockNumberOrTag::Earliest => Some(0),
            BlockNumberOrTag::Number(n) => (n <= heads.latest.number).then_some(n),
        },
        BlockId::Hash(h) => ctx.store.block_number(h.block_hash).map_err(store_err)?,
    })
}

fn block(ctx: &RpcContext, number: u64) -> RpcResult<Option<ExecutedBlock>> {
    ctx.store.block_by_number(number).map_err(store_err)
}

/// The state snapshot for a block id: `latest` (and `pending`), or an older canonical block
/// within the store's revert window.
fn state_at(
    ctx: &RpcContext,
    id: Option<BlockId>,
) -> RpcResult<(taiko_store::StateProvider, alloy::consensus::Header)> {
    let id = id.unwrap_or(BlockId::Number(BlockNumberOrTag::Latest));
    let state =
        if matches!(id, BlockId::Number(BlockNumberOrTag::Latest | BlockNumberOrTag::Pending)) {
            ctx.store.state()
        } else {
            match resolve(ctx, id)? {
                Some(n) => ctx.store.state_at(n),
                None => return Err(server_error("header not found")),
            }
        };
    let state = state.map_err(|e| match e {
        e @ taiko_store::StoreError::StateUnavailable { .. } => server_error(e),
        e => internal(e),
    })?;
    let header = state.header().clone();
    Ok((state, header))
}

fn call_error(e: CallError) -> ErrorObjectOwned {
    match e {
        CallError::Revert(data) => {
            let reason = alloy::sol_types::decode_revert_reason(&data)
                .map(|r| format!("execution reverted: {r}"))
                .unwrap_or_else(|| "execution reverted".into());
            ErrorObjectOwned::owned(3, reason, Some(data))
        }
        CallError::Halt(h) => server_error(format!("execution halted: {h:?}")),
        CallError::Invalid(m) => server_error(m),
    }
}

fn block_number_of(v: Option<BlockNumberOrTag>) -> BlockId {
    BlockId::Number(v.unwrap_or(BlockNumberOrTag::Latest))
}

/// Logs of the canonical blocks `from..=to` matching `filter`.
pub(crate) fn logs_in_range(
    ctx: &RpcContext,
    from: u64,
    to: u64,
    filter: &Filter,
) -> RpcResult<Vec<Log>> {
    let mut out = Vec::new();
    for n in from..=to {
        let Some(b) = block(ctx, n)? else { break };
        if !filter_may_match(filter, &b) {
            continue;
        }
        out.extend(convert::block_logs(&b).into_iter().filter(|l| log_matches(filter, l)));
    }
    Ok(out)
}

fn filter_may_match(filter: &Filter, b: &ExecutedBlock) -> bool {
    let bloom = b.block.header().logs_bloom;
    filter.address.is_empty()
        || filter
            .address
            .iter()
            .any(|a| bloom.contains_input(alloy::primitives::BloomInput::Raw(a.as_slice())))
}

pub(crate) fn log_matches(filter: &Filter, l: &Log) -> bool {
    if !filter.address.is_empty() && !filter.address.matches(&l.address()) {
        return false;
    }
    for (i, topic) in filter.topics.iter().enumerate() {
        if topic.is_empty() {
            continue;
        }
        match l.topics().get(i) {
            Some(t) if topic.matches(t) => {}
            _ => return false,
        }
    }
    true
}

/// The block range of a log filter, checked against the limit.
pub(crate) fn filter_range(ctx: &RpcContext, filter: &Filter) -> RpcResult<(u64, u64)> {
    let (from, to) = match filter.block_option {
        FilterBlockOption::AtBlockHash(h) => {
            let n = ctx
                .store
                .block_number(h)
                .map_err(store_err)?
                .ok_or_else(|| invalid_params("unknown block hash"))?;
            (n, n)
        }
        FilterBlockOption::Range { from_block, to_block } => {
            let from = resolve(ctx, block_number_of(from_block))?.unwrap_or(u64::MAX);
            let latest = ctx.store.heads().map_err(store_err)?.latest.number;
            let to = match to_block {
                Some(BlockNumberOrTag::Number(n)) => n.min(latest),
                other => resolve(ctx, block_number_of(other))?.unwrap_or(latest),
            };
            (from, to)
        }
    };
    if from > to {
        return Ok((from, from.saturating_sub(1)));
    }
    if to - from + 1 > ctx.config.max_logs_range {
        return Err(invalid_params(format!(
            "query spans {} blocks, the limit is {}",
            to - from + 1,
            ctx.config.max_logs_range
        )));
    }
    Ok((from, to))
}

fn fee_history(
    ctx: &RpcContext,
    count: u64,
    newest: BlockNumberOrTag,
    percentiles: Option<Vec<f64>>,
) -> RpcResult<Value> {
    let newest =
        resolve(ctx, BlockId::Number(newest))?.ok_or_else(|| invalid_params("unknown block"))?;
    let count = count.clamp(1, 1024).min(newest + 1);
    let oldest = newest + 1 - count;
    let mut base_fees = Vec::new();
    let mut ratios = Vec::new();
    let mut rewards = Vec::new();
    for n in oldest..=newest {
        let b = block(ctx, n)?.ok_or_else(|| internal("missing block"))?;
        let h = b.block.header();
        base_fees.push(U256::from(h.base_fee_per_gas.unwrap_or_default()));
        ratios.push(h.gas_used as f64 / h.gas_limit.max(1) as f64);
        if let Some(ps) = &percentiles {
            let base = h.base_fee_per_gas.unwrap_or_default();
            let mut tips: Vec<(u128, u64)> = (0..b.block.transactions().len())
                .skip(1)
                .map(|i| {
                    let r = convert::rpc_receipt(&b, i);
                    let tip = alloy::consensus::Transaction::effective_tip_per_gas(
                        &b.block.transactions()[i],
                        base,
                    )
                    .unwrap_or(0);
                    (tip, r.gas_used)
                })
                .collect();
            tips.sort();
            let total: u64 = tips.iter().map(|t| t.1).sum();
            rewards.push(
                ps.iter()
                    .map(|p| {
                        if tips.is_empty() {
                            return U256::ZERO;
                        }
                        let threshold = (total as f64 * p / 100.0) as u64;
                        let mut acc = 0;
                        for (tip, gas) in &tips {
                            acc += gas;
                            if acc >= threshold {
                                return U256::from(*tip);
                            }
                        }
                        U256::from(tips.last().map(|t| t.0).unwrap_or(0))
                    })
                    .collect::<Vec<_>>(),
            );
        }
    }
    // The next block's base fee: the Taiko formula needs the next timestamp; repeat the newest.
    base_fees.push(*base_fees.last().expect("at least one block"));
    let mut out = json!({
        "oldestBlock": U64::from(oldest),
        "baseFeePerGas": base_fees,
        "gasUsedRatio": ratios,
        "baseFeePerBlobGas": vec![U256::ZERO; count as usize + 1],
        "blobGasUsedRatio": vec![0.0; count as usize],
    });
    if percentiles.is_some() {
        out["reward"] = json!(rewards);
    }
    Ok(out)
}

fn suggested_tip(ctx: &RpcContext) -> RpcResult<u128> {
    // The median tip of the recent blocks' transactions; 0.001 gwei when there are none.
    let latest = ctx.store.heads().map_err(store_err)?.latest.number;
    let mut tips = Vec::new();
    for n in latest.saturating_sub(19)..=latest {
        if let Some(b) = block(ctx, n)? {
            let base = b.block.header().base_fee_per_gas.unwrap_or_default();
            tips.extend(
                b.block
                    .transactions()
                    .iter()
                    .skip(1)
                    .filter_map(|t| alloy::consensus::Transaction::effective_tip_per_gas(t, base)),
            );
        }
    }
    tips.sort();
    Ok(tips.get(tips.len() / 2).copied().unwrap_or(1_000_000))
}

macro_rules! method {
    ($m:expr, $name:literal, |$p:ident, $c:ident| $body:expr) => {
        $m.register_blocking_method(
            $name,
            move |$p: Params, $c: std::sync::Arc<RpcContext>, _| -> RpcResult<Value> {
                let $c: &RpcContext = &$c;
                $body
            },
        )?;
    };
}

fn to_value<T: serde::Serialize>(v: T) -> RpcResult<Value> {
    serde_json::to_value(v).map_err(internal)
}

pub(crate) fn register(m: &mut RpcModule<RpcContext>) -> Result<(), RegisterMethodError> {
    method!(m, "eth_chainId", |_p, c| to_value(U64::from(c.spec.chain_id)));
    method!(m, "net_version", |_p, c| to_value(c.spec.chain_id.to_string()));
    method!(m, "net_listening", |_p, _c| Ok(json!(true)));
    method!(m, "net_peerCount", |_p, _c| to_value(U64::ZERO));
    method!(m, "web3_clientVersion", |_p, _c| to_value(format!(
        "taiko-preconf/v{}",
        env!("CARGO_PKG_VERSION")
    )));
    method!(m, "web3_sha3", |p, _c| {
        let (data,): (Bytes,) = p.parse()?;
        to_value(alloy::primitives::keccak256(&data))
    });
    method!(m, "eth_syncing", |_p, _c| Ok(json!(false)));
    method!(m, "eth_accounts", |_p, _c| Ok(json!([])));
    method!(m, "eth_blockNumber", |_p, c| to_value(U64::from(
        c.store.heads().map_err(store_err)?.latest.number
    )));
    method!(m, "eth_gasPrice", |_p, c| {
        let base = c.store.latest_header().map_err(store_err)?.base_fee_per_gas.unwrap_or_default()
            as u128;
        to_value(U256::from(base + suggested_tip(c)?))
    });
    method!(m, "eth_maxPriorityFeePerGas", |_p, c| to_value(U256::from(suggested_tip(c)?)));
    method!(m, "eth_feeHistory", |p, c| {
        let mut s = p.sequence();
        let count: U64 = s.next()?;
        let newest: BlockNumberOrTag = s.next()?;
        let percentiles: Option<Vec<f64>> = s.optional_next()?;
        fee_history(c, count.to(), newest, percentiles)
    });
    method!(m, "eth_getBlockByNumber", |p, c| {
        let mut s = p.sequence();
        let tag: BlockNumberOrTag = s.next()?;
        let full: bool = s.optional_next()?.unwrap_or(false);
        match resolve(c, BlockId::Number(tag))? {
            Some(n) => to_value(block(c, n)?.map(|b| convert::rpc_block(&b, full))),
            None => Ok(Value::Null),
        }
    });
    method!(m, "eth_getBlockByHash", |p, c| {
        let mut s = p.sequence();
        let hash: B256 = s.next()?;
        let full: bool = s.optional_next()?.unwrap_or(false);
        match c.store.block_number(hash).map_err(store_err)? {
            Some(n) => to_value(block(c, n)?.map(|b| convert::rpc_block(&b, full))),
            None => Ok(Value::Null),
        }
    });
    method!(m, "eth_getBlockTransactionCountByNumber", |p, c| {
        let (tag,): (BlockNumberOrTag,) = p.parse()?;
        match resolve(c, BlockId::Number(tag))? {
            Some(n) => to_value(block(c, n)?.map(|b| U64::from(b.block.transactions().len()))),
            None => Ok(Value::Null),
        }
    });
    method!(m, "eth_getBlockTransactionCountByHash", |p, c| {
        let (hash,): (B256,) = p.parse()?;
        match c.store.block_number(hash).map_err(store_err)? {
            Some(n) => to_value(block(c, n)?.map(|b| U64::from(b.block.transactions().len()))),
            None => Ok(Value::Null),
        }
    });
    method!(m, "eth_getUncleCountByBlockNumber", |_p, _c| to_value(U64::ZERO));
    method!(m, "eth_getUncleCountByBlockHash", |_p, _c| to_value(U64::ZERO));
    method!(m, "eth_getTransactionByHash", |p, c| {
        let (hash,): (B256,) = p.parse()?;
        if let Some(loc) = c.store.transaction_location(hash).map_err(store_err)?
            && let Some(b) = block(c, loc.block_number)?
        {
            return to_value(convert::rpc_transaction(&b, loc.index as usize));
        }
        match c.pool.get(&hash) {
            Some(t) => to_value(convert::rpc_pending_transaction(&t.tx)),
            None => Ok(Value::Null),
        }
    });
    method!(m, "eth_getTransactionByBlockNumberAndIndex", |p, c| {
        let (tag, index): (BlockNumberOrTag, U64) = p.parse()?;
        let Some(n) = resolve(c, BlockId::Number(tag))? else { return Ok(Value::Null) };
        let i: usize = index.to();
        to_value(
            block(c, n)?
                .filter(|b| i < b.block.transactions().len())
                .map(|b| convert::rpc_transaction(&b, i)),
        )
    });
    method!(m, "eth_getTransactionByBlockHashAndIndex", |p, c| {
        let (hash, index): (B256, U64) = p.parse()?;
        let Some(n) = c.store.block_number(hash).map_err(store_err)? else {
            return Ok(Value::Null);
        };
        let i: usize = index.to();
        to_value(
            block(c, n)?
                .filter(|b| i < b.block.transactions().len())
                .map(|b| convert::rpc_transaction(&b, i)),
        )
    });
    method!(m, "eth_getTransactionReceipt", |p, c| {
        let (hash,): (B256,) = p.parse()?;
        let Some(loc) = c.store.transaction_location(hash).map_err(store_err)? else {
            return Ok(Value::Null);
        };
        to_value(block(c, loc.block_number)?.map(|b| convert::rpc_receipt(&b, loc.index as usize)))
    });
    method!(m, "eth_getBlockReceipts", |p, c| {
        let (id,): (BlockId,) = p.parse()?;
        let Some(n) = resolve(c, id)? else { return Ok(Value::Null) };
        to_value(block(c, n)?.map(|b| {
            (0..b.block.transactions().len())
                .map(|i| convert::rpc_receipt(&b, i))
                .collect::<Vec<_>>()
        }))
    });
    method!(m, "eth_getBalance", |p, c| {
        let mut s = p.sequence();
        let addr: Address = s.next()?;
        let (state, _) = state_at(c, s.optional_next()?)?;
        to_value(state.account(&addr).map_err(store_err)?.map(|a| a.balance).unwrap_or_default())
    });
    method!(m, "eth_getTransactionCount", |p, c| {
        let mut s = p.sequence();
        let addr: Address = s.next()?;
        let id: Option<BlockId> = s.optional_next()?;
        let pending = matches!(id, Some(BlockId::Number(BlockNumberOrTag::Pending)));
        let (state, _) = state_at(c, id)?;
        let nonce = state.account(&addr).map_err(store_err)?.map(|a| a.nonce).unwrap_or_default();
        let nonce =
            if pending { c.pool.pending_nonce(&addr).unwrap_or(nonce).max(nonce) } else { nonce };
        to_value(U64::from(nonce))
    });
    method!(m, "eth_getCode", |p, c| {
        let mut s = p.sequence();
        let addr: Address = s.next()?;
        let (state, _) = state_at(c, s.optional_next()?)?;
        let code = match state.account(&addr).map_err(store_err)? {
            Some(a) => state.code(&a.code_hash).map_err(store_err)?.unwrap_or_default(),
            None => Bytes::new(),
        };
        to_value(code)
    });
    method!(m, "eth_getStorageAt", |p, c| {
        let mut s = p.sequence();
        let addr: Address = s.next()?;
        let slot: U256 = s.next()?;
        let (state, _) = state_at(c, s.optional_next()?)?;
        to_value(B256::from(state.storage(&addr, &slot).map_err(store_err)?))
    });
    method!(m, "eth_call", |p, c| {
        let mut s = p.sequence();
        let req: TransactionRequest = s.next()?;
        let id: Option<BlockId> = s.optional_next()?;
        let overrides: Option<StateOverride> = s.optional_next()?;
        let (state, header) = state_at(c, id)?;
        let out = call::call(&c.spec, &state, &header, &req, overrides.as_ref(), None)
            .map_err(call_error)?;
        to_value(out.output)
    });
    method!(m, "eth_estimateGas", |p, c| {
        let mut s = p.sequence();
        let req: TransactionRequest = s.next()?;
        let id: Option<BlockId> = s.optional_next()?;
        let overrides: Option<StateOverride> = s.optional_next()?;
        let (state, header) = state_at(c, id)?;
        to_value(U64::from(
            call::estimate_gas(&c.spec, &state, &header, &req, overrides.as_ref())
                .map_err(call_error)?,
        ))
    });
    method!(m, "eth_createAccessList", |p, c| {
        let mut s = p.sequence();
        let req: TransactionRequest = s.next()?;
        let (state, header) = state_at(c, s.optional_next()?)?;
        let (list, gas) =
            call::access_list_of(&c.spec, &state, &header, &req).map_err(call_error)?;
        let access_list = AccessList(
            list.into_iter()
                .map(|(address, storage_keys)| AccessListItem { address, storage_keys })
                .collect(),
        );
        to_value(AccessListResult { access_list, gas_used: U256::from(gas), error: None })
    });
    method!(m, "eth_sendRawTransaction", |p, c| {
        let (raw,): (Bytes,) = p.parse()?;
        match c.pool.add_raw(TransactionOrigin::Local, &raw) {
            Ok(outcome) => to_value(outcome.hash()),
            Err(e) => Err(server_error(e.wallet_message())),
        }
    });
    method!(m, "eth_getLogs", |p, c| {
        let (filter,): (Filter,) = p.parse()?;
        let (from, to) = filter_range(c, &filter)?;
        to_value(logs_in_range(c, from, to, &filter)?)
    });
    method!(m, "txpool_status", |_p, c| {
        let size = c.pool.size();
        to_value(json!({
            "pending": U64::from(size.pending.count),
            "queued": U64::from(size.queued.count + size.basefee.count),
        }))
    });
    method!(m, "txpool_content", |_p, c| {
        let group = |sub: &[SubPool]| {
            let mut out: std::collections::BTreeMap<
                String,
                std::collections::BTreeMap<String, alloy::rpc::types::eth::Transaction>,
            > = Default::default();
            for s in sub {
                for t in c.pool.transactions_in(*s) {
                    out.entry(t.sender().to_checksum(None))
                        .or_default()
                        .insert(t.nonce().to_string(), convert::rpc_pending_transaction(&t.tx));
                }
            }
            out
        };
        to_value(
            json!({ "pending": group(&[SubPool::Pending]), "queued": group(&[SubPool::Queued, SubPool::BaseFee]) }),
        )
    });
    method!(m, "preconf_heads", |_p, c| {
        let h = c.store.heads().map_err(store_err)?;
        to_value(json!({
            "latest": { "number": U64::from(h.latest.number), "hash": h.latest.hash },
            "safe": { "number": U64::from(h.safe.number), "hash": h.safe.hash },
            "finalized": { "number": U64::from(h.finalized.number), "hash": h.finalized.hash },
        }))
    });
    method!(m, "preconf_lookahead", |_p, _c| {
        // Filled by the preconfirmation extension; a node without it knows no preconfer.
        Ok(json!({ "current": null, "next": null, "lookahead": [] }))
    });
    method!(m, "preconf_transactionStatus", |p, c| {
        let (hash,): (B256,) = p.parse()?;
        let heads = c.store.heads().map_err(store_err)?;
        if let Some(loc) = c.store.transaction_location(hash).map_err(store_err)? {
            let status = if loc.block_number <= heads.finalized.number {
                "finalized"
            } else if loc.block_number <= heads.safe.number {
                "proposed"
            } else {
                "preconfirmed"
            };
            let b = block(c, loc.block_number)?.ok_or_else(|| internal("missing block"))?;
            return to_value(json!({
                "status": status,
                "blockNumber": U64::from(loc.block_number),
                "blockHash": b.block.hash(),
                "transactionIndex": U64::from(loc.index),
                // Known once the preconfirmation extension records signers and L1 proposals.
                "signer": null,
                "l1TransactionHash": null,
            }));
        }
        match c.pool.sub_pool(&hash) {
            Some(SubPool::Pending) => Ok(json!({ "status": "pending" })),
            Some(_) => Ok(json!({ "status": "queued" })),
            None => Ok(Value::Null),
        }
    });
    Ok(())
}
