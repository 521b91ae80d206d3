import Foundation
import SpecTopUI

/// The monitor's theme: `--theme`, else `$SPECTOP_THEME`, else the default;
/// a theme that cannot be loaded falls back to the default with the reason.
package enum ThemeChoice {
    package static func theme(_ requested: String?) -> (Theme, String?) {
        let name = requested ?? ProcessInfo.processInfo.environment["SPECTOP_THEME"] ?? "default"
        let result = ThemeLoader.load(name)
        return (result.theme, result.error.map { "\($0)" })
    }
}
