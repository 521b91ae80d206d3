// swift-tools-version:6.0
import PackageDescription

/// Warnings are errors for spectop's own targets (never for dependencies).
let strict: [SwiftSetting] = [.unsafeFlags(["-warnings-as-errors"])]

// spectop runs on Linux only: it builds with the Swift toolchain for Linux (6.0 or later) against
// OpenBLAS + LAPACKE (CLinalg), ARPACK-NG (CArpack) and ncursesw (CNcurses), and reads /proc. No other platform is declared
// because none is supported.
let package = Package(
    name: "spectop",
    products: [
        .executable(name: "spectop", targets: ["spectop"]),
        .library(name: "SpectralCore", targets: ["SpectralCore"]),
        // The contract alone, for tools that read spectop records or snapshots without the engine.
        .library(name: "SpecTopRecord", targets: ["SpecTopRecord"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/LebJe/TOMLKit", from: "0.6.0"),
        // TensorBoard's Event/Summary messages (generated once, scripts/generate-tensorboard-protos.sh).
        .package(url: "https://github.com/apple/swift-protobuf", from: "1.39.0"),
    ],
    targets: [
        .systemLibrary(name: "CLinalg", path: "Sources/CLinalg"),
        // ARPACK-NG (Debian libarpack2-dev): implicitly restarted Lanczos for the matrix-free top-k eigenpairs.
        .systemLibrary(name: "CArpack", path: "Sources/CArpack"),
        .systemLibrary(name: "CNcurses", path: "Sources/CNcurses"),
        // Crash handlers that restore the terminal: C, because only async-signal-safe code may run there.
        .target(name: "CTerminalRescue"),
        // The eNTK operator's per-sample contractions: C, compiled once per x86 instruction set and picked at load time.
        .target(name: "CContractions"),
        // The contract between the engine and everything that reads it: the values the engine publishes
        // (snapshots, samples, histograms and their binning, the power-law fit) and the one record-line
        // schema (JSONLine, RecordLines, RunRecord). Foundation only.
        .target(name: "SpecTopRecord", swiftSettings: strict),
        .target(
            name: "SpectralCore",
            dependencies: ["SpecTopRecord", "CLinalg", "CArpack", "CContractions"],
            // The UCI digits (1,797 records of 64 pixels and a label, scripts/make_digits_resource.py),
            // compiled into the binary, so the digits preset needs no file beside it.
            resources: [.embedInCode("Resources/digits.bin")],
            swiftSettings: strict
        ),
        // The monitor sees only the contract, never the engine.
        .target(name: "SpecTopUI", dependencies: ["SpecTopRecord", "CNcurses", "CTerminalRescue"], swiftSettings: strict),
        // The commands that only read records (replay, watch, claims, export, check) and what they
        // share with the rest (exit statuses, safe output, signals, destinations): no engine, no BLAS,
        // so they build and their tests run without OpenBLAS, LAPACKE or ARPACK (`make readers`).
        // Foreign logs (TensorBoard event files, Lightning metrics.csv) are read here too.
        .target(
            name: "SpecTopReaders",
            dependencies: [
                "SpecTopRecord",
                "SpecTopUI",
                "CNcurses",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "SpecTopApp",
            dependencies: [
                "SpecTopReaders",
                "SpecTopRecord",
                "SpectralCore",
                "SpecTopUI",
                "CNcurses",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "TOMLKit", package: "TOMLKit"),
            ],
            swiftSettings: strict
        ),
        // `spectop bench`: the benchmark suite, its figures, cost curves and plots.
        .target(
            name: "SpecTopBench",
            dependencies: [
                "SpecTopApp",
                "SpecTopReaders",
                "SpecTopRecord",
                "SpectralCore",
                "SpecTopUI",
                "CNcurses",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "spectop",
            dependencies: ["SpecTopApp", "SpecTopBench", "SpecTopReaders", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            swiftSettings: strict
        ),
        .target(name: "TestSupport", dependencies: ["SpectralCore"], path: "Tests/TestSupport", swiftSettings: strict),
        // A counting malloc for the allocation-free training test (C: it replaces the test binary's allocator).
        .target(name: "AllocationCounter", path: "Tests/AllocationCounter"),
        .testTarget(name: "SpectralCoreTests", dependencies: ["SpectralCore", "TestSupport", "AllocationCounter"], swiftSettings: strict),
        // The contract alone (Foundation only): the record reader, writer and validator without the engine or BLAS.
        .testTarget(name: "SpecTopRecordTests", dependencies: ["SpecTopRecord"], swiftSettings: strict),
        // The record-reading commands with the contract and the UI only: no engine, no BLAS.
        .testTarget(name: "SpecTopReadersTests", dependencies: ["SpecTopReaders", "SpecTopRecord", "SpecTopUI"], swiftSettings: strict),
        .testTarget(name: "SpecTopUITests", dependencies: ["SpecTopUI", "SpecTopRecord"], swiftSettings: strict),
        .testTarget(name: "SpecTopAppTests", dependencies: ["SpecTopApp", "SpecTopBench", "SpecTopReaders", "SpecTopRecord", "TestSupport"], swiftSettings: strict),
        // The tiers: the three targets above are the fast unit tier (no process
        // spawns, no sleeps: `make unit`); integration runs the release binary,
        // the claims reproductions, the NumPy reference and timed engine tests;
        // end-to-end drives the monitor in tmux.
        .testTarget(name: "SpecTopIntegrationTests", dependencies: ["SpecTopApp", "SpecTopBench", "SpecTopReaders", "SpecTopRecord", "SpectralCore", "TestSupport"], swiftSettings: strict),
        .testTarget(name: "SpecTopEndToEndTests", dependencies: ["SpecTopApp", "SpecTopReaders", "SpecTopRecord", "TestSupport"], swiftSettings: strict),
    ]
)
