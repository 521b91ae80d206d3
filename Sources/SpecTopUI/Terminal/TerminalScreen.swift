import CNcurses
import Foundation

/// The thin ncurses backend: takes over the terminal, writes the runs of
/// changed cells `CellDiff` computed (one `doupdate` per frame, never a
/// per-frame clear), maps theme roles to colour pairs, and reads keys. Every
/// call must come from the UI thread.
final class TerminalScreen {
    private var screen: OpaquePointer?
    private(set) var colorDepth: ColorDepth = .none
    private var monochrome = true
    private var pairs: [ColorRole: Int16] = [:]
    private var restored = false
    private var wideScratch: [wchar_t] = []

    /// Starts curses in the alternate screen: no echo, cbreak, keypad, hidden
    /// cursor, the terminal's default colours kept (light terminals stay light).
    /// Colour only when the terminal has it and NO_COLOR is unset.
    init(noColor: String?) throws {
        guard isatty(STDIN_FILENO) != 0, isatty(STDOUT_FILENO) != 0 else { throw TerminalError.notATerminal }
        TerminalRescue.saveModes()
        guard let screen = spectop_newterm() else {
            // ncurses opens the terminfo file: with no descriptor left that,
            // not TERM, is why it failed.
            let spare = dup(STDIN_FILENO)
            if spare >= 0 { close(spare) } else if errno == EMFILE {
                var limit = rlimit()
                getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
                throw TerminalError.tooManyOpenFiles(limit: Int(clamping: limit.rlim_cur))
            }
            let environment = ProcessInfo.processInfo.environment
            let overrides = ["COLUMNS", "LINES"].compactMap { key in environment[key].map { "\(key)=\($0)" } }
            throw TerminalError.cursesFailed(term: environment["TERM"],
                                             sizeOverrides: overrides.isEmpty ? nil : overrides.joined(separator: " "))
        }
        self.screen = screen
        _ = cbreak()
        _ = noecho()
        _ = nonl()
        _ = keypad(spectop_stdscr(), true)
        TerminalScreen.defineCommonKeys()
        _ = curs_set(0)
        TerminalRescue.arm()
        // Esc alone must not wait the default second for an escape sequence.
        _ = set_escdelay(25)
        // COLORS is only known after start_color, so colour starts first
        // (never under NO_COLOR) and the depth is read afterwards.
        if has_colors() && noColor == nil {
            _ = start_color()
            _ = use_default_colors()
            colorDepth = ColorDepth.detect(hasColors: true, colors: Int(spectop_colors()), noColor: noColor)
        }
    }

    /// Home and End as every common terminal sends them, whatever terminfo
    /// says for TERM: tmux and screen with TERM=xterm-256color send `\e[1~`
    /// and `\e[4~`, PuTTY's default `\e[1~`/`\e[4~` or `\e[H`/`\e[F`, rxvt
    /// `\e[7~`/`\e[8~`, xterm in application mode `\eOH`/`\eOF`. ncurses'
    /// `define_key` adds them to the sequences keypad mode decodes.
    static let homeSequences = ["\u{1B}[1~", "\u{1B}[H", "\u{1B}OH", "\u{1B}[7~"]
    static let endSequences = ["\u{1B}[4~", "\u{1B}[F", "\u{1B}OF", "\u{1B}[8~"]

    private static func defineCommonKeys() {
        for sequence in homeSequences { _ = define_key(sequence, spectop_key_home()) }
        for sequence in endSequences { _ = define_key(sequence, spectop_key_end()) }
    }

    /// Asks the terminal for clicks and the wheel (when it reports them).
    func enableMouse() { _ = spectop_enable_mouse() }

    /// True when nothing is drawn in colour (NO_COLOR, a mono theme, a terminal without colours).
    var isMonochrome: Bool { monochrome }

    /// The terminal size in cells.
    var size: (width: Int, height: Int) { (Int(spectop_cols()), Int(spectop_lines())) }

    /// Maps every role to a colour pair for `theme`; repaints on the next frame.
    func apply(theme: Theme) {
        monochrome = colorDepth == .none || theme.isMonochrome
        pairs = [:]
        if !monochrome {
            let background = ColorMapper.index(for: theme.color(for: .background), depth: colorDepth).map(Int16.init) ?? -1
            let available = Int(spectop_color_pairs())
            for (offset, role) in ColorRole.allCases.enumerated() where offset + 1 < available {
                let foreground = ColorMapper.index(for: theme.color(for: role), depth: colorDepth).map(Int16.init) ?? -1
                let pair = Int16(offset + 1)
                _ = init_pair(pair, foreground, background)
                pairs[role] = pair
            }
        }
        invalidate()
    }

    /// Clears the terminal (resize, resume, theme change); the caller repaints
    /// every cell next (`FrameBuffers.invalidate`).
    func invalidate() {
        _ = spectop_clear()
    }

    /// Writes `runs` (from `CellDiff`) and updates the terminal once.
    func present(_ runs: [CellDiff.Run]) {
        for run in runs {
            guard let style = run.cells.first else { continue }
            wideScratch.removeAll(keepingCapacity: true)
            for cell in run.cells { wideScratch.append(wchar_t(bitPattern: cell.character.value)) }
            _ = spectop_set_style(attributes(for: style), pairs[style.role] ?? 0)
            let count = Int32(wideScratch.count)
            wideScratch.withUnsafeBufferPointer { pointer in
                _ = spectop_put_wide(Int32(run.y), Int32(run.x), pointer.baseAddress, count)
            }
        }
        _ = wnoutrefresh(spectop_stdscr())
        _ = doupdate()
    }

    private func attributes(for cell: Cell) -> attr_t {
        var flags = cell.attributes
        if monochrome { flags.formUnion(cell.role.monochromeAttributes) }
        var result = spectop_attr_normal()
        if flags.contains(.bold) { result |= spectop_attr_bold() }
        if flags.contains(.dim) { result |= spectop_attr_dim() }
        if flags.contains(.reverse) { result |= spectop_attr_reverse() }
        if flags.contains(.underline) { result |= spectop_attr_underline() }
        return result
    }

    /// Waits at most `milliseconds` for a key or a resize.
    func readInput(timeoutMilliseconds milliseconds: Int) -> TerminalInput? {
        spectop_input_timeout(Int32(max(0, milliseconds)))
        var character: wint_t = 0
        let result = spectop_get_wide(&character)
        if result == spectop_key_code_yes() {
            return TerminalScreen.functionKey(Int32(bitPattern: character))
        }
        guard result == OK else { return nil }
        switch character {
        case 10, 13: return .key(.enter)
        case 9: return .key(.tab)
        case 27: return .key(.escape)
        case 3: return .key(.controlC)
        case 8, 127: return .key(.backspace)
        default:
            guard let scalar = Unicode.Scalar(UInt32(character)), character >= 32 else { return nil }
            return .key(.character(Character(scalar)))
        }
    }

    private static func functionKey(_ code: Int32) -> TerminalInput? {
        switch code {
        case spectop_key_resize(): return .resize
        case spectop_key_up(): return .key(.up)
        case spectop_key_down(): return .key(.down)
        case spectop_key_left(): return .key(.left)
        case spectop_key_right(): return .key(.right)
        case spectop_key_home(), spectop_key_find(): return .key(.home)
        case spectop_key_end(), spectop_key_select(): return .key(.end)
        case spectop_key_ppage(): return .key(.pageUp)
        case spectop_key_npage(): return .key(.pageDown)
        case spectop_key_enter(): return .key(.enter)
        case spectop_key_btab(): return .key(.backTab)
        case spectop_key_backspace(): return .key(.backspace)
        case spectop_key_mouse():
            var x: Int32 = 0, y: Int32 = 0
            switch spectop_read_mouse(&x, &y) {
            case 1: return .mouse(MouseEvent(.click, x: Int(x), y: Int(y)))
            case 2: return .mouse(MouseEvent(.doubleClick, x: Int(x), y: Int(y)))
            case 4: return .mouse(MouseEvent(.wheelUp, x: Int(x), y: Int(y)))
            case 5: return .mouse(MouseEvent(.wheelDown, x: Int(x), y: Int(y)))
            default: return nil
            }
        default: return nil
        }
    }

    /// Gives the terminal back: leaves the alternate screen, shows the cursor,
    /// turns echo on. Safe to call more than once.
    func restore() {
        guard !restored else { return }
        restored = true
        TerminalRescue.disarm()
        spectop_disable_mouse()
        _ = curs_set(1)
        _ = echo()
        _ = nocbreak()
        _ = endwin()
        if let screen { delscreen(screen) }
        screen = nil
    }

    deinit { restore() }
}
