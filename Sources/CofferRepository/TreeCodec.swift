import CofferCrypto
import Foundation

/// Binary encoding of tree blobs (docs/repository-format.md §Trees). JSON
/// cost a second of CPU per 30,000 files on every backup (decoding the
/// parent's trees, encoding the new ones); this is a few percent of that.
public enum TreeCodec {
    static let magic: [UInt8] = Array("CFT1".utf8)

    private enum Field: UInt8 {
        case ctime = 1, inode = 2, device = 4, links = 8, subtree = 16, linkTarget = 32, rdev = 64, content = 128
    }

    public static func encode(_ tree: Tree) -> Data {
        var w = ByteWriter()
        w.data.reserveCapacity(64 + tree.nodes.count * 96)
        w.data.append(contentsOf: magic)
        w.u32(UInt32(tree.nodes.count))
        for n in tree.nodes {
            w.string(n.name)
            w.u8(kindCode(n.kind))
            w.u32(n.mode); w.u32(n.uid); w.u32(n.gid)
            w.optionalString(n.user); w.optionalString(n.group)
            w.u64(UInt64(bitPattern: n.mtime.seconds)); w.u32(UInt32(bitPattern: n.mtime.nanoseconds))
            w.u64(n.size)
            var fields: UInt8 = 0
            if n.ctime != nil { fields |= Field.ctime.rawValue }
            if n.inode != nil { fields |= Field.inode.rawValue }
            if n.device != nil { fields |= Field.device.rawValue }
            if n.links != nil { fields |= Field.links.rawValue }
            if n.subtree != nil { fields |= Field.subtree.rawValue }
            if n.linkTarget != nil { fields |= Field.linkTarget.rawValue }
            if n.rdev != nil { fields |= Field.rdev.rawValue }
            if n.content != nil { fields |= Field.content.rawValue }
            w.u8(fields)
            if let c = n.ctime { w.u64(UInt64(bitPattern: c.seconds)); w.u32(UInt32(bitPattern: c.nanoseconds)) }
            if let v = n.inode { w.u64(v) }
            if let v = n.device { w.u64(v) }
            if let v = n.links { w.u64(v) }
            if let v = n.subtree { w.hash(v) }
            if let v = n.linkTarget { w.string(v) }
            if let v = n.rdev { w.u64(v) }
            if let content = n.content {
                w.u32(UInt32(content.count))
                for e in content { w.u64(e.offset); w.u32(e.length); w.hash(e.blob) }
            }
        }
        return w.data
    }

    public static func decode(_ data: Data, what: String) throws -> Tree {
        var r = ByteReader(data, what: what)
        guard Array(try r.bytes(4)) == magic else { throw RepositoryError(.damaged, "\(what): not a tree (bad magic)") }
        let count = Int(try r.u32())
        guard count <= r.remaining / 40 else { throw RepositoryError(.damaged, "\(what): node count too large") }
        var nodes: [Node] = []
        nodes.reserveCapacity(count)
        for _ in 0..<count {
            let name = try r.string()
            let kindByte = try r.u8()
            guard let kind = kindFromCode(kindByte) else { throw RepositoryError(.damaged, "\(what): unknown node kind \(kindByte)") }
            var n = Node(name: name, kind: kind, mode: try r.u32(), uid: try r.u32(), gid: try r.u32())
            n.user = try r.optionalString()
            n.group = try r.optionalString()
            n.mtime = Timestamp(seconds: Int64(bitPattern: try r.u64()), nanoseconds: Int32(bitPattern: try r.u32()))
            n.size = try r.u64()
            let fields = try r.u8()
            func has(_ f: Field) -> Bool { fields & f.rawValue != 0 }
            if has(.ctime) { n.ctime = Timestamp(seconds: Int64(bitPattern: try r.u64()), nanoseconds: Int32(bitPattern: try r.u32())) }
            if has(.inode) { n.inode = try r.u64() }
            if has(.device) { n.device = try r.u64() }
            if has(.links) { n.links = try r.u64() }
            if has(.subtree) { n.subtree = try r.hash() }
            if has(.linkTarget) { n.linkTarget = try r.string() }
            if has(.rdev) { n.rdev = try r.u64() }
            if has(.content) {
                let extents = Int(try r.u32())
                guard extents <= r.remaining / 44 else { throw RepositoryError(.damaged, "\(what): extent count too large") }
                var content: [Extent] = []
                content.reserveCapacity(extents)
                for _ in 0..<extents { content.append(Extent(offset: try r.u64(), length: try r.u32(), blob: try r.hash())) }
                n.content = content
            }
            nodes.append(n)
        }
        guard r.remaining == 0 else { throw RepositoryError(.damaged, "\(what): trailing bytes") }
        return Tree(nodes: nodes)
    }

    private static let kinds: [Node.Kind] = [.file, .directory, .symlink, .fifo, .socket, .charDevice, .blockDevice, .volume]
    static func kindCode(_ k: Node.Kind) -> UInt8 { UInt8(kinds.firstIndex(of: k)!) }
    static func kindFromCode(_ c: UInt8) -> Node.Kind? { Int(c) < kinds.count ? kinds[Int(c)] : nil }
}

extension ByteWriter {
    mutating func string(_ s: String) {
        var s = s
        s.withUTF8 { utf8 in
            u32(UInt32(utf8.count))
            data.append(contentsOf: utf8)
        }
    }
    mutating func optionalString(_ s: String?) {
        if let s { u8(1); string(s) } else { u8(0) }
    }
}

extension ByteReader {
    mutating func string() throws -> String {
        let n = Int(try u32())
        return try read(n) { String(decoding: $0, as: UTF8.self) }
    }
    mutating func optionalString() throws -> String? {
        try u8() == 1 ? try string() : nil
    }
}
