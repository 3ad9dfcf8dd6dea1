import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif
@testable import CofferEngine

@Suite struct SourceWarmerTests {
    @Test func readsEveryDirectoryOnceWithoutFollowingLinks() throws {
        let t = TempDir("warm"), outside = TempDir("warm-outside")
        for i in 0..<6 {
            for j in 0..<4 {
                let dir = t.sub("d\(i)/e\(j)")
                try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
                write(dir + "/f", Data("x".utf8))
            }
        }
        for k in 0..<5 { try FileManager.default.createDirectory(atPath: outside.sub("o\(k)"), withIntermediateDirectories: true) }
        try FileManager.default.createSymbolicLink(atPath: t.sub("link"), withDestinationPath: outside.path)
        let warmer = SourceWarmer(path: t.path, threads: 3)
        warmer.wait()  // returns by itself once the tree is read
        #expect(warmer.directoriesRead == 1 + 6 + 24, "the root, six directories and 24 below them; the link is not followed")
    }

    @Test func keepsItsListingsForTheArchiverOnceEachAndWithinItsLimit() throws {
        let t = TempDir("warm-keep")
        for i in 0..<4 { for j in 0..<3 { write(t.sub("d\(i)/f\(j)"), Data(repeating: 7, count: i + j)) } }
        let warmer = SourceWarmer(path: t.path, threads: 2)
        warmer.wait()
        let root = try #require(warmer.takeListing(t.path))
        let fresh = try listDirectory(t.path).get()
        #expect(root.map(\.0) == fresh.map(\.0))
        #expect(root.map { try? $0.1.get().inode } == fresh.map { try? $0.1.get().inode })
        let inner = try #require(warmer.takeListing(t.sub("d2")))
        #expect(inner.map(\.0) == ["f0", "f1", "f2"] && inner.map { try? $0.1.get().size } == [2, 3, 4])
        #expect(warmer.takeListing(t.path) == nil, "a listing is handed out once")

        // Past its limit a listing only warms: at most 5 entries are kept (the root alone holds 4).
        let limited = SourceWarmer(path: t.path, threads: 1, retainLimit: 5)
        limited.wait()
        let kept = ([t.path] + (0..<4).map { t.sub("d\($0)") }).compactMap { limited.takeListing($0) }
        #expect(limited.directoriesRead == 5 && kept.reduce(0) { $0 + $1.count } <= 5 && !kept.isEmpty)
    }

    @Test func aFileOrAMissingPathEndsAtOnce() {
        let t = TempDir("warm-file")
        write(t.sub("f"), Data("x".utf8))
        for path in [t.sub("f"), t.sub("missing")] {
            let warmer = SourceWarmer(path: path)
            warmer.wait()
            #expect(warmer.directoriesRead == 0)
        }
    }

    @Test func stopEndsTheWarmingEarly() throws {
        let t = TempDir("warm-stop")
        for i in 0..<300 { try FileManager.default.createDirectory(atPath: t.sub("a/\(i)/b/c"), withIntermediateDirectories: true) }
        let warmer = SourceWarmer(path: t.path, threads: 2)
        warmer.stop()
        warmer.wait()  // every thread has exited: nothing is read after this
        let read = warmer.directoriesRead
        usleep(50_000)
        #expect(warmer.directoriesRead == read && read <= 1 + 1 + 300 * 3)
    }
}

@Suite struct ListDirectoryTests {
    @Test func entriesSortedWithTheirOwnLstatAndNoLinkFollowed() throws {
        let t = TempDir("list"), outside = TempDir("list-outside")
        write(t.sub("b"), Data("12345".utf8))
        try FileManager.default.createDirectory(atPath: t.sub("a"), withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: t.sub("c"), withDestinationPath: outside.path)
        let entries = try listDirectory(t.path).get()
        #expect(entries.map(\.0) == ["a", "b", "c"])
        let kinds = entries.map { try? $0.1.get().kind }
        #expect(kinds == [.directory, .file, .symlink])
        #expect((try? entries[1].1.get().size) == 5)
        // A directory reached through a symlink is refused, not walked.
        guard case let .failure(e) = listDirectory(t.sub("c")) else { Issue.record("listed through a symlink"); return }
        #expect(e.code == ELOOP || e.code == ENOTDIR)
        guard case .failure = listDirectory(t.sub("missing")) else { Issue.record("listed a missing directory"); return }
    }
}
