// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @title IRestaking
/// @notice What the preconfirmation service needs from a restaking system, shaped like
/// EigenLayer's AVS surface: operator registration to the service (AVS directory), stake
/// lookup, and slashing. `PreconfServiceManager` is the only caller of the mutating functions.
/// @dev Stake must stay slashable for `withdrawalDelay()` after an operator asks to withdraw;
/// the task manager refuses a restaking system whose delay is shorter than its dispute horizon,
/// which is what keeps a preconfer's stake locked over the dispute window.
interface IRestaking {
    /// @notice The stake `operator` has committed and not asked to withdraw, in wei.
    function stakeOf(address operator) external view returns (uint256);

    /// @notice Seconds between a withdrawal request and the moment the funds may leave; the
    /// funds stay slashable throughout.
    function withdrawalDelay() external view returns (uint256);

    /// @notice Whether `operator` is registered to the service.
    function isRegistered(address operator) external view returns (bool);

    /// @notice Registers `operator` to the service (it must have opted in to slashing).
    function registerOperator(address operator) external;

    /// @notice Deregisters `operator` from the service.
    function deregisterOperator(address operator) external;

    /// @notice Slashes up to `amount` from `operator`, paying `reward` of it to `recipient` and
    /// burning the rest.
    /// @return slashed The amount actually taken (less than `amount` if the stake ran out).
    function slash(address operator, uint256 amount, address recipient, uint256 reward)
        external
        returns (uint256 slashed);
}
