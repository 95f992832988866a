// swift-tools-version: 6.0
// SPDX-License-Identifier: MIT
import PackageDescription

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
        .executableTarget(name: "ptyproxy", dependencies: ["PTYProxy"]),
        .testTarget(name: "PTYProxyTests", dependencies: ["PTYProxy", "ptyproxy"]),
    ],
    swiftLanguageModes: [.v6]
)
