// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @notice The subset of Foundry's cheatcodes our tests use, declared here because the npm
/// forge-std is too old. The cheatcode ABI is public and stable.
struct VmLog {
    bytes32[] topics;
    bytes data;
    address emitter;
}

interface Vm {
    function recordLogs() external;
    function setEnv(string calldata, string calldata) external;
    function readFile(string calldata) external view returns (string memory);
    function removeFile(string calldata) external;
    function parseJsonAddress(string calldata, string calldata) external pure returns (address);
    function getRecordedLogs() external returns (VmLog[] memory);
    function warp(uint256) external;
    function roll(uint256) external;
    function fee(uint256) external;
    function chainId(uint256) external;
    function prank(address) external;
    function prank(address, address) external;
    function startPrank(address) external;
    function startPrank(address, address) external;
    function stopPrank() external;
    function deal(address, uint256) external;
    function etch(address, bytes calldata) external;
    function expectRevert(bytes calldata) external;
    function expectRevert(bytes4) external;
    function expectRevert() external;
    function expectEmit(bool, bool, bool, bool) external;
    function expectEmit(bool, bool, bool, bool, address) external;
    function assume(bool) external;
    function sign(uint256, bytes32) external returns (uint8, bytes32, bytes32);
    function load(address, bytes32) external returns (bytes32);
    function store(address, bytes32, bytes32) external;
    function setBlockhash(uint256, bytes32) external;
    function blobhashes(bytes32[] calldata) external;
    function startBroadcast(uint256) external;
    function stopBroadcast() external;
    function envOr(string calldata, uint256) external view returns (uint256);
    function addr(uint256) external view returns (address);
    function envOr(string calldata, string calldata) external view returns (string memory);
    function serializeAddress(string calldata, string calldata, address)
        external
        returns (string memory);
    function serializeUint(string calldata, string calldata, uint256)
        external
        returns (string memory);
    function writeJson(string calldata, string calldata) external;
    function pauseGasMetering() external;
    function resumeGasMetering() external;
}

/// @notice Minimal test base: the cheatcode handle and assertions that revert with a message.
abstract contract TestBase {
    /// @notice Whether this contract is a test (read by forge).
    bool public IS_TEST = true;

    Vm internal constant vm = Vm(address(uint160(uint256(keccak256("hevm cheat code")))));

    error AssertionFailed(string what);

    function assertEq(uint256 a, uint256 b, string memory what) internal pure {
        if (a != b) revert AssertionFailed(string.concat(what, ": ", _u(a), " != ", _u(b)));
    }

    function assertEq(bytes32 a, bytes32 b, string memory what) internal pure {
        if (a != b) revert AssertionFailed(what);
    }

    function assertEq(address a, address b, string memory what) internal pure {
        if (a != b) revert AssertionFailed(what);
    }

    function assertTrue(bool c, string memory what) internal pure {
        if (!c) revert AssertionFailed(what);
    }

    function assertLe(uint256 a, uint256 b, string memory what) internal pure {
        if (a > b) revert AssertionFailed(string.concat(what, ": ", _u(a), " > ", _u(b)));
    }

    function assertGe(uint256 a, uint256 b, string memory what) internal pure {
        if (a < b) revert AssertionFailed(string.concat(what, ": ", _u(a), " < ", _u(b)));
    }

    function _u(uint256 v) private pure returns (string memory s) {
        if (v == 0) return "0";
        bytes memory b;
        while (v != 0) {
            b = abi.encodePacked(bytes1(uint8(48 + (v % 10))), b);
            v /= 10;
        }
        s = string(b);
    }
}
