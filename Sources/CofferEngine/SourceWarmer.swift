import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Lists a source tree's directories and lstats their entries while the
/// repository is still opening (key derivation, store listings), so the
/// backup's walk finds them done. On a cold disk an unchanged re-backup is
/// mostly that walk, and opening takes a third of it; overlapping them is the
/// gain. The listings are kept (up to `retainLimit` entries in all) for the
/// archiver to take (`BackupOptions.listings`) instead of listing those
/// directories again; beyond the limit a listing only warms the kernel's
/// caches. It only reads metadata and stops when `stop()` is called, so a
/// large tree costs no more than the time the caller gave it.
public final class SourceWarmer: @unchecked Sendable {
    private let condition = NSCondition()
    private var stack: [String]
    private var busy = 0
    private var stopped = false
    private var finishedThreads = 0
    private var read = 0
    private let threads: Int
    private let retainLimit: Int
    private var retained: [String: DirectoryEntries] = [:]
    private var retainedEntries = 0
    /// Directories waiting, at most: beyond it deeper ones are dropped (the walk reads them anyway).
    static let queueLimit = 65_536

    /// Starts warming `path` (a directory; anything else is left alone) on `threads` threads of its own,
    /// keeping listings of `retainLimit` entries in all (about 150 bytes each) for the archiver.
    public init(path: String, threads: Int = 4, retainLimit: Int = 50_000) {
        stack = [path]
        self.threads = threads
        self.retainLimit = retainLimit
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

    /// A directory's listing as the warmer took it, once: the caller owns it from here.
    func takeListing(_ path: String) -> DirectoryEntries? {
        condition.lock()
        defer { condition.unlock() }
        guard let listing = retained.removeValue(forKey: path) else { return nil }
        retainedEntries -= listing.count
        return listing
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
            var listing: DirectoryEntries?
            if !isStopped, case let .success(entries) = listDirectory(dir) {
                listing = entries
                for case let (name, .success(st)) in entries where st.isDirectory {
                    subdirectories.append(childPath(dir, name))
                }
            }
            condition.lock()
            busy -= 1
            if let listing {
                read += 1
                if retainedEntries + listing.count <= retainLimit {
                    retained[dir] = listing
                    retainedEntries += listing.count
                }
            }
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
