//! Real clients nobody here wrote — Foundry's `cast` and a viem script — drive a node over
//! JSON-RPC: transfers, a deployment, receipts, balances, logs, newHeads over WebSocket, and a
//! reorg reflected in `latest` and in receipts.

mod common;

use serde_json::Value;
use std::{process::Command, sync::atomic::Ordering, time::Duration};

/// Runs `cast <subcommand> --rpc-url <rpc> <args…>` and returns its trimmed output, panicking on failure.
async fn cast(rpc: &str, args: &[&str]) -> String {
    // The RPC URL right after the subcommand: trailing positionals are constructor arguments.
    let mut all: Vec<String> = vec![args[0].to_string(), "--rpc-url".into(), rpc.to_string()];
    all.extend(args[1..].iter().map(|a| a.to_string()));
    let out = tokio::task::spawn_blocking(move || {
        Command::new(common::tools().join("node_modules/.bin/cast")).args(&all).output().unwrap()
    })
    .await
    .unwrap();
    assert!(out.status.success(), "cast {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// `cast send --json` from `key`; returns the receipt.
async fn cast_send(rpc: &str, key: &str, args: &[&str]) -> Value {
    let mut all = vec!["send", "--private-key", key, "--json"];
    all.extend_from_slice(args);
    serde_json::from_str(&cast(rpc, &all).await).unwrap()
}

const DEAD: &str = "0x000000000000000000000000000000000000dEaD";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cast_and_viem_see_the_chain_and_its_reorgs() {
    let t = common::start(Default::default()).await;
    let rpc = t.http.as_str();
    let key0 = common::devnet_key(0);
    let key1 = common::devnet_key(1);

    assert_eq!(cast(rpc, &["chain-id"]).await, "167010");
    let from0 = {
        let out = Command::new(common::tools().join("node_modules/.bin/cast"))
            .args(["wallet", "address", &key0])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };

    // cast: a transfer, waited for.
    let receipt = cast_send(rpc, &key0, &[DEAD, "--value", "1ether"]).await;
    assert_eq!(receipt["status"], "0x1");
    assert_eq!(cast(rpc, &["balance", DEAD]).await, "1000000000000000000");

    // cast: deploy the benchmark token and read it.
    let code = format!("{}", taiko_contracts::BenchToken::BYTECODE);
    let deployed =
        cast_send(rpc, &key0, &["--create", &code, "constructor(uint256)", "5000"]).await;
    let token = deployed["contractAddress"].as_str().unwrap().to_string();
    assert_eq!(cast(rpc, &["call", &token, "balanceOf(address)(uint256)", &from0]).await, "5000");

    // viem: transfer, deployment, token call, logs and newHeads over WebSocket.
    let script = common::tools().join("clients/wallet.mjs");
    let (http, ws, key) = (t.http.clone(), t.ws.clone(), key1.clone());
    let out = tokio::task::spawn_blocking(move || {
        Command::new("node")
            .arg(script)
            .args([&http, &ws, &key, &code])
            .current_dir(common::tools())
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(out.status.success(), "viem script failed: {}", String::from_utf8_lossy(&out.stderr));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["transferStatus"], "success");
    assert_eq!(v["deployStatus"], "success");
    assert_eq!(v["balanceDelta"], "250000000000000000");
    assert_eq!(v["tokenBalance"], "1234");
    let logs = v["transferLogs"].as_array().unwrap();
    assert_eq!(logs.len(), 2, "mint and transfer: {logs:?}");
    assert_eq!(logs[1]["value"], "1234");
    let heads: Vec<u64> =
        v["headsSeen"].as_array().unwrap().iter().map(|h| h.as_u64().unwrap()).collect();
    assert!(
        heads.contains(&v["lastBlock"].as_u64().unwrap()),
        "newHeads reached the last block: {heads:?}"
    );
    assert!(heads.windows(2).all(|w| w[1] == w[0] + 1), "newHeads in order, no gaps: {heads:?}");

    // A reorg: mine one more transfer, then move the head back to its parent.
    let before = t.node.store.heads().unwrap().latest;
    let tx = cast_send(rpc, &key0, &[DEAD, "--value", "1"]).await;
    let hash = tx["transactionHash"].as_str().unwrap().to_string();
    t.mining.store(false, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(cast(rpc, &["block-number"]).await.parse::<u64>().unwrap() > before.number);
    t.set_head(before.hash).await;
    let latest: u64 = cast(rpc, &["block-number"]).await.parse().unwrap();
    assert_eq!(latest, before.number, "latest moved back");
    assert_eq!(
        cast(rpc, &["rpc", "eth_getTransactionReceipt", &hash]).await,
        "null",
        "the dropped transaction's receipt disappeared"
    );
    let pending: Value =
        serde_json::from_str(&cast(rpc, &["rpc", "eth_getTransactionByHash", &hash]).await)
            .unwrap();
    assert!(pending["blockNumber"].is_null(), "back in the pool, pending: {pending}");
    t.node.shutdown().await.unwrap();
}
