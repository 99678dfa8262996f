// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {TestBase} from "../utils/TestBase.sol";
import {BeaconRootsMock} from "./PreconfTaskManager.t.sol";
import {BeaconProofVerifier} from "../../src/l1/BeaconProofVerifier.sol";
import {LibBeaconProof} from "../../src/l1/libs/LibBeaconProof.sol";

/// @notice Malformed proposer proofs. Valid ones are built by the Rust beacon simulator and
/// verified against anvil's EIP-4788 roots in `devnet/tests/devnet.rs`.
contract BeaconProofTest is TestBase {
    BeaconProofVerifier internal verifier;

    function setUp() public {
        verifier = new BeaconProofVerifier();
    }

    function _proof(uint256 pubkeyLen, uint256 branchLen)
        internal
        pure
        returns (LibBeaconProof.ProposerProof memory p)
    {
        p.pubkey = new bytes(pubkeyLen);
        p.branch = new bytes32[](branchLen);
    }

    function test_headerRoot_ofTheEmptyHeaderIsTheDepth3ZeroHash() public view {
        LibBeaconProof.BeaconBlockHeader memory h;
        assertEq(
            verifier.headerRoot(h),
            0xc78009fdf07fc56a11f122370658a353aaa542ed63e44c4bc15ff4cd105ab33c,
            "zero hash of depth 3"
        );
    }

    function test_rejectsMalformedProofs() public {
        vm.expectRevert(LibBeaconProof.InvalidPubkeyLength.selector);
        verifier.verifyProposer(_proof(47, 50), 1);
        vm.expectRevert(LibBeaconProof.InvalidBranchLength.selector);
        verifier.verifyProposer(_proof(48, 49), 1);
        // no EIP-4788 contract (or no root for the timestamp)
        vm.expectRevert(abi.encodeWithSelector(LibBeaconProof.BeaconRootUnavailable.selector, 1));
        verifier.verifyProposer(_proof(48, 50), 1);
        vm.etch(LibBeaconProof.BEACON_ROOTS, address(new BeaconRootsMock(bytes32(uint256(1)))).code);
        vm.expectRevert(LibBeaconProof.HeaderRootMismatch.selector);
        verifier.verifyProposer(_proof(48, 50), 1);
    }

    function testFuzz_randomBranchNeverVerifies(bytes32 seed) public {
        LibBeaconProof.ProposerProof memory p = _proof(48, 50);
        for (uint256 i; i < 50; ++i) {
            p.branch[i] = keccak256(abi.encode(seed, i));
        }
        p.header.stateRoot = keccak256(abi.encode(seed));
        vm.etch(
            LibBeaconProof.BEACON_ROOTS,
            address(new BeaconRootsMock(verifier.headerRoot(p.header))).code
        );
        vm.expectRevert(LibBeaconProof.InvalidProof.selector);
        verifier.verifyProposer(p, 1);
    }
}
