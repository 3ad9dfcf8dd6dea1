import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Lists a source tree's directories and lstats their entries while the
/// repository is still opening (key derivation, store listings), so the
/// kernel's dentry and inode caches are warm when the backup's own walk
/// starts. On a cold disk an unchanged re-backup is mostly that walk, and
/// opening takes a third of it; overlapping them is the gain. It only reads
/// metadata, keeps nothing, and stops when `stop()` is called, so a large
/// tree costs no more than the time the caller gave it.
public final class SourceWarmer: @unchecked Sendable {
    private let condition = NSCondition()
    private var stack: [String]
    private var busy = 0
    private var stopped = false
    private var finishedThreads = 0
    private var read = 0
    private let threads: Int
    /// Directories waiting, at most: beyond it deeper ones are dropped (the walk reads them anyway).
    static let queueLimit = 65_536

    /// Starts warming `path` (a directory; anything else is left alone) on `threads` threads of its own.
    public init(path: String, threads: Int = 4) {
        stack = [path]
        self.threads = threads
        for i in 0..<threads {
            let t = Thread { [self] in self.loop() }
            t.name = "coffer-warm-\(i)"
            t.stackSize = 256 << 10
            t.start()
        }
    }

    /// Ends the warming: threads finish the directory in hand and exit.
    public func stop() {
        condition.lock()
        stopped = true
        condition.broadcast()
        condition.unlock()
    }

    /// Waits until every thread has exited (after `stop()` or when the whole tree was read).
    public func wait() {
        condition.lock()
        while finishedThreads < threads { condition.wait() }
        condition.unlock()
    }

    /// Directories listed so far.
    public var directoriesRead: Int {
        condition.lock()
        defer { condition.unlock() }
        return read
    }

    private func next() -> String? {
        condition.lock()
        defer { condition.unlock() }
        while !stopped {
            if let dir = stack.popLast() {
                busy += 1
                return dir
            }
            if busy == 0 { return nil }  // nothing queued and nobody can add more: the tree is read
            condition.wait()
        }
        return nil
    }

    private func loop() {
        while let dir = next() {
            var subdirectories: [String] = []
            var listed = false
            if !isStopped, case let .success(entries) = listDirectory(dir) {
                listed = true
                for case let (name, .success(st)) in entries where st.isDirectory {
                    subdirectories.append(childPath(dir, name))
                }
            }
            condition.lock()
            busy -= 1
            if listed { read += 1 }
            // Reversed so the first name is popped first: the order the archiver walks in.
            for sub in subdirectories.reversed() where stack.count < SourceWarmer.queueLimit { stack.append(sub) }
            condition.broadcast()
            condition.unlock()
        }
        condition.lock()
        finishedThreads += 1
        condition.broadcast()
        condition.unlock()
    }

    private var isStopped: Bool {
        condition.lock()
        defer { condition.unlock() }
        return stopped
    }
}
