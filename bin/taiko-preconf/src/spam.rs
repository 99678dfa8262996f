//! `taiko-preconf spam`: a transaction load for a node's RPC — transfers and ERC-20 calls at a
//! fixed rate from the devnet's funded accounts — reporting how fast they become `latest`.
//!
//! Latency is sent → first seen in a `latest` block, watched by polling the block number every
//! 20 ms (so it includes up to 20 ms of polling). Every second it prints sent / included / p50 /
//! p99; at the end a summary.

use std::{
    collections::HashMap,
    sync::Arc,
    time::{Duration, Instant},
};

use alloy::{
    eips::eip2718::Encodable2718,
    primitives::{Address, B256, Bytes, U256},
};
use eyre::{Result, WrapErr, bail};
use jsonrpsee::{
    core::client::ClientT,
    http_client::{HttpClient, HttpClientBuilder},
    rpc_params,
};
use parking_lot::Mutex;
use serde_json::Value;
use taiko_evm::testing::TxFactory;
use taiko_l1::execution::hex_u64;

use crate::bench_preconf::pct;

/// Options of `taiko-preconf spam`.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct SpamArgs {
    /// The node's JSON-RPC URL.
    #[arg(long, default_value = "http://127.0.0.1:8545")]
    pub(crate) rpc: String,
    /// Transactions per second.
    #[arg(long, default_value_t = 50)]
    pub(crate) rate: u64,
    /// Seconds to send for (0: until Ctrl-C).
    #[arg(long, default_value_t = 30)]
    pub(crate) secs: u64,
    /// Share of ERC-20 `transfer` calls, percent (the rest are ETH transfers).
    #[arg(long, default_value_t = 20)]
    pub(crate) calls_percent: u64,
    /// Devnet accounts to send from (1–20).
    #[arg(long, default_value_t = 10)]
    pub(crate) accounts: usize,
}

/// Live figures of a running spammer.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct SpamStats {
    /// Sent.
    pub(crate) sent: usize,
    /// Included in `latest`.
    pub(crate) included: usize,
    /// Latency p50, ms.
    pub(crate) p50: f64,
    /// Latency p99, ms.
    pub(crate) p99: f64,
    /// Sent per second over the last second.
    pub(crate) rate: f64,
}

async fn wait_included(c: &HttpClient, hash: B256) -> Result<()> {
    for _ in 0..600 {
        let r: Option<Value> = c.request("eth_getTransactionReceipt", rpc_params![hash]).await?;
        if let Some(r) = r {
            if r["status"] != "0x1" {
                bail!("setup transaction {hash} reverted");
            }
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    bail!("setup transaction {hash} not included in 30 s (is the node producing blocks?)")
}

/// Records when each transaction first appears in `latest`.
fn watch(c: HttpClient, seen: Arc<Mutex<HashMap<B256, Instant>>>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut last: Option<u64> = None;
        loop {
            tokio::time::sleep(Duration::from_millis(20)).await;
            let Ok(tip) = c.request::<Value, _>("eth_blockNumber", rpc_params![]).await else {
                continue;
            };
            let tip = hex_u64(&tip);
            let from = last.map_or(tip, |l| l + 1);
            for n in from..=tip {
                let Ok(b) = c
                    .request::<Value, _>(
                        "eth_getBlockByNumber",
                        rpc_params![format!("0x{n:x}"), false],
                    )
                    .await
                else {
                    break;
                };
                let at = Instant::now();
                let hashes: Vec<B256> =
                    serde_json::from_value(b["transactions"].clone()).unwrap_or_default();
                let mut s = seen.lock();
                for h in hashes {
                    s.entry(h).or_insert(at);
                }
                last = Some(n);
            }
        }
    })
}

pub(crate) async fn run(args: SpamArgs) -> Result<()> {
    run_with(args, None).await
}

/// Runs the spammer; with `stats`, it publishes its figures there every second instead of
/// printing them.
pub(crate) async fn run_with(args: SpamArgs, stats: Option<Arc<Mutex<SpamStats>>>) -> Result<()> {
    let quiet = stats.is_some();
    if args.rate == 0 {
        bail!("--rate must be at least 1");
    }
    if !(1..=20).contains(&args.accounts) {
        bail!("--accounts must be 1–20 (the devnet's funded accounts)");
    }
    let c = HttpClientBuilder::default().build(&args.rpc).wrap_err("the RPC URL")?;
    let chain_id: Value =
        c.request("eth_chainId", rpc_params![]).await.wrap_err("reaching the node's RPC")?;
    let mut accounts = taiko_chainspec::devnet_accounts();
    accounts.truncate(args.accounts);
    let addrs: Vec<Address> = accounts.iter().map(|a| a.address()).collect();
    let mut f = TxFactory::new(hex_u64(&chain_id), accounts);
    f.max_fee_per_gas = 100_000_000_000;
    for (i, a) in addrs.iter().enumerate() {
        let n: Value = c.request("eth_getTransactionCount", rpc_params![a, "pending"]).await?;
        f.set_nonce(i, hex_u64(&n));
    }
    let send = |raw: Vec<u8>| {
        let c = c.clone();
        async move {
            c.request::<B256, _>("eth_sendRawTransaction", rpc_params![Bytes::from(raw)]).await
        }
    };

    // an ERC-20 for the calls, with a balance on every sending account
    let token = if args.calls_percent > 0 {
        let (tx, token) = f.deploy_token(0, U256::from(10u64).pow(U256::from(30u64)));
        wait_included(&c, send(tx.inner().encoded_2718()).await?).await?;
        let mut last = None;
        for to in addrs.iter().skip(1) {
            let tx = f.token_transfer(0, token, *to, 1_000_000_000);
            last = Some(send(tx.inner().encoded_2718()).await?);
        }
        if let Some(h) = last {
            wait_included(&c, h).await?;
        }
        if !quiet {
            println!("ERC-20 {token} deployed and funded");
        }
        Some(token)
    } else {
        None
    };

    let seen = Arc::new(Mutex::new(HashMap::new()));
    let watcher = watch(c.clone(), seen.clone());
    let mut sent: Vec<(B256, Instant)> = Vec::new();
    let (mut errors, mut calls) = (0usize, 0usize);
    let start = Instant::now();
    let mut next_report = start + Duration::from_secs(1);
    let mut i = 0u64;
    let report = |sent: &[(B256, Instant)], seen: &HashMap<B256, Instant>| {
        let mut lat: Vec<f64> = sent
            .iter()
            .filter_map(|(h, t)| seen.get(h).map(|s| s.duration_since(*t).as_secs_f64() * 1e3))
            .collect();
        lat.sort_by(f64::total_cmp);
        (lat.len(), pct(&lat, 50), pct(&lat, 99))
    };
    loop {
        if args.secs > 0 && i >= args.rate * args.secs {
            break;
        }
        let due = start + Duration::from_secs_f64(i as f64 / args.rate as f64);
        tokio::select! {
            _ = tokio::time::sleep_until(due.into()) => {}
            _ = tokio::signal::ctrl_c() => break,
        }
        let from = (i as usize) % addrs.len();
        // spread evenly: the share of calls among the first n is calls_percent / 100
        let is_call =
            token.is_some() && (i + 1) * args.calls_percent / 100 != i * args.calls_percent / 100;
        let tx = match token {
            Some(t) if is_call => f.token_transfer(from, t, Address::repeat_byte(0x42), 1),
            _ => f.transfer(from, Address::repeat_byte(0x42), 1),
        };
        let at = Instant::now();
        match send(tx.inner().encoded_2718()).await {
            Ok(h) => {
                sent.push((h, at));
                calls += is_call as usize;
            }
            Err(e) => {
                errors += 1;
                // resynchronise this account's nonce
                let n: Value = c
                    .request("eth_getTransactionCount", rpc_params![addrs[from], "pending"])
                    .await
                    .unwrap_or_default();
                f.set_nonce(from, hex_u64(&n));
                if errors <= 3 {
                    eprintln!("send failed: {e}");
                }
            }
        }
        i += 1;
        if Instant::now() >= next_report {
            let (included, p50, p99) = report(&sent, &seen.lock());
            match &stats {
                Some(s) => {
                    let before = s.lock().sent;
                    *s.lock() = SpamStats {
                        sent: sent.len(),
                        included,
                        p50,
                        p99,
                        rate: (sent.len() - before) as f64,
                    };
                }
                None => println!(
                    "{:>4.0} s  sent {:>6}  included {:>6}  latency p50 {:>7.1} ms  p99 {:>7.1} ms",
                    start.elapsed().as_secs_f64(),
                    sent.len(),
                    included,
                    p50,
                    p99
                ),
            }
            next_report += Duration::from_secs(1);
        }
    }
    let send_secs = start.elapsed().as_secs_f64();
    let deadline = Instant::now() + Duration::from_secs(15);
    while Instant::now() < deadline {
        if sent.iter().all(|(h, _)| seen.lock().contains_key(h)) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    watcher.abort();
    let (included, p50, p99) = report(&sent, &seen.lock());
    println!(
        "summary: sent {} ({} ERC-20 calls) in {:.1} s ({:.0} tx/s), included {}, errors {}, latency p50 {:.1} ms p99 {:.1} ms",
        sent.len(),
        calls,
        send_secs,
        sent.len() as f64 / send_secs,
        included,
        errors,
        p50,
        p99
    );
    if included < sent.len() {
        bail!("{} of {} transactions not included", sent.len() - included, sent.len());
    }
    Ok(())
}
