import Foundation
import Testing
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
