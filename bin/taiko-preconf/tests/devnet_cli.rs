//! `taiko-preconf devnet` starts, prints its endpoints, and on Ctrl-C (SIGINT) exits cleanly
//! leaving no process behind.

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

#[test]
fn devnet_command_starts_prints_endpoints_and_stops_on_ctrl_c() {
    let dir = std::env::temp_dir().join(format!("taiko-devnet-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let manifest = dir.join("manifest.json");
    let mut child = Command::new(env!("CARGO_BIN_EXE_taiko-preconf"))
        .args(["devnet", "--slot-secs", "1", "--slots-per-epoch", "4", "--manifest"])
        .arg(&manifest)
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
