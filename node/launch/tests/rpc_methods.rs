//! Every RPC method, block tags, errors as wallets expect them, and bad input that must get a
//! JSON-RPC error (never a crash or a hang).

mod common;

use alloy::{
    eips::Encodable2718,
    primitives::{Address, B256, Bytes, U256},
    sol_types::{SolCall, SolError},
};
use jsonrpsee::{
    core::{client::ClientT, params::ArrayParams},
    http_client::{HttpClient, HttpClientBuilder},
    rpc_params,
};
use serde_json::{Value, json};
use std::time::Duration;
use taiko_chainspec::devnet_accounts;
use taiko_contracts::BenchToken;
use taiko_evm::testing::TxFactory;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn req(c: &HttpClient, method: &str, params: ArrayParams) -> Value {
    c.request::<Value, _>(method, params).await.unwrap_or_else(|e| panic!("{method}: {e}"))
}

async fn err(c: &HttpClient, method: &str, params: ArrayParams) -> (i32, String, Option<String>) {
    match c.request::<Value, _>(method, params).await {
        Err(jsonrpsee::core::client::Error::Call(e)) => {
            (e.code(), e.message().to_string(), e.data().map(|d| d.get().to_string()))
        }
        other => panic!("{method}: expected an error, got {other:?}"),
    }
}

async fn send(
    c: &HttpClient,
    tx: &alloy::consensus::transaction::Recovered<alloy::consensus::TxEnvelope>,
) -> B256 {
    let raw = Bytes::from(tx.inner().encoded_2718());
    serde_json::from_value(req(c, "eth_sendRawTransaction", rpc_params![raw]).await).unwrap()
}

async fn receipt(c: &HttpClient, hash: B256) -> Value {
    for _ in 0..100 {
        let r = req(c, "eth_getTransactionReceipt", rpc_params![hash]).await;
        if !r.is_null() {
            return r;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no receipt for {hash}");
}

/// A raw HTTP POST; returns the status code and body.
async fn raw_post(addr: &str, body: &[u8]) -> (u16, String) {
    let host = addr.trim_start_matches("http://");
    let mut s = tokio::net::TcpStream::connect(host).await.unwrap();
    let head = format!(
        "POST / HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).await.unwrap();
    let _ = s.write_all(body).await;
    let mut out = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut out))
        .await
        .expect("no hang")
        .ok();
    let text = String::from_utf8_lossy(&out).to_string();
    let status = text.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    let body = text.split("\r\n\r\n").nth(1).unwrap_or_default().to_string();
    (status, body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_method_with_tags_and_errors() {
    let t = common::start(taiko_rpc::RpcConfig { max_logs_range: 5, ..Default::default() }).await;
    let c = HttpClientBuilder::default().build(&t.http).unwrap();
    let mut f = TxFactory::new(167_010, devnet_accounts());
    let me = f.address(0);

    // Simple namespaces.
    assert_eq!(req(&c, "eth_chainId", rpc_params![]).await, json!("0x28c62"));
    assert_eq!(req(&c, "net_version", rpc_params![]).await, json!("167010"));
    assert_eq!(req(&c, "net_listening", rpc_params![]).await, json!(true));
    assert!(
        req(&c, "web3_clientVersion", rpc_params![])
            .await
            .as_str()
            .unwrap()
            .starts_with("taiko-preconf/")
    );
    assert_eq!(req(&c, "eth_syncing", rpc_params![]).await, json!(false));
    assert_eq!(req(&c, "eth_blockNumber", rpc_params![]).await, json!("0x0"));

    // A deployment, a token transfer with a log, and a plain transfer.
    let (deploy, token) = f.deploy_token(0, U256::from(1_000_000u64));
    let d = send(&c, &deploy).await;
    assert_eq!(receipt(&c, d).await["contractAddress"], json!(token));
    let x = send(&c, &f.token_transfer(0, token, Address::repeat_byte(7), 77)).await;
    let rx = receipt(&c, x).await;
    assert_eq!(rx["status"], json!("0x1"));
    assert_eq!(rx["logs"].as_array().unwrap().len(), 1);
    let p = send(&c, &f.transfer(0, Address::repeat_byte(8), 5)).await;
    let rp = receipt(&c, p).await;
    let block_hash: B256 = serde_json::from_value(rp["blockHash"].clone()).unwrap();
    let block_no = rp["blockNumber"].clone();

    // Blocks by tag, number and hash, hashes-only and full.
    let latest = req(&c, "eth_getBlockByNumber", rpc_params!["latest", false]).await;
    assert_eq!(latest["hash"], json!(block_hash));
    assert!(latest["transactions"][0].is_string());
    assert_eq!(
        req(&c, "eth_getBlockByNumber", rpc_params!["pending", false]).await["hash"],
        json!(block_hash)
    );
    let full = req(&c, "eth_getBlockByHash", rpc_params![block_hash, true]).await;
    assert_eq!(full["transactions"][1]["hash"], json!(p));
    assert_eq!(
        req(&c, "eth_getBlockByNumber", rpc_params!["earliest", false]).await["number"],
        json!("0x0")
    );
    assert_eq!(
        req(&c, "eth_getBlockByNumber", rpc_params!["safe", false]).await["number"],
        json!("0x0")
    );
    assert_eq!(
        req(&c, "eth_getBlockByNumber", rpc_params!["finalized", false]).await["number"],
        json!("0x0")
    );
    assert_eq!(
        req(&c, "eth_getBlockByNumber", rpc_params![block_no.clone(), false]).await["hash"],
        json!(block_hash)
    );
    assert!(req(&c, "eth_getBlockByNumber", rpc_params!["0x999", false]).await.is_null());
    assert!(
        req(&c, "eth_getBlockByHash", rpc_params![B256::repeat_byte(1), false]).await.is_null()
    );
    assert_eq!(
        req(&c, "eth_getBlockTransactionCountByNumber", rpc_params!["latest"]).await,
        json!("0x2")
    );
    assert_eq!(
        req(&c, "eth_getBlockTransactionCountByHash", rpc_params![block_hash]).await,
        json!("0x2")
    );
    assert_eq!(
        req(&c, "eth_getUncleCountByBlockNumber", rpc_params!["latest"]).await,
        json!("0x0")
    );

    // Transactions and receipts.
    assert_eq!(
        req(&c, "eth_getTransactionByHash", rpc_params![p]).await["blockHash"],
        json!(block_hash)
    );
    assert_eq!(
        req(&c, "eth_getTransactionByBlockNumberAndIndex", rpc_params![block_no.clone(), "0x1"])
            .await["hash"],
        json!(p)
    );
    assert_eq!(
        req(&c, "eth_getTransactionByBlockHashAndIndex", rpc_params![block_hash, "0x1"]).await["hash"],
        json!(p)
    );
    assert!(
        req(&c, "eth_getTransactionByBlockHashAndIndex", rpc_params![block_hash, "0x9"])
            .await
            .is_null()
    );
    let receipts =
        req(&c, "eth_getBlockReceipts", rpc_params![json!({ "blockHash": block_hash })]).await;
    assert_eq!(receipts.as_array().unwrap().len(), 2);
    assert_eq!(receipts[1]["transactionHash"], json!(p));
    assert_eq!(rp["gasUsed"], json!("0x5208"));

    // State.
    let bal: U256 = serde_json::from_value(
        req(&c, "eth_getBalance", rpc_params![Address::repeat_byte(8), "latest"]).await,
    )
    .unwrap();
    assert_eq!(bal, U256::from(5));
    let code = req(&c, "eth_getCode", rpc_params![token, "latest"]).await;
    assert_eq!(code, json!(BenchToken::DEPLOYED_BYTECODE));
    // balanceOf slot: mapping at slot 0 → keccak(key ‖ 0).
    let slot = alloy::primitives::keccak256(
        [B256::left_padding_from(Address::repeat_byte(7).as_slice()).0, [0u8; 32]].concat(),
    );
    let stored: B256 = serde_json::from_value(
        req(&c, "eth_getStorageAt", rpc_params![token, slot, "latest"]).await,
    )
    .unwrap();
    assert_eq!(U256::from_be_bytes(stored.0), U256::from(77));
    assert_eq!(req(&c, "eth_getTransactionCount", rpc_params![me, "latest"]).await, json!("0x3"));
    // State at older blocks, by number, tag and EIP-1898 hash, from the revert records.
    let n: u64 =
        u64::from_str_radix(block_no.as_str().unwrap().trim_start_matches("0x"), 16).unwrap();
    let before_transfer = format!("0x{:x}", n - 1);
    assert_eq!(
        req(&c, "eth_getBalance", rpc_params![Address::repeat_byte(8), before_transfer.clone()])
            .await,
        json!("0x0")
    );
    assert_eq!(
        req(
            &c,
            "eth_getBalance",
            rpc_params![Address::repeat_byte(8), json!({ "blockHash": block_hash })]
        )
        .await,
        json!("0x5")
    );
    assert_eq!(
        req(&c, "eth_getTransactionCount", rpc_params![me, before_transfer.clone()]).await,
        json!("0x2")
    );
    assert_eq!(req(&c, "eth_getTransactionCount", rpc_params![me, "earliest"]).await, json!("0x0"));
    assert_eq!(req(&c, "eth_getCode", rpc_params![token, "earliest"]).await, json!("0x"));
    assert_eq!(
        req(&c, "eth_getBalance", rpc_params![Address::repeat_byte(8), "safe"]).await,
        json!("0x0")
    );
    let old_call = json!({ "to": token, "data": Bytes::from(BenchToken::balanceOfCall { account: Address::repeat_byte(7) }.abi_encode()) });
    let out: Bytes = serde_json::from_value(
        req(&c, "eth_call", rpc_params![old_call, format!("0x{:x}", n - 2)]).await,
    )
    .unwrap();
    assert_eq!(U256::from_be_slice(&out), U256::ZERO, "before the token transfer");
    // A block that does not exist is an error, not a guess.
    let (code_, msg, _) = err(&c, "eth_getBalance", rpc_params![me, "0x999"]).await;
    assert_eq!(code_, -32000);
    assert!(msg.contains("header not found"), "{msg}");

    // Pending nonce counts pool transactions (mining paused).
    t.mining.store(false, std::sync::atomic::Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let queued = send(&c, &f.transfer(0, Address::repeat_byte(9), 1)).await;
    assert_eq!(req(&c, "eth_getTransactionCount", rpc_params![me, "pending"]).await, json!("0x4"));
    assert_eq!(req(&c, "eth_getTransactionCount", rpc_params![me, "latest"]).await, json!("0x3"));
    assert!(req(&c, "eth_getTransactionByHash", rpc_params![queued]).await["blockHash"].is_null());
    assert_eq!(
        req(&c, "txpool_status", rpc_params![]).await,
        json!({ "pending": "0x1", "queued": "0x0" })
    );
    let content = req(&c, "txpool_content", rpc_params![]).await;
    assert_eq!(content["pending"][me.to_checksum(None)]["3"]["hash"], json!(queued));
    assert_eq!(
        req(&c, "preconf_transactionStatus", rpc_params![queued]).await["status"],
        json!("pending")
    );
    assert_eq!(
        req(&c, "preconf_transactionStatus", rpc_params![p]).await["status"],
        json!("preconfirmed")
    );
    assert_eq!(req(&c, "preconf_heads", rpc_params![]).await["latest"]["hash"], json!(block_hash));
    t.mining.store(true, std::sync::atomic::Ordering::SeqCst);
    receipt(&c, queued).await;

    // eth_call, overrides, reverts, estimateGas, access lists.
    let call = json!({ "to": token, "data": Bytes::from(BenchToken::balanceOfCall { account: Address::repeat_byte(7) }.abi_encode()) });
    let out: Bytes =
        serde_json::from_value(req(&c, "eth_call", rpc_params![call.clone(), "latest"]).await)
            .unwrap();
    assert_eq!(U256::from_be_slice(&out), U256::from(77));
    let poor = Address::repeat_byte(0x55);
    // State overrides: the token balance slot of `poor` set through stateDiff, and new code.
    let poor_slot = alloy::primitives::keccak256(
        [B256::left_padding_from(poor.as_slice()).0, [0u8; 32]].concat(),
    );
    let over = json!({ token.to_string(): { "stateDiff": { poor_slot.to_string(): B256::from(U256::from(4242)) } } });
    let poor_call = json!({ "to": token, "data": Bytes::from(BenchToken::balanceOfCall { account: poor }.abi_encode()) });
    let out: Bytes = serde_json::from_value(
        req(&c, "eth_call", rpc_params![poor_call.clone(), "latest", over]).await,
    )
    .unwrap();
    assert_eq!(U256::from_be_slice(&out), U256::from(4242), "stateDiff override applied");
    let out: Bytes =
        serde_json::from_value(req(&c, "eth_call", rpc_params![poor_call, "latest"]).await)
            .unwrap();
    assert_eq!(U256::from_be_slice(&out), U256::ZERO, "overrides do not persist");
    // Code override: PUSH1 0x2a PUSH1 0 MSTORE PUSH1 32 PUSH1 0 RETURN → returns 42.
    let code_over = json!({ poor.to_string(): { "code": "0x602a60005260206000f3" } });
    let out: Bytes = serde_json::from_value(
        req(&c, "eth_call", rpc_params![json!({ "to": poor }), "latest", code_over]).await,
    )
    .unwrap();
    assert_eq!(U256::from_be_slice(&out), U256::from(42));
    let revert = json!({ "from": poor, "to": token, "data": Bytes::from(BenchToken::transferCall { to: me, value: U256::from(1) }.abi_encode()) });
    let (code_, msg, data) = err(&c, "eth_call", rpc_params![revert.clone(), "latest"]).await;
    assert_eq!(code_, 3, "{msg}");
    assert!(msg.starts_with("execution reverted"));
    let selector = format!("{}", Bytes::from(BenchToken::Insufficient::SELECTOR.to_vec()));
    assert_eq!(data.unwrap().trim_matches('"'), selector, "revert data is the custom error");
    let (code_, _, _) = err(&c, "eth_estimateGas", rpc_params![revert]).await;
    assert_eq!(code_, 3);
    let transfer_call = json!({ "from": me, "to": token, "data": Bytes::from(BenchToken::transferCall { to: poor, value: U256::from(1) }.abi_encode()) });
    let gas: alloy::primitives::U64 = serde_json::from_value(
        req(&c, "eth_estimateGas", rpc_params![transfer_call.clone()]).await,
    )
    .unwrap();
    assert!(gas.to::<u64>() > 21_000 && gas.to::<u64>() < 80_000, "{gas}");
    assert_eq!(
        req(&c, "eth_estimateGas", rpc_params![json!({ "from": me, "to": poor, "value": "0x1" })])
            .await,
        json!("0x5208")
    );
    let al = req(&c, "eth_createAccessList", rpc_params![transfer_call]).await;
    assert_eq!(al["accessList"][0]["address"], json!(token));
    assert_eq!(al["accessList"][0]["storageKeys"].as_array().unwrap().len(), 2);

    // Fees.
    assert!(req(&c, "eth_gasPrice", rpc_params![]).await.is_string());
    assert!(req(&c, "eth_maxPriorityFeePerGas", rpc_params![]).await.is_string());
    let fh = req(&c, "eth_feeHistory", rpc_params!["0x2", "latest", vec![50.0]]).await;
    assert_eq!(fh["baseFeePerGas"].as_array().unwrap().len(), 3);
    assert_eq!(fh["reward"].as_array().unwrap().len(), 2);

    // Logs, the range limit, filters.
    let logs = req(
        &c,
        "eth_getLogs",
        rpc_params![json!({ "address": token, "fromBlock": "0x0", "toBlock": "latest" })],
    )
    .await;
    assert_eq!(logs.as_array().unwrap().len(), 2, "mint and transfer");
    assert_eq!(logs[1]["transactionHash"], json!(x));
    let topic_filter = json!({ "fromBlock": "0x0", "toBlock": "latest", "topics": [null, null, B256::left_padding_from(Address::repeat_byte(7).as_slice())] });
    assert_eq!(
        req(&c, "eth_getLogs", rpc_params![topic_filter]).await.as_array().unwrap().len(),
        1
    );
    for _ in 0..4 {
        receipt(&c, send(&c, &f.transfer(1, Address::repeat_byte(3), 1)).await).await;
    }
    let (code_, msg, _) =
        err(&c, "eth_getLogs", rpc_params![json!({ "fromBlock": "0x0", "toBlock": "latest" })])
            .await;
    assert_eq!(code_, -32602, "{msg}");
    let bf = req(&c, "eth_newBlockFilter", rpc_params![]).await;
    let lf = req(&c, "eth_newFilter", rpc_params![json!({ "address": token })]).await;
    let pf = req(&c, "eth_newPendingTransactionFilter", rpc_params![]).await;
    let tx = send(&c, &f.token_transfer(0, token, Address::repeat_byte(7), 1)).await;
    let r = receipt(&c, tx).await;
    assert_eq!(
        req(&c, "eth_getFilterChanges", rpc_params![bf.clone()]).await,
        json!([r["blockHash"]])
    );
    assert_eq!(
        req(&c, "eth_getFilterChanges", rpc_params![lf.clone()]).await[0]["transactionHash"],
        json!(tx)
    );
    assert_eq!(req(&c, "eth_getFilterChanges", rpc_params![pf.clone()]).await, json!([tx]));
    assert_eq!(req(&c, "eth_getFilterChanges", rpc_params![lf.clone()]).await, json!([]));
    assert_eq!(req(&c, "eth_uninstallFilter", rpc_params![bf.clone()]).await, json!(true));
    assert_eq!(err(&c, "eth_getFilterChanges", rpc_params![bf]).await.0, -32602);

    // Pool rejections as wallets expect them.
    f.set_nonce(0, 0);
    let (code_, msg, _) = err(
        &c,
        "eth_sendRawTransaction",
        rpc_params![Bytes::from(f.transfer(0, me, 1).inner().encoded_2718())],
    )
    .await;
    assert_eq!((code_, msg.as_str()), (-32000, "nonce too low"));
    let (code_, msg, _) =
        err(&c, "eth_sendRawTransaction", rpc_params![Bytes::from(vec![0x02, 0x01])]).await;
    assert_eq!(code_, -32000);
    assert!(msg.contains("invalid transaction encoding"), "{msg}");

    // Bad parameters: -32602.
    assert_eq!(err(&c, "eth_getBalance", rpc_params!["not an address"]).await.0, -32602);
    assert_eq!(err(&c, "eth_getBlockByNumber", rpc_params![true]).await.0, -32602);
    assert_eq!(err(&c, "eth_getTransactionByHash", rpc_params![]).await.0, -32602);
    assert_eq!(err(&c, "eth_nonexistent", rpc_params![]).await.0, -32601);
    t.node.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_gets_errors_never_crashes() {
    let t = common::start(taiko_rpc::RpcConfig {
        max_request_bytes: 64 * 1024,
        max_batch: 10,
        ..Default::default()
    })
    .await;
    let ok = br#"{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]}"#;
    let (status, body) = raw_post(&t.http, br#"{"jsonrpc":"2.0","id":1,"method":"#).await;
    assert!(body.contains("-32700"), "malformed JSON: {status} {body}");
    let (_, body) = raw_post(
        &t.http,
        br#"{"jsonrpc":"2.0","id":1,"method":"eth_getBalance","params":[1,2,3]}"#,
    )
    .await;
    assert!(body.contains("-32602"), "wrong param types: {body}");
    let (_, body) =
        raw_post(&t.http, br#"{"jsonrpc":"2.0","id":1,"method":"nope_nope","params":[]}"#).await;
    assert!(body.contains("-32601"), "unknown method: {body}");
    let huge = format!(
        r#"{{"jsonrpc":"2.0","id":1,"method":"eth_call","params":[{{"data":"0x{}"}}]}}"#,
        "00".repeat(100 * 1024)
    );
    let (status, body) = raw_post(&t.http, huge.as_bytes()).await;
    assert!(status == 413 || body.contains("-32"), "oversize request: {status} {body}");
    let batch: Vec<Value> = (0..11)
        .map(|i| json!({ "jsonrpc": "2.0", "id": i, "method": "eth_chainId", "params": [] }))
        .collect();
    let (_, body) = raw_post(&t.http, serde_json::to_string(&batch).unwrap().as_bytes()).await;
    assert!(body.contains("-32"), "oversize batch: {body}");
    let small: Vec<Value> = (0..3)
        .map(|i| json!({ "jsonrpc": "2.0", "id": i, "method": "eth_chainId", "params": [] }))
        .collect();
    let (_, body) = raw_post(&t.http, serde_json::to_string(&small).unwrap().as_bytes()).await;
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap().as_array().unwrap().len(),
        3,
        "a batch within the limit works"
    );
    // CORS: a browser preflight gets the allow-origin header.
    let host = t.http.trim_start_matches("http://").to_string();
    let mut sock = tokio::net::TcpStream::connect(&host).await.unwrap();
    let pre = format!(
        "OPTIONS / HTTP/1.1\r\nHost: {host}\r\nOrigin: http://wallet.example\r\nAccess-Control-Request-Method: POST\r\nAccess-Control-Request-Headers: content-type\r\nConnection: close\r\n\r\n"
    );
    sock.write_all(pre.as_bytes()).await.unwrap();
    let mut resp = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), sock.read_to_end(&mut resp))
        .await
        .unwrap()
        .unwrap();
    let resp = String::from_utf8_lossy(&resp).to_lowercase();
    assert!(resp.contains("access-control-allow-origin"), "{resp}");
    // Still serving normally afterwards.
    let (status, body) = raw_post(&t.http, ok).await;
    assert_eq!(status, 200);
    assert!(body.contains("0x28c62"));
    t.node.shutdown().await.unwrap();
}

async fn next(s: &mut jsonrpsee::core::client::Subscription<Value>) -> Value {
    tokio::time::timeout(Duration::from_secs(10), s.next())
        .await
        .expect("timely")
        .expect("open")
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_subscriptions_deliver_heads_logs_and_pending_transactions() {
    use jsonrpsee::{core::client::SubscriptionClientT, ws_client::WsClientBuilder};
    let t = common::start(Default::default()).await;
    let c = HttpClientBuilder::default().build(&t.http).unwrap();
    let ws = WsClientBuilder::default().build(&t.ws).await.unwrap();
    let mut f = TxFactory::new(167_010, devnet_accounts());
    let (deploy, token) = f.deploy_token(0, U256::from(1_000u64));
    receipt(&c, send(&c, &deploy).await).await;

    let mut heads = ws
        .subscribe::<Value, _>("eth_subscribe", rpc_params!["newHeads"], "eth_unsubscribe")
        .await
        .unwrap();
    let mut logs = ws
        .subscribe::<Value, _>(
            "eth_subscribe",
            rpc_params!["logs", json!({ "address": token })],
            "eth_unsubscribe",
        )
        .await
        .unwrap();
    let mut pending = ws
        .subscribe::<Value, _>(
            "eth_subscribe",
            rpc_params!["newPendingTransactions"],
            "eth_unsubscribe",
        )
        .await
        .unwrap();

    let tx = send(&c, &f.token_transfer(0, token, Address::repeat_byte(4), 9)).await;
    assert_eq!(next(&mut pending).await, json!(tx));
    let r = receipt(&c, tx).await;
    let log = next(&mut logs).await;
    assert_eq!(log["transactionHash"], json!(tx));
    assert_eq!(log["address"], json!(token));
    let mut head = next(&mut heads).await;
    while head["number"] != r["blockNumber"] {
        head = next(&mut heads).await;
    }
    assert_eq!(head["hash"], r["blockHash"]);
    // An unknown subscription kind is refused with an error, and the server keeps serving.
    assert!(
        ws.subscribe::<Value, _>("eth_subscribe", rpc_params!["nonsense"], "eth_unsubscribe")
            .await
            .is_err()
    );
    assert_eq!(req(&c, "preconf_lookahead", rpc_params![]).await["lookahead"], json!([]));
    let filter =
        req(&c, "eth_newFilter", rpc_params![json!({ "address": token, "fromBlock": "0x0" })])
            .await;
    assert_eq!(
        req(&c, "eth_getFilterLogs", rpc_params![filter]).await.as_array().unwrap().len(),
        2
    );
    t.node.shutdown().await.unwrap();
}
