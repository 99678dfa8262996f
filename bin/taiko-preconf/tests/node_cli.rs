//! `taiko-preconf node` as an operator runs it: every setting documented in `--help`, a config
//! file with a typo refused, and two preconfer processes on a devnet (wall clock) that
//! preconfirm a transaction sent to one and show it on the other, serve metrics, and stop on
//! Ctrl-C.

use std::{
    io::{BufRead, BufReader},
    net::TcpListener,
    process::{Child, Command, Stdio},
    sync::mpsc,
    time::{Duration, Instant},
};

use alloy::{
    consensus::{SignableTransaction, TxEip1559, TxEnvelope},
    eips::eip2718::Encodable2718,
    primitives::{Address, B256, Bytes, TxKind, U256},
    signers::SignerSync,
};
use jsonrpsee::{core::client::ClientT, http_client::HttpClientBuilder, rpc_params};
use taiko_devnet::{ClockMode, Devnet, DevnetConfig};

const BIN: &str = env!("CARGO_BIN_EXE_taiko-preconf");

#[test]
fn help_documents_every_setting() {
    let out = Command::new(BIN).args(["node", "--help"]).output().unwrap();
    let help = String::from_utf8(out.stdout).unwrap();
    for flag in [
        "--config",
        "--datadir",
        "--genesis",
        "--revert-window",
        "--rpc.addr",
        "--rpc.disable",
        "--rpc.cors",
        "--rpc.max-request-bytes",
        "--rpc.max-batch",
        "--rpc.max-logs-range",
        "--dev.block-time-ms",
        "--l1.rpc",
        "--beacon.api",
        "--preconf.registry",
        "--preconf.task-manager",
        "--preconf.inbox",
        "--preconf.proposal-margin-ms",
        "--bolt.rpc",
        "--devnet.manifest",
        "--devnet.preconfer",
        "--preconf.keystore",
        "--preconf.password-file",
        "--preconf.block-time-ms",
        "--preconf.release-offsets-ms",
        "--preconf.coinbase",
        "--preconf.anchor-lag",
        "--preconf.skip-empty",
        "--preconf.handover-grace-ms",
        "--p2p.listen",
        "--p2p.peers",
        "--p2p.bootnodes",
        "--p2p.key-file",
        "--metrics.addr",
    ] {
        assert!(help.contains(flag), "{flag} missing from --help");
        let env = format!(
            "TAIKO_PRECONF_{}",
            flag.trim_start_matches("--")
                .trim_start_matches("preconf.")
                .replace(['.', '-'], "_")
                .to_uppercase()
        );
        assert!(help.contains(&env), "{env} missing from --help");
    }
}

#[test]
fn a_config_file_with_a_typo_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("node.toml");
    std::fs::write(&cfg, "[rpc]\nadress = \"127.0.0.1:1\"\n").unwrap();
    let out = Command::new(BIN)
        .args(["node", "--config"])
        .arg(&cfg)
        .arg("--datadir")
        .arg(dir.path().join("data"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("rpc.adress"), "names the bad key: {err}");
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

struct NodeProc {
    child: Child,
    lines: mpsc::Receiver<String>,
    rpc: String,
    metrics: String,
}

impl Drop for NodeProc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn spawn_node(
    dir: &std::path::Path,
    name: &str,
    manifest: &std::path::Path,
    preconfer: usize,
    peers: &[String],
) -> NodeProc {
    let (rpc_port, metrics_port) = (free_port(), free_port());
    let config = dir.join(format!("{name}.toml"));
    std::fs::write(
        &config,
        format!(
            "datadir = {:?}\n[rpc]\naddr = \"127.0.0.1:{rpc_port}\"\n[preconf]\nblock-time-ms = 500\n\
             anchor-lag = 1\n[p2p]\nlisten = \"/ip4/127.0.0.1/tcp/0\"\n[metrics]\naddr = \"127.0.0.1:{metrics_port}\"\n",
            dir.join(name).display().to_string()
        ),
    )
    .unwrap();
    let mut cmd = Command::new(BIN);
    cmd.args(["node", "--config"])
        .arg(&config)
        .arg("--devnet.manifest")
        .arg(manifest)
        .args(["--devnet.preconfer", &preconfer.to_string()])
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    if !peers.is_empty() {
        cmd.args(["--p2p.peers", &peers.join(",")]);
    }
    let mut child = cmd.spawn().unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    NodeProc {
        child,
        lines,
        rpc: format!("http://127.0.0.1:{rpc_port}"),
        metrics: format!("http://127.0.0.1:{metrics_port}/metrics"),
    }
}

/// Waits for the log line announcing the extension and returns the node's p2p address.
fn p2p_addr(n: &NodeProc) -> String {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let line = n.lines.recv_timeout(deadline - Instant::now()).expect("the node starts");
        if let Some(rest) = line.split("p2p=").nth(1) {
            return rest.split_whitespace().next().unwrap().to_string();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_preconfer_processes_preconfirm_on_the_devnet() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = dir.path().join("manifest.json");
    let devnet = Devnet::start(DevnetConfig {
        slot_secs: 3,
        slots_per_epoch: 4,
        validators: 4,
        preconfers: 2,
        validators_per_preconfer: 2,
        mode: ClockMode::Wall,
        manifest_path: Some(manifest.clone()),
        ..Default::default()
    })
    .await
    .unwrap();
    let a = spawn_node(dir.path(), "a", &manifest, 0, &[]);
    let a_addr = p2p_addr(&a);
    let b = spawn_node(dir.path(), "b", &manifest, 1, &[a_addr]);
    p2p_addr(&b);

    // a user sends a transfer to A; it must show up as preconfirmed on B
    let key = taiko_chainspec::devnet_accounts().remove(0);
    let chain_id = devnet.manifest().l2_chain_id;
    let tx = TxEip1559 {
        chain_id,
        nonce: 0,
        gas_limit: 21_000,
        max_fee_per_gas: 10_000_000_000,
        max_priority_fee_per_gas: 1_000_000_000,
        to: TxKind::Call(Address::repeat_byte(0x42)),
        value: U256::from(7),
        input: Default::default(),
        access_list: Default::default(),
    };
    let sig = key.sign_hash_sync(&tx.signature_hash()).unwrap();
    let raw = TxEnvelope::from(tx.into_signed(sig)).encoded_2718();
    let client_a = HttpClientBuilder::default().build(&a.rpc).unwrap();
    let client_b = HttpClientBuilder::default().build(&b.rpc).unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let hash: B256 = loop {
        match client_a
            .request("eth_sendRawTransaction", rpc_params![Bytes::from(raw.clone())])
            .await
        {
            Ok(h) => break h,
            Err(e) => {
                assert!(Instant::now() < deadline, "A's RPC accepts the transaction: {e}");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    };
    // registrations activate after two epochs (24 s here); then a window owner preconfirms it
    let deadline = Instant::now() + Duration::from_secs(90);
    let receipt = loop {
        let r: Option<serde_json::Value> =
            client_b.request("eth_getTransactionReceipt", rpc_params![hash]).await.unwrap();
        if let Some(r) = r {
            break r;
        }
        assert!(Instant::now() < deadline, "the transaction is preconfirmed and reaches B");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(receipt["status"], "0x1");
    let block: String = receipt["blockHash"].as_str().unwrap().to_string();
    let number = receipt["blockNumber"].clone();
    let on_a: serde_json::Value =
        client_a.request("eth_getBlockByNumber", rpc_params![number, false]).await.unwrap();
    assert_eq!(on_a["hash"].as_str(), Some(block.as_str()), "both nodes hold the same block");

    let metrics_a = reqwest_get(&a.metrics).await;
    let metrics_b = reqwest_get(&b.metrics).await;
    let preconfirmed = |m: &str| {
        m.lines()
            .find_map(|l| l.strip_prefix("preconf_blocks_preconfirmed_total "))
            .and_then(|v| v.trim().parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    assert!(
        preconfirmed(&metrics_a) + preconfirmed(&metrics_b) > 0.0,
        "metrics count preconfirmed blocks:\n{metrics_a}\n{metrics_b}"
    );

    // Ctrl-C stops both cleanly
    for mut n in [a, b] {
        Command::new("kill").args(["-INT", &n.child.id().to_string()]).status().unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        let status = loop {
            if let Some(s) = n.child.try_wait().unwrap() {
                break s;
            }
            assert!(Instant::now() < deadline, "exits after Ctrl-C");
            std::thread::sleep(Duration::from_millis(100));
        };
        assert!(status.success(), "clean exit: {status:?}");
    }
}

async fn reqwest_get(url: &str) -> String {
    reqwest::get(url).await.unwrap().text().await.unwrap()
}
