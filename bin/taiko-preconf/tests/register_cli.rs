//! `taiko-preconf register` on the devnet: a fresh account with an encrypted keystore stakes,
//! registers, bonds and maps the validators from EIP-2335 keystores — leaving alone a key that
//! belongs to another preconfer; a second run sends nothing and says so; a wrong validator
//! password stops it before any transaction.

use std::{
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use alloy::{
    primitives::{Address, U256},
    signers::local::PrivateKeySigner,
};
use taiko_contracts::{PreconfRegistry, wire};
use taiko_devnet::{ClockMode, Devnet, DevnetConfig};
use taiko_l1::keystore::Keystore;

const BIN: &str = env!("CARGO_BIN_EXE_taiko-preconf");

/// Runs the CLI while the devnet mines a block per slot; returns (success, stdout + stderr).
async fn run(devnet: &Devnet, args: &[&str]) -> (bool, String) {
    let child = Command::new(BIN)
        .args(args)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let waiter = std::thread::spawn(move || child.wait_with_output().unwrap());
    let deadline = Instant::now() + Duration::from_secs(120);
    while !waiter.is_finished() {
        assert!(Instant::now() < deadline, "register (pid {pid}) finishes");
        devnet.advance_slot().await.unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let out = waiter.join().unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn register_is_idempotent_and_reads_validator_keystores() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = dir.path().join("manifest.json");
    let devnet = Devnet::start(DevnetConfig {
        slot_secs: 2,
        slots_per_epoch: 4,
        validators: 6,
        preconfers: 2,
        validators_per_preconfer: 2,
        mode: ClockMode::Manual,
        manifest_path: Some(manifest.clone()),
        ..Default::default()
    })
    .await
    .unwrap();
    let m = devnet.manifest().clone();

    // a fresh preconfer account, funded, in an encrypted keystore
    let key = PrivateKeySigner::random();
    let me = key.address();
    devnet
        .l1
        .set_balance(me, U256::from(100u64) * U256::from(10u64).pow(U256::from(18)))
        .await
        .unwrap();
    let mut rng = rand08::thread_rng();
    PrivateKeySigner::encrypt_keystore(
        dir.path(),
        &mut rng,
        key.to_bytes(),
        "ecdsa pw",
        Some("preconfer.json"),
    )
    .unwrap();
    std::fs::write(dir.path().join("ecdsa.pw"), "ecdsa pw\n").unwrap();
    // validator 4 is free, validator 2 belongs to devnet preconfer 1
    let vdir = dir.path().join("validators");
    std::fs::create_dir_all(&vdir).unwrap();
    for i in [4u64, 2] {
        let sk = devnet.beacon.read().secret_key(i).clone();
        let k = Keystore::encrypt_pbkdf2(&sk, "bls pw", 1024, [i as u8; 32], [7; 16]);
        std::fs::write(vdir.join(format!("keystore-{i}.json")), serde_json::to_string(&k).unwrap())
            .unwrap();
    }
    std::fs::write(dir.path().join("bls.pw"), "bls pw\n").unwrap();
    std::fs::write(dir.path().join("wrong.pw"), "nope\n").unwrap();
    let args = |bls_pw: &str| -> Vec<String> {
        vec![
            "register".into(),
            "--devnet.manifest".into(),
            manifest.display().to_string(),
            "--preconf.keystore".into(),
            dir.path().join("preconfer.json").display().to_string(),
            "--preconf.password-file".into(),
            dir.path().join("ecdsa.pw").display().to_string(),
            "--validator-keystores".into(),
            vdir.display().to_string(),
            "--validator-password-file".into(),
            dir.path().join(bls_pw).display().to_string(),
        ]
    };

    // a wrong validator password: refused before any transaction
    let a = args("wrong.pw");
    let (ok, out) = run(&devnet, &a.iter().map(String::as_str).collect::<Vec<_>>()).await;
    assert!(!ok && out.contains("wrong password"), "{out}");
    assert_eq!(devnet.l1.nonce(me).await.unwrap(), 0);

    let a = args("bls.pw");
    let argv: Vec<&str> = a.iter().map(String::as_str).collect();
    let (ok, out) = run(&devnet, &argv).await;
    assert!(ok, "{out}");
    let hash = |i: u64| {
        let pk = devnet.beacon.read().secret_key(i).sk_to_pk().compress();
        wire::validator_key_hash(&pk)
    };
    for line in [
        "staked 1 ETH".to_string(),
        "registered as a preconfer".to_string(),
        "bonded 10 ETH".to_string(),
        format!("validator {} mapped", hash(4)),
        format!("validator {} is mapped to {}", hash(2), m.preconfers[1].account.address),
    ] {
        assert!(out.contains(&line), "{line:?} in:\n{out}");
    }
    let v = devnet
        .l1
        .call(m.contracts.registry, PreconfRegistry::validatorsCall { keyHash: hash(4) })
        .await
        .unwrap();
    assert_eq!(v.preconfer, me);
    let taken = devnet
        .l1
        .call(m.contracts.registry, PreconfRegistry::validatorsCall { keyHash: hash(2) })
        .await
        .unwrap();
    assert_eq!(taken.preconfer, m.preconfers[1].account.address, "another's key left alone");

    // again: nothing to do, nothing sent
    let nonce = devnet.l1.nonce(me).await.unwrap();
    let (ok, out) = run(&devnet, &argv).await;
    assert!(ok, "{out}");
    for line in
        ["stake already 1 ETH", "already registered", "bond already 10 ETH", "already mapped"]
    {
        assert!(out.contains(line), "{line:?} in:\n{out}");
    }
    assert_eq!(devnet.l1.nonce(me).await.unwrap(), nonce, "the second run sent nothing");
    assert_ne!(me, Address::ZERO);
}
