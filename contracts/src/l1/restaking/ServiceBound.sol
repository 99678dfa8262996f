// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @title ServiceBound
/// @notice A contract bound to one service manager, set once by its deployer after both exist
/// (the two reference each other, so neither can take the other in its constructor).
abstract contract ServiceBound {
    /// @notice The account allowed to call `initialize`.
    address public immutable deployer;
    /// @notice The service manager: the only caller of the guarded functions.
    address public service;

    /// @notice The service manager was set.
    event ServiceSet(address service);

    /// @notice The caller is not the service manager.
    error NotService();
    /// @notice The caller may not initialise, or initialisation already happened.
    error AlreadyInitialized();

    constructor() {
        deployer = msg.sender;
    }

    modifier onlyService() {
        if (msg.sender != service) revert NotService();
        _;
    }

    /// @notice Sets the service manager, once, by the deployer.
    function initialize(address service_) external {
        if (msg.sender != deployer || service != address(0) || service_ == address(0)) {
            revert AlreadyInitialized();
        }
        service = service_;
        emit ServiceSet(service_);
    }
}
