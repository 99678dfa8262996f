//! The gossip message: wire round trip, the checks before import, and a fuzz target for the
//! decoder.

use alloy::primitives::B256;
use proptest::prelude::*;
use taiko_preconf_exex::{
    compact::{BlockMessage, CompactMessage, FLAG_COMPACT, fragments_hash},
    message::{
        DecodeError, Ignored, MAX_COMPRESSED, PreconfMessage, Rejection, Verdict, decompress,
        message_id, validate, validate_for_import,
    },
};

mod common;
use common::*;

#[test]
fn round_trip_and_content_addressed_ids() {
    let msg = sign(&key("preconfer"), block(5, B256::repeat_byte(4), 3), CHAIN);
    let wire = msg.encode();
    assert_eq!(PreconfMessage::decode(&wire).unwrap(), msg);
    // the preconfer makes the wire bytes from the payload slashing protection recorded
    let unsigned = PreconfMessage::unsigned_payload(&msg.commitment, &msg.block);
    assert_eq!(PreconfMessage::encode_signed(&unsigned, &msg.signature), wire);
    // every copy of the wire bytes has one id, which names those bytes
    assert_eq!(message_id(&wire), message_id(&msg.encode()));
    assert_eq!(message_id(&wire), alloy::primitives::keccak256(&wire)[..20].to_vec());
    let other = sign(&key("preconfer"), block(5, B256::repeat_byte(4), 2), CHAIN);
    assert_ne!(message_id(&wire), message_id(&other.encode()));
}

#[test]
fn a_block_encoded_ahead_hashes_and_encodes_the_same() {
    use alloy::rlp::Encodable;
    use taiko_preconf_exex::message::{tx_list_hash, tx_list_hash_encoded};
    for body in [None, Some(Default::default())] {
        let mut b = block(5, B256::repeat_byte(4), 40);
        b.body.withdrawals = body;
        let msg = sign(&key("preconfer"), b, CHAIN);
        let mut encoded = Vec::new();
        for tx in &msg.block.body.transactions {
            tx.encode(&mut encoded);
        }
        assert_eq!(tx_list_hash_encoded(&msg.block, &encoded), tx_list_hash(&msg.block));
        assert_eq!(
            PreconfMessage::unsigned_payload_encoded(&msg.commitment, &msg.block, &encoded),
            PreconfMessage::unsigned_payload(&msg.commitment, &msg.block)
        );
    }
}

#[test]
fn accepts_the_expected_preconfers_next_block() {
    let parent = B256::repeat_byte(4);
    let msg = sign(&key("preconfer"), block(5, parent, 3), CHAIN);
    assert_eq!(
        validate(&msg, &ctx((4, parent))),
        Verdict::Accept { signer: key("preconfer").address() }
    );
    let signer = key("preconfer").address();
    assert_eq!(validate(&msg, &ctx((5, parent))), Verdict::Ignore { signer, why: Ignored::Old });
    assert_eq!(
        validate(&msg, &ctx((2, parent))),
        Verdict::Ignore { signer, why: Ignored::Gap { from: 3 } }
    );
    assert_eq!(
        validate(&msg, &ctx((4, B256::ZERO))),
        Verdict::Ignore { signer, why: Ignored::OtherBranch }
    );
}

#[test]
fn rejects_bad_messages() {
    let parent = B256::repeat_byte(4);
    let c = ctx((4, parent));
    // signed by someone who does not own the window
    let msg = sign(&key("intruder"), block(5, parent, 1), CHAIN);
    assert!(matches!(validate(&msg, &c), Verdict::Reject(Rejection::NotThePreconfer { .. })));
    // a time this node has no lookahead for: not provably wrong, so ignored, not penalised
    let mut b = block(5, parent, 1);
    b.header.timestamp = 5_000;
    let msg = sign(&key("preconfer"), b, CHAIN);
    assert_eq!(
        validate(&msg, &c),
        Verdict::Ignore { signer: key("preconfer").address(), why: Ignored::UnknownWindow }
    );
    // another chain
    let msg = sign(&key("preconfer"), block(5, parent, 1), 1);
    assert_eq!(validate(&msg, &c), Verdict::Reject(Rejection::WrongChain(1)));
    // a bad signature: unrecoverable v, or a flipped bit recovering someone else
    let mut msg = sign(&key("preconfer"), block(5, parent, 1), CHAIN);
    msg.signature[64] = 9;
    assert_eq!(validate(&msg, &c), Verdict::Reject(Rejection::BadSignature));
    let mut msg = sign(&key("preconfer"), block(5, parent, 1), CHAIN);
    msg.signature[10] ^= 1;
    assert!(matches!(
        validate(&msg, &c),
        Verdict::Reject(Rejection::NotThePreconfer { .. } | Rejection::BadSignature)
    ));
    // a transaction dropped from the committed block
    let mut msg = sign(&key("preconfer"), block(5, parent, 3), CHAIN);
    msg.block.body.transactions.pop();
    assert_eq!(validate(&msg, &c), Verdict::Reject(Rejection::Mismatch("tx-list hash")));
    // the block's timestamp moved
    let mut msg = sign(&key("preconfer"), block(5, parent, 1), CHAIN);
    msg.block.header.timestamp += 1;
    assert_eq!(validate(&msg, &c), Verdict::Reject(Rejection::Mismatch("timestamp")));
    // the anchor transaction replaced (not in the tx-list hash, but in the transactions root)
    let mut msg = sign(&key("preconfer"), block(5, parent, 1), CHAIN);
    msg.block.body.transactions[0] = tx(&key("golden touch stand-in"), 99);
    assert_eq!(validate(&msg, &c), Verdict::Reject(Rejection::Mismatch("transactions root")));
    // … which a follower leaves to its import (tests/sequencer.rs: refused there, nothing
    // imported); everything else is still checked here
    assert!(matches!(validate_for_import(&msg, &c), Verdict::Accept { .. }));
    let mut moved = msg.clone();
    moved.block.header.timestamp += 1;
    assert_eq!(validate_for_import(&moved, &c), Verdict::Reject(Rejection::Mismatch("timestamp")));
    // a header field outside the commitment's named fields (the state root)
    let mut msg = sign(&key("preconfer"), block(5, parent, 1), CHAIN);
    msg.block.header.state_root = B256::repeat_byte(0x55);
    assert_eq!(validate(&msg, &c), Verdict::Reject(Rejection::Mismatch("block hash")));
    // the handover mark is signed: flipping it breaks the signature
    let mut msg = sign(&key("preconfer"), block(5, parent, 1), CHAIN);
    msg.commitment.endOfSequencing = true;
    assert!(matches!(
        validate(&msg, &c),
        Verdict::Reject(Rejection::NotThePreconfer { .. } | Rejection::BadSignature)
    ));
}

#[test]
fn refuses_oversize_and_malformed_bytes() {
    assert_eq!(
        PreconfMessage::decode(&vec![0u8; MAX_COMPRESSED + 1]),
        Err(DecodeError::TooLarge(MAX_COMPRESSED + 1))
    );
    // a tiny message announcing 64 MiB after decompression
    let mut bomb = Vec::new();
    let mut n = 64u64 << 20;
    while n >= 0x80 {
        bomb.push((n as u8) | 0x80);
        n >>= 7;
    }
    bomb.push(n as u8);
    assert!(matches!(decompress(&bomb), Err(DecodeError::TooLarge(_))));
    assert!(matches!(
        PreconfMessage::decode(b"not snappy at all"),
        Err(DecodeError::Snappy(_) | DecodeError::Truncated)
    ));
    let msg = sign(&key("preconfer"), block(5, B256::ZERO, 1), CHAIN);
    let mut payload = msg.payload();
    payload[0] = 2;
    assert_eq!(PreconfMessage::decode_payload(&payload), Err(DecodeError::Version(2)));
    let mut payload = msg.payload();
    payload[1] = 1;
    assert_eq!(PreconfMessage::decode_payload(&payload), Err(DecodeError::Flags(1)));
    let payload = msg.payload();
    assert_eq!(PreconfMessage::decode_payload(&payload[..100]), Err(DecodeError::Truncated));
    assert!(matches!(
        PreconfMessage::decode_payload(&payload[..payload.len() - 1]),
        Err(DecodeError::Block(_))
    ));
    let mut longer = payload.clone();
    longer.push(0);
    assert!(matches!(PreconfMessage::decode_payload(&longer), Err(DecodeError::Block(_))));
}

/// A signed 200-transaction block whose first 150 user transactions were streamed in three
/// fragments, in compact form.
fn streamed_block() -> (PreconfMessage, Vec<B256>, Vec<B256>) {
    let msg = sign(&key("preconfer"), block(5, B256::repeat_byte(4), 200), CHAIN);
    let contents = vec![B256::repeat_byte(1), B256::repeat_byte(2), B256::repeat_byte(3)];
    let streamed = msg.block.body.transactions[1..151].iter().map(|tx| *tx.tx_hash()).collect();
    (msg, contents, streamed)
}

#[test]
fn a_compact_message_round_trips_and_rebuilds_the_block() {
    let (msg, contents, streamed) = streamed_block();
    let compact = CompactMessage::of(&msg, &contents, &streamed).unwrap();
    assert_eq!(compact.fragments, 3);
    assert_eq!(compact.fragments_hash, fragments_hash(&contents));
    assert_eq!(compact.tail.len(), 50);
    let wire = compact.encode();
    let full = msg.encode();
    assert!(wire.len() * 3 < full.len(), "{} bytes against {}", wire.len(), full.len());
    // the receiver tells the two forms apart by the flags byte
    assert_eq!(
        BlockMessage::decode(&wire).unwrap(),
        BlockMessage::Compact(Box::new(compact.clone()))
    );
    assert_eq!(BlockMessage::decode(&full).unwrap(), BlockMessage::Full(msg.clone()));
    assert_eq!(BlockMessage::decode(&wire).unwrap().commitment(), &msg.commitment);
    // the full-message decoder (catch-up responses, evidence) refuses the compact form
    assert_eq!(PreconfMessage::decode(&wire), Err(DecodeError::Flags(FLAG_COMPACT)));
    assert_eq!(CompactMessage::decode(&full), Err(DecodeError::Flags(0)));
    // rebuilt from the streamed transactions, it is the signed message, and it validates
    let streamed_txs = msg.block.body.transactions[1..151].to_vec();
    let rebuilt = compact.clone().expand(streamed_txs.clone());
    assert_eq!(rebuilt, msg);
    assert!(matches!(validate(&rebuilt, &ctx((4, B256::repeat_byte(4)))), Verdict::Accept { .. }));
    // rebuilt from other transactions, it is refused (the commitment names the block)
    let mut other = streamed_txs;
    other.swap(0, 1);
    assert_eq!(
        validate(&compact.clone().expand(other), &ctx((4, B256::repeat_byte(4)))),
        Verdict::Reject(Rejection::Mismatch("tx-list hash"))
    );
    // a tail altered by a relay: refused as well
    let mut altered = compact;
    altered.tail.pop();
    let rebuilt = altered.expand(msg.block.body.transactions[1..151].to_vec());
    assert_eq!(
        validate(&rebuilt, &ctx((4, B256::repeat_byte(4)))),
        Verdict::Reject(Rejection::Mismatch("tx-list hash"))
    );
}

#[test]
fn only_a_block_built_from_the_fragments_has_a_compact_form() {
    let (msg, contents, streamed) = streamed_block();
    // no fragments
    assert_eq!(CompactMessage::of(&msg, &[], &[]), None);
    // fragments whose transactions are not the block's first ones
    let mut reordered = streamed.clone();
    reordered.swap(3, 4);
    assert_eq!(CompactMessage::of(&msg, &contents, &reordered), None);
    // more streamed transactions than the block has
    let mut longer = streamed;
    longer.extend(std::iter::repeat_n(B256::ZERO, 60));
    assert_eq!(CompactMessage::of(&msg, &contents, &longer), None);
    // a body with parts the compact form does not carry
    let mut odd = msg.clone();
    odd.block.body.ommers.push(Default::default());
    assert_eq!(CompactMessage::of(&odd, &contents, &[]), None);
}

#[test]
fn refuses_malformed_compact_messages() {
    let (msg, contents, streamed) = streamed_block();
    let wire = CompactMessage::of(&msg, &contents, &streamed).unwrap().encode();
    let payload = decompress(&wire).unwrap();
    assert_eq!(CompactMessage::decode_payload(&payload[..100]), Err(DecodeError::Truncated));
    assert!(matches!(
        CompactMessage::decode_payload(&payload[..payload.len() - 1]),
        Err(DecodeError::Block(_))
    ));
    let mut flags = payload.clone();
    flags[1] = 0x03;
    assert_eq!(CompactMessage::decode_payload(&flags), Err(DecodeError::Flags(3)));
    let mut version = payload;
    version[0] = 2;
    assert_eq!(CompactMessage::decode_payload(&version), Err(DecodeError::Version(2)));
    assert_eq!(
        BlockMessage::decode(&vec![0u8; MAX_COMPRESSED + 1]),
        Err(DecodeError::TooLarge(MAX_COMPRESSED + 1))
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Fuzz target: arbitrary wire bytes never panic the decoder of either form.
    #[test]
    fn block_message_decoder_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..4096)) {
        let _ = BlockMessage::decode(&bytes);
        let _ = CompactMessage::decode_payload(&bytes);
        let mut compact = bytes;
        if compact.len() > 1 {
            compact[0] = 1;
            compact[1] = FLAG_COMPACT;
            let _ = CompactMessage::decode_payload(&compact);
        }
    }

    /// Any single-byte change to a compact payload is refused, or rebuilds a block that
    /// validation rejects — never a different block accepted under the signature.
    #[test]
    fn compact_mutations_are_never_accepted(at in any::<prop::sample::Index>(), flip in 1u8..=255) {
        let (msg, contents, streamed) = streamed_block();
        let wire = CompactMessage::of(&msg, &contents, &streamed).unwrap().encode();
        let mut payload = decompress(&wire).unwrap();
        let i = at.index(payload.len());
        payload[i] ^= flip;
        if let Ok(c) = CompactMessage::decode_payload(&payload)
            && c.fragments_hash == fragments_hash(&contents)
            && c.fragments == 3
        {
            let rebuilt = c.expand(msg.block.body.transactions[1..151].to_vec());
            if let Verdict::Accept { .. } = validate(&rebuilt, &ctx((4, B256::repeat_byte(4)))) {
                prop_assert_eq!(rebuilt, msg);
            }
        }
    }

    /// Fuzz target: arbitrary wire bytes never panic the decoder.
    #[test]
    fn decoder_never_panics_on_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..4096)) {
        let _ = PreconfMessage::decode(&bytes);
        let _ = PreconfMessage::decode_payload(&bytes);
    }

    /// Any single-byte change to a valid payload is refused, ignored, or decodes to a message
    /// that validation rejects — never to a different block accepted under the signature.
    #[test]
    fn mutations_are_never_accepted(at in any::<prop::sample::Index>(), flip in 1u8..=255) {
        let parent = B256::repeat_byte(4);
        let msg = sign(&key("preconfer"), block(5, parent, 2), CHAIN);
        let mut payload = msg.payload();
        let i = at.index(payload.len());
        payload[i] ^= flip;
        if let Ok(m) = PreconfMessage::decode_payload(&payload)
            && let Verdict::Accept { .. } = validate(&m, &ctx((4, parent)))
        {
            // only encodings that decode to the very same message may pass
            prop_assert_eq!(m, msg);
        }
    }
}
