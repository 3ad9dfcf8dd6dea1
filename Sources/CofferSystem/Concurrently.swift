/// Runs `work` on every element, at most `width` at a time, and hands each
/// result to `consume` as it arrives (in completion order, on the caller's
/// task): a few reads in flight and only their results held, whatever the count.
/// Results travel as `Finished` (a struct): Swift 6.3.1's optimiser returned some
/// task-group tuples with fields zeroed (docs/architecture.md, "Test targets").
public func forEachConcurrently<Element: Sendable, Output: Sendable>(
    _ elements: [Element], width: Int = 8,
    _ work: @escaping @Sendable (Element) async -> Output,
    consume: (Element, Output) async throws -> Void
) async throws {
    try await withThrowingTaskGroup(of: Finished<Element, Output>.self) { group in
        var pending = elements.makeIterator()
        func launch() {
            guard let element = pending.next() else { return }
            group.addTask { Finished(element: element, output: await work(element)) }
        }
        for _ in 0..<max(1, width) { launch() }
        while let finished = try await group.next() {
            launch()
            try await consume(finished.element, finished.output)
        }
    }
}

private struct Finished<Element: Sendable, Output: Sendable>: Sendable {
    let element: Element
    let output: Output
}
