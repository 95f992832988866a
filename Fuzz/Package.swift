// swift-tools-version: 6.0
// SPDX-License-Identifier: MIT
// libFuzzer harnesses for ptyproxy's pure parsers (control request, control
// reply, command line). A package of its own so
// that the sanitizer flags never touch the main build. See RELIABILITY.md and
// scripts/reliability/fuzz.sh.
import PackageDescription

/// SwiftPM names a path dependency after its directory, and a checkout can
/// live in a directory of any name (CI clones into a fresh one).
let mainPackage = String(#filePath.split(separator: "/").dropLast(2).last ?? "main")

let package = Package(
    name: "PTYProxyFuzz",
    dependencies: [
        .package(path: ".."),
    ],
    targets: [
        .target(name: "FuzzDriver"),
        .executableTarget(
            name: "FuzzControlRequest",
            dependencies: ["FuzzDriver", .product(name: "PTYProxy", package: mainPackage)]
        ),
        .executableTarget(
            name: "FuzzControlReply",
            dependencies: ["FuzzDriver", .product(name: "PTYProxy", package: mainPackage)]
        ),
        .executableTarget(
            name: "FuzzInvocation",
            dependencies: ["FuzzDriver", .product(name: "PTYProxy", package: mainPackage)]
        ),
    ],
    swiftLanguageModes: [.v6]
)
