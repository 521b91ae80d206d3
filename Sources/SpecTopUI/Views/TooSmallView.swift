/// Shown instead of a broken layout when the terminal is below the minimum:
/// `terminal too small: need WxH, have WxH`, centred.
public struct TooSmallView: Sendable {
    public var need: (width: Int, height: Int)
    public var have: (width: Int, height: Int)
    /// Other sizes that work too (another arrangement of the panels), named after `need`.
    public var alternatives: [(width: Int, height: Int)]

    public init(need: (width: Int, height: Int), have: (width: Int, height: Int), alternatives: [(width: Int, height: Int)] = []) {
        self.need = need; self.have = have; self.alternatives = alternatives
    }

    /// `need 72x12` or, when other arrangements work, `need 72x12 or 40x22`.
    private var needs: String {
        (["\(need.width)x\(need.height)"] + alternatives.prefix(2).map { "\($0.width)x\($0.height)" }).joined(separator: " or ")
    }

    public var message: String {
        "terminal too small: need \(needs), have \(have.width)x\(have.height)"
    }

    public func render(into buffer: inout CellBuffer) {
        buffer.fill(buffer.bounds, with: .blank)
        // On a very narrow terminal the message wraps at its natural breaks.
        let pieces = message.count <= buffer.width
            ? [message]
            : ["terminal too small:", "need \(needs),", "have \(have.width)x\(have.height)"]
        let top = (buffer.height - pieces.count) / 2
        for (index, piece) in pieces.enumerated() {
            let x = max(0, (buffer.width - piece.count) / 2)
            buffer.put(piece, x: x, y: top + index, role: .warning, attributes: .bold, maxWidth: buffer.width)
        }
    }
}
