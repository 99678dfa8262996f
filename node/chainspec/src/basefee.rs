//! The Taiko L2 base fee: an EIP-1559-like rule driven by a gas *excess* that grows with the gas
//! blocks use and shrinks with time.
//!
//! ```text
//! issuance = min(Δt · gasIssuancePerSecond, maxGasIssuancePerBlock)
//! excess'  = max(excess + parentGasUsed − issuance, minGasExcess)      (saturating at 0)
//! baseFee  = max(1, e^(excess' / target) / target),  target = gasIssuancePerSecond · quotient
//! ```
//!
//! The integer steps, including the fixed-point exponential, are exactly those of the L2 anchor
//! contract (`LibFixedPointMath.exp`, `TaikoAnchor.calculateBaseFee`): the anchor transaction
//! reverts unless the header's base fee equals the contract's result, so both sides must agree to
//! the wei. A test runs the contract in revm against this code.

use alloy::primitives::U256;
use serde::{Deserialize, Serialize};

/// 1.0 in 18-decimal fixed point.
const ONE: u128 = 1_000_000_000_000_000_000;
/// ln(2) in 18-decimal fixed point, rounded down.
const LN2: u128 = 693_147_180_559_945_309;
/// Largest exponent accepted by [`exp`]: e^135 · 1e18 still fits in 256 bits.
pub const MAX_EXP_INPUT: u128 = 135 * ONE;

/// Base-fee parameters of a Taiko L2 chain (Taiko's `BaseFeeConfig`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BaseFeeConfig {
    /// Adjustment quotient: `target = gasIssuancePerSecond · adjustmentQuotient`.
    pub adjustment_quotient: u8,
    /// Percentage of the base fee paid to the block's coinbase; the rest goes to the treasury.
    pub sharing_pctg: u8,
    /// Gas issued per second of L2 time.
    pub gas_issuance_per_second: u32,
    /// Floor of the gas excess.
    pub min_gas_excess: u64,
    /// Most gas issued for one block, however long its time gap.
    pub max_gas_issuance_per_block: u32,
}

impl Default for BaseFeeConfig {
    /// Taiko's Pacaya defaults, with 75% of the base fee shared with the coinbase.
    fn default() -> Self {
        Self {
            adjustment_quotient: 8,
            sharing_pctg: 75,
            gas_issuance_per_second: 5_000_000,
            min_gas_excess: 1_340_000_000,
            max_gas_issuance_per_block: 600_000_000,
        }
    }
}

/// Why a base-fee configuration is unusable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum BaseFeeConfigError {
    /// `adjustmentQuotient` is zero.
    #[error("base-fee adjustment quotient must be non-zero")]
    ZeroQuotient,
    /// `gasIssuancePerSecond` is zero.
    #[error("gas issuance per second must be non-zero")]
    ZeroIssuance,
    /// `sharingPctg` is above 100.
    #[error("base-fee sharing percentage {0} is above 100")]
    SharingAbove100(u8),
}

impl BaseFeeConfig {
    /// Checks the configuration the way the anchor contract does.
    pub fn validate(&self) -> Result<(), BaseFeeConfigError> {
        if self.adjustment_quotient == 0 {
            return Err(BaseFeeConfigError::ZeroQuotient);
        }
        if self.gas_issuance_per_second == 0 {
            return Err(BaseFeeConfigError::ZeroIssuance);
        }
        if self.sharing_pctg > 100 {
            return Err(BaseFeeConfigError::SharingAbove100(self.sharing_pctg));
        }
        Ok(())
    }

    /// Splits the base-fee part of a transaction's fee between coinbase and treasury.
    pub fn split_fee(&self, base_fee_paid: U256) -> (U256, U256) {
        let to_coinbase = base_fee_paid * U256::from(self.sharing_pctg) / U256::from(100u8);
        (to_coinbase, base_fee_paid - to_coinbase)
    }

    /// The base fee of a block at `timestamp` and the gas excess after it, given the excess after
    /// the parent, the parent's gas used and the parent's timestamp (0 before the first anchor).
    ///
    /// Assumes a [valid](Self::validate) configuration.
    pub fn calculate(
        &self,
        gas_excess: u64,
        parent_gas_used: u32,
        parent_timestamp: u64,
        timestamp: u64,
    ) -> BaseFee {
        let dt = timestamp.saturating_sub(parent_timestamp) as u128;
        let issuance = (dt * self.gas_issuance_per_second as u128)
            .min(self.max_gas_issuance_per_block as u128);
        let mut excess = (gas_excess as u128 + parent_gas_used as u128).saturating_sub(issuance);
        excess = excess.max(self.min_gas_excess as u128).min(u64::MAX as u128);

        let target = self.gas_issuance_per_second as u128 * self.adjustment_quotient as u128;
        let x = (U256::from(excess) * U256::from(ONE) / U256::from(target))
            .min(U256::from(MAX_EXP_INPUT));
        let fee = exp(x) / U256::from(ONE) / U256::from(target);
        let base_fee = fee.clamp(U256::from(1u8), U256::from(u64::MAX)).to::<u64>();
        BaseFee { base_fee, gas_excess: excess as u64 }
    }
}

/// A block's base fee and the gas excess carried to its child.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BaseFee {
    /// Base fee per gas of the block, in wei.
    pub base_fee: u64,
    /// Gas excess after the block.
    pub gas_excess: u64,
}

/// e^(x / 1e18) · 1e18, with the same integer steps as the Solidity `LibFixedPointMath.exp`.
///
/// # Panics
/// If `x` exceeds [`MAX_EXP_INPUT`]; callers clamp first.
pub fn exp(x: U256) -> U256 {
    assert!(x <= U256::from(MAX_EXP_INPUT), "exp input out of range");
    let one = U256::from(ONE);
    let ln2 = U256::from(LN2);
    let k = x / ln2;
    let rem = x - k * ln2;
    let mut term = one;
    let mut sum = one;
    let mut i = 1u64;
    while !term.is_zero() {
        term = term * rem / (U256::from(i) * one);
        sum += term;
        i += 1;
    }
    sum << k.to::<usize>()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> BaseFeeConfig {
        BaseFeeConfig::default()
    }

    #[test]
    fn exp_known_values() {
        assert_eq!(exp(U256::ZERO), U256::from(ONE));
        // e = 2.718281828459045235…; the fixed-point result rounds down a little.
        assert_eq!(exp(U256::from(ONE)), U256::from(2_718_281_828_459_045_222u128));
    }

    /// Hand-computed: excess clamps to 1.34e9, target 4e7, e^33.5 / 4e7 = 8 847 185.89… (the
    /// same figures the forge test asserts for the contract).
    #[test]
    fn base_fee_at_min_excess() {
        let r = cfg().calculate(0, 0, 0, 1_000);
        assert_eq!(r, BaseFee { base_fee: 8_847_185, gas_excess: 1_340_000_000 });
    }

    /// Excess 2e9 (x = 50): e^50 / 4e7 = 129 617 638 214 676.8…
    #[test]
    fn base_fee_high_excess() {
        let r = cfg().calculate(1_400_000_000, 600_000_000, 10, 10);
        assert_eq!(r, BaseFee { base_fee: 129_617_638_214_676, gas_excess: 2_000_000_000 });
    }

    #[test]
    fn issuance_is_capped_per_block() {
        assert_eq!(cfg().calculate(1_500_000_000, 20_000_000, 100, 102).gas_excess, 1_510_000_000);
        assert_eq!(
            cfg().calculate(1_500_000_000, 20_000_000, 0, 1_000_000).gas_excess,
            1_340_000_000
        );
    }

    #[test]
    fn huge_excess_saturates_instead_of_overflowing() {
        let r = cfg().calculate(u64::MAX, u32::MAX, 5, 5);
        assert_eq!(r.gas_excess, u64::MAX);
        assert_eq!(r.base_fee, u64::MAX);
    }

    #[test]
    fn fee_split_follows_sharing_percentage() {
        let (c, t) = cfg().split_fee(U256::from(1_000u64));
        assert_eq!((c, t), (U256::from(750u64), U256::from(250u64)));
        let (c, t) = cfg().split_fee(U256::from(3u64));
        assert_eq!(c + t, U256::from(3u64), "nothing is lost to rounding");
    }

    #[test]
    fn invalid_configs_are_named() {
        let mut c = cfg();
        c.sharing_pctg = 101;
        assert_eq!(c.validate(), Err(BaseFeeConfigError::SharingAbove100(101)));
        c = cfg();
        c.adjustment_quotient = 0;
        assert_eq!(c.validate(), Err(BaseFeeConfigError::ZeroQuotient));
    }
}
