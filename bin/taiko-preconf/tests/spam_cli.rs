//! `taiko-preconf spam` against a node producing blocks: every transfer and ERC-20 call it sends
//! is included, and it reports the rate and the latency.

use std::{
    process::{Command, Stdio},
    time::{Duration, Instant},
};

const BIN: &str = env!("CARGO_BIN_EXE_taiko-preconf");

#[test]
fn spam_sends_at_its_rate_and_everything_lands() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut node = Command::new(BIN)
        .args(["node", "--dev.block-time-ms", "200", "--rpc.addr", &format!("127.0.0.1:{port}")])
        .arg("--datadir")
        .arg(dir.path())
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "the node's RPC comes up");
        std::thread::sleep(Duration::from_millis(100));
    }
    let out = Command::new(BIN)
        .args(["spam", "--rpc", &format!("http://127.0.0.1:{port}")])
        .args(["--rate", "40", "--secs", "2", "--accounts", "4", "--calls-percent", "25"])
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    let _ = node.kill();
    let _ = node.wait();
    assert!(out.status.success(), "{text}");
    assert!(text.contains("ERC-20") && text.contains("deployed"), "{text}");
    let summary = text.lines().find(|l| l.starts_with("summary:")).expect("a summary line");
    assert!(summary.contains("sent 80 (20 ERC-20 calls)"), "{summary}");
    assert!(summary.contains("included 80") && summary.contains("errors 0"), "{summary}");
}
