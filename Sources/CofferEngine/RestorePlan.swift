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

    /// Writes one batch: packs read `options.concurrency` (or the repository's choice) at a time.
    func write(_ items: [RestoreTarget]) async {
        let todo = options.delta ? await dropIdentical(items) : items
        let plan = RestorePlan(todo.map { ($0.extent.blob, $0) }, locate: repository.locate)
        for (blob, target) in plan.missing {
            finished(target, failure: RepositoryError(.missing, "data blob \(blob.hex) is not in the index"))
        }
        let atOnce = options.concurrency ?? repository.packReadsAtOnce
        await withTaskGroup(of: Void.self) { group in
            var running = 0
            for pack in plan.packs {
                if running >= atOnce { await group.next(); running -= 1 }
                running += 1
                group.addTask { await self.write(pack) }
            }
        }
    }

    func write(_ pack: RestorePlan<RestoreTarget>.Pack) async {
        var places: [Hash256: [RestoreTarget]] = [:]
        for blob in pack.blobs { places[blob.entry.id] = blob.targets }
        // Blobs go to the blocking pool a few megabytes at a time: a trip per blob woke a
        // thread for every small file.
        var ready: [(Result<Data, Error>, [RestoreTarget])] = []
        var readyBytes = 0
        var failure: Error?
        do {
            try await repository.readBlobs(pack: pack.pack, entries: pack.blobs.map(\.entry)) { entry, plaintext in
                ready.append((plaintext, places.removeValue(forKey: entry.id) ?? []))
                readyBytes += Int(entry.rawLength)
                if readyBytes >= RestoreRun.writeBatchBytes {
                    await write(ready)
                    ready.removeAll(keepingCapacity: true)
                    readyBytes = 0
                }
            }
        } catch {
            failure = error
        }
        // Every place is finished, written or failed: a blob the reader never answered is a failure, not a silent gap.
        for (id, targets) in places {
            let why = failure.map { ": \($0)" } ?? ""
            ready.append((.failure(RepositoryError(.damaged, "blob \(id.short) of pack \(pack.pack.short) was not read\(why)")), targets))
        }
        await write(ready)
    }

    static let writeBatchBytes = 1 << 20

    /// Writes blobs, each to every place that needs it, in one trip to the blocking pool. Each
    /// place is finished as soon as it is written, while its file's descriptor is still held:
    /// finishing them after the batch found a few hundred small files' descriptors evicted and
    /// opened each again for its metadata.
    func write(_ blobs: [(plaintext: Result<Data, Error>, places: [RestoreTarget])]) async {
        guard !blobs.isEmpty else { return }
        await BlockingPool.shared.run {
            for (plaintext, places) in blobs {
                switch plaintext {
                case .failure(let error):
                    for place in places { self.finished(place, failure: error) }
                case .success(let data):
                    data.withUnsafeBytes { raw in
                        for place in places { self.finished(place, failure: self.write(raw, to: place)) }
                    }
                }
            }
        }
    }

    private func write(_ bytes: UnsafeRawBufferPointer, to place: RestoreTarget) -> Error? {
        guard bytes.count == Int(place.extent.length) else {
            return RepositoryError(.damaged, "blob \(place.extent.blob.short) has \(bytes.count) bytes, expected \(place.extent.length)")
        }
        guard let base = bytes.baseAddress else { return nil }
        do {
            try handles.withDescriptor(place.file) { try pwriteFully($0, base, bytes.count, Int64(place.extent.offset)) }
        } catch { return error }
        return nil
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
