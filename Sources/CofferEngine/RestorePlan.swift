import CofferCrypto
import CofferRepository
import CofferSystem
import Foundation

/// A restore reads each pack once. The extents still to write are grouped by
/// the pack holding their blob, each pack's records are fetched in as few
/// reads as the store wants (`Repository.readBlobs`), and every blob is
/// written to each place that needs it. Reading file by file fetched
/// deduplicated blobs again for every file and offset sharing them, and read
/// packs in whatever order the files' extents pointed. Pure: the index lookup
/// is passed in.
struct RestorePlan<Target> {
    struct Blob {
        var entry: PackEntry
        var targets: [Target]
    }

    struct Pack {
        var pack: Hash256
        var blobs: [Blob]
    }

    /// In the order their first blob was asked for (the walk's order).
    private(set) var packs: [Pack] = []
    /// What the index does not know.
    private(set) var missing: [(blob: Hash256, target: Target)] = []

    init(_ wanted: [(blob: Hash256, target: Target)], locate: (Hash256) -> (pack: Hash256, entry: PackEntry)?) {
        var packNumbers: [Hash256: Int] = [:]
        var blobPlaces: [Hash256: (pack: Int, blob: Int)] = [:]
        for (blob, target) in wanted {
            if let place = blobPlaces[blob] {
                packs[place.pack].blobs[place.blob].targets.append(target)
                continue
            }
            guard let location = locate(blob) else {
                missing.append((blob, target))
                continue
            }
            let p: Int
            if let known = packNumbers[location.pack] {
                p = known
            } else {
                p = packs.count
                packNumbers[location.pack] = p
                packs.append(Pack(pack: location.pack, blobs: []))
            }
            blobPlaces[blob] = (p, packs[p].blobs.count)
            packs[p].blobs.append(Blob(entry: location.entry, targets: [target]))
        }
    }
}

/// One extent of one target file.
struct RestoreTarget: Sendable {
    let file: OpenFile
    let extent: Extent
}

/// Hands a file's extents to the batches; the file is finished (metadata,
/// close) when the last of them has been written or has failed.
typealias Enqueue = (OpenFile, [Extent]) async throws -> Void

extension RestoreRun {
    /// Runs `walk`, which creates the target files and hands over their
    /// extents; they are written in batches of `options.batchExtents`, one
    /// batch writing while the walk fills the next. A file larger than a
    /// batch continues in the next one.
    func runBatches(_ walk: (Enqueue) async throws -> Void) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            var batch: [RestoreTarget] = []
            var writing = false
            func flush() async throws {
                guard !batch.isEmpty else { return }
                if writing { try await group.next() }
                writing = true
                let items = batch
                batch = []
                group.addTask { await self.write(items) }
            }
            func enqueue(_ file: OpenFile, _ extents: [Extent]) async throws {
                var rest = extents[...]
                while !rest.isEmpty {
                    let room = max(1, options.batchExtents - batch.count)
                    batch += rest.prefix(room).map { RestoreTarget(file: file, extent: $0) }
                    rest = rest.dropFirst(room)
                    if batch.count >= options.batchExtents { try await flush() }
                }
            }
            try await walk(enqueue)
            try await flush()
            try await group.waitForAll()
        }
    }

    /// Writes one batch: packs read `options.concurrency` at a time.
    func write(_ items: [RestoreTarget]) async {
        let todo = options.delta ? await dropIdentical(items) : items
        let plan = RestorePlan(todo.map { ($0.extent.blob, $0) }, locate: repository.locate)
        for (blob, target) in plan.missing {
            finished(target, failure: RepositoryError(.missing, "data blob \(blob.hex) is not in the index"))
        }
        await withTaskGroup(of: Void.self) { group in
            var running = 0
            for pack in plan.packs {
                if running >= options.concurrency { await group.next(); running -= 1 }
                running += 1
                group.addTask { await self.write(pack) }
            }
        }
    }

    func write(_ pack: RestorePlan<RestoreTarget>.Pack) async {
        var places: [Hash256: [RestoreTarget]] = [:]
        for blob in pack.blobs { places[blob.entry.id] = blob.targets }
        await repository.readBlobs(pack: pack.pack, entries: pack.blobs.map(\.entry)) { entry, plaintext in
            await write(plaintext, to: places.removeValue(forKey: entry.id) ?? [])
        }
        // Every place is finished, written or failed: a blob the reader never answered is a failure, not a silent gap.
        for (id, targets) in places {
            await write(.failure(RepositoryError(.damaged, "blob \(id.short) of pack \(pack.pack.short) was not read")), to: targets)
        }
    }

    /// Writes one blob to every place that needs it (one trip to the blocking pool).
    func write(_ plaintext: Result<Data, Error>, to places: [RestoreTarget]) async {
        let failures: [Error?]
        switch plaintext {
        case .failure(let error):
            failures = Array(repeating: error, count: places.count)
        case .success(let data):
            failures = await BlockingPool.shared.run {
                data.withUnsafeBytes { raw in
                    places.map { place -> Error? in
                        guard data.count == Int(place.extent.length) else {
                            return RepositoryError(.damaged, "blob \(place.extent.blob.short) has \(data.count) bytes, expected \(place.extent.length)")
                        }
                        guard let base = raw.baseAddress else { return nil }
                        do {
                            try self.handles.withDescriptor(place.file) { try pwriteFully($0, base, data.count, Int64(place.extent.offset)) }
                        } catch { return error }
                        return nil
                    }
                }
            }
        }
        for (place, failure) in zip(places, failures) { finished(place, failure: failure) }
    }

    /// For a delta restore: the targets whose bytes are not already what the
    /// snapshot holds (the others are finished here, counted as skipped).
    func dropIdentical(_ items: [RestoreTarget]) async -> [RestoreTarget] {
        await withTaskGroup(of: RestoreTarget?.self) { group in
            var keep: [RestoreTarget] = []
            var running = 0
            for item in items {
                if running >= 8, let next = await group.next() {
                    running -= 1
                    if let next { keep.append(next) }
                }
                running += 1
                group.addTask { await self.isIdentical(item) ? nil : item }
            }
            for await next in group { if let next { keep.append(next) } }
            return keep
        }
    }

    func isIdentical(_ target: RestoreTarget) async -> Bool {
        guard let existing = try? await BlockingPool.shared.run({ try self.handles.withDescriptor(target.file) { try self.readExisting($0, target.extent) } }),
              repository.keys.blobID(existing) == target.extent.blob else { return false }
        finished(target, failure: nil, skipped: true)
        return true
    }
}
