/// Maps theme colours to the nearest colour a terminal can show.
public enum ColorMapper {
    /// xterm's default values for the 16 ANSI colours (what most terminals
    /// approximate; their exact shades are the user's choice).
    static let ansi16Palette: [RGBColor] = [
        RGBColor(red: 0x00, green: 0x00, blue: 0x00), RGBColor(red: 0xcd, green: 0x00, blue: 0x00),
        RGBColor(red: 0x00, green: 0xcd, blue: 0x00), RGBColor(red: 0xcd, green: 0xcd, blue: 0x00),
        RGBColor(red: 0x00, green: 0x00, blue: 0xee), RGBColor(red: 0xcd, green: 0x00, blue: 0xcd),
        RGBColor(red: 0x00, green: 0xcd, blue: 0xcd), RGBColor(red: 0xe5, green: 0xe5, blue: 0xe5),
        RGBColor(red: 0x7f, green: 0x7f, blue: 0x7f), RGBColor(red: 0xff, green: 0x00, blue: 0x00),
        RGBColor(red: 0x00, green: 0xff, blue: 0x00), RGBColor(red: 0xff, green: 0xff, blue: 0x00),
        RGBColor(red: 0x5c, green: 0x5c, blue: 0xff), RGBColor(red: 0xff, green: 0x00, blue: 0xff),
        RGBColor(red: 0x00, green: 0xff, blue: 0xff), RGBColor(red: 0xff, green: 0xff, blue: 0xff),
    ]

    /// Channel levels of the 6x6x6 cube at indices 16...231.
    static let cubeLevels: [Int] = [0, 95, 135, 175, 215, 255]

    /// The terminal colour index for `color`, or nil for the terminal's
    /// default (and for every colour on a monochrome terminal).
    public static func index(for color: ThemeColor, depth: ColorDepth) -> Int? {
        guard case .rgb(let rgb) = color else { return nil }
        switch depth {
        case .none: return nil
        case .ansi8: return nearest(rgb, in: ansi16Palette.prefix(8))
        case .ansi16: return nearest(rgb, in: ansi16Palette[...])
        case .ansi256: return nearest256(rgb)
        }
    }

    /// The nearest of the 6x6x6 cube (16...231) and the grey ramp (232...255).
    /// Indices 0...15 are left out because users recolour them.
    public static func nearest256(_ rgb: RGBColor) -> Int {
        func level(_ channel: UInt8) -> Int {
            var best = 0
            for (index, value) in cubeLevels.enumerated() where Swift.abs(value - Int(channel)) < Swift.abs(cubeLevels[best] - Int(channel)) {
                best = index
            }
            return best
        }
        let r = level(rgb.red), g = level(rgb.green), b = level(rgb.blue)
        let cube = RGBColor(red: UInt8(cubeLevels[r]), green: UInt8(cubeLevels[g]), blue: UInt8(cubeLevels[b]))
        let cubeIndex = 16 + 36 * r + 6 * g + b

        let average = (Int(rgb.red) + Int(rgb.green) + Int(rgb.blue)) / 3
        let greyStep = min(23, max(0, Int((Double(average - 8) / 10).rounded())))
        let greyValue = UInt8(8 + 10 * greyStep)
        let grey = RGBColor(red: greyValue, green: greyValue, blue: greyValue)

        // A colour keeps its hue: only greyish inputs may land on the grey ramp,
        // which plain distance would pick for dark greens and blues.
        guard isGreyish(rgb) else { return cubeIndex }
        return grey.distanceSquared(to: rgb) < cube.distanceSquared(to: rgb) ? 232 + greyStep : cubeIndex
    }

    /// The RGB value of a 256-colour index in 16...255 (for tests and previews).
    public static func rgb(of index: Int) -> RGBColor? {
        switch index {
        case 0..<16: return ansi16Palette[index]
        case 16..<232:
            let i = index - 16
            return RGBColor(red: UInt8(cubeLevels[i / 36]), green: UInt8(cubeLevels[(i / 6) % 6]), blue: UInt8(cubeLevels[i % 6]))
        case 232..<256:
            let v = UInt8(8 + 10 * (index - 232))
            return RGBColor(red: v, green: v, blue: v)
        default: return nil
        }
    }

    /// The nearest palette entry of the same kind: greys map to black, white
    /// or grey and colours to colours. Plain RGB distance would send mid grey
    /// to yellow on an 8-colour terminal.
    private static func nearest(_ rgb: RGBColor, in palette: ArraySlice<RGBColor>) -> Int {
        let isGrey = isGreyish(rgb)
        let greys: Set<Int> = [0, 7, 8, 15]
        let candidates = palette.indices.filter { greys.contains($0) == isGrey }
        var best = candidates.first ?? palette.startIndex
        for index in candidates where palette[index].distanceSquared(to: rgb) < palette[best].distanceSquared(to: rgb) {
            best = index
        }
        return best
    }

    /// True when the channels differ little: a grey, not a colour.
    static func isGreyish(_ rgb: RGBColor) -> Bool {
        let channels = [Int(rgb.red), Int(rgb.green), Int(rgb.blue)]
        return (channels.max() ?? 0) - (channels.min() ?? 0) < 40
    }
}
