//! The anchor transaction: the first transaction of every L2 block.
//!
//! It is an EIP-1559 transaction from the golden-touch account to the anchor contract, with a
//! tip of 0, a fee cap equal to the block's base fee and a gas limit of 1,000,000, calling
//! `anchor(l1BlockId, l1BlockHash, l1StateRoot, parentGasUsed, baseFeeConfig)`. Its signature
//! uses the fixed ECDSA nonce k = 1 (k = 2 if k = 1 yields s = 0), normalised to low-s, so every
//! node derives the identical bytes from the same inputs and can check a received block's anchor
//! by rebuilding it.

use alloy::{
    consensus::{SignableTransaction, TxEip1559, TxEnvelope},
    primitives::{Address, B256, Signature, TxKind, U256},
    sol_types::SolCall,
};
use k256::{
    AffinePoint, ProjectivePoint, Scalar, U256 as KU256,
    elliptic_curve::{PrimeField, ops::Reduce, point::AffineCoordinates, scalar::IsHigh},
};
use taiko_chainspec::{ANCHOR_GAS_LIMIT, BaseFeeConfig, ChainSpec, GOLDEN_TOUCH_PRIVATE_KEY};
use taiko_contracts::TaikoAnchor;

/// The L1 block an L2 block builds on, as recorded by its anchor transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AnchorInput {
    /// L1 block number.
    pub l1_block_id: u64,
    /// L1 block hash.
    pub l1_block_hash: B256,
    /// L1 state root.
    pub l1_state_root: B256,
}

/// Signs `hash` with the golden-touch key using the fixed nonce k = 1 (or k = 2), low-s.
pub fn sign_fixed_k(hash: B256) -> Signature {
    let d = Scalar::from_repr(GOLDEN_TOUCH_PRIVATE_KEY.0.into()).expect("key below the order");
    let z = <Scalar as Reduce<KU256>>::reduce_bytes(&hash.0.into());
    for k in [1u64, 2] {
        let k = Scalar::from(k);
        let point: AffinePoint = (ProjectivePoint::GENERATOR * k).to_affine();
        let r = <Scalar as Reduce<KU256>>::reduce_bytes(&point.x());
        let s = (z + r * d) * k.invert().expect("k is non-zero");
        if bool::from(s.is_zero()) || bool::from(r.is_zero()) {
            continue;
        }
        let mut y_odd = bool::from(point.y_is_odd());
        let s = if bool::from(s.is_high()) {
            y_odd = !y_odd;
            -s
        } else {
            s
        };
        return Signature::new(
            U256::from_be_slice(&r.to_bytes()),
            U256::from_be_slice(&s.to_bytes()),
            y_odd,
        );
    }
    unreachable!("s cannot be zero for both k = 1 and k = 2")
}

/// Calldata of `TaikoAnchor.anchor`.
pub fn anchor_calldata(anchor: &AnchorInput, parent_gas_used: u32, cfg: &BaseFeeConfig) -> Vec<u8> {
    TaikoAnchor::anchorCall {
        _anchorBlockId: anchor.l1_block_id,
        _anchorBlockHash: anchor.l1_block_hash,
        _anchorStateRoot: anchor.l1_state_root,
        _parentGasUsed: parent_gas_used,
        _cfg: TaikoAnchor::BaseFeeConfig {
            adjustmentQuotient: cfg.adjustment_quotient,
            sharingPctg: cfg.sharing_pctg,
            gasIssuancePerSecond: cfg.gas_issuance_per_second,
            minGasExcess: cfg.min_gas_excess,
            maxGasIssuancePerBlock: cfg.max_gas_issuance_per_block,
        },
    }
    .abi_encode()
}

/// Decodes the anchor inputs from an anchor transaction's calldata.
pub fn decode_anchor_calldata(input: &[u8]) -> Option<(AnchorInput, u32)> {
    let call = TaikoAnchor::anchorCall::abi_decode(input).ok()?;
    Some((
        AnchorInput {
            l1_block_id: call._anchorBlockId,
            l1_block_hash: call._anchorBlockHash,
            l1_state_root: call._anchorStateRoot,
        },
        call._parentGasUsed,
    ))
}

/// Builds the signed anchor transaction of a block.
pub fn anchor_transaction(
    spec: &ChainSpec,
    nonce: u64,
    base_fee: u64,
    anchor: &AnchorInput,
    parent_gas_used: u32,
) -> TxEnvelope {
    let tx = TxEip1559 {
        chain_id: spec.chain_id,
        nonce,
        gas_limit: ANCHOR_GAS_LIMIT,
        max_fee_per_gas: base_fee as u128,
        max_priority_fee_per_gas: 0,
        to: TxKind::Call(spec.anchor_address),
        value: U256::ZERO,
        access_list: Default::default(),
        input: anchor_calldata(anchor, parent_gas_used, spec.base_fee_config()).into(),
    };
    let sig = sign_fixed_k(tx.signature_hash());
    tx.into_signed(sig).into()
}

/// Whether `to` is the anchor contract and `from` the golden-touch account.
pub fn is_anchor_call(spec: &ChainSpec, from: Address, to: Option<Address>) -> bool {
    from == taiko_chainspec::GOLDEN_TOUCH_ADDRESS && to == Some(spec.anchor_address)
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy::{
        consensus::transaction::SignerRecoverable,
        eips::Encodable2718,
        primitives::{b256, hex},
    };
    use taiko_chainspec::GOLDEN_TOUCH_ADDRESS;

    /// With k = 1, r is the x coordinate of the generator: a constant for every anchor.
    #[test]
    fn fixed_k_signature_has_generator_r_and_recovers_golden_touch() {
        let gx = U256::from_be_slice(&hex!(
            "79be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798"
        ));
        for i in 0..50u64 {
            let hash = alloy::primitives::keccak256(i.to_be_bytes());
            let sig = sign_fixed_k(hash);
            assert_eq!(sig.r(), gx, "k = 1 gives r = Gx");
            assert!(
                sig.s()
                    <= U256::from_be_slice(&hex!(
                        "7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0"
                    )),
                "low s"
            );
            assert_eq!(sig.recover_address_from_prehash(&hash).unwrap(), GOLDEN_TOUCH_ADDRESS);
        }
    }

    /// Hand-computed with k = 1: s = z + r·d (mod n), then low-s normalisation. For z = 1:
    /// r·d + 1 mod n, computed independently in Python (`(gx*d+1) % n`, then `n - s` if high).
    #[test]
    fn fixed_k_signature_matches_hand_computation() {
        let sig = sign_fixed_k(b256!(
            "0x0000000000000000000000000000000000000000000000000000000000000001"
        ));
        let n = U256::from_be_slice(&hex!(
            "fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141"
        ));
        let gx = U256::from_be_slice(&hex!(
            "79be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798"
        ));
        let d = U256::from_be_bytes(GOLDEN_TOUCH_PRIVATE_KEY.0);
        let mut s = gx.mul_mod(d, n).add_mod(U256::from(1), n);
        let mut odd = false; // G.y is even
        if s > n >> 1 {
            s = n - s;
            odd = true;
        }
        assert_eq!((sig.r(), sig.s(), sig.v()), (gx, s, odd));
    }

    #[test]
    fn anchor_tx_is_deterministic_and_decodes() {
        let spec = ChainSpec::devnet();
        let input = AnchorInput {
            l1_block_id: 9,
            l1_block_hash: B256::repeat_byte(1),
            l1_state_root: B256::repeat_byte(2),
        };
        let a = anchor_transaction(&spec, 3, 8_847_185, &input, 21_000);
        let b = anchor_transaction(&spec, 3, 8_847_185, &input, 21_000);
        assert_eq!(a.encoded_2718(), b.encoded_2718());
        assert_eq!(a.recover_signer().unwrap(), GOLDEN_TOUCH_ADDRESS);
        let TxEnvelope::Eip1559(signed) = &a else { panic!("anchor is EIP-1559") };
        assert_eq!(signed.tx().max_fee_per_gas, 8_847_185);
        assert_eq!(signed.tx().max_priority_fee_per_gas, 0);
        assert_eq!(signed.tx().gas_limit, ANCHOR_GAS_LIMIT);
        assert_eq!(decode_anchor_calldata(&signed.tx().input), Some((input, 21_000)));
        assert_ne!(
            anchor_transaction(&spec, 3, 8_847_186, &input, 21_000).encoded_2718(),
            a.encoded_2718()
        );
    }
}
