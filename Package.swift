// swift-tools-version: 6.0
// SPDX-License-Identifier: MIT
import PackageDescription

// No unsafe flags in the library's targets: SwiftPM refuses a product built
// with them as a versioned dependency of another package. The start-up flag
// for the library's code is the Makefile's (STARTUP_FLAGS), for the builds
// the project ships and measures.

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
            ]
        ),
        .executableTarget(
            name: "ptyproxy", dependencies: ["PTYProxy"],
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
