// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {LibBeaconProof} from "./libs/LibBeaconProof.sol";

/// @title BeaconProofVerifier
/// @notice Exposes `LibBeaconProof` on chain: nodes and tests check proposer proofs with the
/// exact code the lookahead dispute uses.
contract BeaconProofVerifier {
    /// @notice The key hash of the validator that proposed `proof.header`, proven against the
    /// EIP-4788 root at `rootTimestamp`; reverts if the proof does not hold.
    function verifyProposer(LibBeaconProof.ProposerProof calldata proof, uint64 rootTimestamp)
        external
        view
        returns (bytes32 keyHash)
    {
        return LibBeaconProof.verifyProposer(proof, rootTimestamp);
    }

    /// @notice SSZ root of a beacon block header.
    function headerRoot(LibBeaconProof.BeaconBlockHeader calldata header)
        external
        pure
        returns (bytes32)
    {
        return LibBeaconProof.headerRoot(header);
    }

    /// @notice The EIP-4788 root for `timestamp`.
    function beaconRootAt(uint64 timestamp) external view returns (bytes32) {
        return LibBeaconProof.beaconRootAt(timestamp);
    }
}
