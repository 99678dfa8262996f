// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @title LibBLS
/// @notice BLS12-381 signature verification with the EIP-2537 precompiles (Prague).
/// @dev The scheme is Ethereum's: public keys in G1, signatures in G2, messages hashed to G2 with
/// RFC 9380 `hash_to_curve` (expand_message_xmd with SHA-256, SSWU) under the ciphersuite
/// `BLS_SIG_BLS12381G2_XMD:SHA-256_SSWU_RO_POP_` — byte for byte what `blst` signs with that DST.
///
/// Points come in the ZCash serialisation `blst` produces (`serialize()`, uncompressed): a G1 key
/// is `x ‖ y` (48 bytes each), a G2 signature is `x.c1 ‖ x.c0 ‖ y.c1 ‖ y.c0`. Taking the
/// uncompressed form avoids an on-chain square root; the compressed key (which beacon-chain
/// proofs and key hashes use) is derived from it for free. The pairing precompile checks that
/// both points are on their curves and in the prime-order subgroup, so a malformed point fails
/// verification instead of being accepted.
library LibBLS {
    /// @dev EIP-2537 G2 addition.
    address internal constant G2_ADD = address(0x0d);
    /// @dev EIP-2537 multi-pairing check.
    address internal constant PAIRING_CHECK = address(0x0f);
    /// @dev EIP-2537 map from an Fp2 element to G2 (SSWU, isogeny and cofactor clearing).
    address internal constant MAP_FP2_TO_G2 = address(0x11);
    /// @dev EIP-198 modular exponentiation, used to reduce 64-byte strings modulo p.
    address internal constant MODEXP = address(0x05);

    /// @dev Gas handed to each precompile: its EIP-2537 / EIP-2565 price with headroom. A
    /// precompile that rejects its input burns all gas it was given, so a malformed point must
    /// not be able to burn the caller's whole transaction.
    uint256 private constant PAIRING_GAS = 120_000; // 2 pairs: 32_600 * 2 + 37_700
    uint256 private constant MAP_GAS = 30_000; // 23_800
    uint256 private constant G2_ADD_GAS = 2_000; // 600
    uint256 private constant MODEXP_GAS = 10_000; // 200 (EIP-2565), 500 (EIP-7883)

    /// @notice The domain separation tag of Ethereum's proof-of-possession BLS ciphersuite.
    bytes internal constant DST = "BLS_SIG_BLS12381G2_XMD:SHA-256_SSWU_RO_POP_";

    /// @dev p = the BLS12-381 base field modulus, split into its high 16 and low 32 bytes.
    uint256 private constant P_HI = 0x1a0111ea397fe69a4b1ba7b6434bacd7;
    uint256 private constant P_LO =
        0x64774b84f38512bf6730d2a0f6b0f6241eabfffeb153ffffb9feffffffffaaab;
    /// @dev (p - 1) / 2, split likewise: a y coordinate above it is the "larger" root.
    uint256 private constant HALF_P_HI = 0x0d0088f51cbff34d258dd3db21a5d66b;
    uint256 private constant HALF_P_LO =
        0xb23ba5c279c2895fb39869507b587b120f55ffff58a9ffffdcff7fffffffd555;
    /// @dev The G1 generator with its y coordinate negated, in EIP-2537 encoding (x, -y).
    uint256 private constant NEG_G1_X_HI = 0x17f1d3a73197d7942695638c4fa9ac0f;
    uint256 private constant NEG_G1_X_LO =
        0xc3688c4f9774b905a14e3a3f171bac586c55e83ff97a1aeffb3af00adb22c6bb;
    uint256 private constant NEG_G1_Y_HI = 0x114d1d6855d545a8aa7d76c8cf2e21f2;
    uint256 private constant NEG_G1_Y_LO =
        0x67816aef1db507c96655b9d5caac42364e6f38ba0ecb751bad54dcd6b939c2ca;

    /// @notice A public key is not 96 bytes, carries flag bits, or is the point at infinity.
    error InvalidPublicKeyEncoding();
    /// @notice A signature is not 192 bytes, carries flag bits, or is the point at infinity.
    error InvalidSignatureEncoding();
    /// @notice A precompile call failed (only on a chain without EIP-2537 or out of gas).
    error PrecompileFailed(address precompile);

    /// @notice Decodes an uncompressed G1 public key.
    /// @param serialized `x ‖ y`, 48 bytes each, as `blst` serialises a G1 point.
    /// @return point The key in EIP-2537 encoding (128 bytes).
    /// @return compressed The 48-byte compressed form (the key as the beacon chain stores it).
    function decodePublicKey(bytes calldata serialized)
        internal
        pure
        returns (bytes memory point, bytes memory compressed)
    {
        if (serialized.length != 96 || uint8(serialized[0]) & 0xe0 != 0) {
            revert InvalidPublicKeyEncoding();
        }
        point = new bytes(128);
        compressed = new bytes(48);
        uint256 yHi;
        uint256 yLo;
        assembly ("memory-safe") {
            // x: 16 zero bytes then 48 bytes; y likewise.
            calldatacopy(add(point, 0x30), serialized.offset, 48)
            calldatacopy(add(point, 0x70), add(serialized.offset, 48), 48)
            calldatacopy(add(compressed, 0x20), serialized.offset, 48)
            yHi := shr(128, calldataload(add(serialized.offset, 48)))
            yLo := calldataload(add(serialized.offset, 64))
        }
        if (_isZero(serialized)) revert InvalidPublicKeyEncoding();
        bool larger = yHi > HALF_P_HI || (yHi == HALF_P_HI && yLo > HALF_P_LO);
        compressed[0] = bytes1(uint8(compressed[0]) | 0x80 | (larger ? 0x20 : 0));
    }

    /// @notice Decodes an uncompressed G2 signature into EIP-2537 encoding (256 bytes).
    /// @param serialized `x.c1 ‖ x.c0 ‖ y.c1 ‖ y.c0`, 48 bytes each, as `blst` serialises it.
    function decodeSignature(bytes calldata serialized) internal pure returns (bytes memory point) {
        if (serialized.length != 192 || uint8(serialized[0]) & 0xe0 != 0) {
            revert InvalidSignatureEncoding();
        }
        if (_isZero(serialized)) revert InvalidSignatureEncoding();
        point = new bytes(256);
        assembly ("memory-safe") {
            let o := serialized.offset
            // EIP-2537 order is c0 before c1.
            calldatacopy(add(point, 0x30), add(o, 48), 48) // x.c0
            calldatacopy(add(point, 0x70), o, 48) // x.c1
            calldatacopy(add(point, 0xb0), add(o, 144), 48) // y.c0
            calldatacopy(add(point, 0xf0), add(o, 96), 48) // y.c1
        }
    }

    /// @notice Verifies `signature` on `message` under `publicKey` (both EIP-2537 encoded).
    /// @return valid True when e(pk, H(m)) == e(g1, sig); false for a wrong signature or any
    /// point the precompile rejects (off-curve, outside the subgroup, non-canonical).
    function verify(bytes memory publicKey, bytes memory message, bytes memory signature)
        internal
        view
        returns (bool valid)
    {
        bytes memory h = hashToG2(message);
        bytes memory input = abi.encodePacked(
            publicKey,
            h,
            bytes16(0),
            bytes16(uint128(NEG_G1_X_HI)),
            NEG_G1_X_LO,
            bytes16(0),
            bytes16(uint128(NEG_G1_Y_HI)),
            NEG_G1_Y_LO,
            signature
        );
        (bool ok, bytes memory out) = PAIRING_CHECK.staticcall{gas: PAIRING_GAS}(input);
        return ok && out.length == 32 && abi.decode(out, (uint256)) == 1;
    }

    /// @notice RFC 9380 `hash_to_curve` to G2 under `DST`, EIP-2537 encoded (256 bytes).
    function hashToG2(bytes memory message) internal view returns (bytes memory point) {
        bytes memory u = hashToField(message);
        bytes memory u0 = new bytes(128);
        bytes memory u1 = new bytes(128);
        assembly ("memory-safe") {
            mcopy(add(u0, 0x20), add(u, 0x20), 128)
            mcopy(add(u1, 0x20), add(u, 0xa0), 128)
        }
        bytes memory q0 = _call(MAP_FP2_TO_G2, MAP_GAS, u0, 256);
        bytes memory q1 = _call(MAP_FP2_TO_G2, MAP_GAS, u1, 256);
        point = _call(G2_ADD, G2_ADD_GAS, bytes.concat(q0, q1), 256);
    }

    /// @notice RFC 9380 `hash_to_field` for Fp2 with count 2: four field elements, each padded
    /// to 64 bytes (EIP-2537 encoding), in the order u0.c0, u0.c1, u1.c0, u1.c1.
    function hashToField(bytes memory message) internal view returns (bytes memory out) {
        bytes memory uniform = expandMessageXmd(message);
        out = new bytes(256);
        for (uint256 i; i < 4; ++i) {
            bytes memory input = new bytes(209);
            assembly ("memory-safe") {
                let p := add(input, 0x20)
                mstore(p, 64) // length of base
                mstore(add(p, 0x20), 1) // length of exponent
                mstore(add(p, 0x40), 48) // length of modulus
                mcopy(add(p, 0x60), add(add(uniform, 0x20), mul(i, 64)), 64) // base
                mstore8(add(p, 0xa0), 1) // exponent
                mstore(add(p, 0xa1), shl(128, P_HI)) // modulus, high 16 bytes
                mstore(add(p, 0xb1), P_LO) // modulus, low 32 bytes
            }
            bytes memory reduced = _call(MODEXP, MODEXP_GAS, input, 48);
            assembly ("memory-safe") {
                mcopy(add(add(out, 0x30), mul(i, 64)), add(reduced, 0x20), 48)
            }
        }
    }

    /// @notice RFC 9380 `expand_message_xmd` with SHA-256, producing 256 bytes under `DST`.
    function expandMessageXmd(bytes memory message) internal pure returns (bytes memory out) {
        bytes memory dstPrime = bytes.concat(DST, bytes1(uint8(DST.length)));
        bytes32 b0 =
            sha256(bytes.concat(new bytes(64), message, bytes2(uint16(256)), bytes1(0), dstPrime));
        out = new bytes(256);
        bytes32 bi = sha256(bytes.concat(b0, bytes1(uint8(1)), dstPrime));
        assembly ("memory-safe") {
            mstore(add(out, 0x20), bi)
        }
        for (uint256 i = 2; i <= 8; ++i) {
            bi = sha256(bytes.concat(b0 ^ bi, bytes1(uint8(i)), dstPrime));
            assembly ("memory-safe") {
                mstore(add(out, mul(i, 0x20)), bi)
            }
        }
    }

    /// @dev Whether every byte is zero (the serialisation of the point at infinity without its
    /// flag, which no valid key or signature has).
    function _isZero(bytes calldata b) private pure returns (bool) {
        for (uint256 i; i < b.length; ++i) {
            if (b[i] != 0) return false;
        }
        return true;
    }

    function _call(address precompile, uint256 gasLimit, bytes memory input, uint256 outLen)
        private
        view
        returns (bytes memory out)
    {
        bool ok;
        (ok, out) = precompile.staticcall{gas: gasLimit}(input);
        if (!ok || out.length != outLen) revert PrecompileFailed(precompile);
    }
}
