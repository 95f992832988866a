import Testing
@testable import PTYProxy

@Suite struct InvocationTests {
    @Test func placeholder() { #expect(Invocation.parse(["list"]) == .success(.list)) }
}
