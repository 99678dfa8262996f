// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @title LibBeaconProof
/// @notice SSZ Merkle proofs that a validator proposed a beacon block, checked against the
/// block root the EIP-4788 contract holds.
/// @dev One branch of 50 SHA-256 siblings goes from the validator's pubkey leaf to the state
/// root (Electra shapes): 3 inside the `Validator` container (8 fields, pubkey is field 0), 40
/// in the validator list (limit 2^40) plus its length mix-in, 6 in the `BeaconState` (37 fields,
/// `validators` is field 11, generalized index 75). The list index is the header's
/// `proposer_index`, so a valid proof says "the proposer of this block has this pubkey". The
/// header itself is passed whole and hashed here (5 fields: `proposer_index` at generalized
/// index 9, `state_root` at 11).
library LibBeaconProof {
    /// @notice A beacon block header.
    struct BeaconBlockHeader {
        uint64 slot;
        uint64 proposerIndex;
        bytes32 parentRoot;
        bytes32 stateRoot;
        bytes32 bodyRoot;
    }

    /// @notice The proof that `header.proposerIndex` has the 48-byte compressed `pubkey`.
    struct ProposerProof {
        BeaconBlockHeader header;
        bytes pubkey;
        bytes32[] branch;
    }

    /// @notice The EIP-4788 beacon roots contract.
    address internal constant BEACON_ROOTS = 0x000F3df6D732807Ef1319fB7B8bB8522d0Beac02;
    /// @notice Generalized index of `validators` in the Electra `BeaconState`.
    uint256 internal constant VALIDATORS_GINDEX = 75;
    /// @notice Depth of the validator list (limit 2^40).
    uint256 internal constant VALIDATOR_LIST_DEPTH = 40;
    /// @notice Depth of the `Validator` container (8 fields).
    uint256 internal constant VALIDATOR_DEPTH = 3;
    /// @notice Siblings from the pubkey leaf to the state root.
    uint256 internal constant BRANCH_LENGTH = 50;

    /// @notice The pubkey is not 48 bytes.
    error InvalidPubkeyLength();
    /// @notice The branch does not have `BRANCH_LENGTH` siblings.
    error InvalidBranchLength();
    /// @notice The EIP-4788 contract has no root for that timestamp.
    error BeaconRootUnavailable(uint64 timestamp);
    /// @notice The header does not hash to the EIP-4788 root.
    error HeaderRootMismatch();
    /// @notice The branch does not lead from the pubkey to the header's state root.
    error InvalidProof();

    /// @notice The beacon block root the EIP-4788 contract returns for `timestamp` (the parent
    /// beacon block root of the L1 block with that timestamp).
    function beaconRootAt(uint64 timestamp) internal view returns (bytes32) {
        (bool ok, bytes memory out) = BEACON_ROOTS.staticcall(abi.encode(uint256(timestamp)));
        if (!ok || out.length != 32) revert BeaconRootUnavailable(timestamp);
        return bytes32(out);
    }

    /// @notice SSZ `hash_tree_root` of a header.
    function headerRoot(BeaconBlockHeader memory h) internal pure returns (bytes32) {
        bytes32 a = sha256(abi.encodePacked(_le64(h.slot), _le64(h.proposerIndex)));
        bytes32 b = sha256(abi.encodePacked(h.parentRoot, h.stateRoot));
        bytes32 c = sha256(abi.encodePacked(h.bodyRoot, bytes32(0)));
        bytes32 zero2 = sha256(abi.encodePacked(bytes32(0), bytes32(0)));
        return sha256(
            abi.encodePacked(sha256(abi.encodePacked(a, b)), sha256(abi.encodePacked(c, zero2)))
        );
    }

    /// @notice Checks `p` against the EIP-4788 root at `rootTimestamp` and returns the
    /// registry's key hash of the proposer (`keccak256(16 zero bytes ‖ pubkey)`).
    function verifyProposer(ProposerProof memory p, uint64 rootTimestamp)
        internal
        view
        returns (bytes32 keyHash)
    {
        if (p.pubkey.length != 48) revert InvalidPubkeyLength();
        if (p.branch.length != BRANCH_LENGTH) revert InvalidBranchLength();
        if (headerRoot(p.header) != beaconRootAt(rootTimestamp)) revert HeaderRootMismatch();
        bytes32 node = sha256(abi.encodePacked(p.pubkey, bytes16(0)));
        uint256 gindex = (((VALIDATORS_GINDEX * 2) << VALIDATOR_LIST_DEPTH)
                    + p.header.proposerIndex) << VALIDATOR_DEPTH;
        for (uint256 i; i < BRANCH_LENGTH; ++i) {
            node = (gindex >> i) & 1 == 1
                ? sha256(abi.encodePacked(p.branch[i], node))
                : sha256(abi.encodePacked(node, p.branch[i]));
        }
        if (node != p.header.stateRoot) revert InvalidProof();
        return keccak256(abi.encodePacked(bytes16(0), p.pubkey));
    }

    /// @dev A uint64 as an SSZ chunk (little-endian, zero-padded).
    function _le64(uint64 v) private pure returns (bytes32) {
        uint256 r;
        for (uint256 i; i < 8; ++i) {
            r = (r << 8) | ((v >> (8 * i)) & 0xff);
        }
        return bytes32(r << 192);
    }
}
