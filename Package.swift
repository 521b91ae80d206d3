// swift-tools-version:6.0
import PackageDescription

/// Warnings are errors for spectop's own targets (never for dependencies).
let strict: [SwiftSetting] = [.unsafeFlags(["-warnings-as-errors"])]

let package = Package(
    name: "spectop",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "spectop", targets: ["spectop"]),
        .library(name: "SpectralCore", targets: ["SpectralCore"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/LebJe/TOMLKit", from: "0.6.0"),
    ],
    targets: [
        .systemLibrary(name: "CLinalg", path: "Sources/CLinalg"),
        .systemLibrary(name: "CNcurses", path: "Sources/CNcurses"),
        // Crash handlers that restore the terminal: C, because only async-signal-safe code may run there.
        .target(name: "CTerminalRescue"),
        .target(
            name: "SpectralCore",
            dependencies: ["CLinalg"],
            swiftSettings: strict
        ),
        .target(name: "SpecTopUI", dependencies: ["SpectralCore", "CNcurses", "CTerminalRescue"], swiftSettings: strict),
        .target(
            name: "SpecTopApp",
            dependencies: [
                "SpectralCore",
                "SpecTopUI",
                "CNcurses",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "TOMLKit", package: "TOMLKit"),
            ],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "spectop",
            dependencies: ["SpecTopApp"],
            swiftSettings: strict
        ),
        .target(name: "TestSupport", dependencies: ["SpectralCore"], path: "Tests/TestSupport", swiftSettings: strict),
        // A counting malloc for the allocation-free training test (C: it replaces the test binary's allocator).
        .target(name: "AllocationCounter", path: "Tests/AllocationCounter"),
        .testTarget(name: "SpectralCoreTests", dependencies: ["SpectralCore", "TestSupport", "AllocationCounter"], swiftSettings: strict),
        .testTarget(name: "SpecTopUITests", dependencies: ["SpecTopUI", "SpectralCore", "TestSupport"], swiftSettings: strict),
        .testTarget(name: "SpecTopAppTests", dependencies: ["SpecTopApp", "TestSupport"], swiftSettings: strict),
        // The tiers: the three targets above are the fast unit tier (no process
        // spawns, no sleeps: `make unit`); integration runs the release binary,
        // the claims reproductions, the NumPy reference and timed engine tests;
        // end-to-end drives the monitor in tmux.
        .testTarget(name: "SpecTopIntegrationTests", dependencies: ["SpecTopApp", "SpectralCore", "TestSupport"], swiftSettings: strict),
        .testTarget(name: "SpecTopEndToEndTests", dependencies: ["SpecTopApp", "TestSupport"], swiftSettings: strict),
    ]
)
