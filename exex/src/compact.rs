//! Compact block messages: a preconfirmed block that names the fragments it was streamed in.
//!
//! A preconfer that builds its next block ahead of the tick has already gossiped most of the
//! block's transactions as signed [fragments](crate::fragment) by the time it seals it. Sending
//! the whole block again at the tick would put every transaction on the wire a second time,
//! and every node would decompress, decode and hash them again — on the latency path, for a
//! block of thousands of transactions. The compact form carries the signed commitment, the
//! header, the anchor transaction and only the transactions after the last fragment (the
//! *tail*), and names the fragments by count and by the hash of their content hashes. A
//! follower that executed those fragments rebuilds the full [`PreconfMessage`] from them
//! ([`CompactMessage::expand`]) and from then on treats it exactly as a full message: the same
//! checks against the commitment and the signature, the same import.
//!
//! Nothing is signed differently: the commitment names the block hash, so a rebuilt block is
//! the committed one or is refused; slashing protection keeps the full message. The compact
//! form is a transport encoding only. A follower that lacks a named fragment (it joined
//! mid-block, or missed one) cannot rebuild the block; that is nobody's fault, so the message
//! is ignored, not rejected, and the full message is fetched by request/response, which
//! always serves full messages.
//!
//! Wire format, version 1 with the `COMPACT` flag — raw snappy of:
//!
//! ```text
//! version (1 byte) ‖ flags (1 byte, FLAG_COMPACT) ‖ signature (65 bytes, r‖s‖v)
//!   ‖ abi.encode(Preconfirmation) (11 words)
//!   ‖ RLP([header, anchor, fragments, fragmentsHash, [tail tx, …]])
//! ```
//!
//! The block's transactions are `anchor ‖ the transactions of fragments 0 … fragments−1, in
//! order ‖ tail`; `fragmentsHash` is `keccak256(contentHash_0 ‖ … ‖ contentHash_{fragments−1})`
//! over the fragments' signed content hashes. The body has no ommers, and no withdrawals
//! beyond the empty list its header's withdrawals root names (as every block this chain makes);
//! a block that does not fit this shape is sent in full.

use alloy::{
    consensus::{BlockBody, EMPTY_ROOT_HASH, Header, TxEnvelope},
    primitives::{B256, keccak256},
    rlp::{Decodable, Encodable, Header as RlpHeader},
    sol_types::SolValue,
};
use taiko_contracts::wire::Preconfirmation;

use crate::message::{
    Block, COMMITMENT_LEN, DecodeError, PreconfMessage, compress, decompress, payload_head,
    split_payload,
};

/// The flag bit of a compact block message.
pub const FLAG_COMPACT: u8 = 0x01;

/// A preconfirmed block in compact form.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CompactMessage {
    /// The signed commitment.
    pub commitment: Preconfirmation,
    /// Its signature.
    pub signature: [u8; 65],
    /// The block's header.
    pub header: Header,
    /// The block's first transaction.
    pub anchor: TxEnvelope,
    /// How many fragments (from index 0) carried the transactions after the anchor.
    pub fragments: u32,
    /// `keccak256` of those fragments' content hashes, in order ([`fragments_hash`]).
    pub fragments_hash: B256,
    /// The transactions after the fragments'.
    pub tail: Vec<TxEnvelope>,
}

/// `keccak256(contentHash_0 ‖ … ‖ contentHash_{n−1})`: names a run of fragments.
pub fn fragments_hash(content_hashes: &[B256]) -> B256 {
    keccak256(content_hashes.concat())
}

impl CompactMessage {
    /// The compact form of `msg` whose transactions after the anchor begin with the `streamed`
    /// ones, which fragments `0 … content_hashes.len()−1` carried. `None` when they do not
    /// (the block was not built from those fragments) or the block's body has parts the
    /// compact form does not carry: such a block is sent in full.
    pub fn of(msg: &PreconfMessage, content_hashes: &[B256], streamed: &[B256]) -> Option<Self> {
        let block = &msg.block;
        let (anchor, users) = block.body.transactions.split_first()?;
        let n = streamed.len();
        if content_hashes.is_empty()
            || users.len() < n
            || users[..n].iter().zip(streamed).any(|(tx, h)| tx.tx_hash() != h)
            || !block.body.ommers.is_empty()
            || block.body.withdrawals != body(&block.header, vec![]).withdrawals
        {
            return None;
        }
        Some(Self {
            commitment: msg.commitment.clone(),
            signature: msg.signature,
            header: block.header.clone(),
            anchor: anchor.clone(),
            fragments: u32::try_from(content_hashes.len()).ok()?,
            fragments_hash: fragments_hash(content_hashes),
            tail: users[n..].to_vec(),
        })
    }

    /// The full message, given the transactions of fragments `0 … self.fragments−1` in order.
    /// The caller checks first that its fragments are the ones named ([`Self::fragments_hash`]);
    /// the rebuilt block is then checked against the commitment like any received block.
    pub fn expand(self, streamed: Vec<TxEnvelope>) -> PreconfMessage {
        let mut transactions = Vec::with_capacity(1 + streamed.len() + self.tail.len());
        transactions.push(self.anchor);
        transactions.extend(streamed);
        transactions.extend(self.tail);
        let body = body(&self.header, transactions);
        PreconfMessage {
            commitment: self.commitment,
            signature: self.signature,
            block: Block { header: self.header, body },
        }
    }

    /// The wire bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut fields = Vec::new();
        self.header.encode(&mut fields);
        self.anchor.encode(&mut fields);
        self.fragments.encode(&mut fields);
        self.fragments_hash.encode(&mut fields);
        alloy::rlp::encode_list::<TxEnvelope, TxEnvelope>(&self.tail, &mut fields);
        let list = RlpHeader { list: true, payload_length: fields.len() };
        let mut p = payload_head(&self.signature, COMMITMENT_LEN + list.length() + fields.len());
        p[1] = FLAG_COMPACT;
        p.extend_from_slice(&self.commitment.abi_encode());
        list.encode(&mut p);
        p.extend_from_slice(&fields);
        compress(&p)
    }

    /// Parses wire bytes.
    pub fn decode(wire: &[u8]) -> Result<Self, DecodeError> {
        Self::decode_payload(&decompress(wire)?)
    }

    /// Parses a decompressed payload.
    pub fn decode_payload(p: &[u8]) -> Result<Self, DecodeError> {
        let (signature, rest) = split_payload(p, FLAG_COMPACT)?;
        let commitment = Preconfirmation::abi_decode(&rest[..COMMITMENT_LEN])
            .map_err(|e| DecodeError::Commitment(e.to_string()))?;
        let block = |e: alloy::rlp::Error| DecodeError::Block(e.to_string());
        let mut b = &rest[COMMITMENT_LEN..];
        let list = RlpHeader::decode(&mut b).map_err(block)?;
        if !list.list || list.payload_length != b.len() {
            return Err(DecodeError::Block("the compact body is not one list".into()));
        }
        let header = Header::decode(&mut b).map_err(block)?;
        let anchor = TxEnvelope::decode(&mut b).map_err(block)?;
        let fragments = u32::decode(&mut b).map_err(block)?;
        let fragments_hash = B256::decode(&mut b).map_err(block)?;
        let tail = Vec::<TxEnvelope>::decode(&mut b).map_err(block)?;
        if !b.is_empty() {
            return Err(DecodeError::Block(format!("{} trailing bytes", b.len())));
        }
        Ok(Self { commitment, signature, header, anchor, fragments, fragments_hash, tail })
    }
}

/// The body a compact message rebuilds: `transactions`, no ommers, and the empty withdrawals
/// list if (and only if) the header names a withdrawals root.
fn body(header: &Header, transactions: Vec<TxEnvelope>) -> BlockBody<TxEnvelope> {
    BlockBody {
        transactions,
        ommers: vec![],
        withdrawals: header
            .withdrawals_root
            .filter(|r| *r == EMPTY_ROOT_HASH)
            .map(|_| Default::default()),
    }
}

/// A block message of either form, as received from gossip.
// Decoded once per received message and consumed at once: the full form is not boxed.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BlockMessage {
    /// The whole block.
    Full(PreconfMessage),
    /// The block by its fragments.
    Compact(Box<CompactMessage>),
}

impl BlockMessage {
    /// Parses wire bytes of either form (the flags byte tells which).
    pub fn decode(wire: &[u8]) -> Result<Self, DecodeError> {
        let p = decompress(wire)?;
        match p.get(1) {
            Some(&FLAG_COMPACT) => {
                CompactMessage::decode_payload(&p).map(|c| Self::Compact(Box::new(c)))
            }
            _ => PreconfMessage::decode_payload(&p).map(Self::Full),
        }
    }

    /// The signed commitment.
    pub fn commitment(&self) -> &Preconfirmation {
        match self {
            Self::Full(m) => &m.commitment,
            Self::Compact(m) => &m.commitment,
        }
    }
}
