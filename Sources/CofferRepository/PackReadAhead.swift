import CofferCrypto
import Foundation

/// Reading blob by blob is what a local disk does best, but on a remote store
/// every read is a round trip, and a restore of many small files becomes a
/// queue of tiny requests. For remote stores a blob read that misses fetches
/// the aligned window of the pack holding it; the blobs around it in the
/// pack (backup order, so restore order) come from memory. Concurrent misses
/// for one window share one request. At most `windows` windows are kept, so
/// memory stays at `windows * windowSize`.
final class PackReadAhead: @unchecked Sendable {
    let windowSize: Int
    let windows: Int
    private let lock = NSLock()
    /// Most recently used last.
    private var kept: [(pack: Hash256, start: Int, data: Data)] = []
    private var pending: [(pack: Hash256, range: Range<Int>, task: Task<Data, Error>)] = []

    init(windowSize: Int = 4 << 20, windows: Int = 16) {
        self.windowSize = windowSize
        self.windows = windows
    }

    /// The bytes of `range` in `pack`; `fetch` reads a range of the pack (one that
    /// runs past its end is cut there, as the store contract says).
    func read(pack: Hash256, range: Range<Int>, fetch: @escaping @Sendable (Range<Int>) async throws -> Data) async throws -> Data {
        enum Plan { case ready(Data), wait(Task<Data, Error>, Int), start(Task<Data, Error>, Int) }
        let plan: Plan = lock.withLock {
            if let i = kept.lastIndex(where: { $0.pack == pack && $0.start <= range.lowerBound && $0.start + $0.data.count >= range.upperBound }) {
                let window = kept.remove(at: i)
                kept.append(window)
                return .ready(Self.slice(window.data, from: window.start, range))
            }
            if let p = pending.first(where: { $0.pack == pack && $0.range.lowerBound <= range.lowerBound && $0.range.upperBound >= range.upperBound }) {
                return .wait(p.task, p.range.lowerBound)
            }
            // Aligned windows: concurrent misses anywhere in one share its request, and windows never overlap
            // (but for a blob running past a window's end, which its window then includes).
            let start = range.lowerBound / windowSize * windowSize
            let window = start..<max(range.upperBound, start + windowSize)
            let task = Task { try await fetch(window) }
            pending.append((pack, window, task))
            return .start(task, window.lowerBound)
        }
        switch plan {
        case .ready(let data):
            return data
        case .wait(let task, let start):
            return Self.slice(try await task.value, from: start, range)
        case .start(let task, let start):
            let result = await task.result
            lock.withLock {
                pending.removeAll { $0.task == task }
                if case .success(let data) = result {
                    kept.append((pack, start, data))
                    if kept.count > windows { kept.removeFirst(kept.count - windows) }
                }
            }
            return Self.slice(try result.get(), from: start, range)
        }
    }

    /// `range` out of a window starting at `start`; short when the pack ended first.
    static func slice(_ window: Data, from start: Int, _ range: Range<Int>) -> Data {
        let lower = min(window.count, range.lowerBound - start), upper = min(window.count, range.upperBound - start)
        return window.subdata(in: (window.startIndex + lower)..<(window.startIndex + upper))
    }
}
