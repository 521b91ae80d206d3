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
    ],
    targets: [
        .systemLibrary(name: "CLinalg", path: "Sources/CLinalg"),
        .systemLibrary(name: "CNcurses", path: "Sources/CNcurses"),
        .target(
            name: "SpectralCore",
            dependencies: ["CLinalg"],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "spectop",
            dependencies: [
                "SpectralCore",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strict
        ),
        .target(name: "TestSupport", dependencies: ["SpectralCore"], path: "Tests/TestSupport", swiftSettings: strict),
        .testTarget(name: "SpectralCoreTests", dependencies: ["SpectralCore", "TestSupport"], swiftSettings: strict),
    ]
)
