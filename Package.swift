// swift-tools-version: 6.0
// SPDX-License-Identifier: MIT
import PackageDescription

// Start-up is part of every `ptyproxy new` (BENCHMARKS.md, "Start-up: where
// the time goes"): metadata known at compile time is reached through direct
// accessors, not demangled from its name by the runtime on first use.
let startupSettings: [SwiftSetting] = [
    .unsafeFlags(["-Xfrontend", "-disable-concrete-type-metadata-mangled-name-accessors"]),
]

let package = Package(
    name: "ptyproxy",
    products: [
        .library(name: "PTYProxy", targets: ["PTYProxy"]),
        .executable(name: "ptyproxy", targets: ["ptyproxy"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-system", from: "1.8.1"),
    ],
    targets: [
        // What Swift cannot see through `import Glibc`: posix_openpt & co,
        // POSIX_SPAWN_SETSID, closefrom file actions, signalfd. See its header.
        .target(name: "CPTYShim"),
        .target(
            name: "PTYProxy",
            dependencies: [
                "CPTYShim",
                .product(name: "SystemPackage", package: "swift-system"),
            ],
            swiftSettings: startupSettings
        ),
        .executableTarget(
            name: "ptyproxy", dependencies: ["PTYProxy"], swiftSettings: startupSettings,
            // The linker writes the executable with write(2), not through a
            // mapping filled in link order: the file's pages then sit in the
            // page cache as a copied file's do, and a run straight from
            // .build takes fewer page faults (same bytes; BENCHMARKS.md,
            // "Start-up: where the time goes"). gold and lld both take it.
            linkerSettings: [.unsafeFlags(["-Xlinker", "--no-mmap-output-file"])]
        ),
        .testTarget(name: "PTYProxyTests", dependencies: ["PTYProxy", "ptyproxy"]),
    ],
    swiftLanguageModes: [.v6]
)
