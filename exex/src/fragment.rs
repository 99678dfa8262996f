//! Block fragments: a preconfer's next block, streamed round by round ahead of its commitment.
//!
//! A follower that receives a whole block at its tick re-executes all of it on the latency
//! path. While the preconfer builds its next block ahead of the tick (an engine build
//! session), it gossips each round's transactions as a *fragment*: the block's number, parent
//! and attributes (timestamp, coinbase, anchor) and the round's transactions, in block order,
//! signed by the preconfer. A follower starts the same block on its engine at fragment 0 and
//! executes each fragment as it arrives; when the signed block comes, the engine executes only
//! the transactions after the fragments and seals — and takes the result only if it is the
//! very block that was committed to (same hash). The fragment sent when the preconfer seals
//! the block (its last round, possibly empty) is marked `last`: nothing follows it, so a
//! follower seals its copy right away, while the preconfer signs, and the signed block then
//! costs it a comparison of hashes. Fragments commit to nothing: a wrong, missing or withheld
//! fragment only sends the follower back to importing the block in full, and the commitment
//! and slashing protection are untouched.
//!
//! Wire format, version 1 — raw snappy of:
//!
//! ```text
//! version (1 byte) ‖ flags (1 byte, 0) ‖ signature (65 bytes, r‖s‖v)
//!   ‖ abi.encode(PreconfFragment) (6 words) ‖ body
//! body = RLP([timestamp, coinbase, l1BlockId, l1BlockHash, l1StateRoot,
//!             parentBeaconBlockRoot, extraData, [tx, …]])
//! ```
//!
//! The signature is EIP-712 over `PreconfFragment` (chain, number, parent hash, index,
//! `keccak256(body)` and the `last` mark) under the commitment domain: a different primary
//! type, so a fragment signature can never pass for a commitment's. Sizes are bounded as for
//! blocks.

use alloy::{
    consensus::TxEnvelope,
    primitives::{Address, B256, Bytes, keccak256},
    rlp::{Decodable, Encodable, Header},
    sol_types::{Eip712Domain, SolStruct, SolValue},
};
use taiko_evm::{AnchorInput, BlockAttributes};

use crate::message::{
    DecodeError, Ignored, Rejection, VERSION, ValidationContext, Verdict, decompress,
};

alloy::sol! {
    /// What a fragment's signature covers.
    #[derive(Debug, PartialEq, Eq)]
    struct PreconfFragment {
        uint64 l2ChainId;
        uint64 blockNumber;
        bytes32 parentHash;
        uint32 index;
        bytes32 contentHash;
        bool last;
    }
}

const HEADER_LEN: usize = 6 * 32;
const HEAD_LEN: usize = 2 + 65 + HEADER_LEN;

/// One round of a block being built.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fragment {
    /// The L2 chain.
    pub l2_chain_id: u64,
    /// The block's number.
    pub number: u64,
    /// The block's parent.
    pub parent_hash: B256,
    /// Position in the block's stream, from 0.
    pub index: u32,
    /// The block's attributes.
    pub attrs: BlockAttributes,
    /// The round's transactions, in block order.
    pub txs: Vec<TxEnvelope>,
    /// The block's last fragment: the preconfer sealed the block after it.
    pub last: bool,
    /// The preconfer's signature over [`Fragment::signed`].
    pub signature: [u8; 65],
}

impl Fragment {
    /// The body: attributes and transactions.
    pub fn body(&self) -> Vec<u8> {
        let a = &self.attrs;
        let mut fields = Vec::new();
        a.timestamp.encode(&mut fields);
        a.coinbase.encode(&mut fields);
        a.anchor.l1_block_id.encode(&mut fields);
        a.anchor.l1_block_hash.encode(&mut fields);
        a.anchor.l1_state_root.encode(&mut fields);
        a.parent_beacon_block_root.encode(&mut fields);
        a.extra_data.encode(&mut fields);
        alloy::rlp::encode_list::<TxEnvelope, TxEnvelope>(&self.txs, &mut fields);
        let mut out = Vec::with_capacity(fields.len() + 9);
        Header { list: true, payload_length: fields.len() }.encode(&mut out);
        out.extend_from_slice(&fields);
        out
    }

    /// What the signature covers.
    pub fn signed(&self) -> PreconfFragment {
        self.signed_with(keccak256(self.body()))
    }

    fn signed_with(&self, content_hash: B256) -> PreconfFragment {
        PreconfFragment {
            l2ChainId: self.l2_chain_id,
            blockNumber: self.number,
            parentHash: self.parent_hash,
            index: self.index,
            contentHash: content_hash,
            last: self.last,
        }
    }

    /// The EIP-712 digest signed under `domain`.
    pub fn signing_hash(&self, domain: &Eip712Domain) -> B256 {
        self.signed().eip712_signing_hash(domain)
    }

    /// The wire bytes.
    pub fn encode(&self) -> Vec<u8> {
        let body = self.body();
        let mut p = Vec::with_capacity(HEAD_LEN + body.len());
        p.push(VERSION);
        p.push(0);
        p.extend_from_slice(&self.signature);
        p.extend_from_slice(&self.signed_with(keccak256(&body)).abi_encode());
        p.extend_from_slice(&body);
        snap::raw::Encoder::new().compress_vec(&p).expect("in-memory compression")
    }

    /// Parses wire bytes (sizes bounded before anything is allocated).
    pub fn decode(wire: &[u8]) -> Result<Self, DecodeError> {
        let p = decompress(wire)?;
        if p.len() < HEAD_LEN {
            return Err(DecodeError::Truncated);
        }
        if p[0] != VERSION {
            return Err(DecodeError::Version(p[0]));
        }
        if p[1] != 0 {
            return Err(DecodeError::Flags(p[1]));
        }
        let signature: [u8; 65] = p[2..67].try_into().expect("65 bytes");
        let signed = PreconfFragment::abi_decode_validate(&p[67..HEAD_LEN])
            .map_err(|e| DecodeError::Commitment(e.to_string()))?;
        let body = &p[HEAD_LEN..];
        if keccak256(body) != signed.contentHash {
            return Err(DecodeError::Block("content hash does not match the body".into()));
        }
        let (attrs, txs) = decode_body(body).map_err(|e| DecodeError::Block(e.to_string()))?;
        Ok(Self {
            l2_chain_id: signed.l2ChainId,
            number: signed.blockNumber,
            parent_hash: signed.parentHash,
            index: signed.index,
            attrs,
            txs,
            last: signed.last,
            signature,
        })
    }
}

fn decode_body(mut b: &[u8]) -> alloy::rlp::Result<(BlockAttributes, Vec<TxEnvelope>)> {
    let header = Header::decode(&mut b)?;
    if !header.list || header.payload_length != b.len() {
        return Err(alloy::rlp::Error::Custom("body is not one list"));
    }
    let attrs = BlockAttributes {
        timestamp: u64::decode(&mut b)?,
        coinbase: Address::decode(&mut b)?,
        anchor: AnchorInput {
            l1_block_id: u64::decode(&mut b)?,
            l1_block_hash: B256::decode(&mut b)?,
            l1_state_root: B256::decode(&mut b)?,
        },
        parent_beacon_block_root: B256::decode(&mut b)?,
        extra_data: Bytes::decode(&mut b)?,
    };
    let txs = Vec::<TxEnvelope>::decode(&mut b)?;
    if !b.is_empty() {
        return Err(alloy::rlp::Error::Custom("bytes after the transactions"));
    }
    Ok((attrs, txs))
}

/// Checks a decoded fragment: chain, signature, the signer owning the window of the block's
/// timestamp, and that the block extends the local head.
pub fn validate_fragment(
    f: &Fragment,
    ctx: &impl ValidationContext,
    recover: impl FnOnce(B256, &[u8; 65]) -> Option<Address>,
) -> Verdict {
    if f.l2_chain_id != ctx.l2_chain_id() {
        return Verdict::Reject(Rejection::WrongChain(f.l2_chain_id));
    }
    let Some(signer) = recover(f.signing_hash(ctx.domain()), &f.signature) else {
        return Verdict::Reject(Rejection::BadSignature);
    };
    match ctx.preconfer_at(f.attrs.timestamp) {
        Some(owner) if owner == signer => {}
        None => return Verdict::Ignore { signer, why: Ignored::UnknownWindow },
        expected => return Verdict::Reject(Rejection::NotThePreconfer { signer, expected }),
    }
    let (head, head_hash) = ctx.head();
    let why = if f.number <= head {
        Ignored::Old
    } else if f.number > head + 1 {
        Ignored::Gap { from: head + 1 }
    } else if f.parent_hash != head_hash {
        Ignored::OtherBranch
    } else {
        return Verdict::Accept { signer };
    };
    Verdict::Ignore { signer, why }
}
