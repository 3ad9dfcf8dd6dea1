import CofferBlobStore
import CofferCrypto
import Foundation
import Testing
@testable import CofferRepository

@Suite struct BlobIndexTable {
    static func id(_ n: Int, salt: UInt8 = 0) -> Hash256 { Hash256.sha256(Data("blob \(n) \(salt)".utf8)) }

    static func entries(_ range: Range<Int>, type: (Int) -> BlobType = { _ in .data }) -> [PackEntry] {
        range.map { PackEntry(type: type($0), id: id($0), offset: UInt32($0 * 10), length: UInt32($0 % 977 + 1), rawLength: UInt32($0 % 977 + 7)) }
    }

    @Test func everyEntryIsFoundAcrossSegmentsAndTableGrowth() {
        let index = BlobIndex()
        let packs = (0..<5).map { Hash256.sha256(Data("pack \($0)".utf8)) }
        // 150 000 entries: three segments of 65 536, the slot table rebuilt many times on the way.
        let all = Self.entries(0..<150_000) { $0 % 3 == 0 ? .tree : .data }
        for (k, chunk) in stride(from: 0, to: all.count, by: 30_000).enumerated() {
            index.add(pack: packs[k], entries: Array(all[chunk..<min(chunk + 30_000, all.count)]))
        }
        #expect(index.count == 150_000)
        #expect(index.packCount == 5)
        for (n, e) in all.enumerated() {
            guard let found = index.lookup(e.id) else { Issue.record("entry \(n) not found"); return }
            #expect(found.entry == e && found.pack == packs[n / 30_000])
        }
        for n in 150_000..<151_000 {
            #expect(index.lookup(Self.id(n)) == nil && !index.contains(Self.id(n)) && !index.hasLive(Self.id(n)))
        }
        // Adding the same blobs again (another pack holds them too) keeps the first place and the count.
        index.add(pack: packs[4], entries: Self.entries(0..<100))
        #expect(index.count == 150_000)
        #expect(index.lookup(Self.id(5))?.pack == packs[0])
    }

    @Test func aBlobInADoomedPackMovesToALiveCopyWhicheverComesFirst() {
        let doomed = Hash256.sha256(Data("doomed".utf8)), live = Hash256.sha256(Data("live".utf8))
        let blobs = Self.entries(0..<10)
        // Live copy first: it stays.
        let a = BlobIndex()
        a.setPendingDeletion([doomed])
        a.add(pack: live, entries: blobs)
        a.add(pack: doomed, entries: blobs)
        // Doomed copy first (the index learns of the deletion before or after): the live copy replaces it.
        let b = BlobIndex()
        b.setPendingDeletion([doomed])
        b.add(pack: doomed, entries: blobs)
        #expect(!b.hasLive(blobs[0].id) && b.contains(blobs[0].id))
        b.add(pack: live, entries: blobs)
        let c = BlobIndex()
        c.add(pack: doomed, entries: blobs)
        c.setPendingDeletion([doomed])
        #expect(c.isPendingDeletion(pack: doomed) && !c.isPendingDeletion(pack: live))
        c.add(pack: live, entries: blobs)
        for index in [a, b, c] {
            #expect(index.count == 10)
            for e in blobs { #expect(index.lookup(e.id)?.pack == live && index.hasLive(e.id)) }
            #expect(index.entries(inPacks: [doomed]).isEmpty)
            #expect(Set(index.entries(inPacks: [live]).map(\.entry.id)) == Set(blobs.map(\.id)))
        }
    }

    @Test func tablesLoadedForOneTypeKeepOnlyThatType() {
        var table = BlobIndex.Table()
        table.onlyType = .tree
        let pack = Hash256.sha256(Data("p".utf8))
        let mixed = Self.entries(0..<1000) { $0 % 10 == 0 ? .tree : .data }
        table.add(pack: pack, entries: mixed, session: nil)
        let index = BlobIndex()
        index.install(table)
        #expect(index.count == 100 && index.onlyType == .tree)
        for e in mixed { #expect((index.lookup(e.id) != nil) == (e.type == .tree)) }
    }

    @Test func aTreeOnlyIndexListsButNamesWhyADataBlobIsMissing() async throws {
        let store = MemoryBlobStore()
        let repo = try await makeRepo(store, packSize: 4000)
        let snap = try await snapshotOf(repo, [("a", bytes(9000, 1)), ("b", bytes(300, 2))])
        let fresh = try await Repository.open(store: store, secret: .passphrase("pw"))
        try await fresh.loadIndex(only: .tree)
        let tree = try await fresh.loadTree(try await fresh.loadSnapshot(snap).tree)
        #expect(tree.nodes.map(\.name) == ["a", "b"])
        let error = await #expect(throws: RepositoryError.self) { try await fresh.loadBlob(tree.nodes[0].content![0].blob, type: .data) }
        #expect(error?.description.contains("loaded for tree blobs only") == true)
        try await fresh.loadIndex()
        #expect(try await fresh.loadBlob(tree.nodes[0].content![0].blob, type: .data) == bytes(9000, 1))
    }
}
