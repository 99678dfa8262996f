// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @title LibFixedPointMath
/// @notice Deterministic natural exponential in 18-decimal fixed point.
/// @dev The node computes the very same integer steps in Rust (`taiko_chainspec::basefee`), so the
/// L2 base fee checked here and the one the node puts into the header agree bit for bit.
/// Algorithm: x = k·ln2 + r with 0 ≤ r < ln2; e^r by its Taylor series until a term rounds to zero;
/// then e^x = e^r · 2^k.
library LibFixedPointMath {
    /// @notice 1.0 in 18-decimal fixed point.
    uint256 internal constant ONE = 1e18;
    /// @notice ln(2) in 18-decimal fixed point (rounded down).
    uint256 internal constant LN2 = 693_147_180_559_945_309;
    /// @notice Largest accepted input: e^135 · 1e18 still fits in 256 bits.
    uint256 internal constant MAX_EXP_INPUT = 135e18;

    /// @notice The input exceeds `MAX_EXP_INPUT`.
    error ExpOverflow();

    /// @notice e^(x / 1e18) · 1e18, rounded down at each step.
    /// @param x The exponent in 18-decimal fixed point.
    /// @return r The result in 18-decimal fixed point.
    function exp(uint256 x) internal pure returns (uint256 r) {
        if (x > MAX_EXP_INPUT) revert ExpOverflow();
        uint256 k = x / LN2;
        uint256 rem = x - k * LN2;
        uint256 term = ONE;
        uint256 sum = ONE;
        for (uint256 i = 1; term != 0; ++i) {
            term = (term * rem) / (i * ONE);
            sum += term;
        }
        r = sum << k;
    }
}
