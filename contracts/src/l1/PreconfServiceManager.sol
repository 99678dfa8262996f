// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IRestaking} from "./restaking/IRestaking.sol";

/// @title PreconfServiceManager
/// @notice The preconfirmation service's face to restaking (EigenLayer calls this the AVS
/// service manager). The registry registers and deregisters operators through it, the task
/// manager slashes through it, and both read stake from it. Which restaking system backs it is
/// a constructor choice: `NativeStaking` or `EigenLayerAdapter` (or any `IRestaking`).
contract PreconfServiceManager {
    /// @notice The restaking system holding the operators' stake.
    IRestaking public immutable restaking;
    /// @notice The stake an operator needs to be a preconfer, in wei (1 ETH by default).
    uint256 public immutable minStake;
    /// @notice The account allowed to call `initialize`.
    address public immutable deployer;
    /// @notice The preconfer registry.
    address public registry;
    /// @notice The task manager (the only slasher).
    address public taskManager;

    /// @notice The registry and task manager were set.
    event Initialized(address registry, address taskManager);
    /// @notice An operator was registered to the service.
    event OperatorRegistered(address indexed operator);
    /// @notice An operator was deregistered from the service.
    event OperatorDeregistered(address indexed operator);
    /// @notice An operator was slashed.
    event OperatorSlashed(
        address indexed operator, uint256 slashed, address indexed challenger, uint256 reward
    );

    /// @notice The caller may not initialise, or initialisation already happened.
    error AlreadyInitialized();
    /// @notice The caller is not the registry.
    error NotRegistry();
    /// @notice The caller is not the task manager.
    error NotTaskManager();
    /// @notice The operator's stake is below `minStake`.
    error InsufficientStake(uint256 stake, uint256 required);

    constructor(IRestaking restaking_, uint256 minStake_) {
        restaking = restaking_;
        minStake = minStake_;
        deployer = msg.sender;
    }

    /// @notice Sets the registry and the task manager, once, by the deployer.
    function initialize(address registry_, address taskManager_) external {
        if (
            msg.sender != deployer || registry != address(0) || registry_ == address(0)
                || taskManager_ == address(0)
        ) revert AlreadyInitialized();
        registry = registry_;
        taskManager = taskManager_;
        emit Initialized(registry_, taskManager_);
    }

    /// @notice The operator's committed stake.
    function stakeOf(address operator) external view returns (uint256) {
        return restaking.stakeOf(operator);
    }

    /// @notice Whether `operator` is registered and holds at least `minStake`.
    function isEligible(address operator) external view returns (bool) {
        return restaking.isRegistered(operator) && restaking.stakeOf(operator) >= minStake;
    }

    /// @notice Registers `operator` to the restaking system; it must hold `minStake`.
    function registerOperator(address operator) external {
        if (msg.sender != registry) revert NotRegistry();
        uint256 stake = restaking.stakeOf(operator);
        if (stake < minStake) revert InsufficientStake(stake, minStake);
        restaking.registerOperator(operator);
        emit OperatorRegistered(operator);
    }

    /// @notice Deregisters `operator` from the restaking system.
    function deregisterOperator(address operator) external {
        if (msg.sender != registry) revert NotRegistry();
        restaking.deregisterOperator(operator);
        emit OperatorDeregistered(operator);
    }

    /// @notice Slashes `operator` by up to `amount`, paying `reward` of it to `challenger`.
    /// @return slashed What was actually taken.
    function slash(address operator, uint256 amount, address challenger, uint256 reward)
        external
        returns (uint256 slashed)
    {
        if (msg.sender != taskManager) revert NotTaskManager();
        slashed = restaking.slash(operator, amount, challenger, reward);
        emit OperatorSlashed(operator, slashed, challenger, reward < slashed ? reward : slashed);
    }
}
