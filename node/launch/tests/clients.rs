//! Real clients nobody here wrote — Foundry's `cast` and a viem script — drive a node over
//! JSON-RPC: transfers, a deployment, receipts, balances, logs, newHeads over WebSocket, and a
//! reorg reflected in `latest` and in receipts.

mod common;

use std::{process::Command, sync::atomic::Ordering, time::Duration};

fn cast(args: &[&str]) -> Result<String, String> {
    let out = Command::new(common::tools().join("node_modules/.bin/cast"))
        .args(args)
        .output()
        .map_err(|e| e.to_string())?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).trim().to_string())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cast_and_viem_see_the_chain_and_its_reorgs() {
    let t = common::start(Default::default()).await;
    let rpc = t.http.clone();
    let key0 = common::devnet_key(0);
    let key1 = common::devnet_key(1);
    let run = |args: Vec<String>| {
        tokio::task::spawn_blocking(move || {
            cast(&args.iter().map(String::as_str).collect::<Vec<_>>())
        })
    };

    assert_eq!(
        run(vec!["chain-id".into(), "--rpc-url".into(), rpc.clone()]).await.unwrap().unwrap(),
        "167010"
    );
    let from0 = run(vec!["wallet".into(), "address".into(), key0.clone()]).await.unwrap().unwrap();

    // cast: a transfer, waited for.
    let receipt = run(vec![
        "send".into(),
        "--private-key".into(),
        key0.clone(),
        "--rpc-url".into(),
        rpc.clone(),
        "--json".into(),
        "0x000000000000000000000000000000000000dEaD".into(),
        "--value".into(),
        "1ether".into(),
    ])
    .await
    .unwrap()
    .unwrap();
    let receipt: serde_json::Value = serde_json::from_str(&receipt).unwrap();
    assert_eq!(receipt["status"], "0x1");
    let bal = run(vec![
        "balance".into(),
        "0x000000000000000000000000000000000000dEaD".into(),
        "--rpc-url".into(),
        rpc.clone(),
    ])
    .await
    .unwrap()
    .unwrap();
    assert_eq!(bal, "1000000000000000000");

    // cast: deploy the benchmark token and read it.
    let code = format!("{}", taiko_contracts::BenchToken::BYTECODE);
    let deployed = run(vec![
        "send".into(),
        "--private-key".into(),
        key0.clone(),
        "--rpc-url".into(),
        rpc.clone(),
        "--json".into(),
        "--create".into(),
        code.clone(),
        "constructor(uint256)".into(),
        "5000".into(),
    ])
    .await
    .unwrap()
    .unwrap();
    let deployed: serde_json::Value = serde_json::from_str(&deployed).unwrap();
    let token = deployed["contractAddress"].as_str().unwrap().to_string();
    let supply = run(vec![
        "call".into(),
        token.clone(),
        "balanceOf(address)(uint256)".into(),
        from0.clone(),
        "--rpc-url".into(),
        rpc.clone(),
    ])
    .await
    .unwrap()
    .unwrap();
    assert_eq!(supply, "5000");

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
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
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
    let tx = run(vec![
        "send".into(),
        "--private-key".into(),
        key0.clone(),
        "--rpc-url".into(),
        rpc.clone(),
        "--json".into(),
        "0x000000000000000000000000000000000000dEaD".into(),
        "--value".into(),
        "1".into(),
    ])
    .await
    .unwrap()
    .unwrap();
    let tx: serde_json::Value = serde_json::from_str(&tx).unwrap();
    let hash = tx["transactionHash"].as_str().unwrap().to_string();
    t.mining.store(false, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        run(vec!["block-number".into(), "--rpc-url".into(), rpc.clone()])
            .await
            .unwrap()
            .unwrap()
            .parse::<u64>()
            .unwrap()
            > before.number
    );
    t.set_head(before.hash).await;
    let latest: u64 = run(vec!["block-number".into(), "--rpc-url".into(), rpc.clone()])
        .await
        .unwrap()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(latest, before.number, "latest moved back");
    let gone = run(vec![
        "rpc".into(),
        "eth_getTransactionReceipt".into(),
        hash.clone(),
        "--rpc-url".into(),
        rpc.clone(),
    ])
    .await
    .unwrap()
    .unwrap();
    assert_eq!(gone, "null", "the dropped transaction's receipt disappeared");
    let pending = run(vec![
        "rpc".into(),
        "eth_getTransactionByHash".into(),
        hash,
        "--rpc-url".into(),
        rpc.clone(),
    ])
    .await
    .unwrap()
    .unwrap();
    let pending: serde_json::Value = serde_json::from_str(&pending).unwrap();
    assert!(pending["blockNumber"].is_null(), "back in the pool, pending: {pending}");
    t.node.shutdown().await.unwrap();
}
