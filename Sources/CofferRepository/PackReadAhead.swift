import CofferCrypto
import Foundation

/// Reading blob by blob is what a local disk does best, but on a remote store
/// every read is a round trip, and a restore of many small files becomes a
/// queue of tiny requests. For remote stores a blob read that misses fetches
/// the aligned window(s) of the pack holding it; the blobs around it in the
/// pack (backup order, so restore order) come from memory. A blob across a
/// window boundary is put together from both windows, so no byte of a pack is
/// fetched twice while its window is kept. Concurrent misses for one window
/// share one request. At most `windows` windows are kept, so memory stays at
/// `windows * windowSize`.
final class PackReadAhead: @unchecked Sendable {
    let windowSize: Int
    let windows: Int
    private struct Window: Equatable { var pack: Hash256; var index: Int }
    private let lock = NSLock()
    /// Most recently used last.
    private var kept: [(window: Window, data: Data)] = []
    private var pending: [(window: Window, task: Task<Data, Error>)] = []

    init(windowSize: Int = 4 << 20, windows: Int = 16) {
        self.windowSize = windowSize
        self.windows = windows
    }

    /// The bytes of `range` in `pack`; `fetch` reads a range of the pack (one that
    /// runs past its end is cut there, as the store contract says). Short when the pack ends first.
    func read(pack: Hash256, range: Range<Int>, fetch: @escaping @Sendable (Range<Int>) async throws -> Data) async throws -> Data {
        guard !range.isEmpty else { return Data() }
        let first = range.lowerBound / windowSize, last = (range.upperBound - 1) / windowSize
        var out = Data()
        for index in first...last {
            let data = try await window(Window(pack: pack, index: index), fetch: fetch)
            let start = index * windowSize
            let lower = min(data.count, max(0, range.lowerBound - start)), upper = min(data.count, range.upperBound - start)
            if first == last { return data.subdata(in: (data.startIndex + lower)..<(data.startIndex + upper)) }
            out.append(data[(data.startIndex + lower)..<(data.startIndex + upper)])
            if upper < windowSize { break }  // the pack ended in this window
        }
        return out
    }

    private func window(_ window: Window, fetch: @escaping @Sendable (Range<Int>) async throws -> Data) async throws -> Data {
        enum Plan { case ready(Data), wait(Task<Data, Error>), start(Task<Data, Error>) }
        let plan: Plan = lock.withLock {
            if let i = kept.lastIndex(where: { $0.window == window }) {
                let hit = kept.remove(at: i)
                kept.append(hit)
                return .ready(hit.data)
            }
            if let p = pending.first(where: { $0.window == window }) { return .wait(p.task) }
            let start = window.index * windowSize
            let task = Task { try await fetch(start..<(start + windowSize)) }
            pending.append((window, task))
            return .start(task)
        }
        switch plan {
        case .ready(let data):
            return data
        case .wait(let task):
            return try await task.value
        case .start(let task):
            let result = await task.result
            lock.withLock {
                pending.removeAll { $0.task == task }
                if case .success(let data) = result {
                    kept.append((window, data))
                    if kept.count > windows { kept.removeFirst(kept.count - windows) }
                }
            }
            return try result.get()
        }
    }
}
