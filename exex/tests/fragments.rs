//! Block fragments: wire round trip, the checks before a follower executes one, a fuzz target
//! for the decoder, and that a fragment signature never passes for a commitment's.

use alloy::{
    primitives::{Address, B256, Bytes},
    signers::SignerSync,
};
use proptest::prelude::*;
use taiko_contracts::wire;
use taiko_evm::{AnchorInput, BlockAttributes};
use taiko_preconf_exex::{
    fragment::{Fragment, validate_fragment},
    message::{DecodeError, Ignored, MAX_COMPRESSED, Rejection, Verdict},
    signer::{recover_canonical, recover_commitment_signer},
};

mod common;
use common::*;

fn fragment(signer: &alloy::signers::local::PrivateKeySigner, chain: u64, index: u32) -> Fragment {
    fragment_with(signer, chain, index, false)
}

fn fragment_with(
    signer: &alloy::signers::local::PrivateKeySigner,
    chain: u64,
    index: u32,
    last: bool,
) -> Fragment {
    let user = key("user");
    let mut f = Fragment {
        l2_chain_id: chain,
        number: 5,
        parent_hash: B256::repeat_byte(4),
        index,
        attrs: BlockAttributes {
            timestamp: 1_500,
            coinbase: Address::repeat_byte(0xc0),
            anchor: AnchorInput {
                l1_block_id: 7,
                l1_block_hash: B256::repeat_byte(1),
                l1_state_root: B256::repeat_byte(2),
            },
            parent_beacon_block_root: B256::repeat_byte(3),
            extra_data: Bytes::from_static(b"x"),
        },
        txs: (0..3).map(|n| tx(&user, n)).collect(),
        last,
        signature: [0; 65],
    };
    let digest = f.signing_hash(&wire::preconf_domain(31337, TASK_MANAGER));
    f.signature = signer.sign_hash_sync(&digest).unwrap().as_bytes();
    f
}

fn check(f: &Fragment, head: (u64, B256)) -> Verdict {
    validate_fragment(f, &ctx(head), |d, s| recover_canonical(d, s))
}

#[test]
fn round_trip_and_validation() {
    let f = fragment(&key("preconfer"), CHAIN, 0);
    assert_eq!(Fragment::decode(&f.encode()).unwrap(), f);
    let signer = key("preconfer").address();
    let parent = B256::repeat_byte(4);
    assert_eq!(check(&f, (4, parent)), Verdict::Accept { signer });
    assert_eq!(check(&f, (5, parent)), Verdict::Ignore { signer, why: Ignored::Old });
    assert_eq!(check(&f, (3, parent)), Verdict::Ignore { signer, why: Ignored::Gap { from: 4 } });
    assert_eq!(check(&f, (4, B256::ZERO)), Verdict::Ignore { signer, why: Ignored::OtherBranch });
}

#[test]
fn rejects_bad_fragments() {
    let head = (4, B256::repeat_byte(4));
    let f = fragment(&key("intruder"), CHAIN, 0);
    assert!(matches!(check(&f, head), Verdict::Reject(Rejection::NotThePreconfer { .. })));
    let f = fragment(&key("preconfer"), 1, 0);
    assert_eq!(check(&f, head), Verdict::Reject(Rejection::WrongChain(1)));
    let mut f = fragment(&key("preconfer"), CHAIN, 0);
    f.signature[64] = 9;
    assert_eq!(check(&f, head), Verdict::Reject(Rejection::BadSignature));
    // anything changed after signing — a transaction, the anchor, the index — is not the
    // signer's: the signature recovers someone else
    let mut f = fragment(&key("preconfer"), CHAIN, 0);
    f.txs.pop();
    assert!(matches!(check(&f, head), Verdict::Reject(_)));
    let mut f = fragment(&key("preconfer"), CHAIN, 0);
    f.attrs.anchor.l1_block_id += 1;
    assert!(matches!(check(&f, head), Verdict::Reject(_)));
    let mut f = fragment(&key("preconfer"), CHAIN, 0);
    f.index = 1;
    assert!(matches!(check(&f, head), Verdict::Reject(_)));
    // the `last` mark is signed too: a relay cannot make a follower seal early
    let mut f = fragment(&key("preconfer"), CHAIN, 0);
    f.last = true;
    assert!(matches!(check(&f, head), Verdict::Reject(_)));
    let f = Fragment::decode(&f.encode()).unwrap();
    assert!(f.last, "the mark survives the wire");
    // a time without a known window: ignored, not penalised
    let mut f = fragment(&key("preconfer"), CHAIN, 0);
    f.attrs.timestamp = 5_000;
    let digest = f.signing_hash(&wire::preconf_domain(31337, TASK_MANAGER));
    f.signature = key("preconfer").sign_hash_sync(&digest).unwrap().as_bytes();
    assert!(matches!(check(&f, head), Verdict::Ignore { why: Ignored::UnknownWindow, .. }));
}

#[test]
fn a_fragment_signature_is_not_a_commitment_signature() {
    // a commitment whose fields mirror a fragment's does not verify under its signature
    let f = fragment(&key("preconfer"), CHAIN, 0);
    let msg = sign(&key("preconfer"), block(5, f.parent_hash, 3), CHAIN);
    let domain = wire::preconf_domain(31337, TASK_MANAGER);
    assert_eq!(
        recover_commitment_signer(&msg.commitment, &domain, &msg.signature),
        Some(key("preconfer").address())
    );
    assert_ne!(
        recover_commitment_signer(&msg.commitment, &domain, &f.signature),
        Some(key("preconfer").address())
    );
    assert_ne!(f.signing_hash(&domain), wire::preconf_signing_hash(&msg.commitment, &domain));
}

#[test]
fn refuses_oversize_and_malformed_bytes() {
    assert_eq!(
        Fragment::decode(&vec![0u8; MAX_COMPRESSED + 1]),
        Err(DecodeError::TooLarge(MAX_COMPRESSED + 1))
    );
    assert!(Fragment::decode(b"not snappy at all").is_err());
    let f = fragment(&key("preconfer"), CHAIN, 0);
    let payload = snap::raw::Decoder::new().decompress_vec(&f.encode()).unwrap();
    let compress = |p: &[u8]| snap::raw::Encoder::new().compress_vec(p).unwrap();
    let mut p = payload.clone();
    p[0] = 2;
    assert_eq!(Fragment::decode(&compress(&p)), Err(DecodeError::Version(2)));
    let mut p = payload.clone();
    p[1] = 1;
    assert_eq!(Fragment::decode(&compress(&p)), Err(DecodeError::Flags(1)));
    assert_eq!(Fragment::decode(&compress(&payload[..100])), Err(DecodeError::Truncated));
    // a body that is not the signed one, or has bytes after it
    let mut p = payload.clone();
    let last = p.len() - 1;
    p[last] ^= 1;
    assert!(matches!(Fragment::decode(&compress(&p)), Err(DecodeError::Block(_))));
    let mut p = payload;
    p.push(0);
    assert!(matches!(Fragment::decode(&compress(&p)), Err(DecodeError::Block(_))));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Fuzz target: arbitrary wire bytes never panic the fragment decoder.
    #[test]
    fn decoder_never_panics_on_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..4096)) {
        let _ = Fragment::decode(&bytes);
        let _ = Fragment::decode(&snap::raw::Encoder::new().compress_vec(&bytes).unwrap());
    }

    /// Any single-byte change to a valid fragment is refused or decodes to one validation
    /// rejects — never to other content accepted under the signature.
    #[test]
    fn mutations_are_never_accepted(
        at in any::<prop::sample::Index>(),
        flip in 1u8..=255,
        last in any::<bool>(),
    ) {
        let f = fragment_with(&key("preconfer"), CHAIN, 0, last);
        let mut p = snap::raw::Decoder::new().decompress_vec(&f.encode()).unwrap();
        let i = at.index(p.len());
        p[i] ^= flip;
        if let Ok(m) = Fragment::decode(&snap::raw::Encoder::new().compress_vec(&p).unwrap())
            && let Verdict::Accept { .. } = check(&m, (4, B256::repeat_byte(4)))
        {
            prop_assert_eq!(m, f);
        }
    }
}
