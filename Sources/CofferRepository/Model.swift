import CofferCrypto
import CofferSystem
import Foundation

/// The snapshot model. It lives in the repository layer (not the engine, as
/// design §2 lists it) because check and garbage collection must walk trees
/// to know which blobs are alive; see docs/architecture.md.
public struct Snapshot: Codable, Sendable, Equatable {
    public enum Kind: String, Codable, Sendable { case files, volume }

    public var time: Date
    public var hostname: String
    public var username: String
    public var paths: [String]
    public var kind: Kind
    public var tree: Hash256
    public var parent: Hash256?
    public var tags: [String]
    public var summary: SnapshotSummary?
    public var programVersion: String
    /// What a service that made the snapshot needs to know of it again
    /// without its own database (Coffer's catalog: project, vault, resource,
    /// backup); absent in snapshots made by the command line.
    public var labels: [String: String]?

    public init(time: Date, hostname: String, username: String, paths: [String], kind: Kind, tree: Hash256,
                parent: Hash256? = nil, tags: [String] = [], summary: SnapshotSummary? = nil, programVersion: String = CofferVersion.string,
                labels: [String: String]? = nil) {
        self.labels = labels
        self.time = time
        self.hostname = hostname
        self.username = username
        self.paths = paths
        self.kind = kind
        self.tree = tree
        self.parent = parent
        self.tags = tags
        self.summary = summary
        self.programVersion = programVersion
    }
}

public enum CofferVersion {
    public static let string = "0.1.0"
}

public struct SnapshotSummary: Codable, Sendable, Equatable {
    public var files: Int
    public var directories: Int
    public var bytesRead: Int64
    public var bytesTotal: Int64
    public var bytesAdded: Int64
    public var blobsAdded: Int
    public var filesUnchanged: Int
    public var warnings: [String]
    public var durationSeconds: Double

    public init(files: Int = 0, directories: Int = 0, bytesRead: Int64 = 0, bytesTotal: Int64 = 0, bytesAdded: Int64 = 0,
                blobsAdded: Int = 0, filesUnchanged: Int = 0, warnings: [String] = [], durationSeconds: Double = 0) {
        self.files = files
        self.directories = directories
        self.bytesRead = bytesRead
        self.bytesTotal = bytesTotal
        self.bytesAdded = bytesAdded
        self.blobsAdded = blobsAdded
        self.filesUnchanged = filesUnchanged
        self.warnings = warnings
        self.durationSeconds = durationSeconds
    }
}

/// A range of a file's bytes stored as one data blob. Bytes not covered by
/// any extent are a hole (zeros).
public struct Extent: Codable, Sendable, Equatable {
    public var offset: UInt64
    public var length: UInt32
    public var blob: Hash256

    public init(offset: UInt64, length: UInt32, blob: Hash256) {
        self.offset = offset
        self.length = length
        self.blob = blob
    }

    enum CodingKeys: String, CodingKey { case offset = "o", length = "n", blob = "b" }
}

public struct Timestamp: Codable, Sendable, Equatable {
    public var seconds: Int64
    public var nanoseconds: Int32

    public init(seconds: Int64, nanoseconds: Int32) {
        self.seconds = seconds
        self.nanoseconds = nanoseconds
    }

    enum CodingKeys: String, CodingKey { case seconds = "s", nanoseconds = "ns" }
}

public struct Node: Codable, Sendable, Equatable {
    public enum Kind: String, Codable, Sendable {
        case file, directory, symlink, fifo, socket, charDevice, blockDevice, volume
    }

    public var name: String
    public var kind: Kind
    public var mode: UInt32
    public var uid: UInt32
    public var gid: UInt32
    public var user: String?
    public var group: String?
    public var mtime: Timestamp
    public var ctime: Timestamp?
    public var inode: UInt64?
    public var device: UInt64?
    public var links: UInt64?
    public var size: UInt64
    public var content: [Extent]?
    public var subtree: Hash256?
    public var linkTarget: String?
    public var rdev: UInt64?

    public init(name: String, kind: Kind, mode: UInt32 = 0o644, uid: UInt32 = 0, gid: UInt32 = 0, mtime: Timestamp = .init(seconds: 0, nanoseconds: 0), size: UInt64 = 0) {
        self.name = name
        self.kind = kind
        self.mode = mode
        self.uid = uid
        self.gid = gid
        self.mtime = mtime
        self.size = size
    }

    /// A name that is safe to create in a directory: not empty, not `.`/`..`,
    /// no `/` and no NUL. Names read from a manifest are checked before use.
    public static func isSafeName(_ name: String) -> Bool {
        !name.isEmpty && name != "." && name != ".." && !name.utf8.contains(0x2F) && !name.utf8.contains(0)
    }
}

public struct Tree: Codable, Sendable, Equatable {
    public var nodes: [Node]
    public init(nodes: [Node]) { self.nodes = nodes }

    /// Blobs this tree references directly (data extents and subtrees).
    public var references: [(Hash256, BlobType)] {
        var out: [(Hash256, BlobType)] = []
        for n in nodes {
            if let s = n.subtree { out.append((s, .tree)) }
            for e in n.content ?? [] { out.append((e.blob, .data)) }
        }
        return out
    }
}

public enum ModelCoding {
    public static func encoder() -> JSONEncoder {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys]
        e.dateEncodingStrategy = .custom { date, encoder in
            var c = encoder.singleValueContainer()
            try c.encode(formatDate(date))
        }
        return e
    }
    public static func decoder() -> JSONDecoder {
        let d = JSONDecoder()
        d.dateDecodingStrategy = .custom { decoder in
            let c = try decoder.singleValueContainer()
            let s = try c.decode(String.self)
            guard let date = parseDate(s) else {
                throw DecodingError.dataCorruptedError(in: c, debugDescription: "not an RFC 3339 time: \(s.prefix(40))")
            }
            return date
        }
        return d
    }

    /// Times are stored to the millisecond; values made here are rounded so
    /// they compare equal after a round trip.
    public static func storable(_ date: Date) -> Date {
        Date(timeIntervalSince1970: (date.timeIntervalSince1970 * 1000).rounded(.down) / 1000)
    }

    /// RFC 3339 with fractional seconds, UTC.
    public static func formatDate(_ date: Date) -> String { UTCTimeFormat.rfc3339.string(date) }

    public static func parseDate(_ s: String) -> Date? { UTCTimeFormat.parseRFC3339(s) }
}
