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
# theme reads on dark and light terminals alike; the data colours are mid
# tones that keep their contrast on both.
# Format: one "role = #rrggbb" (or "role = default") per line; "#" starts a comment.

background = default
text       = default
muted      = #808080

loss       = #f0a030
chi_net    = #3fa9f5
chi_pos    = #c678dd

active     = #4caf50
frozen     = #5f87af

histogram  = #3fa9f5
residual   = #f0a030
marker     = #ff5f5f
warning    = #ff5f5f
selection  = #ffd75f

series1    = #f28e2b
series2    = #4e9fe6
series3    = #e15759
series4    = #76b7b2
series5    = #59a14f
series6    = #edc948
series7    = #b07aa1
series8    = #ff9da7

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
