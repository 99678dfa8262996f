// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {LibBLS} from "../../src/l1/libs/LibBLS.sol";

/// @notice Test-only BLS signing with the EIP-2537 MSM precompiles: pk = sk·G1 and
/// sig = sk·H(m), returned in the uncompressed ZCash serialisation the registry takes. The
/// cross-language test checks the same code path against signatures made by `blst`.
library BLSSigner {
    bytes internal constant G1_GEN =
        hex"0000000000000000000000000000000017f1d3a73197d7942695638c4fa9ac0fc3688c4f9774b905a14e3a3f171bac586c55e83ff97a1aeffb3af00adb22c6bb0000000000000000000000000000000008b3f481e3aaa0f1a09e30ed741d8ae4fcf5e095d5d00af600db18cb2c04b3edd03cc744a2888ae40caa232946c5e7e1";

    /// @notice The serialised (x ‖ y) public key of secret `sk`.
    function publicKey(uint256 sk) internal view returns (bytes memory) {
        (bool ok, bytes memory p) = address(0x0c).staticcall(bytes.concat(G1_GEN, bytes32(sk)));
        require(ok && p.length == 128, "g1 msm");
        return bytes.concat(_slice(p, 16, 48), _slice(p, 80, 48));
    }

    /// @notice The serialised (x.c1 ‖ x.c0 ‖ y.c1 ‖ y.c0) signature of `message` by `sk`.
    function sign(uint256 sk, bytes memory message) internal view returns (bytes memory) {
        bytes memory h = LibBLS.hashToG2(message);
        (bool ok, bytes memory s) = address(0x0e).staticcall(bytes.concat(h, bytes32(sk)));
        require(ok && s.length == 256, "g2 msm");
        return
            bytes.concat(
                _slice(s, 80, 48), _slice(s, 16, 48), _slice(s, 208, 48), _slice(s, 144, 48)
            );
    }

    function _slice(bytes memory b, uint256 start, uint256 len)
        private
        pure
        returns (bytes memory out)
    {
        out = new bytes(len);
        for (uint256 i; i < len; ++i) {
            out[i] = b[start + i];
        }
    }
}
