//! `taiko-preconf devnet` — the one-command devnet — starts, prints its endpoints and the L2
//! nodes' RPC URLs, preconfirms the spammer's transactions on all three nodes with the same
//! heights, lands batches on L1 so blocks become safe, shows it all on its status
//! line, and on Ctrl-C (SIGINT) exits cleanly leaving no process behind.

use std::{
    io::{BufRead, BufReader},
    process::{Command, Stdio},
    sync::mpsc,
    time::{Duration, Instant},
};

/// Processes whose command line contains `needle`.
fn processes_with(needle: &str) -> Vec<u32> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else { continue };
        if let Ok(cmd) = std::fs::read(e.path().join("cmdline")) {
            let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
            if cmd.contains(needle) {
                out.push(pid);
            }
        }
    }
    out
}

fn free_port() -> u16 {
    // three consecutive free ports
    loop {
        let p = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        if p < 65_000 && (1..3).all(|i| std::net::TcpListener::bind(("127.0.0.1", p + i)).is_ok()) {
            return p;
        }
    }
}

#[test]
fn devnet_command_runs_nodes_and_spammer_and_stops_on_ctrl_c() {
    let dir = std::env::temp_dir().join(format!("taiko-devnet-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let manifest = dir.join("manifest.json");
    let mut child = Command::new(env!("CARGO_BIN_EXE_taiko-preconf"))
        .args(["devnet", "--slot-secs", "3", "--slots-per-epoch", "4", "--block-time-ms", "500"])
        .args(["--spam-rate", "10", "--rpc-port", &free_port().to_string(), "--manifest"])
        .arg(&manifest)
        .arg("--datadir")
        .arg(dir.join("nodes"))
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut l1 = None;
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        let line =
            rx.recv_timeout(deadline - Instant::now()).expect("the devnet prints its endpoints");
        if let Some(url) = line.strip_prefix("L1 JSON-RPC") {
            l1 = Some(url.trim().to_string());
        }
        if line.starts_with("manifest") {
            break;
        }
    }
    // the status line: identical heads on A, B and C, safe blocks, L1 batches, Bolt, the spammer
    let deadline = Instant::now() + Duration::from_secs(150);
    let mut rpcs = 0;
    let mut last = String::new();
    let status = loop {
        let Ok(line) = rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) else {
            panic!("no status line with safe blocks and included spam; last: {last}");
        };
        if line.starts_with("slot ") {
            last = line.clone();
        }
        rpcs += line.starts_with("L2 node ") as usize;
        if !line.starts_with("slot ") {
            continue;
        }
        let heads: Vec<(u64, u64)> = line
            .split(" | ")
            .nth(2)
            .unwrap()
            .split_whitespace()
            .filter(|w| w.contains('/'))
            .map(|w| {
                let mut p = w.split('/').map(|n| n.parse::<u64>().unwrap());
                (p.next().unwrap(), p.next().unwrap())
            })
            .collect();
        // Bolt inclusions are shown (whether a proposal makes Bolt's deadline depends on this
        // machine's timing; `exex/tests/l1_proposals.rs` checks Bolt deterministically)
        let _bolt: u64 = line.rsplit("Bolt ").next().unwrap().trim().parse().unwrap();
        let included: u64 = line
            .split("tx/s, ")
            .nth(1)
            .and_then(|r| r.split('/').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        if heads.len() == 3 && heads.iter().all(|h| h.1 > 0) && included > 0 {
            break line;
        }
    };
    assert_eq!(rpcs, 3, "three L2 RPC URLs printed");
    assert!(status.contains("L1 batches"), "{status}");
    let l1 = l1.expect("an L1 endpoint");
    let port = l1.rsplit(':').next().unwrap().to_string();
    assert!(manifest.exists(), "manifest written");
    assert!(!processes_with(&format!("--port {port}")).is_empty(), "anvil runs");

    let status = Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(30);
    let exit = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "exits after Ctrl-C");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(exit.success(), "clean exit: {exit:?}");
    assert!(processes_with(&format!("--port {port}")).is_empty(), "no anvil left behind");
    let _ = std::fs::remove_dir_all(dir);
}
