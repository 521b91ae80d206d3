/// The built-in themes, compiled in so an installed binary works from any
/// directory. Each text equals `themes/NAME.theme` byte for byte (a test
/// checks), so edit both together.
enum BuiltinThemes {
    /// Names in the order the `t` key cycles through them.
    static let names = ["default", "light", "solarized", "mono"]

    /// The text of the built-in theme `name`, nil if there is none.
    static func text(named name: String) -> String? {
        switch name {
        case "default": return defaultText
        case "light": return lightText
        case "solarized": return solarizedText
        case "mono": return monoText
        default: return nil
        }
    }

    static let defaultText = #"""
# spectop default theme.
# Background and text use the terminal's own colours ("default"), so the
# theme reads on dark and light terminals alike; every other colour is a mid
# tone with at least 3:1 contrast (WCAG) on both black and white, also after
# mapping to the 256-colour palette (a test checks).
# Format: one "role = #rrggbb" (or "role = default") per line; "#" starts a comment.

background = default
text       = default
muted      = #808080

loss       = #c3780e
chi_net    = #0c8fed
chi_pos    = #bf68d9

active     = #439b47
frozen     = #5f87af

histogram  = #0c8fed
residual   = #c3780e
marker     = #ff2f2f
warning    = #ff2f2f
selection  = #b08400

series1    = #d5710d
series2    = #318fe2
series3    = #e15759
series4    = #509792
series5    = #569b4c
series6    = #a98711
series7    = #ac739c
series8    = #d6458c

"""#

    static let lightText = #"""
# spectop light theme: dark ink on a white page.

background = #ffffff
text       = #1c1c1c
muted      = #6c6c6c

loss       = #b35900
chi_net    = #0060a8
chi_pos    = #8a2be2

active     = #2e7d32
frozen     = #455a64

histogram  = #0060a8
residual   = #c77700
marker     = #c62828
warning    = #c62828
selection  = #af5f00

series1    = #d35400
series2    = #1f5fa8
series3    = #c0392b
series4    = #00897b
series5    = #2e7d32
series6    = #9e7c00
series7    = #7b3f99
series8    = #d81b60

"""#

    static let solarizedText = #"""
# spectop solarized theme (Ethan Schoonover's dark palette).

background = #002b36
text       = #839496
muted      = #586e75

loss       = #b58900
chi_net    = #268bd2
chi_pos    = #d33682

active     = #859900
frozen     = #6c71c4

histogram  = #268bd2
residual   = #cb4b16
marker     = #dc322f
warning    = #dc322f
selection  = #b58900

series1    = #cb4b16
series2    = #268bd2
series3    = #dc322f
series4    = #2aa198
series5    = #859900
series6    = #b58900
series7    = #6c71c4
series8    = #d33682

"""#

    static let monoText = #"""
# spectop mono theme: no colour at all; roles are told apart by bold,
# dim, reverse and glyphs, as on a terminal without colour or with NO_COLOR.

background = default
text       = default
muted      = default
loss       = default
chi_net    = default
chi_pos    = default
active     = default
frozen     = default
histogram  = default
residual   = default
marker     = default
warning    = default
selection  = default
series1    = default
series2    = default
series3    = default
series4    = default
series5    = default
series6    = default
series7    = default
series8    = default

"""#
}
