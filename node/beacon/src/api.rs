//! JSON types of the beacon API subset a preconfer uses. Numbers are decimal strings, as the
//! standard API has them; every response wraps its payload in `data`.

use alloy::primitives::B256;
use serde::{Deserialize, Serialize};

/// `{"data": …}`, with the flags some endpoints add.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Response<T> {
    /// The payload.
    pub data: T,
    /// Whether the node is optimistic about the data (always false here).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub execution_optimistic: Option<bool>,
    /// Whether the data is finalized.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finalized: Option<bool>,
}

impl<T> Response<T> {
    /// Wraps `data`.
    pub fn new(data: T) -> Self {
        Self { data, execution_optimistic: Some(false), finalized: Some(false) }
    }
}

/// `GET /eth/v1/validator/duties/proposer/{epoch}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProposerDuties {
    /// The block root the duties depend on.
    pub dependent_root: B256,
    /// Whether optimistic.
    pub execution_optimistic: bool,
    /// One duty per slot of the epoch.
    pub data: Vec<ProposerDuty>,
}

/// One proposer duty.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProposerDuty {
    /// Compressed pubkey, 0x-hex.
    pub pubkey: String,
    /// Validator index.
    #[serde(with = "quoted")]
    pub validator_index: u64,
    /// Slot.
    #[serde(with = "quoted")]
    pub slot: u64,
}

/// `GET /eth/v1/beacon/genesis`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Genesis {
    /// Genesis time (unix seconds).
    #[serde(with = "quoted")]
    pub genesis_time: u64,
    /// Root of the genesis validators.
    pub genesis_validators_root: B256,
    /// Genesis fork version, 0x-hex.
    pub genesis_fork_version: String,
}

/// A header as `GET /eth/v1/beacon/headers/{block_id}` returns it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeaderData {
    /// The block root.
    pub root: B256,
    /// Whether canonical (always true here).
    pub canonical: bool,
    /// The signed header.
    pub header: SignedHeader,
}

/// `{message, signature}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedHeader {
    /// The header (numbers quoted, as the API has them).
    pub message: crate::BeaconBlockHeader,
    /// BLS signature, 0x-hex.
    pub signature: String,
}

/// One entry of `GET /eth/v1/beacon/blob_sidecars/{block_id}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlobSidecar {
    /// Index of the blob in the block.
    #[serde(with = "quoted")]
    pub index: u64,
    /// The blob (131072 bytes).
    pub blob: alloy::primitives::Bytes,
    /// KZG commitment (48 bytes).
    pub kzg_commitment: alloy::primitives::Bytes,
    /// KZG proof (48 bytes).
    pub kzg_proof: alloy::primitives::Bytes,
    /// The block's header.
    pub signed_block_header: SignedHeader,
    /// Inclusion proof of the commitment in the block body (17 roots).
    pub kzg_commitment_inclusion_proof: Vec<B256>,
}

/// One entry of `GET /eth/v1/beacon/states/{state_id}/validators`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ValidatorData {
    /// Index.
    #[serde(with = "quoted")]
    pub index: u64,
    /// Balance in Gwei.
    #[serde(with = "quoted")]
    pub balance: u64,
    /// Status (`active_ongoing` here).
    pub status: String,
    /// The record.
    pub validator: ValidatorRecord,
}

/// A validator record with quoted numbers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ValidatorRecord {
    /// Compressed pubkey, 0x-hex.
    pub pubkey: String,
    /// Withdrawal credentials.
    pub withdrawal_credentials: B256,
    /// Effective balance.
    #[serde(with = "quoted")]
    pub effective_balance: u64,
    /// Slashed.
    pub slashed: bool,
    /// Activation eligibility epoch.
    #[serde(with = "quoted")]
    pub activation_eligibility_epoch: u64,
    /// Activation epoch.
    #[serde(with = "quoted")]
    pub activation_epoch: u64,
    /// Exit epoch.
    #[serde(with = "quoted")]
    pub exit_epoch: u64,
    /// Withdrawable epoch.
    #[serde(with = "quoted")]
    pub withdrawable_epoch: u64,
}

impl ValidatorData {
    /// The API view of validator `index`.
    pub fn new(index: u64, v: &crate::Validator) -> Self {
        Self {
            index,
            balance: v.effective_balance,
            status: "active_ongoing".into(),
            validator: ValidatorRecord {
                pubkey: alloy::hex::encode_prefixed(v.pubkey),
                withdrawal_credentials: v.withdrawal_credentials,
                effective_balance: v.effective_balance,
                slashed: v.slashed,
                activation_eligibility_epoch: v.activation_eligibility_epoch,
                activation_epoch: v.activation_epoch,
                exit_epoch: v.exit_epoch,
                withdrawable_epoch: v.withdrawable_epoch,
            },
        }
    }
}

/// Serde for numbers as decimal strings.
pub mod quoted {
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    /// Writes `v` as a decimal string.
    pub fn serialize<S: Serializer>(v: &u64, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&v.to_string())
    }

    /// Reads a decimal string (or a bare number).
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum N {
            S(String),
            N(u64),
        }
        match N::deserialize(d)? {
            N::S(s) => s.parse().map_err(D::Error::custom),
            N::N(n) => Ok(n),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duties_use_decimal_strings() {
        let d = ProposerDuty { pubkey: "0xab".into(), validator_index: 12, slot: 34 };
        let j = serde_json::to_value(&d).unwrap();
        assert_eq!(j["validator_index"], "12");
        assert_eq!(j["slot"], "34");
        let back: ProposerDuty = serde_json::from_value(j).unwrap();
        assert_eq!(back, d);
    }
}
