// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {L1Fixture} from "./L1Fixture.sol";
import {BLSSigner} from "../utils/BLSSigner.sol";
import {LibBLS} from "../../src/l1/libs/LibBLS.sol";
import {PreconfRegistry} from "../../src/l1/PreconfRegistry.sol";
import {PreconfServiceManager} from "../../src/l1/PreconfServiceManager.sol";

/// @notice Exposes LibBLS to measure and test it alone.
contract BLSHarness {
    function verify(bytes calldata pk, bytes calldata message, bytes calldata sig)
        external
        view
        returns (bool)
    {
        (bytes memory point,) = LibBLS.decodePublicKey(pk);
        return LibBLS.verify(point, message, LibBLS.decodeSignature(sig));
    }

    function compressed(bytes calldata pk) external pure returns (bytes memory c) {
        (, c) = LibBLS.decodePublicKey(pk);
    }
}

contract PreconfRegistryTest is L1Fixture {
    BLSHarness internal bls;

    function setUp() public override {
        super.setUp();
        bls = new BLSHarness();
        vm.deal(alice, 10 ether);
        vm.prank(alice);
        staking.deposit{value: MIN_STAKE}();
        vm.prank(alice);
        registry.registerPreconfer();
    }

    function _signOp(
        uint256 blsKey,
        PreconfRegistry.ValidatorOp op,
        address preconfer,
        uint64 expiry,
        uint64 nonce
    ) internal view returns (bytes memory) {
        return BLSSigner.sign(blsKey, registry.validatorOpMessage(op, preconfer, expiry, nonce));
    }

    // ------------------------------------------------------------ preconfers

    function test_registerPreconfer_activeAfterDelay() public view {
        assertTrue(!registry.isActivePreconfer(alice, block.timestamp), "not active at once");
        assertTrue(
            registry.isActivePreconfer(alice, block.timestamp + ACTIVATION_DELAY),
            "active after delay"
        );
        assertTrue(staking.isRegistered(alice), "registered to the restaking service");
        assertEq(registry.preconferCount(), 1, "count");
    }

    function test_registerPreconfer_needsMinStake() public {
        vm.deal(bob, 10 ether);
        vm.startPrank(bob);
        staking.deposit{value: MIN_STAKE - 1}();
        vm.expectRevert(
            abi.encodeWithSelector(
                PreconfServiceManager.InsufficientStake.selector, MIN_STAKE - 1, MIN_STAKE
            )
        );
        registry.registerPreconfer();
        vm.stopPrank();
    }

    function test_registerPreconfer_twiceReverts() public {
        vm.prank(alice);
        vm.expectRevert(PreconfRegistry.PreconferAlreadyRegistered.selector);
        registry.registerPreconfer();
    }

    function test_deregisterAndRemove() public {
        vm.warp(block.timestamp + ACTIVATION_DELAY);
        vm.prank(alice);
        registry.deregisterPreconfer();
        vm.prank(alice);
        vm.expectRevert(
            abi.encodeWithSelector(PreconfRegistry.PreconferNotRegistered.selector, alice)
        );
        registry.deregisterPreconfer();
        uint64 until = uint64(block.timestamp) + ACTIVATION_DELAY;
        vm.expectRevert(
            abi.encodeWithSelector(PreconfRegistry.PreconferStillActive.selector, until)
        );
        registry.removePreconfer(alice);
        assertTrue(registry.isActivePreconfer(alice, until - 1), "active until the delay ends");
        assertTrue(!registry.isActivePreconfer(alice, until), "inactive at the end");
        vm.warp(until);
        registry.removePreconfer(alice);
        assertEq(registry.preconferCount(), 0, "removed");
        assertTrue(!staking.isRegistered(alice), "deregistered from restaking");
        // and may register again
        vm.prank(alice);
        registry.registerPreconfer();
    }

    function test_removePreconfer_keepsListConsistent() public {
        _onboard(bob, BOB_BLS);
        vm.prank(alice);
        registry.deregisterPreconfer();
        vm.warp(block.timestamp + ACTIVATION_DELAY);
        registry.removePreconfer(alice);
        address[] memory active = registry.activePreconfers(block.timestamp);
        assertEq(active.length, 1, "one left");
        assertEq(active[0], bob, "bob left");
        (,, uint32 index) = registry.preconfers(bob);
        assertEq(index, 1, "bob moved to slot 1");
    }

    function test_activePreconfers_dropsUnderstaked() public {
        uint256 t = block.timestamp + ACTIVATION_DELAY;
        assertEq(registry.activePreconfers(t).length, 1, "alice active");
        vm.prank(alice);
        staking.queueWithdrawal(1);
        assertEq(registry.activePreconfers(t).length, 0, "below min stake: not active");
    }

    // ------------------------------------------------------------ validators

    function test_addValidator_mapsAfterDelay() public {
        bytes32 keyHash = _addValidator(ALICE_BLS, alice);
        assertEq(keyHash, keyHashOfSecret(ALICE_BLS), "key hash of the compressed key");
        assertEq(registry.preconferOf(keyHash, block.timestamp), address(0), "pending");
        assertEq(registry.preconferOf(keyHash, block.timestamp + ACTIVATION_DELAY), alice, "mapped");
        assertEq(registry.validatorNonce(keyHash), 1, "nonce used");
    }

    function test_addValidator_wrongSignerReverts() public {
        uint64 expiry = uint64(block.timestamp + 60);
        bytes memory sig = _signOp(BOB_BLS, PreconfRegistry.ValidatorOp.Add, alice, expiry, 0);
        bytes memory pk = BLSSigner.publicKey(ALICE_BLS);
        vm.expectRevert(PreconfRegistry.InvalidBLSSignature.selector);
        registry.addValidator(pk, sig, alice, expiry);
    }

    function test_addValidator_otherPreconferReverts() public {
        _onboard(bob, BOB_BLS);
        uint64 expiry = uint64(block.timestamp + 60);
        // signed for alice, submitted for bob
        bytes memory sig = _signOp(ALICE_BLS, PreconfRegistry.ValidatorOp.Add, alice, expiry, 0);
        bytes memory pk = BLSSigner.publicKey(ALICE_BLS);
        vm.expectRevert(PreconfRegistry.InvalidBLSSignature.selector);
        registry.addValidator(pk, sig, bob, expiry);
    }

    function test_addValidator_expiredReverts() public {
        uint64 expiry = uint64(block.timestamp - 1);
        bytes memory sig = _signOp(ALICE_BLS, PreconfRegistry.ValidatorOp.Add, alice, expiry, 0);
        bytes memory pk = BLSSigner.publicKey(ALICE_BLS);
        vm.expectRevert(abi.encodeWithSelector(PreconfRegistry.SignatureExpired.selector, expiry));
        registry.addValidator(pk, sig, alice, expiry);
    }

    function test_addValidator_replayReverts() public {
        uint64 expiry = uint64(block.timestamp + 1 days);
        bytes memory addSig = _signOp(ALICE_BLS, PreconfRegistry.ValidatorOp.Add, alice, expiry, 0);
        bytes memory pk = BLSSigner.publicKey(ALICE_BLS);
        registry.addValidator(pk, addSig, alice, expiry);
        bytes memory removeSig =
            _signOp(ALICE_BLS, PreconfRegistry.ValidatorOp.Remove, alice, expiry, 1);
        registry.removeValidator(pk, removeSig, expiry);
        vm.warp(block.timestamp + ACTIVATION_DELAY);
        // the old ADD signature carries nonce 0: replaying it fails
        vm.expectRevert(PreconfRegistry.InvalidBLSSignature.selector);
        registry.addValidator(pk, addSig, alice, expiry);
    }

    function test_addValidator_otherRegistryReverts() public {
        // a signature made for another registry (same chain) does not verify here
        PreconfRegistry other = new PreconfRegistry(sm, ACTIVATION_DELAY);
        uint64 expiry = uint64(block.timestamp + 60);
        bytes memory sig = BLSSigner.sign(
            ALICE_BLS, other.validatorOpMessage(PreconfRegistry.ValidatorOp.Add, alice, expiry, 0)
        );
        bytes memory pk = BLSSigner.publicKey(ALICE_BLS);
        vm.expectRevert(PreconfRegistry.InvalidBLSSignature.selector);
        registry.addValidator(pk, sig, alice, expiry);
    }

    function test_addValidator_otherChainReverts() public {
        uint64 expiry = uint64(block.timestamp + 60);
        bytes memory sig = _signOp(ALICE_BLS, PreconfRegistry.ValidatorOp.Add, alice, expiry, 0);
        bytes memory pk = BLSSigner.publicKey(ALICE_BLS);
        vm.chainId(12345);
        vm.expectRevert(PreconfRegistry.InvalidBLSSignature.selector);
        registry.addValidator(pk, sig, alice, expiry);
    }

    function test_addValidator_alreadyMappedReverts() public {
        _onboard(bob, BOB_BLS);
        _addValidator(ALICE_BLS, alice);
        uint64 expiry = uint64(block.timestamp + 60);
        bytes memory sig = _signOp(ALICE_BLS, PreconfRegistry.ValidatorOp.Add, bob, expiry, 1);
        bytes memory pk = BLSSigner.publicKey(ALICE_BLS);
        vm.expectRevert(
            abi.encodeWithSelector(PreconfRegistry.ValidatorAlreadyMapped.selector, alice)
        );
        registry.addValidator(pk, sig, bob, expiry);
    }

    function test_addValidator_unregisteredPreconferReverts() public {
        uint64 expiry = uint64(block.timestamp + 60);
        bytes memory sig = _signOp(ALICE_BLS, PreconfRegistry.ValidatorOp.Add, bob, expiry, 0);
        bytes memory pk = BLSSigner.publicKey(ALICE_BLS);
        vm.expectRevert(
            abi.encodeWithSelector(PreconfRegistry.PreconferNotRegistered.selector, bob)
        );
        registry.addValidator(pk, sig, bob, expiry);
    }

    function test_removeValidator_endsAfterDelayAndAllowsRemap() public {
        _onboard(bob, BOB_BLS);
        bytes32 keyHash = _addValidator(ALICE_BLS, alice);
        vm.warp(block.timestamp + ACTIVATION_DELAY);
        uint64 expiry = uint64(block.timestamp + 60);
        bytes memory pk = BLSSigner.publicKey(ALICE_BLS);
        registry.removeValidator(
            pk, _signOp(ALICE_BLS, PreconfRegistry.ValidatorOp.Remove, alice, expiry, 1), expiry
        );
        uint256 end = block.timestamp + ACTIVATION_DELAY;
        assertEq(registry.preconferOf(keyHash, end - 1), alice, "still mapped");
        assertEq(registry.preconferOf(keyHash, end), address(0), "unmapped");
        bytes memory again =
            _signOp(ALICE_BLS, PreconfRegistry.ValidatorOp.Remove, alice, expiry, 2);
        vm.expectRevert(PreconfRegistry.ValidatorNotMapped.selector);
        registry.removeValidator(pk, again, expiry);
        vm.warp(end);
        _addValidator(ALICE_BLS, bob);
        assertEq(registry.preconferOf(keyHash, end + ACTIVATION_DELAY), bob, "remapped to bob");
    }

    function test_removeValidator_notMappedReverts() public {
        uint64 expiry = uint64(block.timestamp + 60);
        bytes memory pk = BLSSigner.publicKey(ALICE_BLS);
        bytes memory sig = _signOp(ALICE_BLS, PreconfRegistry.ValidatorOp.Remove, alice, expiry, 0);
        vm.expectRevert(PreconfRegistry.ValidatorNotMapped.selector);
        registry.removeValidator(pk, sig, expiry);
    }

    // ------------------------------------------------------------ encodings and BLS

    function test_decode_rejectsMalformedKeys() public {
        uint64 expiry = uint64(block.timestamp + 60);
        bytes memory sig = _signOp(ALICE_BLS, PreconfRegistry.ValidatorOp.Add, alice, expiry, 0);
        vm.expectRevert(LibBLS.InvalidPublicKeyEncoding.selector);
        registry.addValidator(new bytes(95), sig, alice, expiry);
        vm.expectRevert(LibBLS.InvalidPublicKeyEncoding.selector);
        registry.addValidator(new bytes(96), sig, alice, expiry); // infinity
        bytes memory flagged = BLSSigner.publicKey(ALICE_BLS);
        flagged[0] = bytes1(uint8(flagged[0]) | 0x80); // a compressed-form flag
        vm.expectRevert(LibBLS.InvalidPublicKeyEncoding.selector);
        registry.addValidator(flagged, sig, alice, expiry);
        bytes memory pk = BLSSigner.publicKey(ALICE_BLS);
        vm.expectRevert(LibBLS.InvalidSignatureEncoding.selector);
        registry.addValidator(pk, new bytes(191), alice, expiry);
        vm.expectRevert(LibBLS.InvalidSignatureEncoding.selector);
        registry.addValidator(pk, new bytes(192), alice, expiry);
    }

    function test_offCurveKeyFailsVerification() public {
        uint64 expiry = uint64(block.timestamp + 60);
        bytes memory sig = _signOp(ALICE_BLS, PreconfRegistry.ValidatorOp.Add, alice, expiry, 0);
        bytes memory pk = BLSSigner.publicKey(ALICE_BLS);
        pk[95] = bytes1(uint8(pk[95]) ^ 1); // y no longer on the curve
        vm.expectRevert(PreconfRegistry.InvalidBLSSignature.selector);
        registry.addValidator(pk, sig, alice, expiry);
    }

    function testFuzz_tamperedSignatureByteReverts(uint8 index, uint8 flip) public {
        vm.assume(flip != 0);
        uint64 expiry = uint64(block.timestamp + 60);
        bytes memory sig = _signOp(ALICE_BLS, PreconfRegistry.ValidatorOp.Add, alice, expiry, 0);
        uint256 i = uint256(index) % 192;
        sig[i] = bytes1(uint8(sig[i]) ^ flip);
        bytes memory pk = BLSSigner.publicKey(ALICE_BLS);
        uint256 g = gasleft();
        try registry.addValidator(pk, sig, alice, expiry) {
            revert AssertionFailed("tampered signature accepted");
        } catch {}
        uint256 gasUsed = g - gasleft();
        assertEq(registry.validatorNonce(keyHashOfSecret(ALICE_BLS)), 0, "nothing written");
        assertLe(gasUsed, 400_000, "a malformed point does not burn the transaction's gas");
    }

    function testFuzz_blsSignVerifyRoundTrip(uint128 sk, bytes calldata message) public {
        vm.assume(sk != 0);
        bytes memory pk = BLSSigner.publicKey(sk);
        bytes memory sig = BLSSigner.sign(sk, message);
        assertTrue(bls.verify(pk, message, sig), "own signature verifies");
        bytes memory other = bytes.concat(message, hex"00");
        assertTrue(!bls.verify(pk, other, sig), "other message fails");
    }

    function test_compressedKey_matchesSignConvention() public view {
        // sk = 1: the generator; its compressed form is well known (y is the smaller root).
        bytes memory c = bls.compressed(BLSSigner.publicKey(1));
        assertEq(
            keccak256(c),
            keccak256(
                hex"97f1d3a73197d7942695638c4fa9ac0fc3688c4f9774b905a14e3a3f171bac586c55e83ff97a1aeffb3af00adb22c6bb"
            ),
            "compressed G1 generator"
        );
        // sk = p-1 order negation: -G has the larger y root, flag 0x20
        bytes memory n = bls.compressed(
            BLSSigner.publicKey(0x73eda753299d7d483339d80809a1d80553bda402fffe5bfeffffffff00000000)
        );
        assertEq(uint256(uint8(n[0])), 0xb7, "negated generator sets the sign flag");
    }

    // ------------------------------------------------------------ gas

    /// @notice Gas of one validator registration against a bare EIP-2537 verification.
    function test_gas_registerValidator() public {
        uint64 expiry = uint64(block.timestamp + 60);
        bytes memory pk = BLSSigner.publicKey(ALICE_BLS);
        bytes memory message =
            registry.validatorOpMessage(PreconfRegistry.ValidatorOp.Add, alice, expiry, 0);
        bytes memory sig = BLSSigner.sign(ALICE_BLS, message);
        uint256 g = gasleft();
        bls.verify(pk, message, sig);
        uint256 verifyGas = g - gasleft();
        g = gasleft();
        registry.addValidator(pk, sig, alice, expiry);
        uint256 registerGas = g - gasleft();
        emit log_named_uint("gas: BLS verify (hash-to-curve + pairing)", verifyGas);
        emit log_named_uint("gas: addValidator", registerGas);
        assertLe(registerGas, verifyGas + 80_000, "registration = verification + bookkeeping");
    }

    event log_named_uint(string key, uint256 val);
}
